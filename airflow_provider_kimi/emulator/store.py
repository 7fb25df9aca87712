"""Files and batches the emulator holds: records in memory, contents on disk.

File contents always live on disk (never in RAM). With a ``state_dir`` the records are also
written to ``state.json`` after every change, so a restarted server finds its files and batches
and carries on; without one, everything lives in a temporary folder removed on close.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_ID_ALPHABET = string.ascii_lowercase + string.digits
STATE_FILE = "state.json"


class StateError(Exception):
    """The state folder cannot be used: it is a file, or its ``state.json`` is empty or corrupt."""


def new_id(length: int = 20) -> str:
    """An id in Kimi's style: lowercase letters and digits, no prefix (``clg681objj8g9m7n4je0``)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


@dataclass
class FileRecord:
    """An uploaded (or server-written) file; its bytes sit in ``content_name`` under the store."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    content_name: str

    def to_api(self, status: str) -> dict[str, Any]:
        """The File object clients see."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": status,
            "status_details": None,
        }


@dataclass
class BatchRecord:
    """A batch with the private bookkeeping the engine needs to advance it from timestamps.

    Times are unix seconds as floats; the API shows them as ints.
    """

    id: str
    input_file_id: str
    input_content_name: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    created: float
    deadline: float
    status: str = "validating"
    in_progress_at: float | None = None
    finalizing_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelling_at: float | None = None
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] | None = None
    # When the current phase began (shifted forward by time spent on hold).
    phase_started: float = 0.0
    # Where processing stands in the input file.
    input_offset: int = 0
    # Hold: frozen since ``held_at``; or about to freeze once ``hold_after`` requests are done.
    held_at: float | None = None
    hold_after: int | None = None
    # Fast-forward: every remaining delay counts as zero.
    rush: bool = False
    # Bytes of each results file ("output", "error") that this record's progress accounts for.
    # Saved with the progress, so lines written after the last save (a crash in between) are
    # cut off on the next write and run again exactly once. ``None`` in states saved before.
    result_bytes: dict[str, int] | None = None


class Store:
    """Thread-safe holder of file and batch records and of the folder with file contents."""

    def __init__(self, state_dir: Path | None) -> None:
        self.lock = threading.RLock()
        self._persistent = state_dir is not None
        if state_dir is None:
            self.root = Path(tempfile.mkdtemp(prefix="kimi-emulator-"))
        else:
            self.root = Path(state_dir)
            if self.root.exists() and not self.root.is_dir():
                raise StateError(f"--state-dir {self.root} is a file, not a folder")
        self.content_dir = self.root / "files"
        self.content_dir.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, FileRecord] = {}
        self.batches: dict[str, BatchRecord] = {}
        # How many times the server answered each custom_id, across batches (when it counts).
        self.answer_counts: dict[str, int] = {}
        if self._persistent:
            self._load()

    # -- contents -----------------------------------------------------------------------------
    def content_path(self, content_name: str) -> Path:
        """Where a file's bytes live."""
        return self.content_dir / content_name

    def new_content_path(self, suffix: str = "") -> tuple[str, Path]:
        """A fresh, unused content name and its path."""
        name = new_id() + suffix
        return name, self.content_path(name)

    def discard_content(self, content_name: str) -> None:
        """Remove a file's bytes unless an unfinished batch still reads them."""
        with self.lock:
            in_use = any(
                b.input_content_name == content_name and b.status not in _FINISHED for b in self.batches.values()
            )
            if not in_use:
                self.content_path(content_name).unlink(missing_ok=True)

    # -- records ------------------------------------------------------------------------------
    def add_file(self, record: FileRecord) -> None:
        with self.lock:
            self.files[record.id] = record
            self.save()

    def remove_file(self, file_id: str) -> FileRecord | None:
        with self.lock:
            record = self.files.pop(file_id, None)
            if record is not None:
                self.save()
                self.discard_content(record.content_name)
            return record

    def add_batch(self, record: BatchRecord) -> None:
        with self.lock:
            self.batches[record.id] = record
            self.save()

    def count_answer(self, custom_id: str) -> int:
        """Count one more answer to ``custom_id``; how many it had before (saved with the progress)."""
        with self.lock:
            before = self.answer_counts.get(custom_id, 0)
            self.answer_counts[custom_id] = before + 1
            return before

    def clear(self) -> None:
        """Forget every file, batch and answer count, and remove every stored content."""
        with self.lock:
            self.files.clear()
            self.batches.clear()
            self.answer_counts.clear()
            shutil.rmtree(self.content_dir, ignore_errors=True)
            self.content_dir.mkdir(parents=True, exist_ok=True)
            self.save()

    # -- persistence --------------------------------------------------------------------------
    def save(self) -> None:
        """Write every record to ``state.json`` (atomically) when the state is persistent."""
        if not self._persistent:
            return
        with self.lock:
            state = {
                "files": [asdict(f) for f in self.files.values()],
                "batches": [asdict(b) for b in self.batches.values()],
                "answer_counts": self.answer_counts,
            }
            tmp = self.root / (STATE_FILE + ".tmp")
            tmp.write_text(json.dumps(state), encoding="utf-8")
            os.replace(tmp, self.root / STATE_FILE)

    def _load(self) -> None:
        path = self.root / STATE_FILE
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            raise StateError(f"{path} is empty; restore it, or remove it to start with no files and batches")
        try:
            state = json.loads(text)
            self.files = {f["id"]: FileRecord(**f) for f in state.get("files", [])}
            self.batches = {b["id"]: BatchRecord(**b) for b in state.get("batches", [])}
            self.answer_counts = {str(k): int(v) for k, v in state.get("answer_counts", {}).items()}
        except (ValueError, RecursionError, TypeError, KeyError, AttributeError) as exc:
            raise StateError(
                f"{path} is corrupt ({type(exc).__name__}: {str(exc)[:200]}); restore it, or remove it "
                "to start with no files and batches"
            ) from None

    def close(self) -> None:
        """Drop the temporary folder of an in-memory store; a persistent one stays."""
        if not self._persistent:
            shutil.rmtree(self.root, ignore_errors=True)


_FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})
