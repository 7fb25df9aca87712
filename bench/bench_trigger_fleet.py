"""N deferred batch waits in one event loop, as a triggerer runs them: ours against the others.

Usage::

    uv run --group bench python bench/bench_trigger_fleet.py --n 50 --tier 0 --interval 60
    uv run --group bench python bench/bench_trigger_fleet.py --n 2000 --tier 1 --interval 10
    uv run --group bench python bench/bench_trigger_fleet.py --n 10000 --tier 1 --interval 60 \
        --delay 60 --spread 240 --providers kimi --gc-compare

Three processes per run, so the loop measured holds only the triggers:

- a local Kimi server (the emulator) in its own process creates N batches that stay running,
  then finishes them one by one at random times spread over ``--spread`` seconds (each batch is
  "rushed": it turns ``completed`` inside that call, and the server notes the wall-clock time).
  It applies the account's requests-a-minute limit of ``--tier`` (Kimi's: Tier0 3, Tier1 200,
  Tier2 500, Tier3 5,000) or ``--rpm`` to every ``/v1`` request, answering 429
  ``rate_limit_reached_error`` with ``retry-after`` over it: through the emulator's own account
  limits when its settings have them, otherwise through a 60 s sliding window in front of it;
- the measured process runs N triggers in one asyncio loop the way Airflow's triggerer does
  (created one after another with ``await asyncio.sleep(0)`` between, each ``run()`` consumed
  with ``async for``), next to a heartbeat task that sleeps 10 ms and records how late it wakes;
- this script starts the two per provider and size, and prints the tables and the ratios.

Providers: ``kimi`` (KimiBatchTrigger; its connection's ``max_requests_per_minute`` is the
account's limit, as a user sets it for their tier), ``openai`` (OpenAIBatchTrigger of
apache-airflow-providers-openai) and ``common-ai`` (LLMBatchTrigger of
apache-airflow-providers-common-ai, adapter ``openai``), both reading the server through an
``openai`` connection. All use the same ``--interval``. ``--gc-compare`` runs ours a second time
with ``gc.freeze()`` after start-up.

Figures:
- stall: the heartbeat's longest lateness (max), its 99th percentile, and the part of the
  longest that this process spent computing (own CPU), while the triggers run;
- lag: from the moment a batch turned ``completed`` on the server to its trigger's event;
- memory per wait: (peak RSS while waiting - RSS after a warm-up wait) / N;
- connections: distinct client sockets the server saw (opened), and the most open at once;
- requests sent (all ``/v1`` calls the server received, the 429s included), 429s answered,
  retrieves and list pages, error or timeout events; CPU of each process;
- requests per batch-hour: requests sent / hours the waits spent waiting, against one retrieve
  per wait at the interval that gives the same median lag (2 x our lag p50).

The fixed vs adaptive table models polling over a spread of batch durations with the same
policy function the trigger calls (real batches run for hours; the emulator cannot age one).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROVIDERS = ("kimi", "openai", "common-ai")
FROZEN = "kimi-frozen"
LABELS = {
    "kimi": "Kimi (ours)",
    FROZEN: "ours + gc.freeze()",
    "openai": "OpenAIBatchTrigger",
    "common-ai": "LLMBatchTrigger",
}
HEARTBEAT_SECONDS = 0.01
KIMI_CONN = "kimi_fleet"
OPENAI_CONN = "openai_fleet"

# ---------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------


class ConnectionCounter:
    """ASGI wrapper that notes every distinct client socket (host, port) it serves, and the 429s."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.clients: set[tuple[Any, ...]] = set()
        self.rate_limited = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.clients.add(tuple(scope.get("client") or ()))

        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                self.rate_limited += 1
            await send(message)

        await self.app(scope, receive, noting)


def open_connections(port: int) -> int:
    import psutil

    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


