"""Kimi's error body, ``{"error": {"type", "message"}}``, as an exception the routes can raise."""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An HTTP error answered with Kimi's JSON error body."""

    def __init__(
        self,
        status_code: int,
        error_type: str,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_type = error_type
        self.message = message
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        """The JSON body Kimi sends for this error."""
        error = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        return {"error": error}

    def response(self) -> JSONResponse:
        """A response with ``Content-Type: application/json``, which the openai SDK needs to parse it."""
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def bad_request(message: str, *, code: str | None = None) -> ApiError:
    """400 ``invalid_request_error``: a parameter the server refuses."""
    return ApiError(400, "invalid_request_error", message, code=code)


def not_found(kind: str, resource_id: str) -> ApiError:
    """404 ``resource_not_found_error`` for an unknown id."""
    return ApiError(404, "resource_not_found_error", f"{kind} {resource_id!r} not found")
