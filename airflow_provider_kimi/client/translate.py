"""The SDK's errors, said so that they name the connection, the endpoint and what was missing.

``openai`` reports an unreachable host as "Connection error." and a refused key as "Error code:
401"; a user reading a failed task needs to know which connection and which URL, and never the key.
The same reading tells a wait whether a failure is worth another poll (:func:`poll_failure`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import openai

from airflow_provider_kimi.batch.wait import PollFailure
from airflow_provider_kimi.client.endpoints import api_root_hint
from airflow_provider_kimi.client.errors import KimiConnectionError, KimiNotFoundError

QUOTA_MESSAGES = ("exceeded the max file count", "total size of the files")
"""How Kimi's 400 for a full file quota begins (count) and the emulator's for total size."""


def is_file_quota_error(err: BaseException) -> bool:
    """True for Kimi's 400 that refuses an upload because the organization's file quota is full."""
    return isinstance(err, openai.BadRequestError) and any(text in str(err.message) for text in QUOTA_MESSAGES)


def file_quota_message(err: openai.APIStatusError, conn_id: str, purposes: dict[str, int]) -> str:
    """What a task says when the quota is full: the count held, by purpose, and how to delete files."""
    held = ", ".join(f"{count} {purpose}" for purpose, count in sorted(purposes.items())) or "none listed"
    return (
        f"Kimi refused the upload: the organization's file quota is full (HTTP {err.status_code}: {err.message}). "
        f"Connection {conn_id!r} sees {sum(purposes.values())} files ({held}). Retrying cannot help: delete files "
        "that are no longer needed (input files of finished batches, downloaded output and error files), e.g. "
        f"KimiBatchHook({conn_id!r}).delete_file(file_id) for each id of list_files(), `kimi-batch files delete`, "
        "or DELETE /v1/files/{id}."
    )


def describe_error(err: BaseException) -> str:
    """A one-line reason that names the HTTP status when there is one; never the key."""
    if isinstance(err, openai.APIStatusError):
        return f"HTTP {err.status_code} {type(err).__name__}: {err.message}"
    cause = err.__cause__
    if isinstance(err, openai.APIConnectionError) and cause is not None:
        return f"{type(err).__name__}: {type(cause).__name__}: {cause}"
    return f"{type(err).__name__}: {err}"


def poll_failure(err: BaseException) -> PollFailure | None:
    """The SDK's error as the wait core judges it; ``None`` for anything that is not an API failure."""
    if isinstance(err, openai.APIStatusError):
        return PollFailure(describe_error(err), err.status_code)
    if isinstance(err, openai.APIConnectionError):  # includes APITimeoutError: no answer at all
        return PollFailure(describe_error(err))
    return None


def is_transient(err: BaseException) -> bool:
    """Whether the same request may succeed later (the wait core's rule: no answer, 408, 409, 429, 5xx)."""
    failure = poll_failure(err)
    return failure is not None and failure.transient


def explain(err: openai.OpenAIError, conn_id: str, base_url: str) -> Exception | None:
    """The error a task should fail with instead of ``err``; None when ``err`` says enough."""
    where = f"connection {conn_id!r} at {base_url}"
    if isinstance(err, openai.AuthenticationError):
        return KimiConnectionError(
            f"Kimi refused the API key of {where} (HTTP 401): check the connection's password (API Key) "
            "field, and that the key belongs to this platform (moonshot.ai or moonshot.cn)."
        )
    if isinstance(err, openai.PermissionDeniedError):
        return KimiConnectionError(f"Kimi denied access for {where} (HTTP 403): {err.message}")
    if isinstance(err, openai.NotFoundError):
        return KimiNotFoundError(_not_found(err, where, base_url))
    if isinstance(err, openai.APIConnectionError):
        return KimiConnectionError(f"Cannot reach Kimi at {base_url} ({where}): {describe_error(err)}")
    return None


def _not_found(err: openai.NotFoundError, where: str, base_url: str) -> str:
    """Name the URL that answered 404; when the base URL is not a ``/v1`` root, say so."""
    request = err.response.request
    what = request.url.path.removeprefix("/v1/")
    message = f"Kimi has no {what} ({request.method} {request.url} answered HTTP 404, {where}): {err.message}"
    hint = api_root_hint(base_url)
    if hint is not None:
        message += (
            f". If every call of this connection answers 404, {base_url} is not the API root: "
            f"set the connection's host to {hint}"
        )
    return message


@contextmanager
def explained_errors(conn_id: str, base_url: str | Callable[[], str]) -> Iterator[None]:
    """Re-raise the SDK's errors as ones that say where, keeping the original as the cause.

    ``base_url`` may be a function: it is then called only when there is an error to explain, so
    wrapping code that never talks to Kimi does not look the connection up.
    """
    try:
        yield
    except openai.OpenAIError as err:
        better = explain(err, conn_id, base_url() if callable(base_url) else base_url)
        if better is None:
            raise
        raise better from err
