"""Where a job keeps its files, under the destination it was given: one place names every folder.

::

    <destination>/round-<n>/inputs/           the round's parts (split from the input, or resent)
    <destination>/round-<n>/resubmit.<model>.jsonl   the requests round n sends again, by model
    <destination>/round-<n>/results/          the round's downloaded output and error files
    <destination>/results.<format>            the merged table

The destination may be a path, an ``ObjectStoragePath`` or (when the task group is built) a URL
string with templates; each function keeps the kind it was given.
"""

from __future__ import annotations

from typing import Any, TypeVar

Folder = TypeVar("Folder")


def _under(folder: Any, *names: str) -> Any:
    if isinstance(folder, str):
        return "/".join([folder.rstrip("/"), *names])
    for name in names:
        folder = folder / name
    return folder


def round_folder(destination: Folder, number: int) -> Folder:
    """``<destination>/round-<n>``: one folder per round, so rounds never mix their files."""
    return _under(destination, f"round-{number}")  # type: ignore[no-any-return]


def inputs_folder(destination: Folder, number: int) -> Folder:
    """Where round ``number``'s parts are written."""
    return _under(destination, f"round-{number}", "inputs")  # type: ignore[no-any-return]


def results_folder(destination: Folder, number: int) -> Folder:
    """Where round ``number``'s result files are downloaded."""
    return _under(destination, f"round-{number}", "results")  # type: ignore[no-any-return]


def model_file_name(model: str) -> str:
    """A model as part of a file name: anything but letters, digits and ``-._`` becomes ``_``."""
    return "".join(char if char.isalnum() or char in "-._" else "_" for char in model)


def resubmit_file(destination: Folder, number: int, model: str) -> Folder:
    """The requests of ``model`` that round ``number`` sends again, before they are split into parts."""
    return _under(destination, f"round-{number}", f"resubmit.{model_file_name(model)}.jsonl")  # type: ignore[no-any-return]


def results_table(destination: Folder, results_format: str) -> Folder:
    """The merged table, ``results.jsonl`` or ``results.parquet``."""
    return _under(destination, f"results.{results_format}")  # type: ignore[no-any-return]
