"""Batches API: create rules, the lifecycle and its timestamps, listing, cancel, expiry, results."""

from __future__ import annotations

import time

import openai
import pytest
from emulator_helpers import (
    PNG,
    client_for,
    five_lines,
    raw,
    read_jsonl,
    request_line,
    start_batch,
    upload_lines,
    wait_until,
)


# -- create -------------------------------------------------------------------------------------
def test_create_returns_a_validating_batch(client):
    file_id = upload_lines(client, five_lines())
    batch = client.batches.create(
        input_file_id=file_id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"run": "nightly"},
    )
    assert batch.object == "batch"
    assert batch.status == "validating"
    assert batch.input_file_id == file_id
    assert batch.endpoint == "/v1/chat/completions"
    assert batch.completion_window == "24h"
    assert batch.metadata == {"run": "nightly"}
    assert batch.expires_at - batch.created_at == 24 * 3600
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (0, 0, 0)
    assert batch.output_file_id is None
    assert batch.error_file_id is None


@pytest.mark.parametrize(
    ("window", "seconds"), [("12h", 43200), ("36h", 129600), ("1d", 86400), ("168h", 604800), ("7d", 604800)]
)
def test_accepted_windows(client, window, seconds):
    batch = client.batches.create(
        input_file_id=upload_lines(client, five_lines()), endpoint="/v1/chat/completions", completion_window=window
    )
    assert batch.completion_window == window
    assert batch.expires_at - batch.created_at == seconds


def _create_error(client, **overrides):
    body = {
        "input_file_id": overrides.pop("input_file_id", None) or upload_lines(client, five_lines()),
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        **overrides,
    }
    with pytest.raises(openai.APIStatusError) as caught:
        client.batches.create(**body)
    return caught.value.status_code, caught.value.response.json()["error"]


@pytest.mark.parametrize("window", ["11h", "8d", "169h", "0d", "24", "1w", "24 h", "1.5d"])
def test_windows_outside_12h_to_7d_are_400(client, window):
    status, error = _create_error(client, completion_window=window)
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert "completion_window" in error["message"]


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(17)},
        {"k" * 65: "v"},
        {"k": "v" * 513},
        {"k": 1},
    ],
    ids=["17-pairs", "long-key", "long-value", "non-string-value"],
)
def test_bad_metadata_is_400(client, metadata):
    status, error = _create_error(client, metadata=metadata)
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert "metadata" in error["message"]


def test_metadata_at_the_limits_is_accepted(client):
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    batch = client.batches.create(
        input_file_id=upload_lines(client, five_lines()),
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata=metadata,
    )
    assert batch.metadata == metadata


def test_bad_endpoint_is_400(client):
    status, error = _create_error(client, endpoint="/v1/embeddings")
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert "endpoint" in error["message"]


def test_unknown_input_file_is_404(client):
    status, error = _create_error(client, input_file_id="nosuchfile0000000000")
    assert (status, error["type"]) == (404, "resource_not_found_error")


def test_input_file_of_another_purpose_is_400(client):
    image_id = client.files.create(file=("cat.png", PNG), purpose="image").id
    status, error = _create_error(client, input_file_id=image_id)
    assert (status, error["type"]) == (400, "invalid_request_error")
    assert "purpose" in error["message"]


# -- lifecycle ----------------------------------------------------------------------------------
def test_batch_walks_through_every_status_with_timestamps(make_emulator):
    emu = make_emulator(time_scale=1.0, validating_seconds=0.3, requests_per_second=10, finalizing_seconds=0.3)
    client = client_for(emu)
    batch_id = start_batch(client, five_lines())
    seen, partial_counts = [], []
    while True:
        batch = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != batch.status:
            seen.append(batch.status)
        if batch.status == "in_progress" and 0 < batch.request_counts.completed < 5:
            partial_counts.append(batch.request_counts.completed)
        if batch.status == "completed":
            break
        time.sleep(0.02)
    assert seen == ["validating", "in_progress", "finalizing", "completed"]
    assert partial_counts, "request_counts should advance while in_progress"
    assert batch.created_at <= batch.in_progress_at <= batch.finalizing_at <= batch.completed_at
    assert batch.failed_at is None
    assert batch.cancelled_at is None
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (5, 5, 0)


