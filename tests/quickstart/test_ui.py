"""``make ui``: the example DAGs in a local Airflow UI; Ctrl-C leaves nothing running.

Runs the start-up script headless (no browser) with its own home and port, as a user would:
waits for the URL and login it prints, logs in through the API as the UI does, sees every
example DAG parsed, presses Ctrl-C (SIGINT), and looks for any process it left behind.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAG_IDS = {
    "example_kimi_batch_classification",
    "example_kimi_batch_images",
    "example_kimi_batch_large_dataset",
    "example_kimi_batch_videos",
}
READY = re.compile(r"Airflow UI: (?P<url>http://\S+)\s+login: (?P<user>\S+) / (?P<password>\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def started_for(home: Path) -> list[psutil.Process]:
    """Every process running for this home: Airflow's (by AIRFLOW_HOME) and the Kimi server's (by path)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(home) in " ".join(proc.info["cmdline"] or []) or proc.environ().get("AIRFLOW_HOME") == str(home):
                found.append(proc)
    return found


def test_make_ui_starts_airflow_with_the_examples_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    home, port = tmp_path / "ui-home", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MOONSHOT", "KIMI_"))}
    script = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "ui.py"), "--home", str(home), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in script.stdout or []], daemon=True)
    reader.start()
    printed: list[str] = []
    try:
        while not (ready := READY.search("".join(printed))):
            try:
                printed.append(lines.get(timeout=420))
            except queue.Empty:
                pytest.fail("make ui printed no URL in 420 s:\n" + "".join(printed) + logs(home))
            assert script.poll() is None or not lines.empty(), "make ui exited:\n" + "".join(printed) + logs(home)

        assert ready["url"] == f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=ready["url"], timeout=30) as http:
            assert http.get("/").status_code == 200  # the UI itself
            login = {"username": ready["user"], "password": ready["password"]}
            token = http.post("/auth/token", json=login).raise_for_status().json()["access_token"]
            dags = http.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"}).raise_for_status().json()
            assert {dag["dag_id"] for dag in dags["dags"]} >= EXAMPLE_DAG_IDS
            assert http.post("/auth/token", json={**login, "password": "wrong"}).status_code == 401

        running = started_for(home)
        names = " ".join(" ".join(proc.cmdline()) for proc in running)
        for component in ("standalone", "scheduler", "triggerer", "dag-processor", "emulator"):  # the API answered
            assert component in names, f"no {component} among {names}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            script.send_signal(signal.SIGINT)  # Ctrl-C
        code = script.wait(timeout=120)
        reader.join(timeout=10)
    while not lines.empty():
        printed.append(lines.get())

    assert code == 0, "".join(printed)
    assert printed[-1].strip() == "Stopped."
    _, alive = psutil.wait_procs(running, timeout=5)
    assert not alive, f"left running: {alive}"
    assert not started_for(home)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the UI's port still answers"


def logs(home: Path) -> str:
    return "".join(
        f"\n===== {log.name} =====\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        for log in sorted((home / "logs").glob("*.log"))
    )
