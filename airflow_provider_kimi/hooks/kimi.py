"""KimiBatchHook: Kimi's Files and Batch API from one Airflow connection, through the provider's client.

Every call lives in :class:`~airflow_provider_kimi.client.api.KimiApi` (no Airflow); the hook adds
what only Airflow has: the connection (read sync or async), the key masked in logs, the form
fields, ``test_connection``, and a full file quota that fails the task without retrying.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook, mask_secret
from openai import AsyncOpenAI, OpenAI

from airflow_provider_kimi._moved import moved_from
from airflow_provider_kimi.client import factory
from airflow_provider_kimi.client import settings as client_settings
from airflow_provider_kimi.client.api import KimiApi
from airflow_provider_kimi.client.endpoints import CHINA_BASE_URL, INTERNATIONAL_BASE_URL
from airflow_provider_kimi.client.translate import explained_errors
from airflow_provider_kimi.exceptions import KimiFileQuotaError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection


class KimiBatchHook(BaseHook, KimiApi):
    """Talk to Kimi's Batch API with the openai SDK, configured from one Airflow connection.

    The connection's password is the API key and its host the base URL (default the
    international endpoint, ``https://api.moonshot.ai/v1``; China accounts use
    ``https://api.moonshot.cn/v1``). Extras: ``timeout`` (seconds per request, default 60) and
    ``max_retries`` (retries of no answer and of 408/409/429/5xx by the paced transport,
    honouring ``retry-after``, default 3),
    ``max_requests_per_minute`` (the request budget all deferred waits of this connection share
    in one triggerer, default 200 as Kimi's Tier1; 0 for no limit).
    Without a key in the connection, or without the default connection at all,
    ``MOONSHOT_API_KEY`` and ``MOONSHOT_BASE_URL`` are read from the environment.

    :param kimi_conn_id: The Airflow connection id, default ``kimi_default``.
    """

    conn_name_attr = "kimi_conn_id"
    default_conn_name = "kimi_default"
    conn_type = "kimi"
    hook_name = "Kimi"
    quota_error = KimiFileQuotaError

    def __init__(self, kimi_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kimi_conn_id = kimi_conn_id

    # -- connection -------------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Show only the fields that matter: the key, the base URL and the client settings."""
        return {
            "hidden_fields": ["schema", "port", "login"],
            "relabeling": {"password": "API Key", "host": "Base URL"},
            "placeholders": {
                "host": f"{INTERNATIONAL_BASE_URL} (China accounts: {CHINA_BASE_URL})",
                "password": "sk-...",
                "timeout": str(client_settings.DEFAULT_TIMEOUT_SECONDS),
                "max_retries": str(client_settings.DEFAULT_MAX_RETRIES),
                "max_requests_per_minute": str(client_settings.DEFAULT_MAX_REQUESTS_PER_MINUTE),
            },
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The client settings as form fields for Airflow 2's UI.

        Airflow 3's UI builds them from ``conn-fields`` in the provider info and may run without
        Flask-AppBuilder, so there the form widgets are simply absent.
        """
        try:
            from flask_appbuilder.fieldwidgets import BS3TextFieldWidget  # type: ignore[import-not-found]
            from wtforms import StringField  # type: ignore[import-untyped]
        except ImportError:
            return {}
        labels = {
            "timeout": "Timeout (seconds)",
            "max_retries": "Max retries",
            "max_requests_per_minute": "Max requests per minute",
        }
        return {name: StringField(label, widget=BS3TextFieldWidget()) for name, label in labels.items()}

    def _settings_from(self, conn: Connection | None) -> client_settings.KimiClientSettings:
        resolved = client_settings.resolve_client_settings(
            self.kimi_conn_id,
            password=conn.password if conn else None,
            host=conn.host if conn else None,
            extra=(conn.extra_dejson if conn else {}) or {},
            environ=os.environ,
        )
        mask_secret(resolved.api_key)
        return resolved

    def _lookup_connection(self) -> Connection | None:
        try:
            return self.get_connection(self.kimi_conn_id)
        except AirflowNotFoundException:
            if self.kimi_conn_id != self.default_conn_name:
                raise
            return None

    @cached_property
    def settings(self) -> client_settings.KimiClientSettings:
        """The resolved client settings (looked up once per hook)."""
        return self._settings_from(self._lookup_connection())

    def get_conn(self) -> OpenAI:
        """The synchronous client, for tasks."""
        return self.client

    @cached_property
    def client(self) -> OpenAI:
        """One synchronous client per hook, so its HTTP connections are reused.

        It waits for the server's rate-limit reset instead of sending when the key has no request left.
        """
        return factory.KimiClientFactory(self.settings).sync_client()

    async def aget_settings(self) -> client_settings.KimiClientSettings:
        """Resolve the settings without blocking the event loop (for triggers)."""
        if "settings" not in self.__dict__:
            from airflow.providers.common.compat.connection import get_async_connection

            try:
                conn: Connection | None = await get_async_connection(self.kimi_conn_id, hook=self)
            except AirflowNotFoundException:
                if self.kimi_conn_id != self.default_conn_name:
                    raise
                conn = None
            self.__dict__["settings"] = self._settings_from(conn)
        return self.settings

    async def get_async_conn(self) -> AsyncOpenAI:
        """A new async client built from the same connection; close it when done."""
        return factory.KimiClientFactory(await self.aget_settings()).async_client()

    def test_connection(self) -> tuple[bool, str]:
        """List files: a free call that proves the key and the base URL."""
        try:
            with explained_errors(self.kimi_conn_id, self.settings.base_url):
                self.client.files.list()
        except Exception as err:
            return False, f"{type(err).__name__}: {err}"
        return True, f"Connected to {self.settings.base_url}."


__getattr__ = moved_from(__name__)
