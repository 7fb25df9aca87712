"""``kimi-batch emulator``: serve a local Kimi Batch API until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
DEFAULT_PORT = 8765
# The server's default batch models, as the command line shows them.
DEFAULT_MODELS = "kimi-k2.7-code,kimi-k2.6,kimi-k2.5"
API_KEY_VARIABLE = "KIMI_EMULATOR_API_KEY"


def _non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def _share(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return number


def _models(value: str) -> frozenset[str]:
    return frozenset(model.strip() for model in value.split(",") if model.strip())


def _faults(value: str) -> dict[str, float]:
    from airflow_provider_kimi.emulator.settings import parse_faults

    try:
        return parse_faults(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    """Add the ``emulator`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulator",
        help="serve a local Kimi Batch API for offline development and tests",
        description=(
            "Serve Kimi's Files and Batches API under /v1 on a local port. Point a client at the "
            "printed base URL. Stops on Ctrl-C or SIGTERM."
        ),
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    net.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s)")
    net.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_VARIABLE) or None,
        help=f"the only key accepted, on the admin routes too; without it any non-empty key is accepted. "
        f"Prefer the {API_KEY_VARIABLE} environment variable: arguments show in ps",
    )
    net.add_argument("--state-dir", type=Path, help="keep files and batches here, across restarts")

    timing = parser.add_argument_group("timing")
    timing.add_argument("--time-scale", type=_non_negative, default=1.0, help="multiplies every delay; 0 = instant")
    timing.add_argument("--window-scale", type=_non_negative, default=1.0, help="multiplies the completion window")
    timing.add_argument("--rate", type=float, default=2.0, help="requests per second a batch runs (default 2)")
    timing.add_argument("--validating-seconds", type=_non_negative, default=3.0)
    timing.add_argument("--finalizing-seconds", type=_non_negative, default=2.0)
    timing.add_argument("--cancelling-seconds", type=_non_negative, default=2.0)

    rules = parser.add_argument_group("server-side rules")
    rules.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated models a batch may use")
    rules.add_argument(
        "--thinking-models",
        default=DEFAULT_MODELS,
        help="comma-separated models that reply with reasoning_content unless thinking is disabled",
    )
    rules.add_argument(
        "--forbidden-params-policy",
        choices=("fail_batch", "fail_line"),
        default="fail_batch",
        help="whether a fixed parameter (temperature...) fails the batch or only its line",
    )
    rules.add_argument(
        "--report-validation-errors",
        action="store_true",
        help="add OpenAI-style 'errors' to a batch that failed validation (Kimi documents none)",
    )
    rules.add_argument("--report-expired-at", action="store_true", help="add 'expired_at' to expired batches")
    rules.add_argument("--file-status", choices=("ok", "ready"), default="ok", help="status of stored files")
    rules.add_argument("--max-file-mb", type=float, default=100.0, help="largest file accepted (MB)")
    rules.add_argument("--max-files", type=int, default=1000, help="file count quota")
    rules.add_argument(
        "--max-list-limit", type=int, default=100, help="largest page (limit) of the batch list (default 100)"
    )
    rules.add_argument(
        "--files-list-paging",
        choices=("cursor", "none"),
        default="cursor",
        help="cursor: the file list honours after, limit, order and purpose (an SDK iterating it ends); "
        "none: it ignores them and answers every file each time (Kimi documents no pagination)",
    )
    rules.add_argument("--max-files-list-limit", type=int, default=10_000, help="largest page (limit) of the file list")
    rules.add_argument("--max-total-gb", type=float, default=10.0, help="quota of all files together (GB)")
    rules.add_argument(
        "--max-batch-files", type=int, default=1000, help="batch-file quota of the organization (default 1000)"
    )
    rules.add_argument(
        "--result-files-free",
        action="store_true",
        help="output and error files do not count against the batch-file quota (by default they do)",
    )
    rules.add_argument(
        "--ordered", action="store_true", help="result lines in input order (by default a seeded shuffle)"
    )

    limits = parser.add_argument_group("account rate limits (per API key; none unless set)")
    limits.add_argument("--tier", type=int, choices=range(6), help="Kimi's tier 0..5: its concurrency and RPM")
    limits.add_argument("--rpm", type=int, help="requests per minute per key (wins over --tier)")
    limits.add_argument("--concurrency", type=int, help="requests in flight per key (wins over --tier)")
    limits.add_argument(
        "--rate-window", type=float, default=60.0, help="length of the rate-limit window in seconds (default 60)"
    )
    rules.add_argument(
        "--hold-new-batches-after",
        type=int,
        help="new batches pause after this many requests (release them through the admin routes)",
    )

    answers = parser.add_argument_group("answers")
    answers.add_argument(
        "--invalid-json-rate",
        type=_share,
        default=0.0,
        help="share (0..1) of custom_ids whose first JSON-Mode answer is invalid: not JSON, a required "
        "field missing or a value out of range (seeded by --seed); later answers are valid",
    )
    answers.add_argument(
        "--replies",
        metavar="MODULE:FUNCTION",
        help="a function(body, custom_id, answered_before) returning each reply's content, or a dict "
        "of content, reasoning_content, finish_reason, tool_calls and status_code",
    )

    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--faults",
        type=_faults,
        default={},
        help="shares of /v1 calls to fault, e.g. 429=0.2,500=0.1,drop=0.05,lost=0.02,slow=0.05 "
        "(lost: the call is carried out but its answer never arrives)",
    )
    faults.add_argument(
        "--seed", type=int, help="seed of the fault schedule, the result order and the invalid JSON answers"
    )
    faults.add_argument("--retry-after", type=_non_negative, default=1.0, help="retry-after of injected 429s (s)")
    faults.add_argument("--slow-seconds", type=_non_negative, default=2.0, help="delay of a slow answer (s)")

    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """The emulator settings the command line asks for (``ValueError`` if they do not fit)."""
    from airflow_provider_kimi.emulator import EmulatorSettings
    from airflow_provider_kimi.emulator.settings import GIB, MIB

    return EmulatorSettings(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        state_dir=args.state_dir,
        time_scale=args.time_scale,
        window_scale=args.window_scale,
        requests_per_second=args.rate,
        validating_seconds=args.validating_seconds,
        finalizing_seconds=args.finalizing_seconds,
        cancelling_seconds=args.cancelling_seconds,
        allowed_models=_models(args.models),
        thinking_models=_models(args.thinking_models),
        forbidden_params_policy=args.forbidden_params_policy,
        report_validation_errors=args.report_validation_errors,
        report_expired_at=args.report_expired_at,
        file_status=args.file_status,
        max_file_bytes=int(args.max_file_mb * MIB),
        max_files=args.max_files,
        max_total_bytes=int(args.max_total_gb * GIB),
        max_list_limit=args.max_list_limit,
        files_list_paging=args.files_list_paging,
        max_files_list_limit=args.max_files_list_limit,
        max_batch_files=args.max_batch_files,
        result_files_count=not args.result_files_free,
        ordered_results=args.ordered,
        tier=args.tier,
        rpm=args.rpm,
        concurrency=args.concurrency,
        rate_window_seconds=args.rate_window,
        hold_new_batches_after=args.hold_new_batches_after,
        invalid_json_rate=args.invalid_json_rate,
        replies=args.replies,
        faults=args.faults,
        seed=args.seed,
        retry_after_seconds=args.retry_after,
        slow_seconds=args.slow_seconds,
        access_log=not args.quiet,
        log_level="warning" if args.quiet else "info",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    from airflow_provider_kimi.emulator import KimiEmulator

    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        print(f"kimi-batch emulator: {exc}", file=sys.stderr)
        return 2
    # uvicorn stops gracefully on SIGINT/SIGTERM, then re-raises the signal: end quietly with 0.
    from airflow_provider_kimi.emulator.server import ListenError
    from airflow_provider_kimi.emulator.store import StateError

    if settings.replies is not None and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a replies module beside the user, as `python -m` finds it
    try:
        emulator = KimiEmulator(settings)
    except (StateError, ValueError) as exc:  # a corrupt state folder, replies that cannot be loaded
        print(f"kimi-batch emulator: {exc}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        emulator.run_forever(announce=_announce)
    except KeyboardInterrupt:
        pass
    except ListenError as exc:
        print(f"kimi-batch emulator: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("emulator stopped", flush=True)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def mask_key(key: str) -> str:
    """A key as a log may show it: its last four characters at most, and only of a long key."""
    return f"****{key[-4:]}" if len(key) >= 16 else "****"


def _announce(emulator: KimiEmulator) -> None:
    key = emulator.settings.api_key
    print(f"Kimi Batch API emulator serving on {emulator.base_url}", flush=True)
    print(f"admin routes under {emulator.url}/_emulator", flush=True)
    shown = f"the configured key ({mask_key(key)})" if key else "<any non-empty key>"
    print(f"Authorization: Bearer {shown}; Ctrl-C to stop", flush=True)
    rpm, concurrency = emulator.settings.account_limits
    if rpm is not None or concurrency is not None:
        shown = ", ".join(
            text
            for text in (
                None if rpm is None else f"{rpm} requests a minute",
                None if concurrency is None else f"{concurrency} in flight",
            )
            if text
        )
        print(f"account rate limits per key: {shown}", flush=True)
