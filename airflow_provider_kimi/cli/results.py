"""``kimi-batch results OUTPUT [ERROR] [--input INPUT]``: account for every request of a batch.

Reads the output and error files in one streaming pass, prints the first results as a table
and a summary (or, with ``--json``, the summary as one JSON object).

Exit codes: 0 read and summarised (failed requests do not change it, unless a limit is given),
1 a ``--max-failed-ratio`` / ``--max-failed-count`` limit is exceeded, 2 usage error or an
unreadable or malformed file (``FILE:LINE: message`` on stderr).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from typing import Any

import orjson

from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.policy import check_failures
from airflow_provider_kimi.batch.pricing import BATCH_DISCOUNT, LIST_PRICES_BY_MODEL, Prices
from airflow_provider_kimi.batch.results import (
    BatchResult,
    ResultsFileError,
    iter_result_files,
)
from airflow_provider_kimi.batch.summary import SummaryBuilder, iter_input_custom_ids
from airflow_provider_kimi.cli.progress import FileProgress, add_quiet_flag, file_progress, tracked
from airflow_provider_kimi.cli.tables import print_results_table

EXIT_OK = 0
EXIT_TOO_MANY_FAILURES = 1
EXIT_USAGE = 2
DEFAULT_SHOW = 20


def register(subparsers: Any) -> None:
    """Add the ``results`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "results",
        help="summarise a batch's output and error files: outcomes, missing requests, tokens, cost",
        description=(
            "Read a batch's output and error files (in any order: each line says its own outcome), "
            "print the first results and a summary: counts per outcome, requests of the input with "
            "no result, tokens, and the estimated cost at batch prices beside real-time prices."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="the output file and/or the error file (.jsonl)")
    parser.add_argument(
        "--input",
        dest="inputs",
        action="append",
        default=[],
        metavar="INPUT",
        help="the batch's input file, to find requests with no result; may repeat",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument(
        "--show",
        type=int,
        default=DEFAULT_SHOW,
        metavar="N",
        help=f"list the first N results as a table (default {DEFAULT_SHOW}; 0 for none)",
    )
    parser.add_argument(
        "--max-failed-ratio",
        type=float,
        metavar="R",
        help="exit 1 when more than this share (0 to 1) of requests did not succeed",
    )
    parser.add_argument(
        "--max-failed-count",
        type=int,
        metavar="N",
        help="exit 1 when more than N requests did not succeed",
    )
    parser.add_argument(
        "--list-prices",
        default=None,
        metavar="MISS,HIT,OUTPUT",
        help=(
            "real-time USD per 1M tokens for every answer: input cache miss, input cache hit, output "
            "(default: the published prices of the model each answer names)"
        ),
    )
    parser.add_argument(
        "--batch-discount",
        type=float,
        default=None,
        metavar="D",
        help=(
            f"share taken off the list prices for batch work (default: each model's published batch price, "
            f"{BATCH_DISCOUNT:.0%} off)"
        ),
    )
    add_quiet_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read the files, print the table and summary; return the exit code."""
    try:
        list_prices, batch_prices = _prices(args.list_prices, args.batch_discount)
        if args.show < 0:
            raise KimiValueError("--show must be >= 0")
        if args.max_failed_ratio is not None and not 0 <= args.max_failed_ratio <= 1:
            raise KimiValueError("--max-failed-ratio must be between 0 and 1")
        if args.max_failed_count is not None and args.max_failed_count < 0:
            raise KimiValueError("--max-failed-count must be >= 0")
    except ValueError as exc:
        print(f"kimi-batch results: {exc}", file=sys.stderr)
        return EXIT_USAGE

    builder = SummaryBuilder(prices=batch_prices, realtime_prices=list_prices)
    shown: list[BatchResult] = []
    try:
        with file_progress(args.quiet) as progress:
            for result in iter_result_files([tracked(progress, path) for path in args.files]):
                builder.add(result)
                if len(shown) < args.show:
                    shown.append(result)
            summary = builder.build(_input_ids(args.inputs, progress) if args.inputs else None)
    except ResultsFileError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE

    if args.json:
        sys.stdout.write(orjson.dumps(summary.to_dict()).decode() + "\n")
    else:
        if shown:
            print_results_table(shown)
            print()
        print(summary.format())

    if args.max_failed_ratio is None and args.max_failed_count is None:
        return EXIT_OK
    outcome = check_failures(summary, args.max_failed_ratio, args.max_failed_count)
    if outcome.exceeded:
        print(outcome.message, file=sys.stderr)
        return EXIT_TOO_MANY_FAILURES
    return EXIT_OK


def _input_ids(paths: list[str], progress: FileProgress | None) -> Iterator[str]:
    return itertools.chain.from_iterable(iter_input_custom_ids(tracked(progress, path)) for path in paths)


def _prices(
    list_text: str | None, discount: float | None
) -> tuple[Prices | dict[str, Prices] | None, Prices | dict[str, Prices] | None]:
    """Real-time and batch prices from the flags; ``None`` leaves each model's published price."""
    if list_text is not None:
        listed = _parse_prices(list_text)
        return listed, listed.discounted(BATCH_DISCOUNT if discount is None else discount)
    if discount is not None:
        return None, {model: prices.discounted(discount) for model, prices in LIST_PRICES_BY_MODEL.items()}
    return None, None


def _parse_prices(text: str) -> Prices:
    parts = text.split(",")
    if len(parts) != 3:
        raise KimiValueError(f"--list-prices needs three numbers MISS,HIT,OUTPUT, got {text!r}")
    try:
        miss, hit, output = (float(part) for part in parts)
    except ValueError:
        raise KimiValueError(f"--list-prices needs three numbers MISS,HIT,OUTPUT, got {text!r}") from None
    return Prices(input_cache_miss=miss, input_cache_hit=hit, output=output)
