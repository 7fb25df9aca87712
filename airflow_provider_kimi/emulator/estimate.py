"""``POST /v1/tokenizers/estimate-token-count``: Kimi's token estimate for a chat body.

It answers ``{"data": {"total_tokens": N}}`` with the very count a batch reply reports as
``usage.prompt_tokens`` for that body (one function computes both, images and videos included),
so a forecast made against this server matches its bill. The body is checked like a batch line's
(its messages, parts and ``thinking``), with a 400 naming the field; an unknown model is a 404
``resource_not_found_error`` with code ``model_not_found``, as Kimi answers a model it does not
serve.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_kimi.emulator.errors import ApiError, bad_request
from airflow_provider_kimi.emulator.message_checks import PurposeOf, message_problems, thinking_problems
from airflow_provider_kimi.emulator.responder import prompt_tokens
from airflow_provider_kimi.emulator.settings import EmulatorSettings

ESTIMATE_PATH = "/v1/tokenizers/estimate-token-count"


def check_estimate_body(body: Any, settings: EmulatorSettings, purpose_of: PurposeOf) -> dict[str, Any]:
    """The body, once it is a chat body for a served model; else the 400 or 404 Kimi would answer."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object with model and messages")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("model: a model name is required", code="missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages: a non-empty list of messages is required", code="missing_required_parameter")
    problems = thinking_problems(body) + message_problems(messages, purpose_of)
    if problems:
        code, message, param = problems[0]
        raise bad_request(f"{param.removeprefix('body.')}: {message}", code=code)
    if model not in settings.allowed_models:
        served = ", ".join(sorted(settings.allowed_models))
        raise ApiError(
            404,
            "resource_not_found_error",
            f"Not found the model {model!r} or Permission denied (this server serves {served})",
            code="model_not_found",
        )
    return body


def estimate(body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a checked body."""
    return {"data": {"total_tokens": prompt_tokens(body)}}
