"""A stand-in list endpoint over real HTTP: pages that end, pages that ignore ``after``, pages without end."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def file_object(number: int) -> dict[str, Any]:
    return {
        "id": f"file-{number:06d}",
        "object": "file",
        "bytes": 3,
        "created_at": 1_700_000_000 + number,
        "filename": f"f{number}.jsonl",
        "purpose": "batch",
        "status": "processed",
    }


class PagingServer:
    """Answers ``GET /v1/files`` in pages of ``page_size`` over ``total`` files.

    ``mode`` is ``"honours"`` (``after`` and ``has_more`` as OpenAI pages), ``"ignores"`` (the first
    page every time, ``has_more`` always true) or ``"endless"`` (a new page every time, forever).
    """

    def __init__(self, mode: str, total: int = 0, page_size: int = 10) -> None:
        self.mode, self.total, self.page_size = mode, total, page_size
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                data = json.dumps(server.page(parse_qs(urlsplit(self.path).query))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        after = query.get("after", [None])[0]
        start = 0 if after is None else int(after.removeprefix("file-")) + 1
        if self.mode == "ignores":
            start = 0
        end = start + self.page_size if self.mode == "endless" else min(self.total, start + self.page_size)
        has_more = True if self.mode != "honours" else end < self.total
        return {"object": "list", "data": [file_object(n) for n in range(start, end)], "has_more": has_more}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
