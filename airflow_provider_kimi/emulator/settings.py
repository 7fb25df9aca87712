"""Every knob of the local Kimi Batch API server, in one immutable object.

Delays are given in "realistic" seconds and multiplied by ``time_scale`` (0 runs a batch as fast
as the machine allows); the completion window has its own ``window_scale`` so a test can let a
12-hour window pass in a blink without speeding up anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# "drop" closes the connection before the server acts; "lost" acts, then closes it unanswered
# (the case that makes a blind retry of a POST pay twice).
FAULT_KINDS: tuple[str, ...] = ("429", "500", "drop", "lost", "slow")
FORBIDDEN_PARAMS_POLICIES: tuple[str, ...] = ("fail_batch", "fail_line")
FILE_STATUSES: tuple[str, ...] = ("ok", "ready")
# "cursor": the file list honours after / limit / order / purpose like OpenAI's cursor pages (Kimi
# documents none of them, nor has_more); "none": it ignores them all and answers every file on
# every call, the strictest reading of Kimi's "no pagination" (an SDK iterating it never ends).
FILES_LIST_PAGING: tuple[str, ...] = ("cursor", "none")
DEFAULT_MODELS = frozenset({"kimi-k2.7-code", "kimi-k2.6", "kimi-k2.5"})
"""Kimi's batch models: kimi-k2.7-code and kimi-k2.6, and kimi-k2.5 (deprecated, still answering)."""

ReplyFunction = Callable[[dict[str, Any], str, int], Any]
"""A user's scripted replies: ``(request body, custom_id, times answered before) -> reply``."""

FIXED_WHILE_SERVING = frozenset({"host", "port", "api_key", "state_dir", "max_file_bytes", "access_log", "log_level"})
"""Settings a running server cannot change: they shape its socket, auth, storage or logging."""

