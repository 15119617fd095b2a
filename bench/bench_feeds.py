"""Feed build speed: cold start, one new article, and no change, end to end (scan included).

Issue targets at 10,000 articles in 20 categories and 200 tags: cold start (scan + every feed)
<= 6 s; after 1 new article only the affected feeds are rewritten, <= 0.5 s; with no change
0 files written. Peak memory (RSS) is reported for each size.

The new article is the newest one (dated just before the clock), so it lands in the site feeds
and in every category and tag feed it belongs to: the most a single new article costs. CPU
seconds (this process plus worker processes) are shown beside wall seconds, because wall time
swings with machine load.

Each size runs in its own subprocess so its peak RSS is its own.

Usage: ``python bench/bench_feeds.py [--full] [--sizes 10000 100000]``  (--full adds 100,000)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from gen_corpus import generate

from bot import scanner
from bot.config import Settings
from bot.feedwriter import FeedReport, write_feeds
from bot.models import Article
from bot.reader import read_body
from bot.state import State


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def cycle(settings: Settings, state: State, now: datetime) -> tuple[float, float, FeedReport]:
    """One scan + feed build, as ``newsbot`` runs it: (wall s, CPU s, report)."""
    start, cpu = time.perf_counter(), cpu_s()
    scanner.scan(settings, state, now)
    articles = scanner.current_articles(state)

    def load_body(article: Article) -> str:
        return read_body((settings.articles_dir / article.source).read_bytes(), article.source)

    report = write_feeds(settings, articles, state, now, load_body)
    return time.perf_counter() - start, cpu_s() - cpu, report


def run_size(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-feeds-") as tmp:
        work = Path(tmp)
        generate(work / "site", n, seed=1)
        settings = Settings(articles_dir=work / "site", feeds_dir=work / "feeds", state_dir=work / "state",
                            site_url="https://news.example.org/", timezone="Asia/Shanghai",
                            language="zh-CN", settle_s=0.0)
        now = datetime(2026, 11, 2, tzinfo=UTC)
        state = State()
        cold_s, cold_cpu, cold = cycle(settings, state, now)
        for path in generate(work / "site", 1, seed=1, start_index=n):  # one new article, the newest
            text = re.sub(r"(?m)^date: .*$", "date: 2026-11-01 12:00:00 +0800", path.read_text("utf-8"), count=1)
            path.write_text(text, "utf-8")
        new_s, new_cpu, new = cycle(settings, state, now)
        same_s, same_cpu, same = cycle(settings, state, now)
        peak_kb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        return {"articles": n, "cold_s": cold_s, "cold_cpu": cold_cpu, "cold_files": len(cold.written),
                "new_s": new_s, "new_cpu": new_cpu, "new_files": len(new.written), "same_s": same_s,
                "same_cpu": same_cpu, "same_files": len(same.written) + len(same.removed), "peak_mb": peak_kb / 1024}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also run 100,000 articles")
    parser.add_argument("--sizes", type=int, nargs="*", help="article counts (default 10000)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size, JSON out
    args = parser.parse_args(argv)
    if args.one:
        sys.stdout.write(json.dumps(run_size(args.one)) + "\n")
        return 0
    sizes = args.sizes or ([10_000, 100_000] if args.full else [10_000])
    rows = []
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    lines = ["| articles | cold start s / CPU s (files) | +1 article s / CPU s (files) "
             "| no change s / CPU s (files) | peak RSS MB |",
             "|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['articles']:,} | {r['cold_s']:.2f} / {r['cold_cpu']:.2f} ({r['cold_files']}) "
                     f"| {r['new_s']:.3f} / {r['new_cpu']:.3f} ({r['new_files']}) "
                     f"| {r['same_s']:.3f} / {r['same_cpu']:.3f} ({r['same_files']}) | {r['peak_mb']:.0f} |")
    lines.append("")
    lines.append("Targets at 10,000: cold <= 6 s; +1 article <= 0.5 s, only affected feeds; no change: 0 files. "
                 "Peak RSS: the larger of the main process and its largest worker.")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
