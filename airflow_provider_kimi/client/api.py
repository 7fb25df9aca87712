"""The Files and Batch API calls, for the hook and for ``kimi-batch`` alike; no Airflow import.

:class:`KimiApi` holds every call over an SDK client and its settings: uploads named for Kimi,
bounded listings, streamed downloads, deletes that treat a file already gone as deleted, batches
checked to be the one asked for, and the blocking wait (its rules in
:class:`~airflow_provider_kimi.batch.wait.WaitCore`). ``KimiBatchHook`` supplies the client from an
Airflow connection; :class:`KimiClient` from settings resolved anywhere else.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import openai
from openai import OpenAI

from airflow_provider_kimi.batch._paths import PathArg, as_path
from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.identity import same_batch
from airflow_provider_kimi.batch.send import SEND_ONCE
from airflow_provider_kimi.batch.snapshot import BatchSnapshot, batch_snapshot
from airflow_provider_kimi.batch.wait import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    Step,
    WaitCore,
)
from airflow_provider_kimi.client.download import ChunkCounter, SizeHeard, stream_file
from airflow_provider_kimi.client.errors import KimiFileQuotaError, KimiWaitTimeout
from airflow_provider_kimi.client.factory import KimiClientFactory
from airflow_provider_kimi.client.listing import iter_listed
from airflow_provider_kimi.client.settings import KimiClientSettings
from airflow_provider_kimi.client.translate import file_quota_message, is_file_quota_error, poll_failure

if TYPE_CHECKING:
    from openai.types import Batch, FileDeleted, FileObject

BATCH_ENDPOINT = "/v1/chat/completions"
BATCH_LIST_PAGE_SIZE = 100
"""OpenAI's largest page; Kimi documents none."""

FileSource = PathArg | bytes


@dataclass(frozen=True)
class DeletedFiles:
    """What a delete left: every id no longer on Kimi, and those of them that were already gone."""

    gone: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)


def _upload_tuple(source: FileSource, filename: str | None) -> tuple[str, Any]:
    """Name the upload explicitly: a bare stream is sent as ``upload`` and Kimi wants ``*.jsonl``."""
    if isinstance(source, bytes):
        if not filename:
            raise KimiValueError("Uploading bytes needs a filename, e.g. 'requests.jsonl'.")
        return filename, source
    path = as_path(source)
    return filename or path.name, path


def _content_type(filename: str) -> str:
    if filename.endswith(".jsonl"):
        return "application/jsonl"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


