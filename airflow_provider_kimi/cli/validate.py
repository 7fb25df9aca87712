"""``kimi-batch validate FILE``: every problem in a batch input file, before any upload.

Exit codes: 0 the file is fit to upload, 1 it has problems (one per line on stdout, in the form
``FILE:LINE: FIELD: message``; the summary on stderr), 2 usage error or unreadable file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from airflow_provider_kimi.batch.limits import BATCH_MODELS, MAX_FILE_BYTES
from airflow_provider_kimi.batch.validator import DEFAULT_MAX_PROBLEMS, validate_file
from airflow_provider_kimi.cli.progress import add_quiet_flag, file_progress, tracked

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check a batch input file against Kimi's rules; uploads nothing",
        description=(
            "Check every line of a batch input .jsonl file against Kimi's rules and print each "
            "problem as FILE:LINE: FIELD: message. Nothing is uploaded."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the .jsonl input file")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--max-problems",
        type=int,
        default=DEFAULT_MAX_PROBLEMS,
        metavar="N",
        help=f"list at most N problems, count the rest (default {DEFAULT_MAX_PROBLEMS})",
    )
    parser.add_argument(
        "--model",
        dest="models",
        action="extend",
        nargs="+",
        metavar="M",
        help=f"accepted batch model, may repeat (default: {', '.join(sorted(BATCH_MODELS))})",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=MAX_FILE_BYTES,
        metavar="N",
        help=f"largest file accepted, in bytes (default {MAX_FILE_BYTES})",
    )
    add_quiet_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.file`` and print the report; return the exit code."""
    if args.max_problems < 0 or args.max_bytes < 1:
        print("kimi-batch validate: --max-problems must be >= 0 and --max-bytes >= 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        with file_progress(args.quiet) as progress:
            report = validate_file(
                tracked(progress, args.file, "validate"),
                allowed_models=args.models or BATCH_MODELS,
                max_bytes=args.max_bytes,
                max_problems=args.max_problems,
            )
    except OSError as error:
        print(f"kimi-batch validate: cannot read {args.file}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE

    if args.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif report.ok:
        print(report.summary())
    else:
        for line in report.problem_lines():
            print(line)
    if not report.ok:
        if report.omitted_problems:
            print(f"... and {report.omitted_problems} more problems", file=sys.stderr)
        print(f"{report.summary()}; nothing was uploaded", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK
