"""A stand-in server that answers every batch retrieve and cancel with one fixed Batch object,
as a misrouted proxy or a future Kimi would."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def batch(batch_id: str, status: str) -> dict[str, Any]:
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": "file-1",
        "completion_window": "24h",
        "status": status,
        "created_at": int(time.time()),
        "request_counts": {"total": 1, "completed": 0, "failed": 0},
    }


class OddServer:
    """Answers every batch retrieve and cancel with ``answer`` (a Batch object)."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        odd = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                data = json.dumps(odd.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
