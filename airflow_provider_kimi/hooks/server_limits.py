"""Moved: the learned server limit now paces every request in :mod:`airflow_provider_kimi.client.http`."""

from airflow_provider_kimi._moved import moved_from

__getattr__ = moved_from(__name__)