class KimiApi:
    """Every call the provider makes to Kimi's Files and Batch API, over ``client`` and ``settings``.

    Subclasses provide ``client`` (the SDK's sync client), ``settings``, ``kimi_conn_id`` (what
    messages call where the settings came from) and ``log``. ``quota_error`` is what a full file
    quota raises: the hook's is one Airflow does not retry.
    """

    kimi_conn_id: str
    log: Any
    quota_error: type[KimiFileQuotaError] = KimiFileQuotaError

    @property
    def client(self) -> OpenAI:
        """The SDK's synchronous client every call goes through."""
        raise NotImplementedError

    @property
    def settings(self) -> KimiClientSettings:
        """The settings ``client`` was built from."""
        raise NotImplementedError

    # -- files ------------------------------------------------------------------------------

    def upload_file(
        self, file: FileSource, *, purpose: str = "batch", filename: str | None = None, retry: bool = True
    ) -> FileObject:
        """Upload a local path, an ``ObjectStoragePath`` or bytes; return Kimi's file object.

        The file is streamed from its storage, never read whole into memory first. With
        ``retry=False`` it is never sent twice, even on a lost answer (the caller checks first).
        """
        name, source = _upload_tuple(file, filename)
        files = self.client.files
        headers = None if retry else SEND_ONCE
        try:
            if isinstance(source, bytes):
                return files.create(file=(name, source, _content_type(name)), purpose=purpose, extra_headers=headers)  # type: ignore[arg-type]
            with source.open("rb") as handle:
                return files.create(file=(name, handle, _content_type(name)), purpose=purpose, extra_headers=headers)  # type: ignore[arg-type]
        except openai.BadRequestError as err:
            if not is_file_quota_error(err):
                raise
            purposes: Counter[str] = Counter(str(held.purpose) for held in self.list_files())
            raise self.quota_error(file_quota_message(err, self.kimi_conn_id, purposes)) from err

    def get_file(self, file_id: str) -> FileObject:
        """One file's metadata (404 raises ``openai.NotFoundError``)."""
        return self.client.files.retrieve(file_id)

    def iter_files(self) -> Iterator[FileObject]:
        """Every file of the account, each once (Kimi answers them all in one page; see ``client.listing``)."""
        files = self.client.files
        return iter_listed(lambda after: files.list(after=after if after else openai.omit), "GET /v1/files")

    def list_files(self) -> list[FileObject]:
        """All files of the account."""
        return list(self.iter_files())

    def delete_file(self, file_id: str) -> FileDeleted:
        """Delete a file (input, media, output or error)."""
        return self.client.files.delete(file_id)

    def delete_files(self, file_ids: Iterable[str], *, missing_ok: bool = True) -> DeletedFiles:
        """Delete each file; with ``missing_ok`` a file already gone counts as deleted (404 is logged).

        So a retry after a partial cleanup reports every id as gone.
        """
        result = DeletedFiles()
        for file_id in file_ids:
            try:
                self.delete_file(file_id)
            except openai.NotFoundError:
                if not missing_ok:
                    raise
                result.already_gone.append(file_id)
            result.gone.append(file_id)
        return result

    def download_file(
        self,
        file_id: str,
        destination: PathArg,
        on_chunk: ChunkCounter | None = None,
        on_size: SizeHeard | None = None,
    ) -> int:
        """Stream a file's content to a local path or ``ObjectStoragePath``; return the bytes written.

        Memory stays flat whatever the size: the body is copied a chunk at a time. ``on_chunk`` sees
        each chunk as it is written, so a caller can read the file in the same pass.
        """
        return stream_file(self.client, file_id, destination, on_chunk=on_chunk, on_size=on_size)

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

        With ``retry=False`` the request is never sent twice: a lost answer could hide a batch
        Kimi made, and a second send would pay twice. The caller looks for the first one instead.
        """
        return self.client.batches.create(
            input_file_id=input_file_id,
            endpoint=endpoint,  # type: ignore[arg-type]
            completion_window=completion_window,  # type: ignore[arg-type]
            metadata=dict(metadata) if metadata else openai.omit,
            extra_headers=None if retry else SEND_ONCE,
        )

    def get_batch(self, batch_id: str) -> Batch:
        """The batch as Kimi reports it now."""
        return same_batch(batch_id, self.client.batches.retrieve(batch_id))

    def cancel_batch(self, batch_id: str) -> Batch:
        """Ask Kimi to cancel; the batch goes ``cancelling`` then ``cancelled`` with partial results."""
        return same_batch(batch_id, self.client.batches.cancel(batch_id))

    def iter_batches(self, page_size: int = BATCH_LIST_PAGE_SIZE) -> Iterator[Batch]:
        """Every batch of the organisation, newest first, following ``has_more`` page by page (bounded)."""
        batches = self.client.batches
        return iter_listed(
            lambda after: batches.list(limit=page_size, after=after if after else openai.omit), "GET /v1/batches"
        )

    def list_batches(self, page_size: int = BATCH_LIST_PAGE_SIZE) -> list[Batch]:
        """All batches (see :meth:`iter_batches` to stop early)."""
        return list(self.iter_batches(page_size))

    # -- waiting ----------------------------------------------------------------------------

    def wait_for_batch(
        self,
        batch_id: str,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
        timeout: float | None = None,
        on_poll: Callable[[BatchSnapshot], None] | None = None,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    ) -> BatchSnapshot:
        """Block until the batch ends; return its snapshot. Used by blocking waits and scripts.

        The wait core (:class:`~airflow_provider_kimi.batch.wait.WaitCore`) decides, as it does for
        the trigger: transient API errors are tolerated up to ``max_consecutive_errors`` in a row
        (each after the transport's own retries), the last check happens at the deadline, and a status
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


class KimiClient(KimiApi):
    """The calls of :class:`KimiApi` from settings resolved without Airflow (``kimi-batch``, a script).

    :param settings: From :func:`~airflow_provider_kimi.client.settings.resolve_client_settings`.
    :param name: What messages call the source of the settings.
    """

    def __init__(self, settings: KimiClientSettings, *, name: str = "kimi-batch") -> None:
        self._settings = settings
        self.kimi_conn_id = name
        self.log = logging.getLogger(__name__)

    @property
    def settings(self) -> KimiClientSettings:
        """The settings given."""
        return self._settings

    @cached_property
    def client(self) -> OpenAI:
        """One synchronous SDK client, built on first use."""
        return KimiClientFactory(self.settings).sync_client()
