"""Progress bars for commands that read or write large files, drawn by ``rich`` on a terminal only.

A command wraps the paths it reads in :func:`tracked`: the file functions of ``batch/`` take
anything with ``.open`` and ``.name``, so they count bytes and lines without knowing a bar exists.
A download feeds :meth:`FileProgress.chunk_counter` from the hook's ``on_chunk``.
When either output is piped, or ``--quiet`` is given, nothing is wrapped and nothing is drawn.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from airflow_provider_kimi.batch._paths import OpenablePath, PathArg, as_path, display_name, local_size, open_read
from airflow_provider_kimi.batch.errors import KimiValueError

# Files are read and counted a block at a time: counting every line would cost more than the work.
_REPORT_EVERY_BYTES = 1 << 20


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bar, even on a terminal."""
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar (none is drawn when piped)")


def wants_progress(quiet: bool = False) -> bool:
    """A bar helps someone watching a terminal; it is noise in a pipe, a file or a log."""
    return not quiet and sys.stdout.isatty() and sys.stderr.isatty()


class _LinesColumn(ProgressColumn):
    """Lines so far and lines per second."""

    def render(self, task: Task) -> Text:
        lines = int(task.fields.get("lines", 0))
        elapsed = task.elapsed or 0.0
        rate = f", {lines / elapsed:,.0f} lines/s" if elapsed > 0.5 else ""
        return Text(f"{lines:,} lines{rate}", style="progress.data.speed")


class FileProgress:
    """One bar per file read: bytes of the total, bytes and lines per second, time left."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            _LinesColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )

    def track(self, path: PathArg, description: str | None = None) -> _TrackedPath:
        """``path`` as a path whose ``open`` counts what is read into a new bar."""
        source = as_path(path)
        try:
            size = local_size(source)
        except OSError:
            size = None  # the reader says what is wrong with the file, in its own words
        task = self.progress.add_task(description or source.name, total=size, lines=0)
        return _TrackedPath(source, self.progress, task)

    def chunk_counter(self, description: str, total_bytes: int | None = None) -> Callable[[bytes], None]:
        """A new bar fed by chunks as they arrive: the ``on_chunk`` of ``KimiBatchHook.download_file``."""
        task = self.progress.add_task(description, total=total_bytes, lines=0)
        counts = [0, 0]

        def count(chunk: bytes) -> None:
            counts[0] += len(chunk)
            counts[1] += chunk.count(b"\n")
            self.progress.update(task, completed=counts[0], lines=counts[1])

        return count

    def __enter__(self) -> FileProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()


@contextlib.contextmanager
def file_progress(quiet: bool = False) -> Iterator[FileProgress | None]:
    """A :class:`FileProgress` while the block runs when a bar is wanted, else ``None``."""
    if not wants_progress(quiet):
        yield None
        return
    with FileProgress() as progress:
        yield progress


def tracked(progress: FileProgress | None, path: PathArg, description: str | None = None) -> PathArg:
    """``path`` counted into ``progress``, or ``path`` itself when there is no bar."""
    return path if progress is None else progress.track(path, description)


class _TrackedPath:
    """A path that opens its files through :class:`_CountingReader`; named like the original."""

    def __init__(self, source: OpenablePath, progress: Progress, task: TaskID) -> None:
        self.source = source
        self.progress = progress
        self.task = task

    @property
    def name(self) -> str:
        return self.source.name

    def __str__(self) -> str:
        return display_name(self.source)

    def open(self, mode: str = "rb", *args: Any, **kwargs: Any) -> _CountingReader:
        if mode != "rb":
            raise KimiValueError(f"{self.name} is opened for reading only, not {mode!r}")
        return _CountingReader(open_read(self.source), self.progress, self.task)


class _CountingReader:
    """A binary reader that counts bytes and lines as they are read, by line or by block."""

    def __init__(self, handle: IO[bytes], progress: Progress, task: TaskID) -> None:
        self._handle = handle
        self._progress = progress
        self._task = task
        self._bytes = 0
        self._lines = 0
        self._reported = 0

    def _count(self, data: bytes, lines: int) -> None:
        self._add(len(data), lines)

    def _add(self, size: int, lines: int) -> None:
        self._bytes += size
        self._lines += lines
        if self._bytes - self._reported >= _REPORT_EVERY_BYTES:
            self._report()

    def _report(self) -> None:
        self._progress.update(self._task, completed=self._bytes, lines=self._lines)
        self._reported = self._bytes

    def __iter__(self) -> Iterator[bytes]:
        # Lines come out of in-memory blocks: the per-line work stays in C, the counting is per block.
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[list[bytes]]:
        while lines := self._handle.readlines(_REPORT_EVERY_BYTES):
            self._add(sum(map(len, lines)), len(lines))
            yield lines

    def readline(self, size: int = -1) -> bytes:
        line = self._handle.readline(size)
        self._count(line, line.count(b"\n"))
        return line

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._count(data, data.count(b"\n"))
        return data

    def close(self) -> None:
        self._report()
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
