"""Builders and raw-HTTP helpers shared by the emulator tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Literal

from openai import OpenAI
from pydantic import BaseModel, Field

from airflow_provider_kimi.emulator import KimiEmulator

MODEL = "kimi-k2.5"
TERMINAL = ("completed", "failed", "expired", "cancelled")


def request_line(custom_id: str, text: str = "hello", **body_extra: Any) -> dict[str, Any]:
    """One valid input line (a chat completion asking about ``text``)."""
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": text},
        ],
    }
    body.update(body_extra)
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def jsonl(lines: list[Any]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def five_lines(texts: list[str] | None = None) -> list[dict[str, Any]]:
    texts = texts or [f"question number {i}" for i in range(5)]
    return [request_line(f"req-{i}", text) for i, text in enumerate(texts)]


def client_for(emu: KimiEmulator, api_key: str | None = None) -> OpenAI:
    return OpenAI(api_key=api_key or emu.api_key, base_url=emu.base_url, max_retries=0)


def upload_lines(client: OpenAI, lines: list[Any] | bytes, name: str = "input.jsonl") -> str:
    data = lines if isinstance(lines, bytes) else jsonl(lines)
    return client.files.create(file=(name, data, "application/jsonl"), purpose="batch").id


def start_batch(client: OpenAI, lines: list[Any] | bytes, **kwargs: Any) -> str:
    file_id = upload_lines(client, lines)
    kwargs.setdefault("completion_window", "24h")
    return client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", **kwargs).id


def wait_until(client: OpenAI, batch_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch.status} after {timeout}s")
        time.sleep(0.01)


def read_jsonl(client: OpenAI, file_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines() if line]


def raw(
    emu: KimiEmulator,
    method: str,
    path: str,
    *,
    key: str | None = "default",
    body: Any = None,
) -> tuple[int, dict[str, str], Any]:
    """A plain HTTP call (no SDK): status, headers (lowercase names) and the decoded JSON body."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {emu.api_key if key == 'default' else key}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(emu.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, resp_headers, payload = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, resp_headers, payload = error.code, error.headers, error.read()
    lowered = {k.lower(): v for k, v in resp_headers.items()}
    return status, lowered, json.loads(payload) if payload else None


# The first bytes of files in formats Kimi reads (the server judges media uploads by them).
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16


# The provider's schema instruction, word for word: the contract both sides are written to.
INSTRUCTION = "Reply with one JSON object and nothing else. It must be valid under this JSON Schema:"
JSON_MODE = {"type": "json_object"}


class Ticket(BaseModel):
    label: Literal["billing", "bug", "feature", "other"]
    urgency: int = Field(ge=1, le=5)
    summary: str


def schema_line(custom_id: str, text: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A JSON-Mode line whose system message carries ``schema`` in the provider's instruction."""
    line = request_line(custom_id, text, response_format=JSON_MODE, thinking={"type": "disabled"}, **extra)
    fenced = f"```json\n{json.dumps(schema, indent=2)}\n```"
    line["body"]["messages"][0]["content"] = f"You triage tickets.\n\n{INSTRUCTION}\n{fenced}\n"
    return line


def contents(client: OpenAI, lines: list[dict[str, Any]]) -> dict[str, str]:
    """Run the lines as one batch; each custom_id's reply content."""
    batch = wait_until(client, start_batch(client, lines))
    assert batch.status == "completed"
    return {
        line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
        for line in read_jsonl(client, batch.output_file_id)
    }
