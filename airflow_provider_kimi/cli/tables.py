"""Tables on the command line, drawn by ``rich``: aligned and coloured on a terminal, plain in a pipe."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from rich import box
from rich.console import Console
from rich.table import Table

from airflow_provider_kimi.batch.results import TABLE_HEADER, BatchResult, table_rows

_STATUS_STYLE = {"succeeded": "green", "failed": "red"}


def print_results_table(results: Iterable[BatchResult]) -> None:
    """Print every result of ``results`` as a table on stdout."""
    terminal = sys.stdout.isatty()
    table = Table(box=box.SIMPLE_HEAD if terminal else None, pad_edge=False, show_edge=False)
    for title in TABLE_HEADER:
        table.add_column(title, justify="right" if title == "tokens" else "left", no_wrap=title != TABLE_HEADER[-1])
    for custom_id, status, tokens, answer in table_rows(results, limit=None):
        table.add_row(custom_id, f"[{_STATUS_STYLE.get(status, 'yellow')}]{status}", tokens, answer)
    if terminal:
        Console(file=sys.stdout, highlight=False).print(table)
        return
    # In a pipe there is no width to fit (never wrap a row a script will read), nor padding to keep.
    console = Console(width=1000, no_color=True, highlight=False)
    with console.capture() as captured:
        console.print(table)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
