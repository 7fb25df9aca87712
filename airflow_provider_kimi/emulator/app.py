"""The HTTP face of the emulator: Kimi's Files and Batches routes under ``/v1``, admin routes
under ``/_emulator``, bearer auth, Kimi-shaped JSON errors and the background ticker."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import IO

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from airflow_provider_kimi.emulator.body_limit import MULTIPART_OVERHEAD, BodyLimit
from airflow_provider_kimi.emulator.checks import (
    check_batch_create,
    check_upload_params,
    check_upload_size,
    parse_json_body,
)
from airflow_provider_kimi.emulator.engine import BatchEngine
from airflow_provider_kimi.emulator.errors import ApiError, bad_request, not_found
from airflow_provider_kimi.emulator.estimate import ESTIMATE_PATH, check_estimate_body, estimate
from airflow_provider_kimi.emulator.faults import ASGIApp, FaultInjector, Receive, Scope, Send
from airflow_provider_kimi.emulator.listing import DEFAULT_BATCH_PAGE, FilesQuery, files_page, newest_first, page_limit
from airflow_provider_kimi.emulator.quota import MAGIC_BYTES_NEEDED, check_quota, check_upload_content
from airflow_provider_kimi.emulator.ratelimit import KeyLimiter, RateLimiter
from airflow_provider_kimi.emulator.settings import EmulatorSettings
from airflow_provider_kimi.emulator.stats import EmulatorStats
from airflow_provider_kimi.emulator.store import FileRecord, Store, new_id

logger = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]
COPY_CHUNK = 1024 * 1024


class BearerAuth:
    """Checks ``Authorization: Bearer <key>`` on every ``/v1`` call; 401 otherwise.

    With a configured key only that key passes, on the ``/_emulator`` admin routes too (they can
    expire and release anyone's batches); without one any non-empty key does and the admin routes
    are open.
    """

    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.api_key = api_key
        self.guarded = ("/v1", "/_emulator") if api_key is not None else ("/v1",)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.guarded):
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, key = header.partition(" ")
            if not self._accepts(scheme, key.strip()):
                error = ApiError(401, "invalid_authentication_error", "Invalid Authentication")
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _accepts(self, scheme: str, key: str) -> bool:
        if scheme.lower() != "bearer" or not key:
            return False
        return self.api_key is None or hmac.compare_digest(key.encode(), self.api_key.encode())


class EmulatorRoutes:
    """The route handlers, bound to one store, engine and set of counters."""

    def __init__(
        self, store: Store, engine: BatchEngine, stats: EmulatorStats, reset: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.engine = engine
        self.stats = stats
        self.reset = reset

    @property
    def settings(self) -> EmulatorSettings:
        """The settings in force (a running server's can change: they are the engine's)."""
        return self.engine.settings

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Handler]] = [
            ("POST", "/v1/files", self.upload_file),
            ("GET", "/v1/files", self.list_files),
            ("GET", "/v1/files/{file_id}", self.retrieve_file),
            ("DELETE", "/v1/files/{file_id}", self.delete_file),
            ("GET", "/v1/files/{file_id}/content", self.file_content),
            ("POST", "/v1/batches", self.create_batch),
            ("GET", "/v1/batches", self.list_batches),
            ("GET", "/v1/batches/{batch_id}", self.retrieve_batch),
            ("POST", "/v1/batches/{batch_id}/cancel", self.cancel_batch),
            ("POST", ESTIMATE_PATH, self.estimate_tokens),
            ("GET", "/_emulator/stats", self.admin_stats),
            ("POST", "/_emulator/reset", self.admin_reset),
            ("POST", "/_emulator/batches/{batch_id}/expire", self.admin_expire),
            ("POST", "/_emulator/batches/{batch_id}/hold", self.admin_hold),
            ("POST", "/_emulator/batches/{batch_id}/release", self.admin_release),
            ("POST", "/_emulator/batches/{batch_id}/rush", self.admin_rush),
            ("POST", "/_emulator/hold-new-batches", self.admin_hold_new_batches),
        ]
        return [
            Route(path, self._counted(f"{method} {path}", handler), methods=[method]) for method, path, handler in table
        ]

    def _counted(self, name: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.stats.count_request(name)
            self.stats.count_client(request.headers.get("user-agent", ""))
            return await handler(request)

        return endpoint

    # -- files ------------------------------------------------------------------------------
    async def upload_file(self, request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_file_bytes + MULTIPART_OVERHEAD:
            raise bad_request(f"file is larger than the limit of {self.settings.max_file_bytes} bytes")
        # Starlette spools file parts above 1 MB to a temporary file, so the upload never sits
        # in memory whole; it is then copied to the store in chunks. BodyLimit stops a body
        # without a Content-Length (chunked) once it passes the limit.
        async with request.form(max_files=1, max_fields=16) as form:
            upload, purpose = form.get("file"), form.get("purpose")
            if not isinstance(upload, UploadFile):
                raise bad_request("a multipart 'file' part is required")
            if not isinstance(purpose, str):
                raise bad_request("purpose is required")
            filename = upload.filename or "upload"
            check_upload_params(filename, purpose)
            record = await run_in_threadpool(self._store_upload, upload.file, filename, purpose)
        self.stats.count_upload()
        return JSONResponse(record.to_api(self.settings.file_status))

    def _store_upload(self, source: IO[bytes], filename: str, purpose: str) -> FileRecord:
        content_name, path = self.store.new_content_path()
        source.seek(0)
        size = 0
        head = b""
        try:
            with path.open("wb") as target:
                while chunk := source.read(COPY_CHUNK):
                    head = head or chunk[:MAGIC_BYTES_NEEDED]
                    size += len(chunk)
                    if size > self.settings.max_file_bytes:
                        break
                    target.write(chunk)
            check_upload_content(size, head, purpose)
            check_upload_size(size, purpose, self.settings)
            with self.store.lock:
                check_quota(self.store.files.values(), size, purpose, self.settings)
                record = FileRecord(new_id(), filename, purpose, size, int(time.time()), content_name)
                self.store.add_file(record)
            return record
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    async def list_files(self, request: Request) -> Response:
        with self.store.lock:
            records = list(self.store.files.values())
        settings = self.settings
        if settings.files_list_paging == "cursor":
            records = files_page(records, FilesQuery.parse(request.query_params, settings.max_files_list_limit))
        else:
            records = newest_first(records)
        # Kimi's file list carries no has_more (nor first_id / last_id).
        return JSONResponse({"object": "list", "data": [f.to_api(settings.file_status) for f in records]})

    def _file(self, file_id: str) -> FileRecord:
        record = self.store.files.get(file_id)
        if record is None:
            raise not_found("file", file_id)
        return record

    async def retrieve_file(self, request: Request) -> Response:
        return JSONResponse(self._file(request.path_params["file_id"]).to_api(self.settings.file_status))

    async def delete_file(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        if self.store.remove_file(file_id) is None:
            raise not_found("file", file_id)
        return JSONResponse({"id": file_id, "object": "file", "deleted": True})

    async def file_content(self, request: Request) -> Response:
        record = self._file(request.path_params["file_id"])
        # Streamed from disk in chunks, never read whole.
        return FileResponse(self.store.content_path(record.content_name), media_type="application/octet-stream")

    # -- batches ----------------------------------------------------------------------------
    async def create_batch(self, request: Request) -> Response:
        batch_request = check_batch_create(parse_json_body(await request.body(), self.settings.max_json_depth))
        batch = await run_in_threadpool(self.engine.create, batch_request)
        self.stats.count_batch()
        return JSONResponse(batch)

    async def list_batches(self, request: Request) -> Response:
        after = request.query_params.get("after") or None
        limit = page_limit(request.query_params.get("limit"), DEFAULT_BATCH_PAGE, self.settings.max_list_limit)
        data, has_more = await run_in_threadpool(self.engine.list, after, limit)
        return JSONResponse({"object": "list", "data": data, "has_more": has_more})

    async def retrieve_batch(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.engine.retrieve, request.path_params["batch_id"]))

    async def cancel_batch(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.engine.cancel, request.path_params["batch_id"]))

    # -- tokens -----------------------------------------------------------------------------
    async def estimate_tokens(self, request: Request) -> Response:
        body = parse_json_body(await request.body(), self.settings.max_json_depth)
        with self.store.lock:
            checked = check_estimate_body(body, self.settings, self.engine.purpose_of)
        return JSONResponse(estimate(checked))

    # -- admin ------------------------------------------------------------------------------
    async def admin_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.snapshot())

    async def admin_reset(self, request: Request) -> Response:
        """Back to the state of a server just started with its settings: no files, batches, faults,
        holds, counted calls or answers, and the start-up settings again."""
        if self.reset is None:
            raise not_found("route", request.url.path)
        await run_in_threadpool(self.reset)
        return JSONResponse({"reset": True})

    async def admin_expire(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.engine.expire, request.path_params["batch_id"]))

    async def admin_hold(self, request: Request) -> Response:
        after = _optional_int(request, "after_requests")
        batch_id = request.path_params["batch_id"]
        return JSONResponse(await run_in_threadpool(self.engine.hold, batch_id, after))

    async def admin_release(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.engine.release, request.path_params["batch_id"]))

    async def admin_rush(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.engine.rush, request.path_params["batch_id"]))

    async def admin_hold_new_batches(self, request: Request) -> Response:
        self.engine.hold_new_batches_after = _optional_int(request, "after_requests")
        return JSONResponse({"hold_new_batches_after": self.engine.hold_new_batches_after})


def _optional_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw!r}") from None


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return not_found("route", request.url.path).response()
    error_type = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return ApiError(exc.status_code, error_type, str(exc.detail)).response()


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError(500, "server_error", "internal server error").response()


async def _tick_forever(engine: BatchEngine) -> None:
    """Advance batches in the background, so progress never waits for a client to poll."""
    while True:
        await anyio.sleep(engine.settings.tick_seconds)
        try:
            await run_in_threadpool(engine.tick)
        except Exception:
            logger.exception("the batch ticker failed; it keeps running")


def create_app(
    settings: EmulatorSettings,
    store: Store,
    engine: BatchEngine,
    stats: EmulatorStats,
    limiter: KeyLimiter | None = None,
    reset: Callable[[], None] | None = None,
) -> FaultInjector:
    """The full ASGI app: fault injection, then account rate limits, around Starlette with bearer auth.

    ``limiter`` (by default one built from the settings) can be reconfigured while serving;
    ``reset`` is what ``POST /_emulator/reset`` calls (without it, that route is a 404).
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_tick_forever, engine)
            yield
            tasks.cancel_scope.cancel()

    routes = EmulatorRoutes(store, engine, stats, reset).routes()
    starlette_app = Starlette(
        routes=routes,
        middleware=[
            Middleware(BearerAuth, api_key=settings.api_key),
            Middleware(BodyLimit, max_file_bytes=settings.max_file_bytes),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    if limiter is None:
        limiter = KeyLimiter(*settings.account_limits, settings.rate_window_seconds)
    return FaultInjector(RateLimiter(starlette_app, limiter, stats), settings, stats)
