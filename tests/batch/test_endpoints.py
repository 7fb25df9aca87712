"""A base URL typed the short way is completed to Kimi's API root; other hosts are left alone."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.client.endpoints import api_root_hint, complete_base_url


@pytest.mark.parametrize(
    ("given", "completed"),
    [
        ("api.moonshot.cn", "https://api.moonshot.cn/v1"),
        ("api.moonshot.ai/", "https://api.moonshot.ai/v1"),
        ("https://api.moonshot.ai", "https://api.moonshot.ai/v1"),
        ("  https://API.Moonshot.ai/  ", "https://api.moonshot.ai/v1"),
        ("https://api.moonshot.cn/v1/", "https://api.moonshot.cn/v1"),
        ("https://api.moonshot.ai/v1", "https://api.moonshot.ai/v1"),
    ],
)
def test_a_kimi_host_is_completed_to_the_api_root(given: str, completed: str) -> None:
    assert complete_base_url(given) == completed


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"),
        ("https://gateway.example.com/kimi", "https://gateway.example.com/kimi"),
        ("gateway.example.com/kimi/v1", "https://gateway.example.com/kimi/v1"),
        ("https://api.moonshot.ai/v2", "https://api.moonshot.ai/v2"),
    ],
)
def test_any_other_url_is_used_as_given(given: str, used: str) -> None:
    assert complete_base_url(given) == used


def test_the_hint_suggests_the_v1_root_only_where_it_is_missing() -> None:
    assert api_root_hint("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert api_root_hint("https://gateway.example.com/kimi") == "https://gateway.example.com/kimi/v1"
    assert api_root_hint("http://127.0.0.1:8000/v1") is None
