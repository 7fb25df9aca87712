"""Moved to :mod:`airflow_provider_kimi.client.endpoints` (the base URL is the client's setting)."""

from airflow_provider_kimi._moved import moved_from

__getattr__ = moved_from(__name__)
