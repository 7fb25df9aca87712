"""Airflow finds the provider: its connection type, the form's fields, and the console link."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.links import batch_page_url


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_the_package_and_its_connection_type_are_registered(providers):
    assert "airflow-provider-kimi" in providers.providers
    hook = providers.hooks["kimi"]
    assert hook.hook_class_name == "airflow_provider_kimi.hooks.kimi.KimiBatchHook"
    assert hook.connection_testable


def test_the_connection_form_shows_the_key_the_base_url_and_the_client_settings(providers):
    behaviour = providers.field_behaviours["kimi"]
    assert behaviour["hidden_fields"] == ["schema", "port", "login"]
    assert behaviour["relabeling"] == {"password": "API Key", "host": "Base URL"}
    assert "https://api.moonshot.cn/v1" in behaviour["placeholders"]["host"]
    fields = {name for name in providers.connection_form_widgets if name.startswith("extra__kimi__")}
    assert fields == {"extra__kimi__timeout", "extra__kimi__max_retries", "extra__kimi__max_requests_per_minute"}


def test_the_console_link_is_registered(providers):
    assert "airflow_provider_kimi.links.KimiBatchConsoleLink" in providers.extra_links_class_names


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.moonshot.ai/v1", "https://platform.moonshot.ai/console/batches/b1"),
        ("https://api.moonshot.cn/v1", "https://platform.moonshot.cn/console/batches/b1"),
        ("http://127.0.0.1:8765/v1/", "http://127.0.0.1:8765/v1/batches/b1"),
    ],
)
def test_the_link_opens_the_batch_on_the_platform_that_issued_the_key(base_url, expected):
    assert batch_page_url(base_url, "b1") == expected
