"""KimiBatchHook: the one place that talks to Kimi's Files and Batch API, through the openai SDK."""

from __future__ import annotations

import mimetypes
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import openai
from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook, mask_secret
from openai import AsyncOpenAI, OpenAI

from airflow_provider_kimi.batch._paths import PathArg, as_path
from airflow_provider_kimi.batch.endpoints import CHINA_BASE_URL, INTERNATIONAL_BASE_URL, complete_base_url
from airflow_provider_kimi.batch.identity import same_batch
from airflow_provider_kimi.batch.polling import RequestBudget
from airflow_provider_kimi.batch.server_limits import ServerRateLimit
from airflow_provider_kimi.batch.snapshot import BatchSnapshot, batch_snapshot
from airflow_provider_kimi.batch.wait import DEFAULT_MAX_CONSECUTIVE_ERRORS, Step, WaitCore
from airflow_provider_kimi.exceptions import KimiConnectionError, KimiFileQuotaError, KimiWaitTimeout
from airflow_provider_kimi.hooks.errors import explained_errors, file_quota_message, is_file_quota_error, poll_failure
from airflow_provider_kimi.hooks.server_limits import async_http_client, server_limit_for, sync_http_client

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection
    from openai.types import Batch, FileDeleted, FileObject

BATCH_ENDPOINT = "/v1/chat/completions"
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 3
# Kimi's Tier1 account limit: the budget every wait of one connection shares in a triggerer.
DEFAULT_MAX_REQUESTS_PER_MINUTE = 200.0
DOWNLOAD_CHUNK_BYTES = 1 << 20


FileSource = PathArg | bytes


@dataclass(frozen=True)
class KimiClientSettings:
    """Everything needed to build a client; ``repr`` never shows the key."""

    api_key: str = field(repr=False)
    base_url: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    # Requests a minute all async waits of this connection share in one process; 0 = unlimited.
    max_requests_per_minute: float = DEFAULT_MAX_REQUESTS_PER_MINUTE
    # True when the connection sets no budget: the limit the server announces is adopted.
    learn_requests_per_minute: bool = True

    def client_kwargs(self, max_retries: int | None = None) -> dict[str, Any]:
        """The openai client arguments these settings give (``max_retries`` overridable)."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries if max_retries is None else max_retries,
        }

    @property
    def server_limit(self) -> ServerRateLimit:
        """What the server said about this key's rate limit, shared by every client in the process."""
        return server_limit_for(self.api_key, self.base_url)


@dataclass(frozen=True)
class KimiClientFactory:
    """Builds the synchronous and the async client from one connection's settings, so they cannot drift.

    Both wait for the server's rate-limit reset when the key has no request left. ``max_retries``
    overrides the connection's SDK retries (the triggers' shared client retries itself, through
    the request budget, and asks for 0).
    """

    settings: KimiClientSettings

    def sync_client(self, *, max_retries: int | None = None) -> OpenAI:
        """A blocking client, for tasks."""
        s = self.settings
        return OpenAI(**s.client_kwargs(max_retries), http_client=sync_http_client(s.server_limit, s.timeout))

    def async_client(self, *, max_retries: int | None = None, budget: RequestBudget | None = None) -> AsyncOpenAI:
        """An async client, for the triggerer; given a ``budget`` and a connection that sets no
        limit of its own, the budget adopts the limit the server announces. Building one loads
        the TLS trust store (tens of milliseconds of CPU): callers on an event loop run this in a
        thread."""
        s = self.settings
        on_limit = budget.adopt_limit if budget is not None and s.learn_requests_per_minute else None
        http_client = async_http_client(s.server_limit, s.timeout, on_limit)
        return AsyncOpenAI(**s.client_kwargs(max_retries), http_client=http_client)


