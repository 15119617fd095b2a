"""The engine: read -> plan -> write feeds -> publish -> save, shared by every verb and the bot.

Concurrency rule for ``newsbot run``: the scan cache (``state.articles``, ``state.bad``,
``state.feeds``) is written only by the scan worker thread, on a private copy swapped in when
the scan is done; posts, queue and meta are written on the event loop. The loop reads articles
through ``Catalog``, an immutable snapshot swapped in after each scan, so a 100,000-article scan
never blocks or races a command, and a scan cut short at shutdown changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import feedwriter, markup, messages, postqueue, reader, scanner
from bot.config import Settings
from bot.errors import NewsbotError
from bot.models import Article, Post, ScanReport
from bot.state import State, StateStore

logger = logging.getLogger(__name__)
_MISSING = object()


TEXT_CACHE_SIZE = 64  # rendered post texts kept: a queue drains a few at a time


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Catalog:
    """Immutable view of the current articles, safe to read from any thread."""

    articles: tuple[Article, ...] = ()  # newest first
    by_id: dict[str, Article] = field(default_factory=dict)
    by_source: dict[str, Article] = field(default_factory=dict)

    @classmethod
    def of(cls, articles: Sequence[Article]) -> Catalog:
        ordered = tuple(sorted(articles, key=lambda a: (a.published_at, a.source), reverse=True))
        return cls(ordered, {a.id: a for a in ordered}, {a.source: a for a in ordered})

    def categories(self) -> Counter[str]:
        return Counter("/".join(path) for a in self.articles for path in a.categories)

    def id_of(self, key: str) -> str:
        """The stable id an admin meant by ``key`` (an id, a path or a URL), else ``key`` itself:
        post records outlive their articles, so an unknown key may still name a record."""
        article = self.find(key)
        return article.id if article else key

    def find(self, key: str) -> Article | None:
        """By stable id, by source path, or by URL."""
        key = key.strip()
        found = self.by_id.get(key) or self.by_source.get(key)
        if found is None:
            found = next((a for a in self.articles if a.url == key), None)
        return found


@dataclass(frozen=True)
class CycleReport:
    """One scan + feed build."""

    scan: ScanReport
    feeds_written: int
    feeds_removed: int
    finished_at: datetime
    seconds: float


class Engine:
    """Owns the settings, the state and the catalog for one state folder."""

    def __init__(self, settings: Settings, store: StateStore, state: State) -> None:
        self.settings = settings
        self.store = store
        self.state = state
        self.catalog = Catalog.of(scanner.current_articles(state)) if state.articles else Catalog()
        self.last_cycle: CycleReport | None = None
        self._texts: dict[tuple[str, str], str] = {}
        self._scan_lock = threading.Lock()
        self._state_lock = threading.Lock()  # held briefly: a scan's swap-in, a save's serialisation

    # --- scanning and feeds (worker thread in `run`) ------------------------------------
    def scan_and_build(self, now: datetime | None = None, *, progress: Callable[[int, int], None] | None = None) -> CycleReport:
        """Scan the folder, refresh the catalog, write the feeds that changed, save the scan document.

        The scan works on a copy of the scan sections and swaps it in at the end, under
        ``_state_lock``: a loop-side ``save`` never serialises a half-updated dict, and a scan
        aborted by ``progress`` raising (shutdown) leaves the state as it was. The scan document
        is saved here, in the scan's thread and before anything is planned from it (the crash
        rule in ``bot.state``); a scan that changed nothing writes nothing.
        """
        with self._scan_lock:  # at most one scan at a time
            started = utcnow()
            now = now or started
            work, base_meta = self._working_copy()
            report = scanner.scan(self.settings, work, now, progress=progress)
            catalog = Catalog.of(scanner.current_articles(work))
            feeds = feedwriter.write_feeds(self.settings, catalog.articles, work, now, self.load_body)
            work.meta["last_scan_at"] = now.isoformat()
            self._commit(work, base_meta)
            self.catalog = catalog
            self.save_scan()
            finished = utcnow()
            cycle = CycleReport(report, len(feeds.written), len(feeds.removed), finished,
                                (finished - started).total_seconds())
            self.last_cycle = cycle
            _log_scan(cycle)
            return cycle

    def _working_copy(self) -> tuple[State, dict[str, Any]]:
        """Private copies of what a scan writes (posts and queue are shared: a scan never writes them)."""
        s = self.state
        with self._state_lock:
            meta_json = json.dumps(s.meta)  # the C encoder reads it in one step, whatever the loop does
            work = State(articles={k: dict(v) for k, v in s.articles.items()}, posts=s.posts, queue=s.queue,
                         bad={k: dict(v) for k, v in s.bad.items()}, feeds=dict(s.feeds), meta=json.loads(meta_json))
            return work, json.loads(meta_json)

    def _commit(self, work: State, base_meta: dict[str, Any]) -> None:
        """Swap the scan's results in; only the meta keys the scan changed are written back."""
        with self._state_lock:
            self.state.articles, self.state.bad, self.state.feeds = work.articles, work.bad, work.feeds
            for key, value in work.meta.items():
                if base_meta.get(key, _MISSING) != value:
                    self.state.meta[key] = value

    @property
    def scan_running(self) -> bool:
        return self._scan_lock.locked()

    def load_body(self, article: Article) -> str:
        """Raw body text of an article, re-read from its file."""
        return reader.read_body((self.settings.articles_dir / article.source).read_bytes())

    def body_text(self, article: Article) -> str:
        """The article's text as a reader of the channel post sees it (kept for the last few posts)."""
        key = (article.id, article.content_hash)
        text = self._texts.get(key)
        if text is None:
            html = markup.render_body(self.load_body(article), article.body_format, article.url)
            text = self._texts[key] = markup.reading_text(html)
            while len(self._texts) > TEXT_CACHE_SIZE:
                del self._texts[next(iter(self._texts))]
        return text

    # --- posting (event loop) -----------------------------------------------------------
    def plan(self, report: ScanReport, now: datetime | None = None, *, backfill: int | None = None) -> list[str]:
        """Queue what became due; on a first run, record a baseline instead."""
        n = self.settings.backfill if backfill is None else backfill
        return postqueue.plan_posts(self.state, self.catalog.articles, report, self.settings,
                                    now or utcnow(), backfill=n)

    def render(self, article_id: str) -> Post | None:
        """The exact channel post for an article, or None if it no longer exists.

        A body that cannot be read now (the file vanished, or an edit broke it) never blocks
        the queue: the post is made from what the scan recorded (title, summary, image, link).
        """
        article = self.catalog.by_id.get(article_id)
        if article is None:
            return None
        try:
            text = self.body_text(article)
        except (OSError, NewsbotError) as exc:
            logger.warning("Could not read the body of %s for its post (%s); posting from its front matter",
                           article.source, getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc)
            text = ""
        return messages.render_post(article, text, self.settings)

    async def drain(self, publisher: postqueue.Publisher, *, alert: Callable[[str, str], Awaitable[None]],
                    sleep: Callable[[float], Awaitable[None]], stop: object = None) -> postqueue.DrainReport:
        return await postqueue.drain(self.state, self._save_now, publisher, self.render, self.settings,
                                     now=utcnow, sleep=sleep, alert=alert, stop=stop)  # type: ignore[arg-type]

    def _save_now(self) -> None:
        """The drain's save, around each channel post: the small posts document only."""
        with self._state_lock:
            self.store.save(self.state, parts=("posts",))

    def save(self) -> bool:
        """Write what changed; safe from the loop while a scan runs in its thread.

        The scan document is the scan thread's to write (``scan_and_build``), so while a scan
        runs this writes the posts document only and never waits for the articles' encoding.
        """
        wrote = False if self.scan_running else self.save_scan()
        with self._state_lock:
            return self.store.save(self.state, parts=("posts",)) or wrote

    def save_scan(self) -> bool:
        """Write the scan document if the articles, bad files, feeds or scan meta changed.

        Encoded outside ``_state_lock``: those sections are only ever replaced (under the lock),
        never changed in place, so the loop keeps answering and saving posts meanwhile.
        """
        if not self.store.path.exists():  # the first save of a folder: the posts document goes first
            with self._state_lock:
                self.store.save(self.state, parts=("posts",))
        return self.store.save(self.state, parts=("scan",))


def _log_scan(cycle: CycleReport) -> None:
    r = cycle.scan
    logger.info(
        "Scan done in %.2fs: %d new, %d changed, %d deleted, %d renamed, %d held, %d bad, %d unchanged; "
        "%d feed files written, %d removed",
        cycle.seconds, len(r.new), len(r.changed), len(r.deleted), len(r.renamed), len(r.held), len(r.bad),
        r.unchanged, cycle.feeds_written, cycle.feeds_removed,
    )
    for bad in r.bad:
        logger.warning("Could not process %s: %s", bad.source, bad.reason)


def open_engine(settings: Settings) -> tuple[Engine, StateStore]:
    """Lock the state folder and load it (recovering from the backup if needed)."""
    store = StateStore(Path(settings.state_dir))
    store.acquire()
    try:
        state = store.load()
    except BaseException:
        store.release()
        raise
    return Engine(settings, store, state), store
