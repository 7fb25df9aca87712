"""One factory builds the synchronous and the async SDK client from one set of settings, so they cannot drift.

Both send through the paced transport (:mod:`airflow_provider_kimi.batch.send`): the SDK's own
retries are off, and each try of each request waits for the server's rate-limit reset when the
key has nothing left, is sent, and is retried by the transport up to the connection's
``max_retries``. The async client also keeps to a shared request budget and a few requests in
flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
from openai import AsyncOpenAI, DefaultAsyncHttpxClient, DefaultHttpxClient, OpenAI

from airflow_provider_kimi.batch.send import (
    AsyncPacedTransport,
    InFlightGate,
    PacedTransport,
    Pacer,
    RequestBudget,
    concurrent_requests_for,
    server_limit_for,
)
from airflow_provider_kimi.client.settings import KimiClientSettings


def _pace(http_client: Any, wrap: Any) -> Any:
    """Put ``wrap`` around the client's transport and every proxy transport it mounted from the environment.

    httpx builds its proxy transports only when it builds its own transport, so the client is
    built as usual first and its transports are wrapped after: the one place the SDK's sending
    is replaced.
    """
    http_client._transport = wrap(http_client._transport)
    http_client._mounts = {
        pattern: None if transport is None else wrap(transport) for pattern, transport in http_client._mounts.items()
    }
    return http_client


@dataclass(frozen=True)
class KimiClientFactory:
    """Builds the synchronous and the async client from one connection's settings, so they cannot drift.

    ``max_retries`` overrides the connection's retries (tries after the first, done by the transport).
    """

    settings: KimiClientSettings

    def pacer(self, budget: RequestBudget, *, max_retries: int | None = None, learn_limit: bool = False) -> Pacer:
        """The pacing of this connection's requests at ``budget``, sharing the server's word on the key."""
        s = self.settings
        retries = s.max_retries if max_retries is None else max_retries
        limit = server_limit_for(s.api_key, s.base_url)
        return Pacer(budget, limit, retries=retries, learn_limit=learn_limit and s.learn_requests_per_minute)

    def sync_client(self, *, max_retries: int | None = None) -> OpenAI:
        """A blocking client, for tasks and the command line (no budget of its own: a 429 pauses it)."""
        pacer = self.pacer(RequestBudget(0), max_retries=max_retries)
        http_client: httpx2.Client = _pace(
            DefaultHttpxClient(timeout=self.settings.timeout), lambda inner: PacedTransport(inner, pacer)
        )
        return OpenAI(**self.settings.client_kwargs(max_retries=0), http_client=http_client)

    def async_client(self, *, max_retries: int | None = None, budget: RequestBudget | None = None) -> AsyncOpenAI:
        """An async client, for the triggerer, keeping to ``budget`` (shared by every wait of the connection).

        With a connection that sets no limit of its own, the budget adopts the limit the server
        announces. Building one loads the TLS trust store (tens of milliseconds of CPU): callers
        on an event loop run this in a thread.
        """
        given = budget is not None
        budget = budget if budget is not None else RequestBudget(0)
        pacer = self.pacer(budget, max_retries=max_retries, learn_limit=given)
        gate = InFlightGate(concurrent_requests_for(self.settings.max_requests_per_minute))
        http_client: httpx2.AsyncClient = _pace(
            DefaultAsyncHttpxClient(timeout=self.settings.timeout),
            lambda inner: AsyncPacedTransport(inner, pacer, gate),
        )
        return AsyncOpenAI(**self.settings.client_kwargs(max_retries=0), http_client=http_client)
