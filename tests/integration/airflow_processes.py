"""Airflow's components and a local Kimi server as processes that a test starts, reads and kills.

Every component (API server, scheduler, DAG processor, triggerer, Celery worker) runs as its own
process in its own session, against one fresh ``AIRFLOW_HOME``, the way ``airflow standalone``
runs them, but separately, so a test can SIGKILL exactly one of them (with its children) as a
crashed host would, and start it again. By default the metadata DB is SQLite and the executor the
LocalExecutor; the distributed lane passes a PostgreSQL URL, the CeleryExecutor and its settings.

The Kimi server holds every new batch before its first request: a batch stays ``in_progress``
until a test releases it through the admin route, so the test decides when the wait ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from airflow_provider_kimi.emulator.connection import airflow_connection_env

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
API_KEY = "sk-integration-test"
EXAMPLE_DAG = REPO / "example_dags" / "example_kimi_batch_classification.py"
TEST_DAGS = Path(__file__).resolve().parent / "dags"

STARTUP_SECONDS = 150
TASK_SECONDS = 90


def free_port() -> int:
    """A port nobody listens on now (another test run on this host may use Airflow's defaults)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Call ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """Children get SIGKILL if pytest itself dies, so no run leaves an Airflow behind (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Component:
    """One child process in its own session (so its group can be killed), output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.popen: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir / f"{name}.log"
        self.starts = 0

    def start(self) -> Component:
        self.starts += 1
        # A restarted component writes a new file: the log of the killed one stays readable.
        self.log_path = self.log_dir / (f"{self.name}.log" if self.starts == 1 else f"{self.name}.{self.starts}.log")
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} never started"
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tree(self) -> list[psutil.Process]:
        """The process and every descendant still running."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self, sig: int = signal.SIGKILL) -> list[int]:
        """Send ``sig`` to the whole group and to every descendant (a child may have left the group).

        Returns the pids that were signalled; waits for the main process to be reaped.
        """
        if self.popen is None:
            return []
        tree = self.tree()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=15)
        psutil.wait_procs(tree, timeout=5)
        return [proc.pid for proc in tree]

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class KimiServer:
    """The local Kimi server, run with ``kimi-batch emulator`` as a separate process."""

    def __init__(self, component: Component, port: int) -> None:
        self.component = component
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"
        self.http = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {API_KEY}"})

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``: uploads, batches created, calls per route and per client kind."""
        return dict(self.http.get(f"{self.url}/_emulator/stats").raise_for_status().json())

    def batches(self) -> list[dict[str, Any]]:
        """Every batch the server knows, newest first."""
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"after": after} if after else {})}
            page = self.http.get(f"{self.base_url}/batches", params=params).raise_for_status().json()
            found.extend(page["data"])
            if not page.get("has_more"):
                return found
            after = page["data"][-1]["id"]

    def batches_tagged(self, run_key: str) -> list[dict[str, Any]]:
        """The batches whose ``airflow_run_key`` metadata is ``run_key`` (one task instance's)."""
        return [b for b in self.batches() if (b.get("metadata") or {}).get("airflow_run_key") == run_key]

    def file_ids(self) -> set[str]:
        """The ids of every file the server holds."""
        return {f["id"] for f in self.http.get(f"{self.base_url}/files").raise_for_status().json()["data"]}

    def release(self, batch_id: str) -> dict[str, Any]:
        """Let a held batch run its requests and finish."""
        return dict(self.http.post(f"{self.url}/_emulator/batches/{batch_id}/release").raise_for_status().json())

    def close(self) -> None:
        self.http.close()
        self.component.kill(signal.SIGTERM)
        self.component.kill()


def _query_postgres(url: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """One read on PostgreSQL with psycopg2 (the distributed lane's driver), rows as dicts."""
    import psycopg2  # only in the distributed lane's environment
    import psycopg2.extras

    db = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"), connect_timeout=10)
    try:
        with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return list(cursor.fetchall())
    finally:
        db.close()


@contextlib.contextmanager
def start_kimi_server(state: Path, *options: str) -> Iterator[KimiServer]:
    """``kimi-batch emulator`` in its own process, holding every new batch until a test releases it.

    Holding (rather than a slow time scale) makes the wait as long as the test needs and no
    longer; the short time scale makes everything else (validation, finalizing) near instant.
    ``options`` are more ``kimi-batch emulator`` flags.
    """
    port = free_port()
    argv = [str(BIN / "kimi-batch"), "emulator", "--port", str(port), "--state-dir", str(state)]
    argv += ["--api-key", API_KEY, "--time-scale", "0.05", "--hold-new-batches-after", "0", *options]
    server = KimiServer(Component("kimi-emulator", argv, dict(os.environ), state).start(), port)
    try:

        def answers() -> bool:
            assert server.component.alive, f"the Kimi server exited:\n{server.component.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                return bool(server.stats())
            return False

        wait_for("the Kimi server to answer", answers, timeout=30, interval=0.2)
        yield server
    finally:
        server.close()


class AirflowStack:
    """A fresh ``AIRFLOW_HOME`` and Airflow's components as processes a test controls one by one."""

    def __init__(
        self,
        home: Path,
        kimi: KimiServer,
        *,
        database_url: str | None = None,
        executor: str = "LocalExecutor",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.db_path = home / "airflow.db"
        self.database_url = database_url or f"sqlite:///{self.db_path}"
        self.executor = executor
        self.dags = home / "dags"
        self.storage = home / "storage"
        self.component_logs = home / "component-logs"
        for folder in (self.dags, self.storage, self.component_logs):
            folder.mkdir(parents=True)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.env = {**self._environment(kimi), **(extra_env or {})}
        self.components: dict[str, Component] = {}
        self.http = httpx.Client(timeout=30)
        self._token: str | None = None

    def _environment(self, kimi: KimiServer) -> dict[str, str]:
        # The in-process tests' AIRFLOW_* settings (tests/conftest.py) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MOONSHOT", "KIMI_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                # Seconds, not Airflow's minutes: how fast the scheduler and triggerer act, and how
                # soon a triggerer that stopped heartbeating counts as dead and loses its triggers.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
                "KIMI_EXAMPLE_STORAGE": f"file://{self.storage}",
                "KIMI_EXAMPLE_POLL_SECONDS": "1",
                **airflow_connection_env(kimi.base_url, API_KEY),
            }
        )
        return env

    # -- processes ------------------------------------------------------------------------------
    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command to completion; fail with its output."""
        done = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, name: str, command: list[str] | None = None, env: dict[str, str] | None = None) -> Component:
        """Start (or start again) one component.

        ``command`` is the ``airflow`` subcommand (default: ``name``, e.g. ``scheduler``), so two
        components of one kind get two names; ``env`` adds to the stack's environment.
        """
        if name not in self.components:
            argv = [str(BIN / "airflow"), *(command or [name])]
            self.components[name] = Component(name, argv, {**self.env, **(env or {})}, self.component_logs)
        return self.components[name].start()

    def stop(self) -> None:
        """SIGKILL every component and its children: nothing here needs a graceful end."""
        self.http.close()
        for component in reversed(self.components.values()):
            component.kill()

    def wait_ready(self, dag_ids: set[str], triggerers: int = 1) -> None:
        """Wait until the API answers, a scheduler and the triggerers heartbeat and the DAGs are parsed."""

        def ready() -> bool:
            for component in self.components.values():
                assert component.alive, f"{component.name} exited:\n{component.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                health = self.http.get(f"{self.api_url}/api/v2/monitor/health").json()
                parsed = {row["dag_id"] for row in self.query("SELECT dag_id FROM serialized_dag")}
                return (
                    health["scheduler"]["status"] == "healthy"
                    and health["triggerer"]["status"] == "healthy"
                    and len(self.running_triggerer_jobs()) >= triggerers
                    and dag_ids <= parsed
                )
            return False

        wait_for("Airflow's components to be ready", ready, timeout=STARTUP_SECONDS, interval=1)

    # -- metadata DB ----------------------------------------------------------------------------
    def query(self, sql: str, *params: Any) -> list[Any]:
        """Read the metadata DB directly: far faster than an ``airflow`` CLI call per poll.

        ``sql`` uses ``?`` placeholders; rows are read by column name, on SQLite or PostgreSQL.
        """
        if not self.database_url.startswith("sqlite"):
            return _query_postgres(self.database_url, sql, params)
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> Any:
        rows = self.query(
            "SELECT * FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?", dag_id, run_id, task_id
        )
        return rows[0] if rows else None

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        ti = self.task_instance(dag_id, run_id, task_id)
        return ti["state"] if ti else None

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return rows[0]["state"] if rows else None

    def running_triggerer_jobs(self) -> list[int]:
        rows = self.query("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' ORDER BY id")
        return [row["id"] for row in rows]

    # -- REST API -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self._token is None:
            # Every user is an admin here: the token needs no credentials.
            self._token = self.http.get(f"{self.api_url}/auth/token").raise_for_status().json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def trigger(self, dag_id: str) -> str:
        """Start a DAG run through the REST API (an ``airflow dags trigger`` costs seconds of imports)."""
        response = self.http.post(
            f"{self.api_url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, headers=self._headers()
        )
        assert response.status_code < 300, f"trigger {dag_id}: {response.status_code} {response.text}"
        return str(response.json()["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = TASK_SECONDS) -> str:
        """Wait until the run ends; return its state."""
        return wait_for(
            f"run {run_id} of {dag_id} to end",
            lambda: (state := self.run_state(dag_id, run_id)) in ("success", "failed") and state,
            timeout,
        )

    # -- logs -----------------------------------------------------------------------------------
    def task_log(self, dag_id: str, run_id: str, task_id: str, attempt: int) -> str:
        path = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        log = path / f"attempt={attempt}.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def dump(self, kimi: KimiServer | None = None) -> str:
        """The tail of every component's log and of every task log (and the Kimi server's counters).

        What a failed test shows: a scheduler's story is in its log.
        """
        parts = []
        if kimi is not None:
            with contextlib.suppress(httpx.HTTPError):
                parts.append("===== Kimi server stats =====\n" + json.dumps(kimi.stats(), indent=1))
        for log in sorted(self.component_logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()
            parts.append(f"===== {log.name} (last 60 of {len(text)} lines) =====\n" + "\n".join(text[-60:]))
        for log in sorted((self.home / "logs").glob("dag_id=*/**/attempt=*.log")):
            text = log.read_text(errors="replace").splitlines()
            parts.append(f"===== {log.relative_to(self.home)} =====\n" + "\n".join(text[-40:]))
        return "\n".join(parts)
