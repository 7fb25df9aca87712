"""What every Kimi operator shares."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_kimi.hooks.kimi import KimiBatchHook


def storage_path(value: Any) -> Any:
    """A URL (``s3://...``, ``file://...``) becomes an ``ObjectStoragePath``; a plain string a local path."""
    if isinstance(value, str):
        return ObjectStoragePath(value) if "://" in value else Path(value)
    return value


class KimiBaseOperator(BaseOperator):
    """What every Kimi operator shares: the connection id and a hook built on first use."""

    def __init__(self, *, kimi_conn_id: str = KimiBatchHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kimi_conn_id = kimi_conn_id

    @cached_property
    def hook(self) -> KimiBatchHook:
        """The hook, built on first use so parsing the DAG costs nothing."""
        return KimiBatchHook(kimi_conn_id=self.kimi_conn_id)