def resolve_client_settings(
    conn_id: str,
    *,
    password: str | None,
    host: str | None,
    extra: Mapping[str, Any],
    environ: Mapping[str, str],
) -> KimiClientSettings:
    """Merge a connection's fields with ``MOONSHOT_API_KEY`` / ``MOONSHOT_BASE_URL``.

    The connection wins; the environment fills what it leaves empty, as the user guide's scripts
    read it. A missing key is an error that names the connection, raised before any request.
    """
    api_key = (password or "").strip() or environ.get("MOONSHOT_API_KEY", "").strip()
    if not api_key:
        raise KimiConnectionError(
            f"No Kimi API key: connection {conn_id!r} has no password and MOONSHOT_API_KEY is not set. "
            "Put the key in the connection's password (API Key) field."
        )
    given = (host or "").strip() or environ.get("MOONSHOT_BASE_URL", "").strip() or INTERNATIONAL_BASE_URL
    try:
        timeout = float(extra.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        max_retries = int(extra.get("max_retries", DEFAULT_MAX_RETRIES))
    except (TypeError, ValueError) as err:
        raise KimiConnectionError(
            f"Connection {conn_id!r}: extra 'timeout' must be a number of seconds and "
            f"'max_retries' a whole number ({err})."
        ) from err
    if timeout <= 0 or max_retries < 0:
        raise KimiConnectionError(f"Connection {conn_id!r}: extra 'timeout' must be > 0 and 'max_retries' >= 0.")
    return KimiClientSettings(
        api_key=api_key,
        base_url=complete_base_url(given),
        timeout=timeout,
        max_retries=max_retries,
        max_requests_per_minute=_requests_per_minute(conn_id, extra),
        learn_requests_per_minute="max_requests_per_minute" not in extra,
    )


def _requests_per_minute(conn_id: str, extra: Mapping[str, Any]) -> float:
    """The extra ``max_requests_per_minute``: a number >= 0 (0 or null = no limit)."""
    raw = extra.get("max_requests_per_minute", DEFAULT_MAX_REQUESTS_PER_MINUTE)
    try:
        value = 0.0 if raw is None else float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if isinstance(raw, bool) or not value >= 0 or value == float("inf"):
        raise KimiConnectionError(
            f"Connection {conn_id!r}: extra 'max_requests_per_minute' must be a number >= 0 "
            f"(0 means no limit), not {raw!r}."
        )
    return value


def _upload_tuple(source: FileSource, filename: str | None) -> tuple[str, Any]:
    """Name the upload explicitly: a bare stream is sent as ``upload`` and Kimi wants ``*.jsonl``."""
    if isinstance(source, bytes):
        if not filename:
            raise ValueError("Uploading bytes needs a filename, e.g. 'requests.jsonl'.")
        return filename, source
    path = as_path(source)
    return filename or path.name, path


def _content_type(filename: str) -> str:
    if filename.endswith(".jsonl"):
        return "application/jsonl"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


class KimiBatchHook(BaseHook):
    """Talk to Kimi's Batch API with the openai SDK, configured from one Airflow connection.

    The connection's password is the API key and its host the base URL (default the
    international endpoint, ``https://api.moonshot.ai/v1``; China accounts use
    ``https://api.moonshot.cn/v1``). Extras: ``timeout`` (seconds per request, default 60) and
    ``max_retries`` (the SDK's retries of 408/409/429/5xx, honouring ``retry-after``, default 3),
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
                "timeout": str(DEFAULT_TIMEOUT_SECONDS),
                "max_retries": str(DEFAULT_MAX_RETRIES),
                "max_requests_per_minute": str(DEFAULT_MAX_REQUESTS_PER_MINUTE),
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

    def _settings_from(self, conn: Connection | None) -> KimiClientSettings:
        settings = resolve_client_settings(
            self.kimi_conn_id,
            password=conn.password if conn else None,
            host=conn.host if conn else None,
            extra=(conn.extra_dejson if conn else {}) or {},
            environ=os.environ,
        )
        mask_secret(settings.api_key)
        return settings

    def _lookup_connection(self) -> Connection | None:
        try:
            return self.get_connection(self.kimi_conn_id)
        except AirflowNotFoundException:
            if self.kimi_conn_id != self.default_conn_name:
                raise
            return None

    @cached_property
    def settings(self) -> KimiClientSettings:
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
        return KimiClientFactory(self.settings).sync_client()

    async def aget_settings(self) -> KimiClientSettings:
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
        return KimiClientFactory(await self.aget_settings()).async_client()

    def test_connection(self) -> tuple[bool, str]:
        """List files: a free call that proves the key and the base URL."""
        try:
            with explained_errors(self.kimi_conn_id, self.settings.base_url):
                self.client.files.list()
        except Exception as err:
            return False, f"{type(err).__name__}: {err}"
        return True, f"Connected to {self.settings.base_url}."

    # -- files ------------------------------------------------------------------------------

    def upload_file(
        self, file: FileSource, *, purpose: str = "batch", filename: str | None = None, retry: bool = True
    ) -> FileObject:
        """Upload a local path, an ``ObjectStoragePath`` or bytes; return Kimi's file object.

        The file is streamed from its storage, never read whole into memory first. With
        ``retry=False`` the SDK does not resend it on a lost answer (the caller checks first).
        """
        name, source = _upload_tuple(file, filename)
        files = self.client.files if retry else self.client.with_options(max_retries=0).files
        try:
            if isinstance(source, bytes):
                return files.create(file=(name, source, _content_type(name)), purpose=purpose)  # type: ignore[arg-type]
            with source.open("rb") as handle:
                return files.create(file=(name, handle, _content_type(name)), purpose=purpose)  # type: ignore[arg-type]
        except openai.BadRequestError as err:
            if not is_file_quota_error(err):
                raise
            purposes: Counter[str] = Counter(str(held.purpose) for held in self.list_files())
            raise KimiFileQuotaError(file_quota_message(err, self.kimi_conn_id, purposes)) from err

    def get_file(self, file_id: str) -> FileObject:
        """One file's metadata (404 raises ``openai.NotFoundError``)."""
        return self.client.files.retrieve(file_id)

    def list_files(self) -> list[FileObject]:
        """All files of the account. Kimi's list has no pagination, so one request holds them all."""
        return list(self.client.files.list().data)

    def delete_file(self, file_id: str) -> FileDeleted:
        """Delete a file (input, media, output or error)."""
        return self.client.files.delete(file_id)

    def download_file(
        self,
        file_id: str,
        destination: PathArg,
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> int:
        """Stream a file's content to a local path or ``ObjectStoragePath``; return the bytes written.

        Memory stays flat whatever the size: the body is copied a chunk at a time. ``on_chunk`` sees
        each chunk as it is written, so a caller can read the file in the same pass.
        """
        target = as_path(destination)
        written = 0
        with (
            self.client.files.with_streaming_response.content(file_id) as response,
            target.open("wb") as out,
        ):
            for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                out.write(chunk)
                written += len(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
        return written

    # -- batches ----------------------------------------------------------------------------

    def create_batch(
        self,
        input_file_id: str,
        *,
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
        endpoint: str = BATCH_ENDPOINT,
        retry: bool = True,
    ) -> Batch:
        """Start a batch over an uploaded input file.

        With ``retry=False`` the SDK does not resend the request on a lost answer, which could
        create a second batch: the caller looks for the first one instead.
        """
        batches = self.client.batches if retry else self.client.with_options(max_retries=0).batches
        return batches.create(
            input_file_id=input_file_id,
            endpoint=endpoint,  # type: ignore[arg-type]
            completion_window=completion_window,  # type: ignore[arg-type]
            metadata=dict(metadata) if metadata else openai.omit,
        )

    def get_batch(self, batch_id: str) -> Batch:
        """The batch as Kimi reports it now."""
        return same_batch(batch_id, self.client.batches.retrieve(batch_id))

    def cancel_batch(self, batch_id: str) -> Batch:
        """Ask Kimi to cancel; the batch goes ``cancelling`` then ``cancelled`` with partial results."""
        return same_batch(batch_id, self.client.batches.cancel(batch_id))

    def iter_batches(self, page_size: int = 100) -> Iterator[Batch]:
        """Every batch of the organisation, newest first, following ``has_more`` page by page."""
        after: str | openai.Omit = openai.omit
        while True:
            page = self.client.batches.list(limit=page_size, after=after)
            yield from page.data
            if not page.has_more or not page.data:
                return
            after = page.data[-1].id

    def list_batches(self, page_size: int = 100) -> list[Batch]:
        """All batches (see :meth:`iter_batches` to stop early)."""
        return list(self.iter_batches(page_size))

    def wait_for_batch(
        self,
        batch_id: str,
        *,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        on_poll: Callable[[BatchSnapshot], None] | None = None,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    ) -> BatchSnapshot:
        """Block until the batch ends; return its snapshot. Used by blocking waits and scripts.

        The wait core (:class:`~airflow_provider_kimi.batch.wait.WaitCore`) decides, as it does for
        the trigger: transient API errors are tolerated up to ``max_consecutive_errors`` in a row
        (each after the SDK's own retries), the last check happens at the deadline, and a status
        this provider does not know raises ``UnknownBatchStatusError``. Raises ``KimiWaitTimeout``
        when ``timeout`` seconds pass first; the batch keeps running.
        """
        deadline = None if timeout is None else time.time() + timeout
        core = WaitCore(
            batch_id, poll_interval=poll_interval, deadline=deadline, max_consecutive_errors=max_consecutive_errors
        )
        last = "unseen"
        while True:
            step = self.check_batch(core, on_poll)
            if step.snapshot is not None:
                if step.action == "finish":
                    return step.snapshot
                last = step.snapshot["status"]
            if step.action == "timeout":
                raise KimiWaitTimeout(f"Batch {batch_id} is still {last} after {timeout:.0f} s; it keeps running.")
            time.sleep(max(0.0, step.next_poll_at - time.time()))

    def check_batch(self, core: WaitCore, on_poll: Callable[[BatchSnapshot], None] | None = None) -> Step:
        """One check of ``core``'s batch, judged by the core; an error that ends the wait is raised.

        The progress line (or the warning of a tolerated failure) is logged here; ``on_poll``
        replaces the progress line with the caller's own use of each snapshot.
        """
        core.polling(time.time())
        try:
            snapshot = batch_snapshot(self.get_batch(core.batch_id))
        except Exception as err:
            failure = poll_failure(err)
            if failure is None:
                raise
            step = core.failed(failure, time.time())
            if step.action == "give_up":
                raise
            if step.action == "poll":
                self.log.warning("%s", step.message)
            return step
        step = core.observe(snapshot, time.time())
        if on_poll is not None:
            on_poll(snapshot)
        elif step.warning:
            self.log.warning("%s", step.message)
        else:
            self.log.info("%s", step.message)
        return step
