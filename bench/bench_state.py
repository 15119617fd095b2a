"""State store speed and size at 10,000 and 100,000 articles.

Issue targets at 100,000 articles: load + save <= 1 s (CPU), files <= 40 MB, a save after a
scan that changed nothing writes 0 bytes; and a channel post's save (posts document only)
costs a few ms, so the event loop keeps answering /status.

Records are realistic and unique: each article is built as an ``Article`` (random CJK title
and summary, percent-encoded CJK URLs for half of them, real categories and tags of the
generated corpus, lead image URLs, uids) and stored as the scanner stores it (the real
``article_to_record``); post records are the real first-run baseline's "seen" records
(``postqueue._new_record``), with one in ten queued and then "sent" the way the drain
finishes a send (message and file ids), as on a live channel.

Usage: ``python bench/bench_state.py [--sizes 10000 100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from gen_corpus import HEXO_CATEGORIES, JEKYLL_CATEGORIES, TAGS

from bot.models import Article
from bot.postqueue import BASELINE_REASON, _new_record
from bot.records import article_to_record
from bot.state import State, StateStore

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 1, tzinfo=UTC)
PER_POST_SAVES = 20


def _cjk(rng: random.Random, n: int) -> str:
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def _article(rng: random.Random, i: int) -> Article:
    when = datetime(2016, 1, 1, tzinfo=CST) + timedelta(seconds=rng.randint(0, 10 * 365 * 86400))
    hexo = rng.random() < 0.5
    slug = quote(_cjk(rng, rng.randint(6, 14))) if hexo else f"post-{i:06d}-{rng.getrandbits(24):x}"
    source = f"source/_posts/{_cjk(rng, 8)}-{i}.md" if hexo else f"_posts/{when:%Y-%m-%d}-{slug}.md"
    cats: tuple[tuple[str, ...], ...] = ((rng.choice(HEXO_CATEGORIES),) if hexo else
                                         tuple((c,) for c in rng.sample(sorted(JEKYLL_CATEGORIES), rng.randint(1, 2))))
    digest = hashlib.blake2b(i.to_bytes(4, "big"), digest_size=16).hexdigest()
    return Article(
        source=source, id=f"tag:news.example.org,{when.date()}:/{when:%Y/%m/%d}/{slug}/",
        title=_cjk(rng, rng.randint(12, 32)), url=f"https://news.example.org/{when:%Y/%m/%d}/{slug}/",
        published_at=when, updated_at=when if rng.random() < 0.8 else when + timedelta(days=rng.randint(1, 30)),
        categories=cats, tags=tuple(rng.sample(TAGS, rng.randint(0, 4))),
        author=rng.choice(["", "王伟", "李娜"]) if hexo else "",
        summary=_cjk(rng, rng.randint(40, 90)) if rng.random() < 0.3 else "",
        image_url=f"https://img.example.com/qupost/img/{when:%Y/%m/%d}/{digest}.jpeg" if rng.random() < 0.6 else None,
        content_hash=digest, uid=f"{rng.getrandbits(32):08x}" if hexo and rng.random() < 0.5 else "",
        body_format="html" if hexo else "markdown")


def make_state(n: int, seed: int = 1) -> State:
    rng = random.Random(seed)
    state = State(meta={"initialized_at": (NOW - timedelta(days=400)).isoformat()})
    for i in range(n):
        a = _article(rng, i)
        # the record exactly as the scanner stores it
        state.articles[a.source] = {"mtime_ns": 1_700_000_000_000_000_000 + rng.getrandbits(40),
                                    "size": rng.randint(3000, 7000), "hash": a.content_hash, "id": a.id,
                                    "article": article_to_record(a)}
        if i % 10:
            post = _new_record(a, "seen", NOW, BASELINE_REASON)  # the first run's baseline
        else:  # queued, then sent, as the drain finishes it
            post = _new_record(a, "pending", NOW)
            post.pop("action")
            post.update(status="sent", message_id=10_000 + i, chat_id=-1001234567890,
                        file_id=f"AgACAgUAAxkDAAIB{a.content_hash}AAQ", has_photo=a.image_url is not None,
                        posted_hash=a.content_hash[:20], attempts=0, sent_at=NOW.isoformat())
            if a.image_url:
                post["photo_url"] = a.image_url
        state.posts[a.id] = post
    return state


def cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, CPU s, result): CPU time is what the target is about (wall swings with machine load)."""
    wall, proc = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - proc, result


def measure(state: State, folder: Path, repeat: int) -> dict[str, float]:
    with StateStore(folder) as first:
        first.save(state)
    rows: list[dict[str, float]] = []
    for r in range(repeat):
        store = StateStore(folder)
        _, load_cpu, loaded = cpu(store.load)
        files = sorted(folder.glob("*.json.zst"))
        before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in files}
        _, noop_cpu, wrote = cpu(partial(store.save, loaded))
        noop_bytes = sum(p.stat().st_size for p in files if (p.stat().st_mtime_ns, p.stat().st_ino) != before[p])
        ids = list(loaded.posts)[:PER_POST_SAVES]
        posts_ms, posts_cpu_ms = [], []
        for j, article_id in enumerate(ids):  # the drain: one record changes, the posts document is saved
            loaded.posts[article_id]["attempts"] = r * 100 + j + 1
            wall, proc, _ = cpu(partial(store.save, loaded, parts=("posts",)))
            posts_ms.append(wall * 1000)
            posts_cpu_ms.append(proc * 1000)
        # a scan that changed one article: the Engine swaps in a new dict (built outside the timing)
        articles = {k: dict(v) for k, v in loaded.articles.items()}
        key = next(iter(articles))
        articles[key] = {**articles[key], "size": articles[key]["size"] + 1, "hash": f"{r:032x}"}
        loaded.articles = articles
        save_wall, save_cpu, _ = cpu(partial(store.save, loaded))
        store.release()
        rows.append({"load": load_cpu, "save": save_cpu, "save_wall": save_wall, "both": load_cpu + save_cpu,
                     "noop": noop_cpu, "noop_bytes": float(noop_bytes if wrote else 0),
                     "post_ms": statistics.median(posts_ms), "post_cpu_ms": statistics.median(posts_cpu_ms)})
    result = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
    result["posts_mb"] = (folder / "state.json.zst").stat().st_size / 1e6
    result["scan_mb"] = (folder / "scan.json.zst").stat().st_size / 1e6
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("## State store (`bench/bench_state.py`)\n")
    print("| articles | load CPU s | save CPU s (scan changed 1 article) | load + save CPU s | no-change save CPU s "
          "| bytes written by no-change save | post save ms (wall / CPU) | posts file MB | scan file MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        for n in args.sizes:
            m = measure(make_state(n), Path(tmp) / f"state-{n}", args.repeat)
            print(f"| {n:,} | {m['load']:.3f} | {m['save']:.3f} | {m['both']:.3f} | {m['noop']:.4f} "
                  f"| {m['noop_bytes']:.0f} | {m['post_ms']:.1f} / {m['post_cpu_ms']:.1f} | {m['posts_mb']:.1f} "
                  f"| {m['scan_mb']:.1f} |")
    print(f"\nmedian of {args.repeat} runs ({PER_POST_SAVES} post saves each); targets at 100,000: load + save <= 1 s CPU, "
          "files <= 40 MB, 0 bytes written by a no-change save, a post save of a few ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
