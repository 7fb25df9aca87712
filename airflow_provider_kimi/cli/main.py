"""Entry point of the ``kimi-batch`` console script.

Each subcommand lives in its own module of this package and exposes ``register(subparsers)``,
which adds its parser and sets ``handler`` (a function of the parsed arguments returning the
exit code). Modules are imported only when the command line is built, so ``kimi-batch --help``
stays fast and Airflow is never imported.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "airflow_provider_kimi.cli.emulator",
    "airflow_provider_kimi.cli.validate",
    "airflow_provider_kimi.cli.split",
    "airflow_provider_kimi.cli.results",
    "airflow_provider_kimi.cli.batches",
    "airflow_provider_kimi.cli.files",
)
# What a shell reports for a command its reader stopped early (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="kimi-batch",
        description="Tools for Moonshot's Kimi Batch API: a local API server, input checks, results, housekeeping.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``kimi-batch results ... | head``): nothing went wrong here.
        # stdout goes to /dev/null so that the interpreter's last flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
