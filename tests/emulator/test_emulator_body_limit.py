"""Uploads are held to the size limit while they arrive: a chunked body with no Content-Length
is refused once it passes the limit, never read (or spooled to disk) in full."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

MB = 1024 * 1024


def multipart_chunks(total: int, sent: list[int]) -> Iterator[bytes]:
    """A multipart upload of ``total`` bytes of file content, counting what the server pulls."""
    head = (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n'
        b"Content-Type: application/jsonl\r\n\r\n"
    )
    yield head
    piece = b"x" * (256 * 1024)
    for _ in range(total // len(piece)):
        sent[0] += len(piece)
        yield piece
    yield b"\r\n--b--\r\n"


def test_a_chunked_upload_over_the_limit_is_refused_while_it_arrives(make_emulator):
    emu = make_emulator(max_file_bytes=1 * MB)
    sent = [0]
    with httpx.Client(timeout=60) as client:
        response = client.post(
            emu.base_url + "/files",
            content=multipart_chunks(200 * MB, sent),
            headers={"Authorization": f"Bearer {emu.api_key}", "Content-Type": "multipart/form-data; boundary=b"},
        )
    assert response.status_code == 400, response.text
    assert "file is larger than the limit of 1048576 bytes" in response.json()["error"]["message"]
    # The server stopped reading near the limit; socket buffers let a few more MB through.
    assert sent[0] < 50 * MB
    assert emu.stats()["uploads"] == 0


def test_a_chunked_create_body_over_a_megabyte_is_refused(make_emulator):
    emu = make_emulator()

    def body() -> Iterator[bytes]:
        yield b'{"input_file_id": "x", "metadata": {"k": "'
        for _ in range(40):
            yield b"v" * MB
        yield b'"}}'

    response = httpx.post(
        emu.base_url + "/batches",
        content=body(),
        headers={"Authorization": f"Bearer {emu.api_key}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400
    assert "request body is larger than the limit" in response.json()["error"]["message"]


def test_an_upload_under_the_limit_still_works(make_emulator):
    emu = make_emulator(max_file_bytes=1 * MB)
    line = b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"kimi-k2.5",' + (
        b'"messages":[{"role":"user","content":"hi"}]}}\n'
    )
    response = httpx.post(
        emu.base_url + "/files",
        content=iter(
            [
                b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
                b'--b\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n',
                line,
                b"\r\n--b--\r\n",
            ]
        ),
        headers={"Authorization": f"Bearer {emu.api_key}", "Content-Type": "multipart/form-data; boundary=b"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == len(line)
