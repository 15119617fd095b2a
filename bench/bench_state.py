"""State store speed and size at 10,000 and 100,000 articles (issue target: load + save <= 1 s
and file <= 40 MB at 100,000; a save with no change writes 0 bytes).

Records are real: a sample of generated articles is scanned by the real scanner and planned by
the real post queue (a baseline: "seen" records), then cloned with unique paths, ids, hashes and
URLs up to N. One post in ten is made "sent" with message ids, as on a live channel.

Usage: ``python bench/bench_state.py [--sizes 10000 100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from gen_corpus import generate

from bot import postqueue, scanner
from bot.config import Settings
from bot.state import State, StateStore

SAMPLE = 400


def sample_records(work: Path) -> State:
    """Scan and baseline a small generated site with the real code."""
    generate(work / "site", SAMPLE, seed=7)
    settings = Settings(articles_dir=work / "site", site_url="https://news.example.org/", settle_s=0.0,
                        timezone="Asia/Shanghai")
    state = State()
    now = datetime.now(UTC)
    report = scanner.scan(settings, state, now)
    postqueue.plan_posts(state, scanner.current_articles(state), report, settings, now, backfill=0)
    return state


def clone(template: State, n: int) -> State:
    """``n`` articles shaped like the template's, each with its own path, id, hash and URL."""
    records = list(template.articles.items())
    state = State(meta=dict(template.meta))
    for i in range(n):
        source, rec = records[i % len(records)]
        post = template.posts.get(rec["id"], {"status": "seen", "source": source})
        rec, post = orjson.loads(orjson.dumps(rec)), orjson.loads(orjson.dumps(post))
        source = f"more/{i:06d}/{source}" if i >= len(records) else source
        digest = hashlib.blake2b(i.to_bytes(4, "big"), digest_size=16).hexdigest()
        article_id = f"{rec['id']}#{i}"
        rec.update(id=article_id, hash=digest, mtime_ns=rec["mtime_ns"] + i)
        rec["article"].update(source=source, id=article_id, url=rec["article"]["url"] + f"?n={i}",
                              content_hash=digest)
        post["source"] = source
        if i % 10 == 0:
            post.update(status="sent", message_id=10_000 + i, chat_id=-1001234567890, posted_hash=digest[:20],
                        sent_at="2026-10-01T08:00:00+00:00", file_id="AgACAgUAAxkDAAIB" + digest)
        state.articles[source] = rec
        state.posts[article_id] = post
    return state


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def measure(state: State, work: Path, repeat: int) -> dict[str, float]:
    folder = work / f"state-{len(state.articles)}"
    with StateStore(folder) as first:
        first.save(state)
    loads, saves, noops, cpus, written = [], [], [], [], 0
    for r in range(repeat):
        cpu = time.process_time()
        store = StateStore(folder)
        t_load, loaded = timed(store.load)
        t_noop, wrote = timed(partial(store.save, loaded))
        written += store.path.stat().st_size if wrote else 0
        next(iter(loaded.posts.values()))["attempts"] = r + 1  # one post changed
        t_save, _ = timed(partial(store.save, loaded))
        cpus.append(time.process_time() - cpu - t_noop)
        store.release()
        loads.append(t_load)
        saves.append(t_save)
        noops.append(t_noop)
    return {"load": statistics.median(loads), "save": statistics.median(saves), "noop": statistics.median(noops), "cpu": statistics.median(cpus),
            "written": written, "mb": (folder / "state.json.zst").stat().st_size / 1e6,
            "json_mb": len(state.to_json_bytes()) / 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        work = Path(tmp)
        template = sample_records(work)
        print("## State store (`bench/bench_state.py`)\n")
        print("| articles | load s | save s (changed) | load + save s | load + save CPU s | no-change save s | bytes written "
              "by no-change save | file MB | JSON MB (uncompressed) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in args.sizes:
            m = measure(clone(template, n), work, args.repeat)
            print(f"| {n:,} | {m['load']:.3f} | {m['save']:.3f} | {m['load'] + m['save']:.3f} | {m['cpu']:.3f} "
              f"| {m['noop']:.3f} "
                  f"| {m['written']:.0f} | {m['mb']:.1f} | {m['json_mb']:.1f} |")
    print(f"\nmedian of {args.repeat} runs; target at 100,000: load + save <= 1 s, file <= 40 MB, 0 bytes written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