class AccountRateLimit:
    """ASGI wrapper: Kimi's per-account requests-a-minute limit on ``/v1`` (a 60 s sliding window).

    Used when the emulator has no account limits of its own. Over the limit it answers 429
    ``rate_limit_reached_error`` with ``retry-after`` and the ``X-RateLimit-*`` headers, as Kimi
    documents. ``enabled`` stays off while the bench sets up its batches.
    """

    def __init__(self, app: Any, rpm: float) -> None:
        self.app = app
        self.rpm = rpm
        self.sent: collections.deque[float] = collections.deque()
        self.enabled = False
        self.refused = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.enabled and self.rpm > 0 and scope["path"].startswith("/v1"):
            now = time.monotonic()
            while self.sent and self.sent[0] <= now - 60:
                self.sent.popleft()
            if len(self.sent) >= self.rpm:
                self.refused += 1
                wait = max(0.0, self.sent[0] + 60 - now)
                body = json.dumps(
                    {"error": {"type": "rate_limit_reached_error", "message": f"rate limit of {self.rpm:g} RPM"}}
                ).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", f"{math.ceil(wait)}".encode()),
                    (b"x-ratelimit-limit", f"{self.rpm:g}".encode()),
                    (b"x-ratelimit-remaining", b"0"),
                    (b"x-ratelimit-reset", f"{wait:.1f}s".encode()),
                ]
                await send({"type": "http.response.start", "status": 429, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            self.sent.append(now)
        await self.app(scope, receive, send)


def limit_settings(rpm: float, tier: int | None) -> dict[str, Any]:
    """The emulator's own account-limit settings for this run, when it has them (else ``{}``)."""
    from dataclasses import fields

    from airflow_provider_kimi.emulator import EmulatorSettings

    names = {f.name for f in fields(EmulatorSettings)}
    if "rpm" in names and rpm > 0:
        return {"rpm": rpm}
    if "tier" in names and tier is not None:
        return {"tier": tier}
    return {}


def serve(n: int, rpm: float, tier: int | None) -> None:
    """Create n + 1 running batches, report them, finish them on the schedule read from stdin."""
    import openai

    from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
    from airflow_provider_kimi.emulator.checks import check_batch_create

    own_limits = limit_settings(rpm, tier)
    emulator = KimiEmulator(
        EmulatorSettings(
            time_scale=0.01,
            hold_new_batches_after=0,
            # The batches are held until rushed: nothing for the ticker to advance, and each of its
            # passes over 10,000 batches costs the server a second of CPU.
            tick_seconds=30,
            access_log=False,
            log_level="warning",
            **own_limits,
        )
    )
    limiter = AccountRateLimit(emulator.app, 0 if own_limits else rpm)
    counter = ConnectionCounter(limiter)
    emulator.app = counter  # type: ignore[assignment]
    emulator.start()
    client = openai.OpenAI(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=5)
    line = {
        "custom_id": "r0",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "Classify: hello"}]},
    }
    file_id = client.files.create(
        file=("in.jsonl", (json.dumps(line) + "\n").encode(), "application/jsonl"), purpose="batch"
    ).id
    client.close()
    # Created in the server's own process (as many requests at once would take minutes under a
    # rate limit); each is the same record a POST /v1/batches makes.
    request = check_batch_create(
        {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    )
    ids = [emulator.engine.create(request)["id"] for _ in range(n + 1)]
    emulator.rush(ids[0])  # the warm-up wait's batch: already done
    counter.clients.clear()
    limiter.enabled = True  # from the warm-up wait on, every request counts against the limit
    print(json.dumps({"base_url": emulator.base_url, "api_key": emulator.api_key, "ids": ids}), flush=True)

    go = sys.stdin.readline().split()
    start, delay, spread, seed = float(go[1]), float(go[2]), float(go[3]), int(go[4])
    requests_before = emulator.stats()["requests"]
    refused_before = counter.rate_limited
    rnd = random.Random(seed)
    schedule = sorted((start + delay + spread * rnd.random(), batch_id) for batch_id in ids[1:])

    peak_open = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_open
        while not stop.wait(0.25):
            peak_open = max(peak_open, open_connections(emulator.port))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    completed: dict[str, float] = {}
    for at, batch_id in schedule:
        pause = at - time.time()
        if pause > 0:
            time.sleep(pause)
        if emulator.rush(batch_id)["status"] == "completed":
            completed[batch_id] = time.time()
    sys.stdin.readline()  # "stop"
    stop.set()
    sampler.join()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "completed": completed,
                "opened": len(counter.clients),
                "peak_open": peak_open,
                "requests": emulator.stats()["requests"],
                "requests_before": requests_before,
                "refused_429": counter.rate_limited - refused_before,
                "cpu_s": cpu.ru_utime + cpu.ru_stime,
            }
        ),
        flush=True,
    )
    emulator.stop()


