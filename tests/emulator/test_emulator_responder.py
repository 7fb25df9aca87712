"""The responder: stable answers, categories, media, fail markers (no server needed)."""

from __future__ import annotations

import pytest

from airflow_provider_kimi.emulator.responder import find_categories, respond


def _body(user, system="You are helpful."):
    return {
        "model": "kimi-k2.5",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }


def test_answer_is_pinned_across_processes_and_runs():
    reply = respond(_body("hello"), created=1)
    # A fixed value: hashlib is stable where hash() is salted per process.
    assert reply.body["id"] == "chatcmpl-e88cd36bfb5827cd6bbf03c2"
    assert reply.body == respond(_body("hello"), created=1).body
    assert reply.status_code == 200


def test_different_requests_get_different_answers():
    first = respond(_body("hello"), 1).body["choices"][0]["message"]["content"]
    second = respond(_body("goodbye"), 1).body["choices"][0]["message"]["content"]
    assert first != second


def test_usage_grows_with_the_prompt():
    short = respond(_body("hi"), 1).body["usage"]
    long = respond(_body("hi " * 400), 1).body["usage"]
    assert long["prompt_tokens"] > short["prompt_tokens"] + 200
    assert long["total_tokens"] == long["prompt_tokens"] + long["completion_tokens"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Hamlet is one of Shakespeare's most famous tragedies", "Literature"),
        ("How to make a delicious braised pork dish", "Lifestyle"),
        ("Latest iPhone launch event details", "Technology"),
    ],
)
def test_keywords_pick_the_category(text, category):
    system = "You are a text classification expert. Classify texts into: Literature/News/Academic/Technology/Lifestyle"
    content = respond(_body(f"Please classify the following text: {text}", system), 1).body["choices"][0]
    assert content["message"]["content"] == f"This text belongs to the {category} category."


def test_categories_in_the_user_prompt_count_too():
    body = _body("Classify this: Cats/Dogs/Birds. Text: zzz")
    content = respond(body, 1).body["choices"][0]["message"]["content"]
    assert content in {f"This text belongs to the {c} category." for c in ("Cats", "Dogs", "Birds")}


def test_find_categories_takes_the_longest_list():
    assert find_categories(["Use and/or: Landscape/Portrait/Food/Architecture/Other"]) == [
        "Landscape",
        "Portrait",
        "Food",
        "Architecture",
        "Other",
    ]


@pytest.mark.parametrize("kind", ["image", "video"])
def test_media_answers_name_the_media_kind(kind):
    part = {"type": f"{kind}_url", f"{kind}_url": {"url": f"data:{kind}/png;base64,AAAA"}}
    body = {
        "model": "kimi-k2.5",
        "messages": [{"role": "user", "content": [part, {"type": "text", "text": "Describe."}]}],
    }
    assert kind in respond(body, 1).body["choices"][0]["message"]["content"]


def test_fail_marker_sets_the_status_and_error_type():
    reply = respond(_body("please [[fail:429]]"), 1)
    assert reply.status_code == 429
    assert reply.body["error"]["type"] == "rate_limit_reached_error"
    assert not reply.ok
