"""``POST /v1/tokenizers/estimate-token-count``: the prompt tokens a batch would bill for a body."""

from __future__ import annotations

import base64
from typing import Any

import openai
import pytest
from emulator_helpers import MP4, PNG, client_for, read_jsonl, request_line, start_batch, wait_until

PATH = "/tokenizers/estimate-token-count"


def estimate(client: openai.OpenAI, body: Any) -> Any:
    return client.post(PATH, body=body, cast_to=object)


def test_the_estimate_is_the_prompt_tokens_a_batch_reports(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    video_id = client.files.create(file=("clip.mp4", MP4), purpose="video").id
    image = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    bodies = {
        "short": request_line("short", "hi")["body"],
        "long": request_line("long", "a much longer question " * 40)["body"],
        "image": request_line(
            "image",
            [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": "what is this?"}],
        )["body"],
        "video": request_line("video", [{"type": "video_url", "video_url": {"url": f"ms://{video_id}"}}])["body"],
        "turns": {
            **request_line("turns", "and then?")["body"],
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Tell me a story."},
                {"role": "assistant", "content": "Once upon a time."},
                {"role": "user", "content": "and then?"},
            ],
        },
    }
    estimates = {key: estimate(client, body) for key, body in bodies.items()}
    lines = [{**request_line(key), "body": body} for key, body in bodies.items()]
    batch = wait_until(client, start_batch(client, lines))
    results = read_jsonl(client, batch.output_file_id)
    billed = {line["custom_id"]: line["response"]["body"]["usage"] for line in results}
    for key, answer in estimates.items():
        assert answer == {"data": {"total_tokens": billed[key]["prompt_tokens"]}}
    assert estimates["image"]["data"]["total_tokens"] > estimates["short"]["data"]["total_tokens"]
    assert estimates["video"]["data"]["total_tokens"] > estimates["image"]["data"]["total_tokens"]


def test_an_unknown_model_is_refused_as_for_a_batch(emulator, client):
    with pytest.raises(openai.NotFoundError) as caught:
        estimate(client, {**request_line("x")["body"], "model": "kimi-k9"})
    error = caught.value.body
    assert error["type"] == "resource_not_found_error"
    assert error["code"] == "model_not_found"
    assert "kimi-k9" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "JSON object"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "kimi-k2.6"}, "messages"),
        ({"model": "kimi-k2.6", "messages": []}, "messages"),
        ({"model": "kimi-k2.6", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"model": "kimi-k2.6", "messages": [{"role": "user", "content": 7}]}, "messages[0].content"),
        (
            {"model": "kimi-k2.6", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
            "messages[0].content[0].image_url.url",
        ),
        ({"model": "kimi-k2.6", "messages": [{"role": "user", "content": "hi"}], "thinking": "on"}, "thinking"),
    ],
)
def test_a_malformed_body_is_a_400_naming_the_field(client, body, field):
    with pytest.raises(openai.BadRequestError) as caught:
        estimate(client, body)
    assert caught.value.body["type"] == "invalid_request_error"
    assert field in caught.value.body["message"]


def test_estimates_count_against_the_keys_rpm(make_emulator):
    emu = make_emulator(rpm=3)
    client = client_for(emu)
    body = request_line("x")["body"]
    for _ in range(3):
        assert estimate(client, body)["data"]["total_tokens"] > 0
    with pytest.raises(openai.RateLimitError):
        estimate(client, body)
    assert emu.stats()["requests"]["POST /v1/tokenizers/estimate-token-count"] == 3
