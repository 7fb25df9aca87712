"""KimiDownloadResultsOperator: a finished batch's files into the user's storage, and a summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset

from airflow_provider_kimi import lineage
from airflow_provider_kimi.batch._paths import make_folder
from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.outcome import ended_batch_error
from airflow_provider_kimi.batch.policy import check_failures, check_limits
from airflow_provider_kimi.batch.results import ChunkedResultsReader
from airflow_provider_kimi.batch.snapshot import batch_id_of, batch_snapshot
from airflow_provider_kimi.batch.status import BatchStatus
from airflow_provider_kimi.batch.summary import PriceList, SummaryBuilder, iter_input_custom_ids
from airflow_provider_kimi.exceptions import KimiBatchEndedError, KimiResultsPolicyError
from airflow_provider_kimi.hooks.errors import kimi_errors_explained
from airflow_provider_kimi.operators.base import KimiBaseOperator, storage_path

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

# Kimi's ids are short alphanumerics; anything else must not become part of a path.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def is_fixed_url(destination: Any) -> bool:
    """A storage URL known when the DAG is parsed: one that can name an asset."""
    return isinstance(destination, str) and "://" in destination and "{{" not in destination


def result_file_name(batch_id: str, kind: str) -> str:
    """``<batch id>.output.jsonl`` or ``<batch id>.error.jsonl``: a name, never a path."""
    if not _SAFE_ID.match(batch_id):
        raise KimiValueError(f"Refusing to name a file after batch id {batch_id!r}: not a plain Kimi id.")
    return f"{batch_id}.{kind}.jsonl"


class KimiDownloadResultsOperator(KimiBaseOperator):
    """Stream a finished batch's output and error files into storage; return a small manifest.

    The files are copied a chunk at a time into ``destination`` (a local folder or an
    ``ObjectStoragePath`` URL such as ``s3://bucket/kimi/``), so memory stays flat whatever their
    size; results never go into XCom. The manifest holds the paths, the counts per outcome, the
    token usage and the estimated cost. A batch that ended ``expired`` or ``cancelled`` still yields
    the results already paid for; what never ran is counted as expired or cancelled. A batch whose
    input was rejected (``failed``) has no results: the task fails with Kimi's reasons.

    :param batch: The batch id, or the dict a Kimi sensor or create task returned (templated).
    :param destination: Folder to write ``<batch id>.output.jsonl`` and ``<batch id>.error.jsonl``
        into (templated). Nothing is written outside it.
    :param input_path: The batch's input file (templated, optional). When given, requests of the
        input with no result at all are counted as ``missing``.
    :param max_failed_ratio: Fail the task when more than this share of requests did not succeed
        (0 to 1). Default None: never fail on failed lines, only log them.
    :param max_failed_count: Fail the task when more than this many requests did not succeed.
    :param declare_asset: When ``destination`` is a fixed URL (no template), declare it as an Airflow
        asset this task updates, so DAGs scheduled on it run when fresh results land. Default True.
    :param prices: Batch prices per 1M tokens for the estimate: one ``Prices`` for every token, or a
        mapping by model; default the published batch price of the model the answers name.
    :param realtime_prices: Real-time prices for comparison, the same way; default the published list price.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("batch", "destination", "input_path", "kimi_conn_id")
    ui_color = "#d4f5e2"

    def __init__(
        self,
        *,
        batch: Any,
        destination: Any,
        input_path: Any = None,
        max_failed_ratio: float | None = None,
        max_failed_count: int | None = None,
        declare_asset: bool = True,
        prices: PriceList = None,
        realtime_prices: PriceList = None,
        **kwargs: Any,
    ) -> None:
        if declare_asset and is_fixed_url(destination):
            kwargs["outlets"] = [*(kwargs.get("outlets") or []), Asset(destination)]
        super().__init__(**kwargs)
        check_limits(max_failed_ratio, max_failed_count)
        self.batch = batch
        self.destination = destination
        self.input_path = input_path
        self.max_failed_ratio = max_failed_ratio
        self.max_failed_count = max_failed_count
        self.prices = prices
        self.realtime_prices = realtime_prices

    @kimi_errors_explained
    def execute(self, context: Context) -> dict[str, Any]:
        """Check the batch has ended, download its files, summarise them, apply the failure limits."""
        requested = batch_id_of(self.batch)
        result_file_name(requested, "output")  # refuses an id that is not a plain Kimi id, before any request
        snapshot = batch_snapshot(self.hook.get_batch(requested))
        batch_id, status = str(snapshot["id"]), BatchStatus(snapshot["status"])
        if not status.is_terminal:
            raise KimiValueError(f"Batch {batch_id} is still {status.value}: wait for it (KimiBatchSensor) first.")
        if status is BatchStatus.FAILED:
            raise KimiBatchEndedError(ended_batch_error(snapshot, ()) or f"Batch {batch_id} failed.")
        folder = storage_path(self.destination)
        make_folder(folder)
        builder = SummaryBuilder(prices=self.prices, realtime_prices=self.realtime_prices)
        paths: dict[str, Any] = {}
        sizes: dict[str, int] = {}
        for kind, file_id in (("output", snapshot["output_file_id"]), ("error", snapshot["error_file_id"])):
            if file_id:
                paths[kind] = folder / result_file_name(batch_id, kind)
                # The results are read as they are written: the file is never read back.
                reader = ChunkedResultsReader(str(paths[kind]), builder.add)
                sizes[kind] = self.hook.download_file(file_id, paths[kind], on_chunk=reader.feed)
                reader.close()
                self.log.info("Downloaded %s file %s to %s (%s bytes).", kind, file_id, paths[kind], sizes[kind])
        input_ids = iter_input_custom_ids(storage_path(self.input_path)) if self.input_path else None
        summary = builder.build(input_ids)
        self.log.info("Batch %s ended %s.\n%s", batch_id, status.value, summary.format())
        if summary.truncated:
            self.log.warning("Batch %s: %s", batch_id, summary.truncation_warning())
        outcome = check_failures(summary, self.max_failed_ratio, self.max_failed_count)
        if outcome.exceeded:
            raise KimiResultsPolicyError(f"Batch {batch_id}: {outcome.message}")
        if outcome.unsuccessful:
            self.log.warning("%s", outcome.message)
        self.manifest: dict[str, Any] = {
            "batch_id": batch_id,
            "status": status.value,
            "output_path": str(paths["output"]) if "output" in paths else None,
            "error_path": str(paths["error"]) if "error" in paths else None,
            "output_bytes": sizes.get("output", 0),
            "error_bytes": sizes.get("error", 0),
            "summary": summary.to_dict(),
        }
        self.snapshot = snapshot
        return self.manifest

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the result files are the output datasets; the batch, with its usage, a job facet."""
        outputs = lineage.datasets(self.manifest["output_path"], self.manifest["error_path"])
        facets = lineage.batch_facet(self.snapshot, usage=lineage.usage_of(self.manifest["summary"]))
        return lineage.lineage(outputs=outputs, job_facets=facets)
