"""What users see in Airflow 3's UI, in a real browser (Debian's Chromium driven by Playwright).

The connection form for type ``kimi`` shows the relabelled fields and hides the unused ones;
"Test" on a good and a bad connection says so clearly; a finished create task shows the
"Kimi Batch" button with its batch's console URL. Screenshots go to ``test-artifacts/ui/``
(``KIMI_TEST_ARTIFACTS`` to change it); the README shows copies of them from ``docs/images/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow_processes import API_KEY, REPO
from lane import Distributed
from playwright.sync_api import Browser, Page, expect, sync_playwright
from test_distributed import CLASSIFICATION, only_batch, run_classification

from airflow_provider_kimi.links import batch_page_url

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CHROMIUM = os.environ.get("KIMI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("KIMI_TEST_ARTIFACTS", REPO / "test-artifacts")) / "ui"
UI_SECONDS = 60_000  # Playwright counts milliseconds; a loaded shared CI machine renders slowly
expect.set_options(timeout=UI_SECONDS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test-distributed does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(UI_SECONDS)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            name = re.sub(r"[^\w.-]", "_", request.node.name)
            page.screenshot(path=ARTIFACTS / f"failed-{name}.png", full_page=True)
        context.close()


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def add_connection(lane: Distributed, connection_id: str, api_key: str) -> None:
    """Store a ``kimi`` connection in the metadata DB, where the UI lists (and tests) it.

    Port 0: the list's "Test" button of Airflow 3.3 sends ``Number(port)``, 0 for a connection
    without a port, and the API refuses (400) to reuse stored credentials for a port that differs
    from the stored one. A Kimi connection has no port (the form hides it), so 0 changes nothing.
    """
    stack = lane.stack
    stack.http.delete(f"{stack.api_url}/api/v2/connections/{connection_id}", headers=stack._headers())
    body: dict[str, Any] = {
        "connection_id": connection_id,
        "conn_type": "kimi",
        "host": lane.kimi.base_url,
        "password": api_key,
        "port": 0,
    }
    response = stack.http.post(f"{stack.api_url}/api/v2/connections", json=body, headers=stack._headers())
    assert response.status_code < 300, response.text


def test_the_kimi_connection_form_shows_only_the_fields_that_matter(distributed: Distributed, page: Page) -> None:
    page.goto(f"{distributed.stack.api_url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").first.fill("kimi_default")
    dialog.get_by_role("combobox").press_sequentially("Kimi")
    page.get_by_role("option", name="Kimi", exact=True).click()
    standard = dialog.get_by_text("Standard Fields")
    expect(standard).to_be_visible()
    expect(dialog.get_by_text("API Key", exact=True)).to_be_visible()
    expect(dialog.get_by_text("Base URL", exact=True)).to_be_visible()
    for hidden in ("Login", "Port", "Schema", "Password", "Host"):
        expect(dialog.get_by_text(hidden, exact=True)).to_have_count(0)
    shot(page, "kimi-connection-form")


@pytest.mark.parametrize(
    ("connection_id", "api_key", "title", "message"),
    [
        ("kimi_ui_good", API_KEY, "Test Connection Successful", r"Connected to http://127\.0\.0\.1:\d+/v1"),
        ("kimi_ui_bad", "sk-not-the-key", "Test Connection Failed", r"refused the API key.*HTTP 401"),
    ],
)
def test_testing_a_connection_says_whether_it_works(
    distributed: Distributed, page: Page, connection_id: str, api_key: str, title: str, message: str
) -> None:
    add_connection(distributed, connection_id, api_key)
    page.goto(f"{distributed.stack.api_url}/connections")
    row = page.get_by_role("row").filter(has_text=connection_id)
    row.get_by_role("button", name="Test Connection").click()
    toast = page.get_by_role("status").filter(has_text=title)
    expect(toast).to_be_visible()
    expect(toast).to_contain_text(re.compile(message, re.DOTALL))
    shot(page, f"kimi-connection-test-{'ok' if api_key == API_KEY else 'failed'}")


def test_a_finished_create_task_links_to_its_batch(distributed: Distributed, page: Page) -> None:
    lane = distributed
    run_id = lane.finished_classifications[-1] if lane.finished_classifications else run_classification(lane)
    batch = only_batch(lane, CLASSIFICATION, run_id)
    url = batch_page_url(lane.kimi.base_url, batch["id"])
    api = f"{lane.stack.api_url}/api/v2/dags/{CLASSIFICATION}/dagRuns/{run_id}/taskInstances/create/links"
    links = lane.stack.http.get(api, headers=lane.stack._headers()).raise_for_status().json()
    assert links["extra_links"] == {"Kimi Batch": url}
    page.goto(f"{lane.stack.api_url}/dags/{CLASSIFICATION}/runs/{run_id}/tasks/create/details")
    link = page.get_by_role("link", name="Kimi Batch")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", url)
    shot(page, "kimi-batch-extra-link")
