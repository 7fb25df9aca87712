"""Moved to :mod:`airflow_provider_kimi.batch.send.server_limit`: the server's word now paces every request."""

from airflow_provider_kimi._moved import moved_from

__getattr__ = moved_from(__name__)
