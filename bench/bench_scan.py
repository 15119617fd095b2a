"""Benchmark the article scan: cold, warm, and after one change, against the floors.

Usage: ``python bench/bench_scan.py [--full]`` (``--full`` adds 100,000 articles).

Each size runs in its own process (so peak memory is per size) on a corpus from
``gen_corpus`` in a temporary folder. The files were just written, so the page cache is warm
for every figure, floors included. Floors: reading every file and ``frontmatter.loads`` it
(python-frontmatter, one process), and a stat-only pass (``os.scandir`` + ``stat``).
Prints a markdown table; exit status 0 unless a scan reports something unexpected.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from gen_corpus import generate  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.scanner import current_articles, scan  # noqa: E402
from bot.state import State  # noqa: E402

ROWS = [
    ("floor_read_frontmatter_s", "floor: read + frontmatter.loads, all files", "1.5 s at 10k"),
    ("floor_stat_s", "floor: stat-only pass", "0.11 s at 10k"),
    ("cold_s", "cold scan (empty state)", "<= 4 s at 10k"),
    ("cold_cpu_s", "cold scan CPU time, all processes", ""),
    ("cold_over_floor", "cold scan / read+frontmatter floor (load-independent)", "<= 2.7"),
    ("warm_s", "warm rescan, nothing changed", "<= 0.3 s at 10k"),
    ("changed_s", "rescan after 1 changed file", "<= 0.4 s at 10k"),
    ("added_s", "rescan after 1 new file", ""),
    ("current_first_s", "current_articles(), first call", ""),
    ("current_cached_s", "current_articles(), cached", ""),
    ("state_mb", "state JSON size (MB)", ""),
    ("peak_rss_mb", "peak RSS, scanning process (MB)", ""),
    ("peak_rss_workers_mb", "peak RSS, largest worker (MB)", ""),
]


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _floor_frontmatter(paths: list[Path]) -> float:
    import frontmatter

    start = time.perf_counter()
    for path in paths:
        frontmatter.loads(path.read_text("utf-8"))
    return time.perf_counter() - start


def _floor_stat(root: Path) -> float:
    start = time.perf_counter()
    stack = [str(root)]
    while stack:
        for entry in os.scandir(stack.pop()):
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                entry.stat()
    return time.perf_counter() - start


def measure(n: int) -> dict[str, float]:
    """All figures for one corpus size."""
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        root = Path(tmp) / "posts"
        paths = generate(root, n)
        settings = Settings(articles_dir=root, site_url="https://news.example.org/", timezone="Asia/Shanghai")
        now = datetime.now(timezone.utc) + timedelta(seconds=settings.settle_s + 1)  # every file has settled
        fig: dict[str, float] = {"floor_read_frontmatter_s": _floor_frontmatter(paths), "floor_stat_s": _floor_stat(root)}
        state = State()
        cpu_before = _cpu_s()
        fig["cold_s"], report = _timed(lambda: scan(settings, state, now))
        fig["cold_cpu_s"] = _cpu_s() - cpu_before
        fig["cold_over_floor"] = fig["cold_s"] / fig["floor_read_frontmatter_s"]
        _expect(len(report.new) == n and not report.bad, f"cold scan: {len(report.new)} new, {len(report.bad)} bad")
        fig["warm_s"], report = _timed(lambda: scan(settings, state, now))
        _expect(report.is_noop, "warm rescan saw a change")
        victim = paths[n // 2]
        victim.write_bytes(victim.read_bytes() + "\n<p>更正：补充说明。</p>\n".encode())
        os.utime(victim, (now.timestamp() - 60, now.timestamp() - 60))
        fig["changed_s"], report = _timed(lambda: scan(settings, state, now))
        _expect(len(report.changed) == 1, f"changed rescan: {report.changed!r}")
        added = generate(root, 1, start_index=n)[0]
        os.utime(added, (now.timestamp() - 60, now.timestamp() - 60))
        fig["added_s"], report = _timed(lambda: scan(settings, state, now))
        _expect(len(report.new) == 1, f"added rescan: {report.new!r}")
        fig["current_first_s"], _ = _timed(lambda: current_articles(state))
        fig["current_cached_s"], _ = _timed(lambda: current_articles(state))
        fig["state_mb"] = len(state.to_json_bytes()) / 1e6
    fig["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fig["peak_rss_workers_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return fig


def _cpu_s() -> float:
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _expect(ok: bool, message: str) -> None:
    if not ok:
        raise SystemExit(f"bench_scan: unexpected result: {message}")


def _format(key: str, value: float) -> str:
    if key.endswith("_s"):
        return f"{value:.3f} s"
    return f"{value:.2f}" if key == "cold_over_floor" else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also measure 100,000 articles (takes minutes)")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)  # child mode: one size, JSON out
    args = parser.parse_args()
    if args.size:
        sys.stdout.write(json.dumps(measure(args.size)) + "\n")
        return
    sizes = [10_000, 100_000] if args.full else [10_000]
    results = []
    for n in sizes:
        child = subprocess.run([sys.executable, __file__, "--size", str(n)], capture_output=True, text=True, check=False)
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            raise SystemExit(child.returncode)
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"### Article scan ({cpus} CPUs, warm page cache)", "",
             "| figure | " + " | ".join(f"{n:,} articles" for n in sizes) + " | target |",
             "|---|" + "---:|" * len(sizes) + "---|"]
    for key, label, target in ROWS:
        lines.append(f"| {label} | " + " | ".join(_format(key, r[key]) for r in results) + f" | {target} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