TIER_LIMITS: dict[int, tuple[int, int]] = {
    0: (1, 3),
    1: (50, 200),
    2: (100, 500),
    3: (200, 5000),
    4: (400, 5000),
    5: (1000, 10000),
}
"""Kimi's account tiers: tier -> (concurrent requests, requests per minute)."""

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True)
class EmulatorSettings:
    """How the emulator behaves; defaults mimic the real service at a human pace."""

    # Network and auth. Without ``api_key`` any non-empty bearer token is accepted.
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None

    # Where file contents and (optionally) state live. ``None`` keeps state in memory and file
    # contents in a temporary folder removed on exit.
    state_dir: Path | None = None

    # Timing. Every delay is multiplied by ``time_scale``; the window by ``window_scale``.
    time_scale: float = 1.0
    window_scale: float = 1.0
    validating_seconds: float = 3.0
    requests_per_second: float = 2.0
    finalizing_seconds: float = 2.0
    cancelling_seconds: float = 2.0
    tick_seconds: float = 0.1

    # Server-side rules.
    allowed_models: frozenset[str] = DEFAULT_MODELS
    # Models that think unless ``thinking: {"type": "disabled"}`` (Kimi documents it for k2.5 and
    # k2.6; k2.7-code is assumed to, the stricter case: reasoning spends the max_tokens budget).
    thinking_models: frozenset[str] = DEFAULT_MODELS
    forbidden_params: frozenset[str] = frozenset({"temperature", "top_p", "n", "presence_penalty", "frequency_penalty"})
    forbidden_params_policy: str = "fail_batch"
    report_validation_errors: bool = False
    report_expired_at: bool = False
    max_validation_errors: int = 100
    # Deepest nesting of objects and arrays accepted in a request body or an input line.
    max_json_depth: int = 64
    max_file_bytes: int = 100 * MIB
    max_files: int = 1000
    max_total_bytes: int = 10 * GIB
    # Kimi's batch-file quota per organization; whether result files count is not documented.
    max_batch_files: int = 1000
    result_files_count: bool = True
    file_status: str = "ok"
    # Largest ``limit`` the batch list accepts (Kimi documents a default of 20 and no maximum;
    # OpenAI's list takes 1..100): a larger one answers 400.
    max_list_limit: int = 100
    # The file list: paged like OpenAI's (see FILES_LIST_PAGING) up to this ``limit`` (OpenAI's
    # default and maximum, 10,000), or not at all.
    files_list_paging: str = "cursor"
    max_files_list_limit: int = 10_000

    # Account rate limits per API key (none unless set): a Kimi tier, or the numbers directly
    # (these win over the tier). The window is Kimi's minute; a test may shorten it.
    tier: int | None = None
    rpm: int | None = None
    concurrency: int | None = None
    rate_window_seconds: float = 60.0

    # Result lines come back in a seeded order that is not the input's, as OpenAI warns.
    ordered_results: bool = False

    # Fault injection on /v1 routes: share of calls per kind, e.g. {"429": 0.2, "drop": 0.05}.
    faults: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    retry_after_seconds: float = 1.0
    slow_seconds: float = 2.0

    # JSON Mode: a seeded share of the answers to each custom_id's first request are invalid (not
    # JSON, a required field missing, a value out of range), so that re-asking can be tested.
    invalid_json_rate: float = 0.0
    # Scripted replies: a function, or "module:function", called for every request of a batch.
    replies: str | ReplyFunction | None = None

    # Batches created while this is set hold themselves after that many finished requests.
    hold_new_batches_after: int | None = None

    # Logging: uvicorn's access log, and its log level.
    access_log: bool = True
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.time_scale < 0 or self.window_scale < 0:
            raise ValueError("time_scale and window_scale must be >= 0")
        if self.max_json_depth < 1:
            raise ValueError("max_json_depth must be >= 1")
        if self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be > 0")
        if self.forbidden_params_policy not in FORBIDDEN_PARAMS_POLICIES:
            raise ValueError(f"forbidden_params_policy must be one of {FORBIDDEN_PARAMS_POLICIES}")
        if self.max_list_limit < 1 or self.max_files_list_limit < 1:
            raise ValueError("max_list_limit and max_files_list_limit must be >= 1")
        if self.files_list_paging not in FILES_LIST_PAGING:
            raise ValueError(f"files_list_paging must be one of {FILES_LIST_PAGING}")
        if not 0.0 <= self.invalid_json_rate <= 1.0:
            raise ValueError(f"invalid_json_rate must be between 0 and 1, got {self.invalid_json_rate}")
        if isinstance(self.replies, str) and not _REPLIES_SPEC.match(self.replies):
            raise ValueError(f"replies must look like MODULE:FUNCTION (e.g. mymod:reply), got {self.replies!r}")
        if self.replies is not None and not isinstance(self.replies, str) and not callable(self.replies):
            raise ValueError(f"replies must be a function or 'MODULE:FUNCTION', got {self.replies!r}")
        if self.file_status not in FILE_STATUSES:
            raise ValueError(f"file_status must be one of {FILE_STATUSES}")
        if self.tier is not None and not 0 <= self.tier <= 5:
            raise ValueError(f"tier must be 0..5, got {self.tier}")
        if any(v is not None and v < 1 for v in (self.rpm, self.concurrency)) or self.rate_window_seconds <= 0:
            raise ValueError("rpm and concurrency must be >= 1 and rate_window_seconds > 0")
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if sum(self.faults.values()) > 1.0 or any(share < 0 for share in self.faults.values()):
            raise ValueError("fault shares must be >= 0 and add up to at most 1")

    @property
    def account_limits(self) -> tuple[int | None, int | None]:
        """``(requests per minute, concurrency)`` per key: ``rpm``/``concurrency``, else the tier's."""
        tier_concurrency, tier_rpm = TIER_LIMITS[self.tier] if self.tier is not None else (None, None)
        return (
            self.rpm if self.rpm is not None else tier_rpm,
            self.concurrency if self.concurrency is not None else tier_concurrency,
        )

    def scaled(self, seconds: float) -> float:
        """A delay as the emulator actually waits it."""
        return seconds * self.time_scale

    @property
    def seconds_per_request(self) -> float:
        """Wall time one request of a batch takes to run."""
        return self.time_scale / self.requests_per_second

    @property
    def counts_answers(self) -> bool:
        """Whether the server counts its answers per custom_id (only the features that read it do)."""
        return self.invalid_json_rate > 0 or self.replies is not None


_REPLIES_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_FAULT_ITEM = re.compile(r"^\s*(?P<kind>[a-z0-9]+)\s*=\s*(?P<share>[0-9]*\.?[0-9]+)\s*$")


def parse_faults(spec: str) -> dict[str, float]:
    """Read ``"429=0.2,500=0.1,drop=0.05,slow=0.05"`` into a kind -> share mapping."""
    faults: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        match = _FAULT_ITEM.match(item)
        if match is None or match["kind"] not in FAULT_KINDS:
            raise ValueError(f"bad fault item {item!r}: expected KIND=SHARE with KIND in {FAULT_KINDS}")
        faults[match["kind"]] = float(match["share"])
    return faults
