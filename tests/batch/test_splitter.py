"""split_file: parts within the limits, lines whole, bytes unchanged, ids unique."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import orjson
import pytest

from airflow_provider_kimi.batch import SplitError, split_file, validate_file
from tests.batch.input_helpers import request, write_lines


def dataset(tmp_path: Path, count: int = 50) -> Path:
    lines = [request(f"r{i}", messages=[{"role": "user", "content": "x" * (i * 7 % 90)}]) for i in range(count)]
    return write_lines(tmp_path / "data.jsonl", lines)


def test_parts_respect_limits_and_round_trip(tmp_path):
    path = dataset(tmp_path)
    parts = split_file(path, tmp_path / "out", max_bytes=1000)
    assert len(parts) > 3
    assert all(part.bytes <= 1000 for part in parts)
    joined = b"".join(Path(part.path).read_bytes() for part in parts)
    assert joined == path.read_bytes()
    for part in parts:
        data = Path(part.path).read_bytes()
        assert data.endswith(b"\n")
        assert len(data) == part.bytes
        assert data.count(b"\n") == part.lines
        assert validate_file(part.path).ok
    assert sum(part.lines for part in parts) == 50
    assert (parts[0].first_custom_id, parts[-1].last_custom_id) == ("r0", "r49")


def test_max_lines_and_prefix(tmp_path):
    parts = split_file(dataset(tmp_path, 7), tmp_path / "out", max_lines=3, prefix="batch")
    assert [Path(p.path).name for p in parts] == [
        "batch.part-0001.jsonl",
        "batch.part-0002.jsonl",
        "batch.part-0003.jsonl",
    ]
    assert [p.lines for p in parts] == [3, 3, 1]


def test_last_line_without_newline_kept_exactly(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(orjson.dumps(request("a")) + b"\n" + orjson.dumps(request("b")))
    parts = split_file(path, tmp_path / "out", max_lines=1)
    assert b"".join(Path(p.path).read_bytes() for p in parts) == path.read_bytes()


def test_ids_read_from_any_key_order(tmp_path):
    line = b'{"method":"POST","custom_id":"a\\u00e9","url":"/v1/chat/completions","body":{}}'
    path = write_lines(tmp_path / "data.jsonl", [line, request("b"), line])
    with pytest.raises(SplitError) as caught:
        split_file(path, tmp_path / "out", max_lines=1)
    assert str(caught.value) == f'{path}:3: custom_id: duplicate "a\u00e9", first used on line 1'


def test_refuses_duplicate_across_parts_and_leaves_nothing(tmp_path):
    path = write_lines(tmp_path / "data.jsonl", [request("a"), request("b"), request("c"), request("a")])
    with pytest.raises(SplitError) as caught:
        split_file(path, tmp_path / "out", max_lines=2)
    assert str(caught.value) == f'{path}:4: custom_id: duplicate "a", first used on line 1'
    assert list((tmp_path / "out").iterdir()) == []


def test_refuses_a_line_over_the_part_limit(tmp_path):
    path = write_lines(
        tmp_path / "data.jsonl", [request("a"), request("b", messages=[{"role": "user", "content": "y" * 500}])]
    )
    size = len(orjson.dumps(request("b", messages=[{"role": "user", "content": "y" * 500}]))) + 1
    with pytest.raises(SplitError) as caught:
        split_file(path, tmp_path / "out", max_bytes=300)
    assert str(caught.value) == f"{path}:2: $: line is {size} bytes, over the part limit of 300 bytes"


def test_refuses_line_without_custom_id(tmp_path):
    path = write_lines(tmp_path / "data.jsonl", [b'{"method": "POST"}'])
    with pytest.raises(SplitError, match=r":1: custom_id: missing; every line needs a non-empty string custom_id"):
        split_file(path, tmp_path / "out")


class MemoryDir:
    """An object-storage-like directory: ``/`` and ``.open("wb")`` on its children."""

    def __init__(self, files: dict[str, bytes], path: str = "mem://bucket/parts") -> None:
        self.files = files
        self.path = path

    def __truediv__(self, name: str) -> MemoryDir:
        return MemoryDir(self.files, f"{self.path}/{name}")

    def __str__(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    def iterdir(self) -> list[MemoryDir]:
        inside = f"{self.path}/"
        return [MemoryDir(self.files, key) for key in self.files if key.startswith(inside)]

    def rename(self, target: MemoryDir) -> None:
        self.files[target.path] = self.files.pop(self.path)

    def unlink(self) -> None:
        self.files.pop(self.path, None)

    def open(self, mode: str = "rb"):
        files, key = self.files, self.path

        class Sink(io.BytesIO):
            def close(self) -> None:
                files[key] = self.getvalue()
                super().close()

        return Sink()


def test_writes_to_object_storage_like_directory(tmp_path):
    files: dict[str, bytes] = {}
    path = dataset(tmp_path, 10)
    parts = split_file(path, MemoryDir(files), max_lines=4)
    assert [str(p.path) for p in parts] == [f"mem://bucket/parts/data.part-000{i}.jsonl" for i in (1, 2, 3)]
    assert b"".join(files[str(p.path)] for p in parts) == path.read_bytes()


def test_both_limits_apply_together(tmp_path):
    path = dataset(tmp_path, 30)
    path.write_bytes(path.read_bytes()[:-1])  # last line without its newline
    parts = split_file(path, tmp_path / "out", max_bytes=900, max_lines=5)
    assert b"".join(Path(p.path).read_bytes() for p in parts) == path.read_bytes()
    assert all(p.bytes <= 900 and p.lines <= 5 for p in parts)
    assert any(p.lines == 5 for p in parts)
    assert any(p.lines < 5 for p in parts[:-1])


def test_oversize_line_in_the_middle_leaves_nothing(tmp_path):
    long_line = request("b", messages=[{"role": "user", "content": "z" * 3000}])
    path = write_lines(tmp_path / "data.jsonl", [request("a"), long_line, request("c")])
    with pytest.raises(SplitError) as caught:
        split_file(path, tmp_path / "out", max_bytes=400)
    size = len(orjson.dumps(long_line)) + 1
    assert str(caught.value) == f"{path}:2: $: line is {size} bytes, over the part limit of 400 bytes"
    assert list((tmp_path / "out").iterdir()) == []