def test_completed_batch_has_one_output_line_per_request(emulator, client):
    batch = wait_until(client, start_batch(client, five_lines()))
    assert batch.status == "completed"
    assert batch.error_file_id is None
    output = client.files.retrieve(batch.output_file_id)
    assert output.purpose == "batch_output"
    lines = read_jsonl(client, batch.output_file_id)
    assert sorted(line["custom_id"] for line in lines) == [f"req-{i}" for i in range(5)]
    for line in lines:
        assert line["error"] is None
        assert line["id"]
        response = line["response"]
        assert response["status_code"] == 200
        body = response["body"]
        assert body["id"].startswith("chatcmpl-")
        assert body["object"] == "chat.completion"
        assert body["model"] == "kimi-k2.5"
        assert body["choices"][0]["message"]["role"] == "assistant"
        assert body["choices"][0]["message"]["content"]
        assert body["choices"][0]["finish_reason"] == "stop"
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_answers_are_deterministic_across_batches(client):
    first = wait_until(client, start_batch(client, five_lines()))
    second = wait_until(client, start_batch(client, five_lines()))

    def answers(batch):
        return {
            line["custom_id"]: line["response"]["body"]["choices"][0]["message"]["content"]
            for line in read_jsonl(client, batch.output_file_id)
        }

    assert answers(first) == answers(second)


def test_fail_markers_land_in_the_error_file(client):
    lines = five_lines()
    lines[1] = request_line("req-1", "please [[fail:400]]")
    lines[3] = request_line("req-3", "boom [[fail:500]]")
    batch = wait_until(client, start_batch(client, lines))
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (3, 2)
    errors = {line["custom_id"]: line for line in read_jsonl(client, batch.error_file_id)}
    assert set(errors) == {"req-1", "req-3"}
    assert errors["req-1"]["error"] is None
    assert errors["req-1"]["response"]["status_code"] == 400
    assert errors["req-1"]["response"]["body"]["error"]["type"] == "invalid_request_error"
    assert errors["req-3"]["response"]["status_code"] == 500
    assert errors["req-3"]["response"]["body"]["error"]["type"] == "server_error"
    assert "request_id" in errors["req-3"]["response"]
    assert len(read_jsonl(client, batch.output_file_id)) == 3


def test_all_failed_batch_completes_without_output_file(client):
    lines = [request_line(f"req-{i}", "[[fail:500]]") for i in range(5)]
    batch = wait_until(client, start_batch(client, lines))
    assert batch.status == "completed"
    assert batch.output_file_id is None
    assert batch.error_file_id is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (0, 5)
    assert len(read_jsonl(client, batch.error_file_id)) == 5


def test_forbidden_param_fails_only_its_line_under_fail_line_policy(make_emulator):
    client = client_for(make_emulator(forbidden_params_policy="fail_line"))
    lines = five_lines()
    lines[2] = request_line("req-2", "hot", temperature=0.3)
    batch = wait_until(client, start_batch(client, lines))
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (4, 1)
    [error] = read_jsonl(client, batch.error_file_id)
    assert error["custom_id"] == "req-2"
    assert error["response"]["status_code"] == 400
    assert "temperature" in error["response"]["body"]["error"]["message"]


def test_classification_answer_names_a_listed_category(client):
    system = "Classify texts into: Literature/News/Academic/Technology/Lifestyle"
    line = request_line("c", "Latest iPhone launch event details")
    line["body"]["messages"][0]["content"] = system
    batch = wait_until(client, start_batch(client, [line]))
    [result] = read_jsonl(client, batch.output_file_id)
    content = result["response"]["body"]["choices"][0]["message"]["content"]
    assert content == "This text belongs to the Technology category."


def test_image_reference_to_an_image_file_runs_and_mentions_the_image(client):
    image_id = client.files.create(file=("cat.png", PNG), purpose="image").id
    line = request_line("img")
    line["body"]["messages"][1]["content"] = [
        {"type": "image_url", "image_url": {"url": f"ms://{image_id}"}},
        {"type": "text", "text": "Describe this picture."},
    ]
    batch = wait_until(client, start_batch(client, [line]))
    assert batch.status == "completed"
    [result] = read_jsonl(client, batch.output_file_id)
    assert "image" in result["response"]["body"]["choices"][0]["message"]["content"]


# -- listing ------------------------------------------------------------------------------------
def test_list_pages_newest_first_with_after_and_has_more(make_emulator):
    client = client_for(make_emulator())
    file_id = upload_lines(client, five_lines())
    created = [
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h").id
        for _ in range(5)
    ]
    newest_first = created[::-1]
    first = client.batches.list(limit=2)
    assert [b.id for b in first.data] == newest_first[:2]
    assert first.has_more is True
    second = client.batches.list(limit=2, after=first.data[-1].id)
    assert [b.id for b in second.data] == newest_first[2:4]
    assert second.has_more is True
    last = client.batches.list(limit=2, after=second.data[-1].id)
    assert [b.id for b in last.data] == newest_first[4:]
    assert last.has_more is False
    everything = client.batches.list()
    assert [b.id for b in everything.data] == newest_first
    assert everything.has_more is False


