"""Opening local paths and object-storage paths the same way, without importing Airflow.

Anything with ``.open(mode)`` and ``.name`` works: ``pathlib.Path``, Airflow's ``ObjectStoragePath``,
a ``UPath``. Strings are taken as local paths.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol, TypeGuard, runtime_checkable

from airflow_provider_kimi.batch.errors import KimiFileError

BUFFER_BYTES = 1 << 20
"""Large buffers: validation and splitting read hundreds of megabytes line by line."""


@runtime_checkable
class OpenablePath(Protocol):
    """The part of ``pathlib.Path`` / ``ObjectStoragePath`` this package uses."""

    @property
    def name(self) -> str: ...

    def open(self, *args: Any, **kwargs: Any) -> Any: ...


PathArg = str | os.PathLike[str] | OpenablePath


def as_path(path: PathArg) -> OpenablePath:
    """Return ``path`` as an object with ``.open`` and ``.name`` (strings become ``Path``)."""
    if isinstance(path, str):
        return Path(path)
    if isinstance(path, OpenablePath):
        return path
    return Path(os.fspath(path))


def is_local(path: object) -> TypeGuard[Path]:
    """Whether ``path`` is a ``pathlib`` path on this machine.

    Airflow 2's ``ObjectStoragePath`` subclasses ``pathlib.Path`` (and is ``os.PathLike``) whatever
    its storage: its filesystem attribute tells it apart.
    """
    return isinstance(path, Path) and not hasattr(path, "fs")


def make_folder(folder: Any) -> None:
    """Create ``folder`` where folders exist; an object-storage prefix needs none.

    universal-pathlib answers ``NotADirectoryError`` for ``mkdir`` of an S3 prefix that nothing
    was written under yet: there is nothing to create, the first file written makes it.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except NotADirectoryError:
        if is_local(folder):
            raise


def folder_entries(folder: Any) -> list[Any]:
    """What ``folder`` holds; nothing where it does not exist yet (a prefix never written to)."""
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def display_name(path: OpenablePath) -> str:
    """How a path is named in messages: its full path or URL when it has one."""
    if type(path).__str__ is object.__str__:
        return path.name
    return str(path)


def open_read(path: OpenablePath) -> IO[bytes]:
    """Open for binary reading, with a large buffer when the file is local.

    A local path must be a regular file: opening a named pipe with no writer blocks forever, and a
    device may never end, so both are refused with ``OSError`` before they are opened.
    """
    if is_local(path):
        if not stat.S_ISREG(path.stat().st_mode):
            raise KimiFileError(errno.EINVAL, "not a regular file (a pipe or device cannot be checked)", str(path))
        return path.open("rb", buffering=BUFFER_BYTES)
    return iterable_lines(path.open("rb"))


def iterable_lines(handle: Any) -> IO[bytes]:
    """``handle``, iterable line by line whatever wraps it.

    Airflow 2's ``ObjectStoragePath.open()`` returns a wrapper that forwards method calls but not
    iteration (Python then falls back to ``handle[0]``, which fails); Airflow 3's forwards both.
    """
    if hasattr(type(handle), "__iter__"):
        return handle  # type: ignore[no-any-return]
    return _LineIterable(handle)  # type: ignore[return-value]


class _LineIterable:
    """Forwards everything to a binary file object and adds iteration over its lines."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._handle.readline, b"")

    def __enter__(self) -> _LineIterable:
        self._handle.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.__exit__(*exc_info)


def open_write(path: OpenablePath) -> IO[bytes]:
    """Open for binary writing, with a large buffer when the file is local."""
    if is_local(path):
        return path.open("wb", buffering=BUFFER_BYTES)
    handle: IO[bytes] = path.open("wb")
    return handle


def local_size(path: OpenablePath) -> int | None:
    """The size of a local file without reading it; ``None`` for remote paths."""
    if is_local(path):
        return path.stat().st_size
    return None


def sha256_of(path: OpenablePath) -> tuple[str, int]:
    """Content hash and size, read a chunk at a time so a 100 MB file costs no memory."""
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(BUFFER_BYTES):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size
