"""Counters a test or a curious user can read from ``GET /_emulator/stats``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

# Distinct client kinds counted; any further kind is counted as "other", so a client that sends a
# new User-Agent on every call cannot grow the counters without bound.
MAX_USER_AGENTS = 50
OTHER_AGENTS = "other"


class EmulatorStats:
    """Thread-safe counts of uploads, batches, calls per route and injected faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Every counter back to zero."""
        self.uploads = 0
        self.batches_created = 0
        self.requests: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.rate_limited = 0
        self.user_agents: Counter[str] = Counter()

    def count_request(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1

    def count_client(self, user_agent: str) -> None:
        """Count calls per client kind (``OpenAI``, ``AsyncOpenAI``...): shows which side polled."""
        kind = user_agent.split("/", 1)[0][:64] or "unknown"
        with self._lock:
            if kind not in self.user_agents and len(self.user_agents) >= MAX_USER_AGENTS:
                kind = OTHER_AGENTS
            self.user_agents[kind] += 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def count_rate_limited(self) -> None:
        """A call refused with 429 because its key was over the account's rate limit."""
        with self._lock:
            self.rate_limited += 1

    def count_upload(self) -> None:
        with self._lock:
            self.uploads += 1

    def count_batch(self) -> None:
        with self._lock:
            self.batches_created += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of every counter."""
        with self._lock:
            return {
                "uploads": self.uploads,
                "batches_created": self.batches_created,
                "requests": dict(self.requests),
                "faults": dict(self.faults),
                "rate_limited": self.rate_limited,
                "user_agents": dict(self.user_agents),
            }
