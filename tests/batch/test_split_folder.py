"""A split never mixes with an earlier one, never destroys parts on failure, never writes outside
its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_kimi.batch import SplitError, split_file
from airflow_provider_kimi.cli.main import main
from tests.batch.input_helpers import request, write_lines


def dataset(folder: Path, count: int, name: str = "data.jsonl") -> Path:
    return write_lines(folder / name, [request(f"r{i}") for i in range(count)])


def lines_in(folder: Path) -> int:
    return sum(len(part.read_bytes().splitlines()) for part in folder.glob("*.jsonl"))


def test_a_used_folder_is_refused_without_overwrite(tmp_path):
    out = tmp_path / "parts"
    split_file(dataset(tmp_path, 16), out, max_lines=2)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(SplitError, match=r"parts: the output folder is not empty \(data\.part-0001\.jsonl, "):
        split_file(dataset(tmp_path, 10), out, max_lines=2)
    assert sorted(p.name for p in out.iterdir()) == before


def test_overwrite_replaces_only_the_earlier_parts_of_the_prefix(tmp_path):
    out = tmp_path / "parts"
    split_file(dataset(tmp_path, 16), out, max_lines=2)
    split_file(dataset(tmp_path, 4, "other.jsonl"), out, max_lines=2, overwrite=True)
    (out / "notes.txt").write_text("mine")
    parts = split_file(dataset(tmp_path, 10), out, max_lines=2, overwrite=True)
    # A DAG globbing data.part-* reads the 10 lines of the new split, not 16 stale ones beside them.
    assert lines_in_prefix(out, "data") == 10 == sum(p.lines for p in parts)
    assert lines_in_prefix(out, "other") == 4
    assert (out / "notes.txt").read_text() == "mine"
    assert not list(out.glob(".*"))


def lines_in_prefix(folder: Path, prefix: str) -> int:
    return sum(len(part.read_bytes().splitlines()) for part in folder.glob(f"{prefix}.part-*.jsonl"))


def test_a_failed_resplit_keeps_the_earlier_parts_whole(tmp_path):
    out = tmp_path / "parts"
    split_file(dataset(tmp_path, 10), out, max_lines=2)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = write_lines(tmp_path / "data.jsonl", [request("a"), request("b"), request("c"), request("a")])
    with pytest.raises(SplitError, match="duplicate"):
        split_file(broken, out, max_lines=1, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("prefix", ["../..", "..", "../escaped", "/tmp/escaped", "sub/name", ""])
def test_a_prefix_cannot_leave_the_folder(tmp_path, prefix):
    out = tmp_path / "a" / "b" / "parts"
    with pytest.raises(ValueError, match="prefix must be a plain file name"):
        split_file(dataset(tmp_path, 3), out, prefix=prefix)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / "data.jsonl"]


def test_cli_refuses_a_used_folder_and_overwrites_when_asked(tmp_path, capsys):
    out = tmp_path / "parts"
    source = dataset(tmp_path, 16)
    assert main(["split", str(source), "--output-dir", str(out), "--max-lines", "2"]) == 0
    source = dataset(tmp_path, 10)
    assert main(["split", str(source), "--output-dir", str(out), "--max-lines", "2"]) == 1
    assert "the output folder is not empty" in capsys.readouterr().err
    assert main(["split", str(source), "--output-dir", str(out), "--max-lines", "2", "--overwrite"]) == 0
    assert lines_in(out) == 10
    assert main(["split", str(source), "--output-dir", str(out), "--prefix", "../..", "--overwrite"]) == 2
    assert "prefix must be a plain file name" in capsys.readouterr().err
