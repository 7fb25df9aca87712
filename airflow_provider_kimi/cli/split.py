"""``kimi-batch split FILE --output-dir DIR``: cut a dataset into parts that fit Kimi's limits.

Exit codes: 0 parts written (one line per part, or ``--json``), 1 the input cannot be split
(a duplicate ``custom_id``, a line over the part limit, a line without ``custom_id``) or the
output folder is not empty (without ``--overwrite``), 2 usage error or unreadable file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from airflow_provider_kimi.batch.limits import MAX_FILE_BYTES
from airflow_provider_kimi.batch.splitter import SplitError, split_file
from airflow_provider_kimi.cli.progress import add_quiet_flag, file_progress, tracked

EXIT_OK = 0
EXIT_CANNOT_SPLIT = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``split`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "split",
        help="cut a batch input file into numbered parts within Kimi's limits",
        description=(
            "Copy FILE into DIR as NAME.part-0001.jsonl, NAME.part-0002.jsonl, ... each at most "
            "--max-bytes bytes and --max-lines lines, never cutting a line, keeping custom_id unique."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the .jsonl input file")
    parser.add_argument("--output-dir", required=True, metavar="DIR", help="where the parts are written")
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=MAX_FILE_BYTES,
        metavar="N",
        help=f"largest part in bytes (default {MAX_FILE_BYTES})",
    )
    parser.add_argument("--max-lines", type=int, default=None, metavar="N", help="most requests in a part")
    parser.add_argument(
        "--prefix", default=None, help="file name of the parts, no folder (default: FILE's name without .jsonl)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="split into a folder that is not empty, replacing the earlier parts of the same prefix (only those)",
    )
    parser.add_argument("--json", action="store_true", help="print the parts as a JSON array")
    add_quiet_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Split ``args.file`` and print the parts; return the exit code."""
    try:
        with file_progress(args.quiet) as progress:
            parts = split_file(
                tracked(progress, args.file, "split"),
                args.output_dir,
                max_bytes=args.max_bytes,
                max_lines=args.max_lines,
                prefix=args.prefix,
                overwrite=args.overwrite,
            )
    except SplitError as error:
        print(error, file=sys.stderr)
        return EXIT_CANNOT_SPLIT
    except ValueError as error:
        print(f"kimi-batch split: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"kimi-batch split: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.json:
        payload = [part.to_dict() for part in parts]
        sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for part in parts:
            ids = f"{part.first_custom_id}..{part.last_custom_id}"
            print(f"{part.path}\t{part.lines} lines\t{part.bytes} bytes\t{ids}")
    print(f"{args.file}: {len(parts)} parts in {args.output_dir}", file=sys.stderr)
    return EXIT_OK
