"""The example DAGs in a local Airflow UI, against the local Kimi server: ``make ui``.

Starts ``kimi-batch emulator`` (as a Tier 1 account where the server knows tiers) and ``airflow
standalone`` (API server, scheduler, triggerer, DAG processor; SQLite, LocalExecutor) with the
``kimi_default`` connection pointing at it, waits until the UI answers and the DAGs are parsed,
then prints the URL and the login. Ctrl-C stops everything it started and leaves nothing running.

Airflow's and the Kimi server's output go to log files in the home folder, which keeps the
metadata DB, the login and the Kimi server's files between runs (``--home``, default ``.airflow/ui``).
Arguments after ``--`` go to ``kimi-batch emulator`` (for example ``-- --time-scale 5``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAGS = ROOT / "example_dags"
API_KEY = "sk-local-kimi"
USER = "admin"
READY_SECONDS = 300
STOP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def example_dag_ids() -> set[str]:
    """The ``dag_id=`` of every example DAG file: what "parsed" means."""
    ids = set()
    for path in DAGS.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.strip().startswith('dag_id="'):
                ids.add(line.split('"')[1])
    return ids


def login(home: Path) -> str:
    """The admin's password, made once per home and kept in the file the simple auth manager reads."""
    passwords = home / "simple_auth_manager_passwords.json.generated"
    known: dict[str, str] = json.loads(passwords.read_text()) if passwords.exists() else {}
    if USER not in known:
        known[USER] = secrets.token_urlsafe(9)
        passwords.write_text(json.dumps(known) + "\n")
    return known[USER]


def emulator_tier_args() -> list[str]:
    """``--tier 1`` when this Kimi server models account tiers, nothing otherwise."""
    from airflow_provider_kimi.emulator import EmulatorSettings

    return ["--tier", "1"] if "tier" in {f.name for f in dataclasses.fields(EmulatorSettings)} else []


def airflow_env(home: Path, port: int, kimi_url: str) -> dict[str, str]:
    from airflow_provider_kimi.emulator.connection import airflow_connection_env

    api_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MOONSHOT"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # standalone starts `airflow` from PATH
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor keeps this many workers alive
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "KIMI_EXAMPLE_STORAGE": f"file://{home}/storage",
            "KIMI_EXAMPLE_POLL_SECONDS": "5",
            "KIMI_EXAMPLE_ROWS": "100",
            **airflow_connection_env(kimi_url, API_KEY),
        }
    )
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(32))
    return env


class Process:
    """A child in its own session, so that Ctrl-C reaches this script only and the stop is ours."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tree(self) -> list[psutil.Process]:
        """The process, its descendants, and anything else left in its session."""
        found: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.popen.pid)
            found = {p.pid: p for p in (root, *root.children(recursive=True))}
        for proc in psutil.process_iter(["pid"]):
            with contextlib.suppress(psutil.Error):
                if os.getsid(proc.pid) == self.popen.pid:
                    found[proc.pid] = proc
        return list(found.values())

    def stop(self, first: int = signal.SIGTERM, grace: float = STOP_SECONDS) -> None:
        """``first`` to the main process, then SIGKILL to whatever of its tree is still there."""
        tree = self.tree()
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(first)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        _, left = psutil.wait_procs(tree, timeout=5)
        for proc in {p.pid: p for p in (*left, *self.tree())}.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(left, timeout=10)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def wait_for(what: str, check: Callable[[], bool], processes: Sequence[Process], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for process in processes:
            if not process.alive:
                raise RuntimeError(f"{process.name} exited while waiting for {what}: see {process.log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} took more than {timeout:.0f}s: see the logs in {processes[0].log.parent}")
        time.sleep(1)


def airflow_ready(api_url: str, password: str, dag_ids: set[str]) -> Callable[[], bool]:
    """The API server answers, the login works, and every example DAG is parsed."""

    def check() -> bool:
        with (
            contextlib.suppress(httpx.HTTPError, KeyError, ValueError),
            httpx.Client(base_url=api_url, timeout=10) as http,
        ):
            token = http.post("/auth/token", json={"username": USER, "password": password})
            headers = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
            dags = http.get("/api/v2/dags", params={"limit": 100}, headers=headers).raise_for_status().json()
            return dag_ids <= {dag["dag_id"] for dag in dags["dags"]}
        return False

    return check


@contextlib.contextmanager
def signals_stop() -> Iterator[None]:
    """Ctrl-C and SIGTERM end the wait, so that the stop always runs.

    SIGINT is handled explicitly: a process started in the background inherits it ignored.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def say(message: str, error: bool = False) -> None:
    """Print, but never fail: a closed terminal or pipe must not stop the stop."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr if error else sys.stdout, flush=True)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    argv = list(argv)
    emulator_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="make ui", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("KIMI_UI_HOME", ROOT / ".airflow" / "ui")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KIMI_UI_PORT", "8080")))
    return parser.parse_args(own), emulator_args


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    args, emulator_args = parse_args(argv)
    if port_in_use(args.port):
        print(f"Port {args.port} is in use: choose another with `make ui PORT=...` (--port).", file=sys.stderr)
        return 2
    home: Path = args.home.resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    password = login(home)
    kimi_port = free_port()
    kimi_url = f"http://127.0.0.1:{kimi_port}/v1"
    api_url = f"http://127.0.0.1:{args.port}"
    started: list[Process] = []
    with signals_stop():
        try:
            kimi_argv = [str(BIN / "kimi-batch"), "emulator", "--port", str(kimi_port), "--api-key", API_KEY]
            kimi_argv += ["--state-dir", str(home / "kimi-server"), *emulator_tier_args(), *emulator_args]
            started.append(Process("the Kimi server", kimi_argv, dict(os.environ), home / "logs" / "kimi-server.log"))
            env = airflow_env(home, args.port, kimi_url)
            airflow_argv = [str(BIN / "airflow"), "standalone"]
            started.append(Process("airflow standalone", airflow_argv, env, home / "logs" / "standalone.log"))
            say(f"Starting Airflow in {home} (logs in {home / 'logs'}) ...")
            wait_for("Airflow to start", airflow_ready(api_url, password, example_dag_ids()), started, READY_SECONDS)
            say(f"Airflow UI: {api_url}   login: {USER} / {password}")
            say(f"Kimi server: {kimi_url} as connection kimi_default. Ctrl-C stops everything.")
            while all(process.alive for process in started):
                time.sleep(1)
            say("A component exited: stopping.", error=True)
            return 1
        except KeyboardInterrupt:
            return 0
        except (RuntimeError, TimeoutError) as err:
            say(str(err), error=True)
            return 1
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
            say("Stopping ...")
            for process in reversed(started):
                # standalone stops its components on SIGINT (its Ctrl-C), and only then.
                process.stop(signal.SIGINT if process.name.startswith("airflow") else signal.SIGTERM)
            say("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
