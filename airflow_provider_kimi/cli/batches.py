"""``kimi-batch batches list|get|cancel``: see and stop the organisation's batches.

Exit codes: 0 done, 1 Kimi answered with an error (an unknown id...), 2 usage error or no key.
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

import openai

from airflow_provider_kimi.cli.api import (
    EXIT_OK,
    add_client_options,
    client_from,
    print_json,
    print_table,
    run_command,
    timestamp,
)

ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


def register(subparsers: Any) -> None:
    """Add the ``batches`` command and its subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser("batches", help="list, inspect and cancel batches")
    commands = parser.add_subparsers(dest="batches_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser("list", help="the newest batches: status, progress, files")
    listing.add_argument("--limit", type=int, default=20, metavar="N", help="how many, newest first (default 20)")
    add_client_options(listing)
    listing.set_defaults(handler=run_command("batches list", list_batches))

    get = commands.add_parser("get", help="one batch in full")
    get.add_argument("batch_id", metavar="BATCH_ID")
    add_client_options(get)
    get.set_defaults(handler=run_command("batches get", get_batch))

    cancel = commands.add_parser("cancel", help="cancel a batch (its finished requests keep their results)")
    cancel.add_argument("batch_id", metavar="BATCH_ID")
    add_client_options(cancel)
    cancel.set_defaults(handler=run_command("batches cancel", cancel_batch))


def _row(batch: Any) -> list[Any]:
    counts = batch.request_counts
    done = f"{counts.completed + counts.failed}/{counts.total}" if counts else None
    return [
        batch.id,
        batch.status,
        timestamp(batch.created_at),
        done,
        counts.failed if counts else None,
        batch.input_file_id,
        batch.output_file_id,
        batch.error_file_id,
    ]


_HEADER = ("id", "status", "created (UTC)", "done", "failed", "input file", "output file", "error file")


def list_batches(args: argparse.Namespace) -> int:
    batches = list(itertools.islice(client_from(args).iter_batches(min(100, max(1, args.limit))), args.limit))
    if args.json:
        print_json([batch.model_dump(mode="json") for batch in batches])
    else:
        print_table(_HEADER, [_row(batch) for batch in batches])
    return EXIT_OK


def get_batch(args: argparse.Namespace) -> int:
    batch = client_from(args).get_batch(args.batch_id)
    if args.json:
        print_json(batch.model_dump(mode="json"))
    else:
        print_table(("field", "value"), list(zip(_HEADER, _row(batch), strict=True)))
    return EXIT_OK


def cancel_batch(args: argparse.Namespace) -> int:
    client = client_from(args)
    try:
        batch = client.cancel_batch(args.batch_id)
    except openai.BadRequestError:
        batch = client.get_batch(args.batch_id)
        if batch.status not in ENDED:
            raise
        message = f"Batch {batch.id} had already ended {batch.status}: nothing to cancel."
    else:
        message = f"Batch {batch.id} is {batch.status}; finished requests keep their results."
    if args.json:
        print_json(batch.model_dump(mode="json"))
    else:
        print(message)
    return EXIT_OK
