"""Result lines in an order that is not the input's, as Kimi (like OpenAI) promises no order.

A client that joins results to inputs by position works against a server that happens to keep
input order and breaks in production; shuffling by default makes that bug show offline. The
shuffle is seeded by the server's seed and the batch id, so a run can be repeated exactly.
"""

from __future__ import annotations

import random
from pathlib import Path


def shuffle_lines(path: Path, seed: int | None, batch_id: str) -> None:
    """Rewrite a results file with its lines in a seeded order (a file of one line stays as it is)."""
    lines = path.read_bytes().splitlines(keepends=True)
    if len(lines) < 2:
        return
    order = list(range(len(lines)))
    random.Random(f"{seed or 0}:{batch_id}").shuffle(order)
    if order == sorted(order):
        order.reverse()
    tmp = path.with_suffix(path.suffix + ".shuffling")
    tmp.write_bytes(b"".join(lines[i] for i in order))
    tmp.replace(path)
