"""Pure batch logic with no Airflow import: usable from a notebook, a CLI or a task."""

from airflow_provider_kimi.batch.status import BatchStatus

__all__ = ["BatchStatus"]
