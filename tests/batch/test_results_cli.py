"""``kimi-batch results``: in process through ``main``, and once as the installed script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from airflow_provider_kimi.cli.main import main

OUTPUT_LINES = [
    {
        "id": "r1",
        "custom_id": "a",
        "response": {
            "status_code": 200,
            "request_id": "",
            "body": {
                "object": "chat.completion",
                "model": "kimi-k2.5",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "Technology"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000},
            },
        },
        "error": None,
    }
]
ERROR_LINES = [
    {
        "id": "r2",
        "custom_id": "b",
        "response": {
            "status_code": 400,
            "request_id": "",
            "body": {"error": {"type": "invalid_request_error", "message": "bad request"}},
        },
        "error": None,
    },
    {"id": "r3", "custom_id": "c", "response": None, "error": {"code": "batch_expired", "message": "window closed"}},
    {"id": "r4", "custom_id": "d", "response": None, "error": {"code": "batch_cancelled", "message": "cancelled"}},
]
INPUT_IDS = ["a", "b", "c", "d", "e"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    def write(name: str, lines: list[dict]) -> str:
        path = tmp_path / name
        path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        return str(path)

    return {
        "output": write("output.jsonl", OUTPUT_LINES),
        "error": write("error.jsonl", ERROR_LINES),
        "input": write(
            "input.jsonl",
            [{"custom_id": i, "method": "POST", "url": "/v1/chat/completions", "body": {}} for i in INPUT_IDS],
        ),
    }


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["results", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_summary(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([files["output"], files["error"], "--input", files["input"], "--json"], capsys)
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    data = orjson.loads(out)
    assert {
        "succeeded": 1,
        "failed": 1,
        "expired": 1,
        "cancelled": 1,
        "timeout": 0,
        "missing": 1,
        "missing_custom_ids": ["e"],
        "duplicates": 0,
        "total": 5,
        "prompt_tokens": 1_000_000,
        "completion_tokens": 500_000,
        "estimated_cost_usd": 1.26,
        "realtime_cost_usd": 2.1,
        "saving_usd": 0.84,
    }.items() <= data.items()
    assert [e["message"] for e in data["top_errors"]] == [
        "HTTP 400 invalid_request_error: bad request",
        "batch_expired: window closed",
        "batch_cancelled: cancelled",
    ]


def test_text_output_has_table_and_summary(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([files["output"], files["error"], "--input", files["input"], "--show", "2"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == [
        "custom_id  status             tokens  answer / error",
        "a          succeeded  1000000+500000  Technology",
        "b          failed                  -  HTTP 400 invalid_request_error: bad request",
    ]
    assert lines[3] == ""
    assert lines[4] == "5 requests: 1 succeeded, 1 failed, 1 expired, 1 cancelled, 1 missing"
    assert "Estimated cost: $1.26 at batch prices, $2.10 in real time ($0.84 saved)" in lines


def test_show_zero_prints_only_the_summary(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run([files["output"], "--show", "0"], capsys)
    assert out.startswith("1 request: 1 succeeded, 0 failed\n")


def test_error_file_alone(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([files["error"], "--json"], capsys)
    data = orjson.loads(out)
    assert (code, data["succeeded"], data["failed"], data["missing"]) == (0, 0, 1, None)


def test_custom_prices(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [files["output"], "--json", "--list-prices", "1,0.5,2", "--batch-discount", "0.5"]
    data = orjson.loads(run(argv, capsys)[1])
    assert (data["estimated_cost_usd"], data["realtime_cost_usd"]) == (1.0, 2.0)


def test_failure_limit_sets_exit_code(files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [files["output"], files["error"], "--input", files["input"], "--json"]
    code, out, err = run([*argv, "--max-failed-ratio", "0.5"], capsys)
    assert code == 1
    assert orjson.loads(out)["failed"] == 1
    assert err.startswith("Too many failures: 4 of 5 requests did not succeed (80%: ")
    assert run([*argv, "--max-failed-count", "4"], capsys)[0] == 0


def test_malformed_line_exits_2_naming_file_and_line(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps(OUTPUT_LINES[0]) + b"\n{oops\n")
    code, out, err = run([str(bad), "--json"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"{bad}:2: not valid JSON")


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([str(tmp_path / "absent.jsonl")], capsys)
    assert code == 2
    assert err.startswith(f"{tmp_path / 'absent.jsonl'}: cannot read")


@pytest.mark.parametrize(
    "extra",
    [["--list-prices", "1,2"], ["--batch-discount", "2"], ["--show", "-1"], ["--max-failed-ratio", "3"]],
)
def test_bad_options_exit_2(files: dict[str, str], capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    code, _, err = run([files["output"], *extra], capsys)
    assert code == 2
    assert err.startswith("kimi-batch results: ")


def test_installed_script(files: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "kimi-batch"
    completed = subprocess.run(
        [str(script), "results", files["output"], files["error"], "--input", files["input"], "--json"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    data = orjson.loads(completed.stdout)
    assert (data["succeeded"], data["failed"], data["expired"], data["cancelled"], data["missing"]) == (1, 1, 1, 1, 1)
