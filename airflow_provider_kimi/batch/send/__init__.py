"""Sending, decided once: the request budget, the server's learned limit and retry, as one paced transport.

:class:`~.pacer.Pacer` holds the decisions (pure, over clock readings); :class:`~.transport.PacedTransport`
and :class:`~.transport.AsyncPacedTransport` put it under the sync and the async SDK client, where
every try of every request passes. No Airflow import.
"""

from airflow_provider_kimi.batch.send.budget import RequestBudget, concurrent_requests_for
from airflow_provider_kimi.batch.send.pacer import Pacer, Turn, Verdict
from airflow_provider_kimi.batch.send.server_limit import (
    RateLimitReading,
    ServerRateLimit,
    read_rate_limit,
    server_limit_for,
)
from airflow_provider_kimi.batch.send.transport import SEND_ONCE, AsyncPacedTransport, InFlightGate, PacedTransport

__all__ = [
    "SEND_ONCE",
    "AsyncPacedTransport",
    "InFlightGate",
    "PacedTransport",
    "Pacer",
    "RateLimitReading",
    "RequestBudget",
    "ServerRateLimit",
    "Turn",
    "Verdict",
    "concurrent_requests_for",
    "read_rate_limit",
    "server_limit_for",
]
