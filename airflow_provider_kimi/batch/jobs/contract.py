"""What the tasks of a job hand each other through XCom, typed, and checked when it is read back.

An XCom crosses the metadata database and may come from another version of the provider, a
cleared task or a hand-edited value; a task that trusted it would fail deep inside with a
``KeyError``. Every value is checked against its contract when it is read, and a value that is not
what it should be fails with :class:`JobContractError` naming the task, the key and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

from airflow_provider_kimi.batch.errors import KimiValueError


class JobContractError(KimiValueError):
    """An XCom of a job's task is not what the job's tasks write."""


class PartSpec(TypedDict):
    """One part of a round: a requests file within Kimi's limits, all of one model (XCom ``parts``)."""

    path: str
    lines: int
    bytes: int
    model: str | None


class RoundPlan(TypedDict):
    """A round's decision (XCom ``plan``): what it sends again and why, or why there is no round."""

    round: int
    requests: int
    reasons: dict[str, int]
    stopped: str | None
    spent: dict[str, dict[str, int]]
    """Tokens billed by model in the rounds before this one (every result line of each)."""


class DownloadManifest(TypedDict):
    """What a part's download task returns: where its batch's files went, and their summary."""

    batch_id: str
    status: str
    output_path: str | None
    error_path: str | None
    output_bytes: int
    error_bytes: int
    summary: dict[str, Any]


class JobManifest(TypedDict):
    """What ``kimi_batch_job`` returns: the table, the counts, the bill and what was cleaned up."""

    results_path: str
    results_format: str
    rows: int
    parts: int
    rounds: int
    batch_ids: list[str]
    counts: dict[str, int]
    rows_by_round: dict[str, int]
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    tokens_by_model: dict[str, dict[str, int]]
    estimated_cost_usd: float | None
    cost_note: str | None
    resubmitted: int
    resubmissions: list[RoundPlan]
    stopped: str | None
    deleted_files: list[str]


_PART = {"path": (str,), "lines": (int,), "bytes": (int,), "model": (str, type(None))}
_PLAN = {"round": (int,), "requests": (int,), "reasons": (dict,), "stopped": (str, type(None)), "spent": (dict,)}
_DOWNLOAD = {
    "batch_id": (str,),
    "status": (str,),
    "output_path": (str, type(None)),
    "error_path": (str, type(None)),
    "summary": (dict,),
}
_MANIFEST = {"results_path": (str,), "rows": (int,), "batch_ids": (list,), "deleted_files": (list,)}


def _where(task_id: str, key: str, map_index: int | None) -> str:
    index = "" if map_index is None else f" (map index {map_index})"
    return f"XCom {key!r} of task {task_id!r}{index}"


def _check(value: Any, fields: Mapping[str, tuple[type, ...]], where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise JobContractError(f"{where} should be {what}, got {type(value).__name__}: {value!r:.200}")
    for name, types in fields.items():
        if name not in value:
            raise JobContractError(f"{where} should be {what} but has no {name!r}: {value!r:.200}")
        field = value[name]
        if not isinstance(field, types) or (isinstance(field, bool) and bool not in types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise JobContractError(f"{where}: {name!r} should be {names}, got {field!r:.100}")
    return dict(value)


def read_parts(value: Any, *, task_id: str) -> list[PartSpec] | None:
    """A round's parts, or ``None`` when that round did not run (nothing pushed)."""
    if value is None or value == []:
        return None
    where = _where(task_id, "parts", None)
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise JobContractError(f"{where} should be a list of parts, got {type(value).__name__}: {value!r:.200}")
    return [cast("PartSpec", _check(part, _PART, f"{where}, part {n}", "a part")) for n, part in enumerate(value)]


def read_plan(value: Any, *, task_id: str) -> RoundPlan | None:
    """A round's plan, or ``None`` when its plan task pushed none (it was skipped before deciding)."""
    if value is None:
        return None
    return cast("RoundPlan", _check(value, _PLAN, _where(task_id, "plan", None), "a round's plan"))


def read_downloads(values: Any, *, task_id: str, count: int) -> list[DownloadManifest]:
    """The manifests of a mapped download task's ``count`` parts, in map index order."""
    listed = list(values) if isinstance(values, Sequence) and not isinstance(values, (str, bytes)) else None
    if listed is None or len(listed) != count:
        got = "nothing" if listed is None else f"{len(listed)}"
        raise JobContractError(
            f"{_where(task_id, 'return_value', None)} should hold one manifest per part ({count}), got {got}"
        )
    return [
        cast("DownloadManifest", _check(item, _DOWNLOAD, _where(task_id, "return_value", n), "a download manifest"))
        for n, item in enumerate(listed)
    ]


def read_manifest(value: Any, *, task_id: str) -> JobManifest | None:
    """The job's manifest from its merge task, or ``None`` when the merge did not finish."""
    if not value:
        return None
    return cast("JobManifest", _check(value, _MANIFEST, _where(task_id, "return_value", None), "the job's manifest"))
