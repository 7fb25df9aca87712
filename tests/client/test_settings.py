"""The hook and ``kimi-batch`` resolve one set of settings the same way: a short Kimi host reaches /v1."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.cli.api import client_from
from airflow_provider_kimi.cli.main import build_parser
from airflow_provider_kimi.client.settings import resolve_client_settings


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("api.moonshot.cn", "https://api.moonshot.cn/v1"),
        ("https://api.moonshot.ai", "https://api.moonshot.ai/v1"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"),
    ],
)
def test_the_command_line_completes_the_base_url_as_a_connection_does(given, root, monkeypatch):
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-cli")
    for command in (["files", "list"], ["batches", "list"], ["files", "download", "f1"], ["batches", "get", "b1"]):
        args = build_parser().parse_args([*command, "--base-url", given])
        settings = client_from(args).settings
        assert settings.base_url == root
        assert settings == resolve_client_settings("c", password="sk-cli", host=given, extra={}, environ={})


def test_the_command_line_reads_the_base_url_variable_when_no_flag_is_given(monkeypatch):
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-cli")
    monkeypatch.setenv("MOONSHOT_BASE_URL", "api.moonshot.cn")
    assert client_from(build_parser().parse_args(["files", "list"])).settings.base_url == "https://api.moonshot.cn/v1"


def test_the_key_never_shows_in_the_settings(monkeypatch):
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-secret-cli")
    assert "sk-secret-cli" not in repr(client_from(build_parser().parse_args(["files", "list"])).settings)
