"""The running distributed stack as the scenarios see it, and how they start its parts again."""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_processes import AirflowStack, KimiServer, free_port, wait_for
from services import S3

BUCKET = "kimi-lane"
TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-1", "worker-2")
DAG_IDS = {"example_kimi_batch_classification", "example_kimi_batch_job", "kimi_integration_create_retry"}
WORKER_READY_SECONDS = 180
JOB_ROWS = 600
JOB_PART_LINES = 250  # three parts
OPENLINEAGE_EVENTS = "openlineage-events.jsonl"  # under AIRFLOW_HOME


@dataclass
class Distributed:
    """The running stack, and which triggerer job each triggerer component runs."""

    stack: AirflowStack
    kimi: KimiServer
    s3: S3
    triggerer_jobs: dict[str, int]
    finished_classifications: list[str] = field(default_factory=list)
    finished_jobs: list[str] = field(default_factory=list)

    def start_triggerer(self, name: str) -> int:
        """Start (again) one triggerer and return its new job id: jobs map to processes by start order."""
        before = set(self.stack.running_triggerer_jobs())
        self.stack.start(name, ["triggerer"], {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())})
        job = wait_for(
            f"{name} to heartbeat",
            lambda: sorted(set(self.stack.running_triggerer_jobs()) - before),
            WORKER_READY_SECONDS,
        )[-1]
        self.triggerer_jobs[name] = job
        return job

    def start_worker(self, name: str) -> None:
        """Start (again) one Celery worker and wait until Celery reports it ready."""
        command = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2"]
        component = self.stack.start(name, command, {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})

        def ready() -> bool:
            assert component.alive, f"{name} exited:\n{component.tail()}"
            return f"{name}@" in (text := component.log_path.read_text(errors="replace")) and " ready." in text

        wait_for(f"Celery {name} to be ready", ready, WORKER_READY_SECONDS, interval=1)
