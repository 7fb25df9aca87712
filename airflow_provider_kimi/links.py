"""A button on Kimi tasks in the Airflow UI that opens the task's batch in Kimi's console."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, TaskInstanceKey

INTERNATIONAL_CONSOLE = "https://platform.moonshot.ai/console"
CHINA_CONSOLE = "https://platform.moonshot.cn/console"


def batch_page_url(base_url: str, batch_id: str) -> str:
    """The console page of a batch, on the platform that issued the key.

    Behind any other base URL (a proxy, the local server) the link is the batch's API object.
    """
    if "moonshot.cn" in base_url:
        return f"{CHINA_CONSOLE}/batches/{batch_id}"
    if "moonshot.ai" in base_url:
        return f"{INTERNATIONAL_CONSOLE}/batches/{batch_id}"
    return f"{base_url.rstrip('/')}/batches/{batch_id}"


class KimiBatchConsoleLink(BaseOperatorLink):
    """ "Kimi Batch": the URL is stored in XCom when the batch id is known, and read back here."""

    name = "Kimi Batch"

    @property
    def xcom_key(self) -> str:
        """Airflow 3's own key for an operator link's XCom (Airflow 2's ``BaseOperatorLink`` has none)."""
        return f"_link_{type(self).__name__}"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The stored URL, or nothing before the task has found its batch."""
        url = XCom.get_value(key=self.xcom_key, ti_key=ti_key)
        return str(url) if url else ""

    @classmethod
    def persist(cls, context: Context, base_url: str, batch_id: str) -> None:
        """Store the batch's page so the button works from the moment the batch exists."""
        context["ti"].xcom_push(key=cls().xcom_key, value=batch_page_url(base_url, batch_id))
