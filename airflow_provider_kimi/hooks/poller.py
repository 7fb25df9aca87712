"""Moved to :mod:`airflow_provider_kimi.client.poller` (the poller needs no Airflow)."""

from airflow_provider_kimi._moved import moved_from

__getattr__ = moved_from(__name__)