def test_list_default_limit_is_20(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    file_id = upload_lines(client, five_lines())
    for _ in range(21):
        client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
    status, _, body = raw(emu, "GET", "/v1/batches")
    assert status == 200
    assert set(body) == {"object", "data", "has_more"}
    assert len(body["data"]) == 20
    assert body["has_more"] is True


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_list_limit_out_of_range_is_400(emulator, limit):
    status, _, body = raw(emulator, "GET", f"/v1/batches?limit={limit}")
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"


def test_the_largest_list_page_is_a_setting(make_emulator):
    emu = make_emulator(max_list_limit=30)
    assert raw(emu, "GET", "/v1/batches?limit=30")[0] == 200
    status, _, body = raw(emu, "GET", "/v1/batches?limit=31")
    assert status == 400
    assert "between 1 and 30" in body["error"]["message"]


# -- cancel -------------------------------------------------------------------------------------
def test_cancel_in_progress_keeps_partial_results(make_emulator):
    emu = make_emulator(time_scale=1.0, validating_seconds=0, cancelling_seconds=0.3, requests_per_second=1000)
    emu.hold_new_batches(after_requests=2)
    client = client_for(emu)
    batch_id = start_batch(client, five_lines())
    held = wait_until(client, batch_id, ("in_progress",))
    assert held.request_counts.completed in (0, 1, 2)
    time.sleep(0.05)
    held = client.batches.retrieve(batch_id)
    assert (held.status, held.request_counts.completed) == ("in_progress", 2)

    cancelling = client.batches.cancel(batch_id)
    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    assert client.batches.retrieve(batch_id).status == "cancelling"

    batch = wait_until(client, batch_id)
    assert batch.status == "cancelled"
    assert batch.cancelled_at >= batch.cancelling_at
    assert (batch.request_counts.total, batch.request_counts.completed) == (5, 2)
    done = read_jsonl(client, batch.output_file_id)
    assert sorted(line["custom_id"] for line in done) == ["req-0", "req-1"]
    never_run = read_jsonl(client, batch.error_file_id)
    assert sorted(line["custom_id"] for line in never_run) == ["req-2", "req-3", "req-4"]
    for line in never_run:
        assert line["response"] is None
        assert line["error"]["code"] == "batch_cancelled"


def test_cancel_while_validating_ends_cancelled_without_files(make_emulator):
    client = client_for(make_emulator(time_scale=1.0, validating_seconds=30, cancelling_seconds=0))
    batch_id = start_batch(client, five_lines())
    assert client.batches.cancel(batch_id).status == "cancelling"
    batch = wait_until(client, batch_id)
    assert batch.status == "cancelled"
    assert batch.in_progress_at is None
    assert (batch.output_file_id, batch.error_file_id) == (None, None)


def _assert_cancel_refused(client, batch_id):
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.cancel(batch_id)
    error = caught.value.response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "task state does not allow cancel" in error["message"]


def test_cancel_of_a_completed_batch_is_400(client):
    batch_id = start_batch(client, five_lines())
    assert wait_until(client, batch_id).status == "completed"
    _assert_cancel_refused(client, batch_id)


def test_cancel_of_a_cancelled_batch_is_400(make_emulator):
    client = client_for(make_emulator(hold_new_batches_after=0))
    batch_id = start_batch(client, five_lines())
    client.batches.cancel(batch_id)
    assert wait_until(client, batch_id).status == "cancelled"
    _assert_cancel_refused(client, batch_id)


# -- expiry -------------------------------------------------------------------------------------
def test_window_passing_expires_the_batch_with_partial_results(make_emulator):
    emu = make_emulator(window_scale=0.3 / 43200)
    emu.hold_new_batches(after_requests=2)
    client = client_for(emu)
    batch_id = start_batch(client, five_lines(), completion_window="12h")
    batch = wait_until(client, batch_id)
    assert batch.status == "expired"
    assert (batch.request_counts.total, batch.request_counts.completed) == (5, 2)
    assert batch.completed_at is None
    assert sorted(line["custom_id"] for line in read_jsonl(client, batch.output_file_id)) == ["req-0", "req-1"]
    never_run = read_jsonl(client, batch.error_file_id)
    assert sorted(line["custom_id"] for line in never_run) == ["req-2", "req-3", "req-4"]
    assert {line["error"]["code"] for line in never_run} == {"batch_expired"}
    assert all(line["response"] is None for line in never_run)
    _, _, body = raw(emu, "GET", f"/v1/batches/{batch_id}")
    assert "expired_at" not in body


def test_expired_at_is_reported_when_asked(make_emulator):
    emu = make_emulator(report_expired_at=True)
    emu.hold_new_batches(after_requests=0)
    client = client_for(emu)
    batch_id = start_batch(client, five_lines())
    wait_until(client, batch_id, ("in_progress",))
    status, _, body = raw(emu, "POST", f"/_emulator/batches/{batch_id}/expire", key=None)
    assert status == 200
    assert body["status"] == "expired"
    assert isinstance(body["expired_at"], int)
    assert body["output_file_id"] is None
    assert len(read_jsonl(client, body["error_file_id"])) == 5


# -- admin forcing ------------------------------------------------------------------------------
def test_hold_release_and_rush_through_admin_routes(make_emulator):
    emu = make_emulator(time_scale=1.0, validating_seconds=0, requests_per_second=1000, finalizing_seconds=60)
    client = client_for(emu)
    emu.hold_new_batches(after_requests=1)
    batch_id = start_batch(client, five_lines())
    time.sleep(0.05)
    assert client.batches.retrieve(batch_id).request_counts.completed == 1
    status, _, released = raw(emu, "POST", f"/_emulator/batches/{batch_id}/release", key=None)
    assert (status, released["status"]) == (200, "in_progress")
    assert wait_until(client, batch_id, ("finalizing",)).request_counts.completed == 5
    status, _, rushed = raw(emu, "POST", f"/_emulator/batches/{batch_id}/rush", key=None)
    assert (status, rushed["status"]) == (200, "completed")


def test_hold_new_batches_admin_route(make_emulator):
    emu = make_emulator()
    client = client_for(emu)
    status, _, body = raw(emu, "POST", "/_emulator/hold-new-batches?after_requests=3", key=None)
    assert (status, body) == (200, {"hold_new_batches_after": 3})
    held = wait_until(client, start_batch(client, five_lines()), ("in_progress",))
    assert held.request_counts.completed == 3
    raw(emu, "POST", "/_emulator/hold-new-batches", key=None)
    assert wait_until(client, start_batch(client, five_lines())).status == "completed"
    stats = raw(emu, "GET", "/_emulator/stats", key=None)[2]
    assert (stats["uploads"], stats["batches_created"]) == (2, 2)
    assert stats["requests"]["POST /_emulator/hold-new-batches"] == 2


def test_cancel_while_finalizing_keeps_every_result(make_emulator):
    emu = make_emulator(time_scale=1.0, validating_seconds=0, requests_per_second=1000, finalizing_seconds=60)
    client = client_for(emu)
    batch_id = start_batch(client, five_lines())
    wait_until(client, batch_id, ("finalizing",))
    assert client.batches.cancel(batch_id).status == "cancelling"
    emu.rush(batch_id)
    batch = wait_until(client, batch_id)
    assert batch.status == "cancelled"
    assert batch.error_file_id is None
    assert len(read_jsonl(client, batch.output_file_id)) == 5


def test_deleting_the_input_of_a_running_batch_lets_it_finish(make_emulator):
    emu = make_emulator(hold_new_batches_after=2)
    client = client_for(emu)
    file_id = upload_lines(client, five_lines())
    batch_id = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h").id
    wait_until(client, batch_id, ("in_progress",))
    client.files.delete(file_id)
    emu.release(batch_id)
    batch = wait_until(client, batch_id)
    assert batch.status == "completed"
    assert len(read_jsonl(client, batch.output_file_id)) == 5
    held = {f.content_name for f in emu.store.files.values()}
    assert {p.name for p in emu.store.content_dir.iterdir()} == held


def test_admin_hold_with_unknown_batch_is_404(emulator):
    status, _, body = raw(emulator, "POST", "/_emulator/batches/nosuchbatch000000000/hold", key=None)
    assert status == 404
    assert body["error"]["type"] == "resource_not_found_error"


# -- order --------------------------------------------------------------------------------------
def _output_ids(emu) -> list[str]:
    client = client_for(emu)
    lines = [request_line(f"req-{i}", f"question {i}") for i in range(20)]
    batch = wait_until(client, start_batch(client, lines))
    return [line["custom_id"] for line in read_jsonl(client, batch.output_file_id)]


def test_results_come_back_in_a_seeded_order_that_is_not_the_input(make_emulator):
    ids = _output_ids(make_emulator(seed=7))
    assert sorted(ids) == sorted(f"req-{i}" for i in range(20))
    assert ids != [f"req-{i}" for i in range(20)]


def test_ordered_keeps_input_order(make_emulator):
    assert _output_ids(make_emulator(ordered_results=True)) == [f"req-{i}" for i in range(20)]
