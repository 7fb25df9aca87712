"""OpenLineage for the Kimi operators: the files they read and write, and the batch as a job facet.

The OpenLineage provider calls an operator's ``get_openlineage_facets_on_complete`` after the
task succeeded; these functions build what those methods return. OpenLineage is optional: its
modules are imported only here, only when that provider asks.

Datasets follow OpenLineage's naming: ``s3://bucket/key`` is namespace ``s3://bucket``, name
``key`` (the same URL an Airflow ``Asset`` on that path has); a local path is namespace ``file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

BATCH_FACET = "kimi_batch"
"""The job facet's key: a Kimi batch, its model, request counts and token usage."""


def dataset_name(path: Any) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a local path, a storage URL or an ``ObjectStoragePath``."""
    url = str(path)
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return "file", parts.path if parts.scheme else url
    namespace = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return namespace, parts.path.lstrip("/")


def datasets(*paths: Any) -> list[Any]:
    """OpenLineage ``Dataset``s of the paths given (``None`` is skipped)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return [Dataset(*dataset_name(path)) for path in paths if path]


def batch_facet(
    snapshot: Mapping[str, Any], *, model: str | None = None, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    """The batch as a job facet: id, status, window, model, request counts and token usage.

    Kimi's batch object names neither the model nor the tokens: the model comes from the input's
    requests and the usage from the results, when the task knows them (``None`` otherwise).
    """
    from openlineage.client.generated.base import JobFacet

    facet = JobFacet().with_additional_properties(
        batch_id=snapshot.get("id"),
        status=snapshot.get("status"),
        completion_window=snapshot.get("completion_window"),
        model=model,
        request_counts=dict(snapshot.get("request_counts") or {}),
        usage=usage,
    )
    return {BATCH_FACET: facet}


def lineage(
    inputs: list[Any] | None = None, outputs: list[Any] | None = None, job_facets: dict[str, Any] | None = None
) -> Any:
    """The ``OperatorLineage`` the OpenLineage provider expects from an operator."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=inputs or [], outputs=outputs or [], job_facets=job_facets or {})


def usage_of(summary: dict[str, Any]) -> dict[str, int]:
    """Token usage from a results summary (``SummaryBuilder``'s dict)."""
    keys = ("prompt_tokens", "cached_tokens", "completion_tokens", "total_tokens")
    return {key: int(summary.get(key) or 0) for key in keys}


def input_model(client: Any, file_id: str) -> str | None:
    """The model of an uploaded input's first request, read from Kimi without fetching the rest."""
    import json

    try:
        with client.files.with_streaming_response.content(file_id) as response:
            first = next(iter(response.iter_lines()), "")
        return str(json.loads(first)["body"]["model"])
    except Exception:  # lineage is best effort: it never fails the task it describes
        return None