# ---------------------------------------------------------------------------------------------
# The measured process
# ---------------------------------------------------------------------------------------------


def trigger_factory(provider: str, interval: float, horizon: float) -> Callable[[str], Any]:
    """A function that builds provider's trigger for one batch id, as the triggerer would."""
    end_time = time.time() + horizon
    if provider == "kimi":
        from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

        return lambda batch_id: KimiBatchTrigger(batch_id, KIMI_CONN, poll_interval=interval, end_time=end_time)
    if provider == "openai":
        from airflow.providers.openai.triggers.openai import OpenAIBatchTrigger

        return lambda batch_id: OpenAIBatchTrigger(OPENAI_CONN, batch_id, interval, end_time=end_time)
    from airflow.providers.common.ai.triggers.llm_batch import LLMBatchTrigger

    return lambda batch_id: LLMBatchTrigger(
        llm_conn_id=OPENAI_CONN,
        adapter="openai",
        batch_id=batch_id,
        poll_interval=int(interval),
        end_time=end_time,
        cancel_on_kill=False,
        cancel_on_timeout=False,
        timeout=int(horizon),
    )


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


async def fleet(
    provider: str,
    ids: list[str],
    interval: float,
    delay: float,
    spread: float,
    seed: int,
    server: Any,
    gc_freeze: bool,
    horizon: float,
) -> dict[str, Any]:
    make = trigger_factory(provider, interval, horizon)
    events: dict[str, tuple[float, dict[str, Any]]] = {}

    async def consume(batch_id: str) -> None:
        async for event in make(batch_id).run():
            events.setdefault(batch_id, (time.time(), event.payload))

    await consume(ids[0])  # warm-up: imports, first client, first connection lookup
    events.clear()
    gc.collect()
    if gc_freeze:
        gc.freeze()  # a triggerer configuration, applied alike to every provider
    base_rss = rss_bytes()
    peak_rss = base_rss
    waiting = ids[1:]
    loop = asyncio.get_running_loop()
    stalls: list[float] = []
    done = asyncio.Event()

    busy_stalls: list[float] = []

    async def heartbeat() -> None:
        while not done.is_set():
            before, cpu_before = loop.time(), time.process_time()
            await asyncio.sleep(HEARTBEAT_SECONDS)
            late = loop.time() - before - HEARTBEAT_SECONDS
            stalls.append(late)
            # The part of the lateness this process spent computing (not waiting for a CPU that
            # other processes on the machine held).
            busy_stalls.append(min(late, time.process_time() - cpu_before))

    async def sample_rss() -> None:
        nonlocal peak_rss
        while not done.is_set():
            peak_rss = max(peak_rss, rss_bytes())
            await asyncio.sleep(0.5)

    gc_pauses: list[float] = []
    gc_started = [0.0]

    def time_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif info.get("generation") == 2:
            gc_pauses.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(time_gc)
    start = time.time() + 0.5
    server.stdin.write(f"go {start} {delay} {spread} {seed}\n")
    server.stdin.flush()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    beat = asyncio.create_task(heartbeat())
    sampler = asyncio.create_task(sample_rss())
    tasks = []
    for batch_id in waiting:
        tasks.append(asyncio.create_task(consume(batch_id)))
        await asyncio.sleep(0)  # as the triggerer's create_triggers does between triggers
    created = time.time()
    _, pending = await asyncio.wait(tasks, timeout=horizon)
    ended = time.time()
    done.set()
    for task in pending:
        task.cancel()
    await asyncio.gather(beat, sampler, *pending, return_exceptions=True)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    gc.callbacks.remove(time_gc)
    statuses: dict[str, int] = {}
    for _, payload in events.values():
        statuses[str(payload.get("status"))] = statuses.get(str(payload.get("status")), 0) + 1
    # Hours the waits spent waiting, the base of the requests per batch-hour.
    wait_hours = sum(events[b][0] - start if b in events else ended - start for b in waiting) / 3600
    return {
        "events": {batch_id: at for batch_id, (at, _) in events.items()},
        "statuses": statuses,
        "error_events": sum(count for status, count in statuses.items() if status != "success"),
        "wait_hours": wait_hours,
        "missing": len(waiting) - len(events),
        "stall_max_ms": max(stalls) * 1000 if stalls else math.nan,
        "stall_p99_ms": percentile(stalls, 0.99) * 1000,
        "busy_stall_max_ms": max(busy_stalls) * 1000 if busy_stalls else math.nan,
        "load_avg": os.getloadavg()[0],
        "mem_per_wait_kb": (peak_rss - base_rss) / len(waiting) / 1024,
        "create_s": created - start + 0.5,
        "gc_full_max_ms": max(gc_pauses) * 1000 if gc_pauses else 0.0,
        "gc_full_count": len(gc_pauses),
        "cpu_s": (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
    }


def run_one(
    provider: str,
    n: int,
    interval: float,
    delay: float,
    spread: float,
    seed: int,
    profile: Path | None,
    gc_freeze: bool,
    rpm: float,
    tier: int | None,
    horizon: float,
) -> dict[str, Any]:
    """Measure one provider at one size (runs in its own process)."""
    import logging

    command = [sys.executable, __file__, "--serve", str(n), "--rpm", str(rpm)]
    if tier is not None:
        command += ["--tier", str(tier)]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None
    assert server.stdout is not None
    info = json.loads(server.stdout.readline())
    kimi = {"conn_type": "kimi", "host": info["base_url"], "password": info["api_key"]}
    # Ours keeps to the account's limit with its budget, as a user sets it for their tier.
    kimi["extra"] = {"max_requests_per_minute": rpm}  # type: ignore[assignment]
    openai_conn = {"conn_type": "openai", "host": info["base_url"], "password": info["api_key"]}
    os.environ[f"AIRFLOW_CONN_{KIMI_CONN.upper()}"] = json.dumps(kimi)
    os.environ[f"AIRFLOW_CONN_{OPENAI_CONN.upper()}"] = json.dumps(openai_conn)
    trigger_factory(provider, interval, 1)  # import before silencing the loggers Airflow sets up
    logging.disable(logging.INFO)  # the same for every provider: no per-request log lines

    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    result = asyncio.run(fleet(provider, info["ids"], interval, delay, spread, seed, server, gc_freeze, horizon))
    if profiler is not None:
        profiler.stop()
        profile.mkdir(parents=True, exist_ok=True)
        (profile / f"{provider}-{n}.txt").write_text(profiler.output_text(unicode=False, color=False))
        (profile / f"{provider}-{n}-all.txt").write_text(
            profiler.output_text(unicode=False, color=False, show_all=True)
        )
    server.stdin.write("stop\n")
    server.stdin.flush()
    served = json.loads(server.stdout.readline())
    server.wait(30)
    lags = [
        at - served["completed"][batch_id]
        for batch_id, at in result.pop("events").items()
        if batch_id in served["completed"]
    ]
    return {
        **result,
        "lag_p50_s": percentile(lags, 0.5),
        "lag_p99_s": percentile(lags, 0.99),
        "lag_max_s": max(lags) if lags else math.nan,
        "opened": served["opened"],
        "peak_open": served["peak_open"],
        "polls": served["requests"].get("GET /v1/batches/{batch_id}", 0)
        - served["requests_before"].get("GET /v1/batches/{batch_id}", 0),
        "lists": served["requests"].get("GET /v1/batches", 0) - served["requests_before"].get("GET /v1/batches", 0),
        "requests_sent": sum(served["requests"].values()) - sum(served["requests_before"].values()),
        "rate_limited": served["refused_429"],
        "server_cpu_s": served["cpu_s"],
    }


# ---------------------------------------------------------------------------------------------
# Fixed vs adaptive polling (a model over batch durations, with the trigger's own policy)
# ---------------------------------------------------------------------------------------------


def poll_model(durations: list[float], base: float, adaptive: bool) -> dict[str, float]:
    """Calls per batch-hour and detection lag of one policy over the given batch durations.

    Each batch is polled at its start and then at the policy's intervals; its lag is the time
    from its end to the first poll at or after it.
    """
    from airflow_provider_kimi.batch.wait.interval import adaptive_poll_interval

    calls = 0
    hours = 0.0
    lags: list[float] = []
    shares: list[float] = []
    for duration in durations:
        at = 0.0
        polls = 1
        while at < duration:
            at += adaptive_poll_interval(base, at) if adaptive else base
            polls += 1
        calls += polls
        hours += duration / 3600
        lags.append(at - duration)
        shares.append((at - duration) / duration)
    short = [lag for lag, duration in zip(lags, durations, strict=True) if duration <= 600]
    return {
        "calls": calls / hours,
        "lag_p50": percentile(lags, 0.5),
        "lag_p99": percentile(lags, 0.99),
        "short_p99": percentile(short, 0.99),
        "share_p50": percentile(shares, 0.5),
        "share_p99": percentile(shares, 0.99),
    }


def print_polling_model(base: float, seed: int) -> None:
    rnd = random.Random(seed)
    # Log-normal around an hour (2 minutes to a day), as batch runs spread in practice.
    durations = [min(86400.0, max(120.0, rnd.lognormvariate(math.log(3600), 1.0))) for _ in range(20_000)]
    fixed = poll_model(durations, base, adaptive=False)
    adaptive = poll_model(durations, base, adaptive=True)
    equal_calls_base = base * fixed["calls"] / adaptive["calls"]
    sparse = poll_model(durations, equal_calls_base, adaptive=False)
    print(
        f"\nFixed vs adaptive polling (model with the trigger's own policy function: 20,000 batches, "
        f"log-normal run times, median 1 h, 2 min to 24 h; base {base:g} s)"
    )
    header = (
        f"{'policy':<22} {'calls/batch-hour':>17} {'lag p50 s':>10} {'lag p99 s':>10} "
        f"{'p99 lag, runs <= 10 min':>24} {'lag/run p50':>12} {'lag/run p99':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = (
        (f"fixed {base:g} s", fixed),
        (f"adaptive from {base:g} s", adaptive),
        (f"fixed {equal_calls_base:.0f} s (same calls)", sparse),
    )
    for name, row in rows:
        print(
            f"{name:<22} {row['calls']:>17.1f} {row['lag_p50']:>10.1f} {row['lag_p99']:>10.1f} "
            f"{row['short_p99']:>24.1f} {row['share_p50']:>12.1%} {row['share_p99']:>12.1%}"
        )
    print(
        f"adaptive / fixed: calls x{adaptive['calls'] / fixed['calls']:.2f}, lag p50 "
        f"x{adaptive['lag_p50'] / fixed['lag_p50']:.1f}; a 200-requests-a-minute budget carries about "
        f"{200 * 60 / fixed['calls']:.0f} waits at fixed {base:g} s and {200 * 60 / adaptive['calls']:.0f} adaptive; "
        f"at the same calls a fixed interval detects batches of <= 10 min "
        f"x{sparse['short_p99'] / adaptive['short_p99']:.1f} later (p99)."
    )


# ---------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------

ROWS: list[tuple[str, str, str]] = [
    ("stall_max_ms", "loop stall max (ms)", "{:.1f}"),
    ("stall_p99_ms", "loop stall p99 (ms)", "{:.1f}"),
    ("busy_stall_max_ms", "stall max, own CPU (ms)", "{:.1f}"),
    ("lag_p50_s", "detection lag p50 (s)", "{:.2f}"),
    ("lag_p99_s", "detection lag p99 (s)", "{:.2f}"),
    ("lag_max_s", "detection lag max (s)", "{:.2f}"),
    ("gc_full_max_ms", "longest full GC (ms)", "{:.1f}"),
    ("gc_full_count", "full GCs while waiting", "{:d}"),
    ("mem_per_wait_kb", "memory per wait (KB)", "{:.1f}"),
    ("opened", "connections opened", "{:d}"),
    ("peak_open", "connections open at once", "{:d}"),
    ("polls", "batch retrieves served", "{:d}"),
    ("lists", "list pages served", "{:d}"),
    ("requests_sent", "requests sent", "{:d}"),
    ("rate_limited", "429s answered", "{:d}"),
    ("error_events", "error/timeout events", "{:d}"),
    ("cpu_s", "CPU s (triggers process)", "{:.1f}"),
    ("server_cpu_s", "CPU s (server process)", "{:.1f}"),
    ("missing", "waits without an event", "{:d}"),
    ("stopped_after_s", "stopped, loop blocked (s)", "{:.0f}"),
    ("load_avg", "machine load (1 min avg)", "{:.1f}"),
]
TIER_RPM = {0: 3.0, 1: 200.0, 2: 500.0, 3: 5000.0, 4: 5000.0, 5: 10000.0}
RATIO_KEYS = (
    "requests_sent",
    "stall_max_ms",
    "stall_p99_ms",
    "busy_stall_max_ms",
    "lag_p50_s",
    "lag_p99_s",
    "mem_per_wait_kb",
    "opened",
    "cpu_s",
)


def print_table(n: int, interval: float, rpm: float, results: dict[str, dict[str, Any]], gc_note: str = "") -> None:
    providers = list(results)
    limit = f"account limit {rpm:g} RPM" if rpm > 0 else "no account limit"
    print(f"\nN = {n} waits, poll interval {interval:g} s, {limit}{gc_note}")
    header = f"{'':<28}" + "".join(f"{LABELS[p]:>20}" for p in providers)
    print(header)
    print("-" * len(header))
    for key, label, fmt in ROWS:
        cells = []
        for p in providers:
            value = results[p].get(key)
            cells.append(f"{fmt.format(value) if isinstance(value, (int, float)) else '-':>20}")
        print(f"{label:<28}" + "".join(cells))
    statuses = "; ".join(f"{LABELS[p]}: {results[p].get('statuses', results[p])}" for p in providers)
    print(f"events: {statuses}")
    if "kimi" in results and len(providers) > 1:
        print("ratios (other / ours; > 1 means ours is better):")
        for p in providers:
            if p == "kimi":
                continue
            parts = []
            for key in RATIO_KEYS:
                ours, theirs = results["kimi"].get(key), results[p].get(key)
                if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and ours > 0:
                    parts.append(f"{key} x{theirs / ours:.1f}")
            print(f"  {LABELS[p]}: " + ", ".join(parts))
    target = results.get("kimi")
    if target is not None and "statuses" in target:
        print_targets(n, interval, rpm, target)


def requests_per_batch_hour(result: dict[str, Any]) -> float:
    """Requests the run sent per hour of waiting of one batch."""
    hours = result.get("wait_hours") or 0.0
    return result["requests_sent"] / hours if hours > 0 else math.nan


def print_targets(n: int, interval: float, rpm: float, ours: dict[str, Any]) -> None:
    """The issue's targets for ours at this size, and the requests per batch-hour ratio."""
    ours_rate = requests_per_batch_hour(ours)
    # One retrieve per wait every I seconds detects an end I/2 late at the median: to match our
    # median lag it polls every 2 x lag p50.
    equal_lag_interval = 2 * ours["lag_p50_s"]
    retrieve_rate = 3600 / equal_lag_interval if equal_lag_interval > 0 else math.nan
    print(
        f"requests per batch-hour: ours {ours_rate:.1f}; one retrieve per wait at equal lag (p50 "
        f"{ours['lag_p50_s']:.1f} s: every {equal_lag_interval:.0f} s) {retrieve_rate:.1f}; ratio "
        f"x{retrieve_rate / ours_rate:.1f} fewer requests for ours"
    )
    limits = {(10_000, 60.0): 100.0, (2_000, 10.0): 20.0, (50, 60.0): 90.0}
    lag_target = limits.get((n, interval))
    checks = [
        ("every wait gets its event", ours["missing"] == 0 and ours["error_events"] == 0),
        ("zero 429s", ours["rate_limited"] == 0),
    ]
    if lag_target is not None:
        checks.append((f"lag p99 <= {lag_target:g} s", ours["lag_p99_s"] <= lag_target))
    if n >= 10_000:
        checks.append(("stall own CPU < 20 ms", ours["busy_stall_max_ms"] < 20))
        checks.append(("memory per wait <= 5 KB", ours["mem_per_wait_kb"] <= 5))
    budget = f"{rpm:g} RPM" if rpm > 0 else "no limit"
    verdicts = "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks)
    print(f"targets (ours, N = {n}, {interval:g} s, {budget}): {verdicts}")


def run_capped(command: list[str], out: Path, cap: float) -> dict[str, Any]:
    """Run one measurement; a provider whose loop stays blocked past ``cap`` seconds is stopped.

    (A trigger that calls a blocking client inside ``run()`` keeps the loop from noticing its
    own horizon while the client sleeps through ``retry-after``.)
    """
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        process.wait(cap)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 15)
        process.wait()
        return {"stopped_after_s": time.monotonic() - started}
    if process.returncode != 0 or not out.exists():
        return {"failed": process.returncode}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000], help="waits per run (default 100 1000)")
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of every trigger (s)")
    parser.add_argument("--delay", type=float, default=15.0, help="seconds before the first batch finishes")
    parser.add_argument("--spread", type=float, default=60.0, help="batches finish over this many seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of each run here")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after start-up in the triggers process (for every provider alike): takes the "
        "objects of Airflow's imports out of the interpreter's full collections",
    )
    parser.add_argument(
        "--tier",
        type=int,
        choices=sorted(TIER_RPM),
        default=1,
        help="Kimi account tier whose RPM limit the server applies",
    )
    parser.add_argument("--rpm", type=float, help="requests a minute the server allows (default: the tier's; 0 = none)")
    parser.add_argument(
        "--horizon", type=float, help="seconds the waits may run (default delay + spread + 6 intervals + 120)"
    )
    parser.add_argument(
        "--gc-compare", action="store_true", help="run ours a second time with gc.freeze() after start-up, side by side"
    )
    parser.add_argument(
        "--setup-allowance",
        type=float,
        default=900.0,
        help="seconds beyond the horizon a provider's run may take (setup included) before it is stopped",
    )
    parser.add_argument("--keep", type=Path, help="also write each run's figures as JSON into this folder")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    rpm = args.rpm if args.rpm is not None else TIER_RPM[args.tier]
    horizon = args.horizon if args.horizon is not None else args.delay + args.spread + 6 * args.interval + 120
    if args.serve is not None:
        serve(args.serve, rpm, args.tier if args.rpm is None else None)
        return 0
    if args.run_one:
        result = run_one(
            args.run_one,
            args.n[0],
            args.interval,
            args.delay,
            args.spread,
            args.seed,
            args.profile,
            args.gc_freeze,
            rpm,
            args.tier if args.rpm is None else None,
            horizon,
        )
        args.out.write_text(json.dumps(result))
        return 0

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; server and triggers in separate processes")
    runs = [(p, p, args.gc_freeze) for p in args.providers]
    if args.gc_compare and "kimi" in args.providers and not args.gc_freeze:
        runs.insert(1, (FROZEN, "kimi", True))
    for n in args.n:
        results: dict[str, dict[str, Any]] = {}
        for key, provider, freeze in runs:
            with tempfile.TemporaryDirectory() as scratch:
                out = Path(scratch) / "result.json"
                command = [
                    sys.executable, __file__, "--run-one", provider, "--n", str(n), "--out", str(out),
                    "--interval", str(args.interval), "--delay", str(args.delay), "--spread", str(args.spread),
                    "--seed", str(args.seed), "--horizon", str(horizon),
                ]  # fmt: skip
                command += ["--tier", str(args.tier)] if args.rpm is None else ["--rpm", str(args.rpm)]
                if args.profile:
                    command += ["--profile", str(args.profile)]
                if freeze:
                    command.append("--gc-freeze")
                results[key] = run_capped(command, out, horizon + args.setup_allowance)
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    (args.keep / f"{key}-{n}.json").write_text(json.dumps(results[key]))
        print_table(n, args.interval, rpm, results, ", gc.freeze() after start-up" if args.gc_freeze else "")
    print_polling_model(60.0, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
