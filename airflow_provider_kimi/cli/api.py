"""What the commands that talk to Kimi share: the client, and tables a person can read.

The key and base URL are read as the hook's environment fallback reads them
(``MOONSHOT_API_KEY``, ``MOONSHOT_BASE_URL``), so the same shell that runs ``make demo`` can
inspect and clean up; ``--api-key-env`` names another variable, ``--base-url`` another endpoint.
The client is the hook's own (:class:`~airflow_provider_kimi.client.api.KimiClient`): the same
base URL completion, pacing and downloads. Airflow is never imported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import openai
import orjson

from airflow_provider_kimi._moved import moved_from
from airflow_provider_kimi.batch.errors import KimiError, KimiValueError
from airflow_provider_kimi.client.api import KimiClient
from airflow_provider_kimi.client.endpoints import INTERNATIONAL_BASE_URL
from airflow_provider_kimi.client.settings import KEY_VARIABLE, resolve_client_settings

DEFAULT_KEY_VARIABLE = KEY_VARIABLE
EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2


class UsageError(KimiValueError):
    """The command line or the environment is wrong; nothing was sent."""


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """``--base-url``, ``--api-key-env`` and ``--json``."""
    parser.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help=(
            f"the API endpoint (default $MOONSHOT_BASE_URL or {INTERNATIONAL_BASE_URL}; China: api.moonshot.cn, "
            "completed to https://api.moonshot.cn/v1)"
        ),
    )
    parser.add_argument(
        "--api-key-env",
        default=DEFAULT_KEY_VARIABLE,
        metavar="NAME",
        help=f"the environment variable holding the API key (default {DEFAULT_KEY_VARIABLE})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def client_from(args: argparse.Namespace) -> KimiClient:
    """The provider's client from the command line and the environment; the key is never printed.

    Resolved as a connection is (``--base-url`` as its host, ``MOONSHOT_BASE_URL`` as the
    fallback), so ``--base-url api.moonshot.cn`` reaches ``https://api.moonshot.cn/v1``.
    """
    key = os.environ.get(args.api_key_env, "").strip()
    if not key:
        raise UsageError(f"no API key: set {args.api_key_env} (or name another variable with --api-key-env)")
    settings = resolve_client_settings("kimi-batch", password=key, host=args.base_url, extra={}, environ=os.environ)
    return KimiClient(settings)


def run_command(name: str, action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: usage errors exit 2, API errors exit 1, each as one line on stderr."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except UsageError as err:
            print(f"kimi-batch {name}: {err}", file=sys.stderr)
            return EXIT_USAGE
        except openai.APIStatusError as err:
            print(f"kimi-batch {name}: HTTP {err.status_code}: {err.message}", file=sys.stderr)
            return EXIT_API_ERROR
        except openai.APIConnectionError as err:
            print(f"kimi-batch {name}: cannot reach Kimi: {err}", file=sys.stderr)
            return EXIT_API_ERROR
        except KimiError as err:
            print(f"kimi-batch {name}: {err}", file=sys.stderr)
            return EXIT_API_ERROR

    return handler


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[str(cell) if cell is not None else "-" for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in [list(header), *cells]) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(header))]
    for line in [list(header), *cells]:
        padded = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(line, widths, numeric, strict=True)
        ]
        print("  ".join(padded).rstrip())


def timestamp(seconds: int | None) -> str | None:
    """Unix seconds as ``2026-01-31 12:00`` UTC."""
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


__getattr__ = moved_from(__name__)
