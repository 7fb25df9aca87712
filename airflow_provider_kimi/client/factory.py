"""One factory builds the synchronous and the async SDK client from one set of settings, so they cannot drift."""

from __future__ import annotations

from dataclasses import dataclass

from openai import AsyncOpenAI, OpenAI

from airflow_provider_kimi.batch.polling import RequestBudget
from airflow_provider_kimi.client.http import async_http_client, server_limit_for, sync_http_client
from airflow_provider_kimi.client.settings import KimiClientSettings


@dataclass(frozen=True)
class KimiClientFactory:
    """Builds the synchronous and the async client from one connection's settings, so they cannot drift.

    Both wait for the server's rate-limit reset when the key has no request left. ``max_retries``
    overrides the connection's SDK retries (the triggers' shared client retries itself, through
    the request budget, and asks for 0).
    """

    settings: KimiClientSettings

    def sync_client(self, *, max_retries: int | None = None) -> OpenAI:
        """A blocking client, for tasks and the command line."""
        s = self.settings
        limit = server_limit_for(s.api_key, s.base_url)
        return OpenAI(**s.client_kwargs(max_retries), http_client=sync_http_client(limit, s.timeout))

    def async_client(self, *, max_retries: int | None = None, budget: RequestBudget | None = None) -> AsyncOpenAI:
        """An async client, for the triggerer; given a ``budget`` and a connection that sets no
        limit of its own, the budget adopts the limit the server announces. Building one loads
        the TLS trust store (tens of milliseconds of CPU): callers on an event loop run this in a
        thread."""
        s = self.settings
        on_limit = budget.adopt_limit if budget is not None and s.learn_requests_per_minute else None
        limit = server_limit_for(s.api_key, s.base_url)
        http_client = async_http_client(limit, s.timeout, on_limit)
        return AsyncOpenAI(**s.client_kwargs(max_retries), http_client=http_client)
