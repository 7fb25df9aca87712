"""Moved: the request budget to ``batch.send.budget``, the adaptive interval to ``batch.wait.interval``."""

from airflow_provider_kimi._moved import moved_from

__getattr__ = moved_from(__name__)
