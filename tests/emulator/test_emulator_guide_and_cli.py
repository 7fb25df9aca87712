"""The user guide's complete script, unchanged, against the emulator; and ``kimi-batch emulator``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_helpers import client_for

from airflow_provider_kimi.cli.emulator import settings_from_args
from airflow_provider_kimi.cli.main import build_parser, main

GUIDE_SCRIPT = Path(__file__).with_name("guide_classification.py")
CATEGORIES = ("Literature", "News", "Academic", "Technology", "Lifestyle")


def test_guide_classification_script_runs_unchanged(make_emulator, tmp_path):
    emu = make_emulator(api_key="sk-guide")
    env = {**os.environ, "MOONSHOT_API_KEY": "sk-guide", "MOONSHOT_BASE_URL": emu.base_url}
    done = subprocess.run(
        [sys.executable, str(GUIDE_SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answers = dict(re.findall(r"^(text_\d): (.+)$", done.stdout, flags=re.MULTILINE))
    assert sorted(answers) == [f"text_{i}" for i in range(5)]
    for answer in answers.values():
        category = re.fullmatch(r"This text belongs to the (\w+) category\.", answer)
        assert category is not None
        assert category.group(1) in CATEGORIES
    assert answers["text_0"] == "This text belongs to the Literature category."
    assert answers["text_4"] == "This text belongs to the Technology category."
    assert "Status: completed (5/5)" in done.stdout
    assert (tmp_path / "classification_requests.jsonl").exists()


def _start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_kimi.cli.main", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_base_url_serves_and_stops_on_signal(stop_signal):
    process = _start_cli("--time-scale", "0", "--quiet", "--api-key", "sk-cli", "--faults", "slow=0.0")
    try:
        first_line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first_line)
        assert match, first_line

        class Address:
            base_url = match.group(1)
            api_key = "sk-cli"

        assert client_for(Address()).files.list().data == []
    finally:
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "stopped" in out


def test_cli_refuses_a_bad_fault_spec(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["emulator", "--faults", "teapot=0.5"])
    assert caught.value.code == 2
    assert "teapot" in capsys.readouterr().err


def test_cli_flags_map_onto_settings(tmp_path):
    args = build_parser().parse_args(
        [
            "emulator",
            "--state-dir",
            str(tmp_path),
            "--time-scale",
            "0.5",
            "--window-scale",
            "0.001",
            "--rate",
            "7",
            "--models",
            "kimi-k2.6",
            "--forbidden-params-policy",
            "fail_line",
            "--report-validation-errors",
            "--max-file-mb",
            "1",
            "--hold-new-batches-after",
            "3",
            "--faults",
            "429=0.2,drop=0.1",
            "--seed",
            "9",
            "--thinking-models",
            "kimi-k2.6",
            "--files-list-paging",
            "none",
            "--max-files-list-limit",
            "50",
            "--invalid-json-rate",
            "0.2",
            "--replies",
            "mymod:reply",
            "--quiet",
        ]
    )
    settings = settings_from_args(args)
    assert settings.port == 8765
    assert settings.api_key is None
    assert settings.state_dir == tmp_path
    assert (settings.time_scale, settings.window_scale, settings.requests_per_second) == (0.5, 0.001, 7)
    assert settings.allowed_models == frozenset({"kimi-k2.6"})
    assert settings.forbidden_params_policy == "fail_line"
    assert settings.report_validation_errors is True
    assert settings.max_file_bytes == 1024 * 1024
    assert settings.hold_new_batches_after == 3
    assert (settings.faults, settings.seed) == ({"429": 0.2, "drop": 0.1}, 9)
    assert settings.access_log is False
    assert settings.thinking_models == frozenset({"kimi-k2.6"})
    assert (settings.files_list_paging, settings.max_files_list_limit) == ("none", 50)
    assert (settings.invalid_json_rate, settings.replies) == (0.2, "mymod:reply")


def test_cli_defaults_serve_todays_batch_models():
    settings = settings_from_args(build_parser().parse_args(["emulator"]))
    assert settings.allowed_models == frozenset({"kimi-k2.7-code", "kimi-k2.6", "kimi-k2.5"})
    assert settings.thinking_models == settings.allowed_models
    assert (settings.files_list_paging, settings.invalid_json_rate, settings.replies) == ("cursor", 0.0, None)


@pytest.mark.parametrize("rate", ["1.5", "-0.1"])
def test_cli_refuses_an_invalid_json_rate_outside_zero_to_one(capsys, rate):
    with pytest.raises(SystemExit) as caught:
        main(["emulator", "--invalid-json-rate", rate])
    assert caught.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err
