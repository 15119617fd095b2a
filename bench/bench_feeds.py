"""Feed build speed: cold start, one new article, and no change, end to end (scan included).

Issue targets at 10,000 articles in 20 categories and 200 tags: cold start (scan + every feed)
<= 6 s; after 1 new article only the affected feeds are rewritten, <= 0.5 s; with no change
0 files written. Peak memory (RSS) is reported for each size.

Each size runs in its own subprocess so its peak RSS is its own.

Usage: ``python bench/bench_feeds.py [--full] [--sizes 10000 100000]``  (--full adds 100,000)
"""

from __future__ import annotations

import argparse
import json
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


def cycle(settings: Settings, state: State, now: datetime) -> tuple[float, FeedReport]:
    """One scan + feed build, as ``newsbot`` runs it."""
    start = time.perf_counter()
    scanner.scan(settings, state, now)
    articles = scanner.current_articles(state)

    def load_body(article: Article) -> str:
        return read_body((settings.articles_dir / article.source).read_bytes(), article.source)

    report = write_feeds(settings, articles, state, now, load_body)
    return time.perf_counter() - start, report


def run_size(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-feeds-") as tmp:
        work = Path(tmp)
        generate(work / "site", n, seed=1)
        settings = Settings(articles_dir=work / "site", feeds_dir=work / "feeds", state_dir=work / "state",
                            site_url="https://news.example.org/", timezone="Asia/Shanghai",
                            language="zh-CN", settle_s=0.0)
        now = datetime(2026, 11, 2, tzinfo=UTC)
        state = State()
        cold_s, cold = cycle(settings, state, now)
        generate(work / "site", 1, seed=1, start_index=n)  # one new article
        new_s, new = cycle(settings, state, now)
        same_s, same = cycle(settings, state, now)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"articles": n, "cold_s": cold_s, "cold_files": len(cold.written),
                "new_s": new_s, "new_files": len(new.written), "same_s": same_s,
                "same_files": len(same.written) + len(same.removed), "peak_mb": peak_kb / 1024}


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
    lines = ["| articles | cold start s (files) | +1 article s (files) | no change s (files) | peak RSS MB |",
             "|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['articles']:,} | {r['cold_s']:.2f} ({r['cold_files']}) | {r['new_s']:.3f} ({r['new_files']}) "
                     f"| {r['same_s']:.3f} ({r['same_files']}) | {r['peak_mb']:.0f} |")
    lines.append("")
    lines.append("Targets at 10,000: cold <= 6 s; +1 article <= 0.5 s, only affected feeds; no change: 0 files.")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
