"""KimiDeleteFilesOperator: free Kimi's file quota of files a DAG no longer needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_kimi.batch.errors import KimiTypeError
from airflow_provider_kimi.hooks.errors import kimi_errors_explained
from airflow_provider_kimi.operators.base import KimiBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

BATCH_FILE_FIELDS = ("input_file_id", "output_file_id", "error_file_id")


def file_ids_of(values: Any) -> list[str]:
    """File ids from ids, batch dicts (their input, output and error files) and lists of either.

    Empty values are dropped and each id is kept once, in the order first given.
    """
    found: dict[str, None] = {}
    pending: list[Any] = [values]
    while pending:
        value = pending.pop(0)
        if isinstance(value, str):
            if value.strip():
                found[value.strip()] = None
        elif isinstance(value, Mapping):
            pending[:0] = [value.get(name) for name in BATCH_FILE_FIELDS]
        elif isinstance(value, Iterable):
            pending[:0] = list(value)
        elif value is not None:
            raise KimiTypeError(f"file_ids: expected file ids or batch dicts, got {type(value).__name__}")
    return list(found)


class KimiDeleteFilesOperator(KimiBaseOperator):
    """Delete files on Kimi; return the ids no longer there.

    Kimi keeps every file until it is deleted and counts them against a quota of 1,000 files, so a
    scheduled DAG that never deletes its files stops within months.

    :param file_ids: File ids to delete (templated); a batch dict (as a sensor or create task
        returns) stands for its input, output and error files; lists of either work too.
    :param missing_ok: A file that is already gone is not an error (it is logged). Default True.
    :param kimi_conn_id: The Kimi connection id. Default ``kimi_default``.
    """

    template_fields: Sequence[str] = ("file_ids", "kimi_conn_id")
    ui_color = "#f0e0ff"

    def __init__(self, *, file_ids: Any, missing_ok: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_ids = file_ids
        self.missing_ok = missing_ok

    @kimi_errors_explained
    def execute(self, context: Context) -> list[str]:
        """Delete each file once; with ``missing_ok`` a 404 only logs."""
        return self.delete(file_ids_of(self.file_ids))

    def delete(self, file_ids: Sequence[str]) -> list[str]:
        """Delete ``file_ids``; return those no longer on Kimi (deleted now, or already gone)."""
        return delete_and_log(self, file_ids, missing_ok=self.missing_ok)


def delete_and_log(operator: KimiBaseOperator, file_ids: Sequence[str], *, missing_ok: bool = True) -> list[str]:
    """The delete every Kimi task shares: each id once, a 404 only logged with ``missing_ok``.

    Returns the ids no longer on Kimi; an id already gone counts as deleted, so a retry after a
    partial cleanup reports them all.
    """
    result = operator.hook.delete_files(file_ids, missing_ok=missing_ok)
    operator.log.info(
        "Deleted %s files on Kimi (%s already gone): %s",
        len(result.gone) - len(result.already_gone),
        len(result.already_gone),
        ", ".join(result.gone) or "none",
    )
    return result.gone
