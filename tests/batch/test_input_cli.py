"""kimi-batch validate and kimi-batch split, through main() and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from airflow_provider_kimi.cli.main import main
from tests.batch.input_helpers import request, write_lines

KIMI_BATCH = Path(sys.executable).with_name("kimi-batch")


def test_validate_ok(tmp_path, capsys):
    path = write_lines(tmp_path / "in.jsonl", [request("a"), request("b")])
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == f"{path}: OK: 2 lines, {path.stat().st_size} bytes, model kimi-k2.5\n"


def test_validate_problems_one_per_line_and_exit_1(tmp_path, capsys):
    path = write_lines(tmp_path / "in.jsonl", [request("a", top_p=1), request("a")])
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{path}:1: body.top_p: fixed for Kimi's batch models; leave it out",
        f'{path}:2: custom_id: duplicate "a", first used on line 1',
    ]
    size = path.stat().st_size
    assert captured.err == f"{path}: 2 problems in 2 lines, {size} bytes, model kimi-k2.5; nothing was uploaded\n"


def test_validate_cap_and_models(tmp_path, capsys):
    path = write_lines(tmp_path / "in.jsonl", [request(f"r{i}", model="kimi-k3") for i in range(5)])
    assert main(["validate", str(path), "--max-problems", "2"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "... and 3 more problems\n" in captured.err
    assert main(["validate", str(path), "--model", "kimi-k3", "kimi-k2.5"]) == 0


def test_validate_json(tmp_path, capsys):
    path = write_lines(tmp_path / "in.jsonl", [request("a", stream=True)])
    assert main(["validate", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "file": str(path),
        "ok": False,
        "lines": 1,
        "bytes": path.stat().st_size,
        "model": "kimi-k2.5",
        "total_problems": 1,
        "problems": [{"line": 1, "field": "body.stream", "message": "a batch request cannot stream; leave it out"}],
    }


def test_validate_unreadable_file_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_validate_real_subprocess(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [request("a"), b"{"])
    done = subprocess.run(
        [str(KIMI_BATCH), "validate", str(path), "--json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["ok"], report["lines"], report["total_problems"]) == (False, 2, 1)
    assert report["problems"][0]["line"] == 2
    assert report["problems"][0]["field"] == "$"


def test_split_json(tmp_path, capsys):
    path = write_lines(tmp_path / "data.jsonl", [request(f"r{i}") for i in range(5)])
    out_dir = tmp_path / "parts"
    assert main(["split", str(path), "--output-dir", str(out_dir), "--max-lines", "2", "--json"]) == 0
    parts = json.loads(capsys.readouterr().out)
    assert [Path(p["path"]).name for p in parts] == [
        "data.part-0001.jsonl",
        "data.part-0002.jsonl",
        "data.part-0003.jsonl",
    ]
    assert [(p["lines"], p["first_custom_id"], p["last_custom_id"]) for p in parts] == [
        (2, "r0", "r1"),
        (2, "r2", "r3"),
        (1, "r4", "r4"),
    ]


def test_split_refusal_exits_1(tmp_path, capsys):
    path = write_lines(tmp_path / "data.jsonl", [request("a"), request("a")])
    assert main(["split", str(path), "--output-dir", str(tmp_path / "parts")]) == 1
    assert capsys.readouterr().err == f'{path}:2: custom_id: duplicate "a", first used on line 1\n'
