"""A cap on request bodies, enforced while they arrive (chunked uploads included).

A ``Content-Length`` over the limit is refused before reading; a chunked body declares no length,
so the bytes are counted as the route reads them and the request is refused with a 400 the moment
they pass the limit: nothing over it is ever spooled to disk or stored.
"""

from __future__ import annotations

from airflow_provider_kimi.emulator.errors import ApiError
from airflow_provider_kimi.emulator.faults import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/v1/files"
# Room for the multipart envelope around the file.
MULTIPART_OVERHEAD = 64 * 1024
# Batch-create bodies and other JSON bodies are a few hundred bytes.
JSON_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """Refuses an upload over ``max_file_bytes`` (plus the multipart envelope), or any other body
    over 1 MiB, as the bytes arrive."""

    def __init__(self, app: ASGIApp, max_file_bytes: int) -> None:
        self.app = app
        self.max_file_bytes = max_file_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"] == UPLOAD_PATH
        limit = self.max_file_bytes + MULTIPART_OVERHEAD if upload else JSON_BODY_BYTES
        received = 0

        async def counted() -> Message:
            nonlocal received
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(
                        f"file is larger than the limit of {self.max_file_bytes} bytes"
                        if upload
                        else f"the request body is larger than the limit of {JSON_BODY_BYTES} bytes"
                    )
            return message

        await self.app(scope, counted, send)


def _too_large(message: str) -> ApiError:
    """A 400 that also closes the connection, so the client stops sending the rest."""
    return ApiError(400, "invalid_request_error", message, headers={"connection": "close"})
