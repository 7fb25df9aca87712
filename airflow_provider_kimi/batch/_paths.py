"""Opening local paths and object-storage paths the same way, without importing Airflow.

Anything with ``.open(mode)`` and ``.name`` works: ``pathlib.Path``, Airflow's ``ObjectStoragePath``,
a ``UPath``. Strings are taken as local paths.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

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


def display_name(path: OpenablePath) -> str:
    """How a path is named in messages: its full path or URL when it has one."""
    if type(path).__str__ is object.__str__:
        return path.name
    return str(path)


def open_read(path: OpenablePath) -> IO[bytes]:
    """Open for binary reading, with a large buffer when the file is local."""
    if isinstance(path, Path):
        return path.open("rb", buffering=BUFFER_BYTES)
    handle: IO[bytes] = path.open("rb")
    return handle


def open_write(path: OpenablePath) -> IO[bytes]:
    """Open for binary writing, with a large buffer when the file is local."""
    if isinstance(path, Path):
        return path.open("wb", buffering=BUFFER_BYTES)
    handle: IO[bytes] = path.open("wb")
    return handle


def local_size(path: OpenablePath) -> int | None:
    """The size of a local file without reading it; ``None`` for remote paths."""
    if isinstance(path, Path):
        return path.stat().st_size
    return None
