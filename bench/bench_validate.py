"""How fast ``validate_file`` and ``split_file`` are, measured against their floors.

Usage::

    .venv/bin/python bench/bench_validate.py                # generate about 100 MB, measure
    .venv/bin/python bench/bench_validate.py --size-mb 20   # smaller
    .venv/bin/python bench/bench_validate.py --input FILE   # measure an existing file

Each measurement runs in its own subprocess so its peak resident memory (``ru_maxrss``) is its
own; the time is the best of ``--repeat`` runs over the same file (in the page cache after the
first), in CPU seconds of that process (user + system), so other work on the machine does not
blur the comparison. The floor for validation is reading every line and ``orjson.loads``-ing it: the
validator cannot be faster than that, and the ratio says how close it gets. The floor for
splitting is a plain file copy.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

SENTENCE = (
    "the model reads each request and answers with a short label for the text given in the batch "
    "input file while the scheduler waits for the results to arrive in object storage"
)
WORDS = SENTENCE.split()
SYSTEM = "You are a text classification assistant. Answer with one of: Literature, News, Academic, Technology."


def generate(path: Path, size_bytes: int, image_every: int, seed: int = 7) -> tuple[int, int]:
    """Write realistic request lines up to ``size_bytes``: texts of 50-600 words, and every
    ``image_every``-th line a 60 KB image inline as a base64 data URL."""
    rnd = random.Random(seed)
    image = "data:image/png;base64," + base64.b64encode(rnd.randbytes(60_000)).decode()
    written = lines = 0
    with path.open("wb") as handle:
        while True:
            lines += 1
            if image_every and lines % image_every == 0:
                content: object = [
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "text", "text": "Classify this image: Landscape/Portrait/Food/Other"},
                ]
            else:
                words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(50, 600)))
                content = f"Classify the following text: {words}"
            request = {
                "custom_id": f"request-{lines}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "kimi-k2.5",
                    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}],
                    "max_tokens": 256,
                    "thinking": {"type": "disabled"},
                },
            }
            line = orjson.dumps(request, option=orjson.OPT_APPEND_NEWLINE)
            if written + len(line) > size_bytes:
                return lines - 1, written
            handle.write(line)
            written += len(line)


def floor_orjson(path: Path, _out: Path) -> None:
    loads = orjson.loads
    with path.open("rb", buffering=1 << 20) as handle:
        for line in handle:
            loads(line)


def plain_json(path: Path, _out: Path) -> None:
    loads = json.loads
    with path.open("rb", buffering=1 << 20) as handle:
        for line in handle:
            loads(line)


def validate(path: Path, _out: Path) -> None:
    from airflow_provider_kimi.batch.validator import validate_file

    report = validate_file(path, max_bytes=1 << 62)
    if not report.ok:
        raise SystemExit(report.format())


def copy(path: Path, out: Path) -> None:
    with path.open("rb") as source, (out / "copy.jsonl").open("wb") as target:
        shutil.copyfileobj(source, target, 1 << 20)


def split(path: Path, out: Path) -> None:
    from airflow_provider_kimi.batch.splitter import split_file

    split_file(path, out / "parts", max_bytes=max(path.stat().st_size // 4 + 1, 1_000_000))


def idle(_path: Path, _out: Path) -> None:
    """The interpreter and imports alone: the memory every other row carries."""
    import airflow_provider_kimi.batch.splitter
    import airflow_provider_kimi.batch.validator  # noqa: F401


MEASUREMENTS: dict[str, tuple[str, Callable[[Path, Path], None]]] = {
    "idle": ("interpreter + imports (memory baseline)", idle),
    "orjson": ("read + orjson.loads per line (floor)", floor_orjson),
    "json": ("read + json.loads per line", plain_json),
    "validate": ("validate_file", validate),
    "copy": ("plain file copy (floor)", copy),
    "split": ("split_file into 4 parts", split),
}


def measure(name: str, path: Path, repeat: int) -> dict[str, float]:
    """Run one measurement in this process (called in a fresh subprocess)."""
    function = MEASUREMENTS[name][1]
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(dir=path.parent) as out:
            start = time.process_time()
            function(path, Path(out))
            best = min(best, time.process_time() - start)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": best, "rss_mb": rss_kib / 1024}


def run_in_subprocess(name: str, path: Path, repeat: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", name, "--input", str(path), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, help="an existing .jsonl file (default: generate one)")
    parser.add_argument("--size-mb", type=float, default=99.9, help="size of the generated file in MB (1e6 bytes)")
    parser.add_argument("--image-every", type=int, default=50, help="every Nth line carries an inline image (0: none)")
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs per measurement")
    parser.add_argument("--measure", choices=sorted(MEASUREMENTS), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.measure, args.input, args.repeat)))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        path = args.input
        if path is None:
            path = Path(scratch) / "bench.jsonl"
            lines, size = generate(path, int(args.size_mb * 1_000_000), args.image_every)
        else:
            size = path.stat().st_size
            with path.open("rb") as handle:
                lines = sum(1 for _ in handle)
        print(f"file: {path.name}, {size / 1e6:.1f} MB, {lines} lines, python {sys.version.split()[0]}")
        print(f"orjson {orjson.__version__}, best of {args.repeat} runs, each measurement in its own process\n")

        results = {name: run_in_subprocess(name, path, args.repeat) for name in MEASUREMENTS}
        floors = {"orjson": results["orjson"]["seconds"], "copy": results["copy"]["seconds"]}
        header = f"{'measurement':<42} {'CPU s':>8} {'MB/s':>8} {'vs floor':>9} {'peak RSS MB':>12}"
        print(header)
        print("-" * len(header))
        for name, (label, _function) in MEASUREMENTS.items():
            result = results[name]
            if name == "idle":
                print(f"{label:<42} {'':>8} {'':>8} {'':>9} {result['rss_mb']:>12.1f}")
                continue
            floor = floors["copy"] if name in ("copy", "split") else floors["orjson"]
            speed = size / 1e6 / result["seconds"]
            ratio = floor / result["seconds"]
            print(f"{label:<42} {result['seconds']:>8.3f} {speed:>8.0f} {ratio:>9.2f} {result['rss_mb']:>12.1f}")
        print("\nvs floor = floor time / this time (1.00 = as fast as the floor; validate aims for >= 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
