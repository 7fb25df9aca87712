"""Kimi's API roots, and the completion of a base URL typed the short way.

People paste ``api.moonshot.cn`` or ``https://api.moonshot.ai`` from the browser; the SDK would
then send every call to a 404. A Kimi host is completed to its ``/v1`` root; any other host (a
proxy, a gateway, the local server) is taken as given, since only its owner knows its root.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

INTERNATIONAL_BASE_URL = "https://api.moonshot.ai/v1"
CHINA_BASE_URL = "https://api.moonshot.cn/v1"
KIMI_API_HOSTS = frozenset({"api.moonshot.ai", "api.moonshot.cn"})
API_ROOT_PATH = "/v1"


def complete_base_url(url: str) -> str:
    """``url`` with a scheme (https when missing), no trailing slash, and ``/v1`` on a bare Kimi host."""
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if (parts.hostname or "").lower() in KIMI_API_HOSTS and parts.path in ("", "/"):
        parts = parts._replace(netloc=parts.netloc.lower(), path=API_ROOT_PATH)
    return urlunsplit(parts).rstrip("/")


def api_root_hint(base_url: str) -> str | None:
    """What to try when a base URL answers 404 to everything: its ``/v1`` root, if it lacks one."""
    path = urlsplit(base_url).path.rstrip("/")
    if path.endswith(API_ROOT_PATH):
        return None
    return f"{base_url.rstrip('/')}{API_ROOT_PATH}"
