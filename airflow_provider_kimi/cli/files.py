"""``kimi-batch files list|delete|download``: keep Kimi's file quota free, fetch any file.

Kimi keeps every file until it is deleted and counts it against a quota of 1,000 files; over
it, uploads fail with HTTP 400 and scheduled DAGs stop. ``files list`` shows how close the
account is, ``files delete --purpose batch --older-than 7d`` frees it (``--dry-run`` first).

Exit codes: 0 done, 1 Kimi answered with an error, 2 usage error or no key.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import time
from pathlib import Path
from typing import Any

from airflow_provider_kimi._moved import moved_from
from airflow_provider_kimi.cli.api import (
    EXIT_OK,
    UsageError,
    add_client_options,
    client_from,
    print_json,
    print_table,
    run_command,
    timestamp,
)
from airflow_provider_kimi.cli.progress import add_quiet_flag, file_progress

FILE_QUOTA = 1000
"""Files per user (and batch-purpose files per organization) Kimi keeps at most."""

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(subparsers: Any) -> None:
    """Add the ``files`` command and its subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "files", help="list, delete and download files (the 1,000-file quota)"
    )
    commands = parser.add_subparsers(dest="files_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser("list", help="every file, and the count against the 1,000-file quota")
    listing.add_argument("--purpose", default=None, help="only files of this purpose (batch, batch_output, ...)")
    add_client_options(listing)
    listing.set_defaults(handler=run_command("files list", list_files))

    delete = commands.add_parser(
        "delete",
        help="delete files by id, or every file matching --purpose / --older-than",
        description="Delete the given file ids, or every file matching all given filters. --dry-run lists them.",
    )
    delete.add_argument("file_ids", nargs="*", metavar="FILE_ID")
    delete.add_argument("--purpose", default=None, help="files of this purpose")
    delete.add_argument("--older-than", default=None, metavar="AGE", help="files older than AGE: 90m, 12h, 7d, 2w")
    delete.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    add_client_options(delete)
    delete.set_defaults(handler=run_command("files delete", delete_files))

    download = commands.add_parser("download", help="stream a file's content to disk")
    download.add_argument("file_id", metavar="FILE_ID")
    download.add_argument("-o", "--output", default=None, metavar="PATH", help="where to write (default FILE_ID.jsonl)")
    add_client_options(download)
    add_quiet_flag(download)
    download.set_defaults(handler=run_command("files download", download_file))


def parse_age(text: str) -> float:
    """``7d`` -> seconds; ``UsageError`` for anything else."""
    match = _AGE.match(text)
    if match is None:
        raise UsageError(f"--older-than {text!r} is not an age like 90m, 12h, 7d or 2w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _file_row(file: Any) -> list[Any]:
    return [file.id, file.purpose, file.filename, file.bytes, timestamp(file.created_at)]


_HEADER = ("id", "purpose", "filename", "bytes", "created (UTC)")


def list_files(args: argparse.Namespace) -> int:
    files = client_from(args).list_files()
    shown = [file for file in files if args.purpose is None or file.purpose == args.purpose]
    batch_files = sum(1 for file in files if file.purpose == "batch")
    if args.json:
        print_json(
            {
                "files": [file.model_dump(mode="json") for file in shown],
                "count": len(files),
                "batch_files": batch_files,
                "quota": FILE_QUOTA,
            }
        )
        return EXIT_OK
    print_table(_HEADER, [_file_row(file) for file in shown])
    share = len(files) / FILE_QUOTA
    print(
        f"\n{len(files)} of {FILE_QUOTA:,} files used ({share:.0%}); {batch_files} with purpose batch "
        f"(at most {FILE_QUOTA:,} per organization). Free them: kimi-batch files delete --purpose batch --older-than 7d"
    )
    return EXIT_OK


def delete_files(args: argparse.Namespace) -> int:
    if not args.file_ids and args.purpose is None and args.older_than is None:
        raise UsageError("give file ids, or --purpose and/or --older-than to choose the files to delete")
    if args.file_ids and (args.purpose is not None or args.older_than is not None):
        raise UsageError("give either file ids or filters (--purpose, --older-than), not both")
    client = client_from(args)
    if args.file_ids:
        chosen: list[Any] = [_Named(file_id) for file_id in args.file_ids]
    else:
        cutoff = time.time() - parse_age(args.older_than) if args.older_than else None
        chosen = [
            file
            for file in client.iter_files()
            if (args.purpose is None or file.purpose == args.purpose) and (cutoff is None or file.created_at < cutoff)
        ]
    deleted: list[str] = []
    missing: list[str] = []
    if not args.dry_run:
        result = client.delete_files(file.id for file in chosen)
        missing = result.already_gone
        deleted = [file_id for file_id in result.gone if file_id not in set(missing)]
    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "matched": [file.id for file in chosen],
                "deleted": deleted,
                "not_found": missing,
            }
        )
        return EXIT_OK
    verb = "Would delete" if args.dry_run else "Deleted"
    for file in chosen:
        if file.id not in missing:
            print(f"{verb} {file.id}")
    for file_id in missing:
        print(f"Not found: {file_id}", file=sys.stderr)
    count = len(chosen) if args.dry_run else len(deleted)
    print(f"{verb} {count} file{'s' if count != 1 else ''}.")
    return EXIT_OK if not missing else 1


class _Named:
    """A file known only by id (the command line gave it)."""

    def __init__(self, file_id: str) -> None:
        self.id = file_id


def download_file(args: argparse.Namespace) -> int:
    target = Path(args.output or f"{args.file_id}.jsonl")
    with file_progress(args.quiet) as progress:
        bar = None if progress is None else functools.partial(progress.chunk_counter, target.name)
        written = client_from(args).download_file(args.file_id, target, on_size=bar)
    if args.json:
        print_json({"file_id": args.file_id, "path": str(target), "bytes": written})
    else:
        print(f"Wrote {written} bytes of {args.file_id} to {target}")
    return EXIT_OK


__getattr__ = moved_from(__name__)
