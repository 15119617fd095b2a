"""Write the planned feeds to ``feeds_dir``: only what changed, atomically, never outside it.

Readers poll with If-Modified-Since / If-None-Match, and static hosts derive both from the
file's mtime and size, so a rewritten but identical file costs every subscriber a full
download (FEEDS.md section 6.2). Hence: a feed is rebuilt only when the fingerprint of its inputs
changed (or its file is missing), written only when its bytes changed, and always through a
temporary file in the same folder and ``os.replace`` so a reader never sees half a feed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from bot import feeddates
from bot.config import Settings
from bot.feedindex import FeedLink, build_index_html, build_opml
from bot.feedplan import STYLESHEET, FeedPlan, PlannedFeed, plan_feeds
from bot.feedrender import Failure, Outcome, RenderOptions, iter_entries
from bot.feeds import Entry, EntryCache, build_atom, build_rss, default_author
from bot.jsonfeed import build_json
from bot.models import Article
from bot.state import State

logger = logging.getLogger(__name__)

INDEX_HTML = "index.html"
INDEX_OPML = "index.opml"
EXTRA_FILES = (INDEX_HTML, INDEX_OPML, STYLESHEET)
SLUGS_META_KEY = "feed_slugs"
BUILDERS = {"atom": build_atom, "rss": build_rss, "json": build_json}


@dataclass
class FeedReport:
    """What one feed run did. Paths are relative to feeds_dir."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (article source, reason)


class UnsafePathError(ValueError):
    """A computed output path would land outside feeds_dir."""


def safe_path(root: Path, rel: str) -> Path:
    """``root/rel`` resolved, refusing anything (``..``, absolute, symlinks) that leaves root."""
    base = root.resolve()
    target = (base / rel).resolve()
    if target == base or not target.is_relative_to(base):
        raise UnsafePathError(f"{rel!r} is outside {root}")
    return target


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except (FileNotFoundError, NotADirectoryError):
        return False


def _stage(path: Path, data: bytes, *, durable: bool) -> str:
    """Write ``data`` to a new temp file beside ``path``; return the temp file's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; web servers must read feeds
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


_STAGED = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # what _stage's mkstemp names look like


def sweep_staged(root: Path) -> int:
    """Remove temp files a killed build left behind (they would be published with feeds/).

    Callers hold the state lock, so no other newsbot is staging into ``root`` right now.
    """
    removed = 0
    if not root.is_dir():
        return 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if _STAGED.match(name):
                path = Path(dirpath, name)
                if not path.is_symlink():
                    path.unlink(missing_ok=True)
                    removed += 1
    if removed:
        logger.info("Removed %d temporary file(s) left in %s by an interrupted build", removed, root)
    return removed


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically replace ``path`` with ``data`` (temp file, fsync, rename) unless it
    already holds exactly that; return whether it was written."""
    if _same_bytes(path, data):
        return False
    tmp = _stage(path, data, durable=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


class Batch:
    """Many atomic writes with one flush to disk: every changed file is staged as a temp file,
    the data is flushed (fsync each when few, one ``os.sync`` when many: 700 fsyncs cost
    seconds), then each temp file is renamed over its target. A crash leaves old or new
    files, never a torn one, and the caller saves state only after ``commit``."""

    FSYNC_EACH_UP_TO = 16

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staged: list[tuple[str, Path, str]] = []  # (rel, target, temp file)
        self.digests: dict[str, str] = {}  # rel -> feeddates.digest of the staged bytes

    def add(self, rel: str, data: bytes) -> bool:
        """Stage ``data`` for ``rel`` unless the file already holds it."""
        target = safe_path(self.root, rel)
        if _same_bytes(target, data):
            return False
        self.staged.append((rel, target, _stage(target, data, durable=False)))
        self.digests[rel] = feeddates.digest(data)
        return True

    def commit(self) -> list[str]:
        if len(self.staged) > self.FSYNC_EACH_UP_TO:
            os.sync()
        else:
            for _, _, tmp in self.staged:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        done = []
        try:
            for rel, target, tmp in self.staged:
                try:
                    os.replace(tmp, target)
                    done.append(rel)
                except OSError as exc:
                    logger.error("Could not write %s: %s", rel, exc)
        finally:
            self.abort()
        return done

    def abort(self) -> None:
        for _, _, tmp in self.staged:
            Path(tmp).unlink(missing_ok=True)
        self.staged.clear()


def _remove(root: Path, rel: str) -> bool:
    """Delete a feed file we wrote before, then the folders it leaves empty."""
    try:
        path = safe_path(root, rel)
        path.unlink(missing_ok=True)
    except (UnsafePathError, OSError) as exc:
        logger.warning("Could not remove old feed %s: %s", rel, exc)
        return False
    base = root.resolve()
    parent = path.parent
    while parent != base and parent.is_relative_to(base):
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return True


def _feed_links(feeds: Sequence[PlannedFeed]) -> list[FeedLink]:
    grouped: dict[tuple[str, str], list[PlannedFeed]] = {}
    for feed in feeds:
        grouped.setdefault((feed.kind, feed.name), []).append(feed)
    return [FeedLink(kind, name, members[0].spec.title, members[0].spec.alternate_url,
                     {f.fmt: f.spec.self_url for f in members})
            for (kind, name), members in grouped.items()]


def _extras(settings: Settings, plan: FeedPlan) -> dict[str, bytes]:
    links = _feed_links(plan.feeds)
    files = {INDEX_OPML: build_opml(settings.site_title, settings.language, links),
             INDEX_HTML: build_index_html(settings.site_title, settings.language, settings.site_url, links)}
    if settings.feed_stylesheet:
        files[STYLESHEET] = resources.files("bot").joinpath("assets", STYLESHEET).read_bytes()
    return files


def _stage_file(batch: Batch, rel: str, build: Callable[..., bytes], args: tuple[Any, ...],
                report: FeedReport) -> bool:
    """Build one file and stage it; False (logged) if it cannot be built or written."""
    try:
        if not batch.add(rel, build(*args)):
            report.unchanged += 1
    except (UnsafePathError, ValueError, TypeError, OSError) as exc:
        logger.error("Could not write %s: %s", rel, exc)
        return False
    return True


def _stage_feeds(batch: Batch, dirty: Sequence[PlannedFeed], outcomes: Iterable[Outcome], cache: EntryCache,
                 report: FeedReport, fingerprints: dict[str, str]) -> dict[str, Failure]:
    """Build and stage each feed as soon as all its entries are rendered (or failed), so
    building and writing overlap the workers' rendering of later entries; the failures."""
    entries: dict[str, Entry] = {}
    failures: dict[str, Failure] = {}

    def stage(feed: PlannedFeed) -> None:
        members = [entries[i] for i in feed.article_ids if i in entries]
        if _stage_file(batch, feed.path, BUILDERS[feed.fmt], (feed.spec, members, cache), report):
            complete = len(members) == len(feed.article_ids)
            fingerprints[feed.path] = feed.fingerprint if complete else ""  # "" retries next run

    waiting: dict[str, list[PlannedFeed]] = {}  # article id -> dirty feeds still without it
    missing: dict[str, int] = {}
    for feed in dirty:
        missing[feed.path] = len(set(feed.article_ids))
        for article_id in set(feed.article_ids):
            waiting.setdefault(article_id, []).append(feed)
        if not missing[feed.path]:
            stage(feed)
    for article_id, entry, failure in outcomes:
        if entry is not None:
            entries[article_id] = entry
        elif failure is not None:
            failures[article_id] = failure
        for feed in waiting.pop(article_id, ()):
            missing[feed.path] -= 1
            if not missing[feed.path]:
                stage(feed)
    for feed in {f.path: f for fs in waiting.values() for f in fs}.values():
        stage(feed)  # never reached by the renderer (cannot happen): still written, fingerprint ""
    return failures


def write_feeds(settings: Settings, articles: Sequence[Article], state: State, now: datetime,
                load_body: Callable[[Article], str]) -> FeedReport:
    """Bring ``feeds_dir`` up to date with ``articles``; record fingerprints in ``state.feeds``."""
    root = settings.feeds_dir
    report = FeedReport()
    sweep_staged(root)
    plan = plan_feeds(settings, articles, now, state.meta.get(SLUGS_META_KEY), reserved=EXTRA_FILES)
    for rel in plan.dropped:
        logger.warning("Two feeds map to %s (overlapping path patterns); only the first is written", rel)
    dirty = [f for f in plan.feeds if state.feeds.get(f.path) != f.fingerprint or not (root / f.path).is_file()]
    report.unchanged += len(plan.feeds) - len(dirty)
    by_id = {a.id: a for a in articles}
    needed = [by_id[i] for i in dict.fromkeys(i for f in dirty for i in f.article_ids)]
    options = RenderOptions(settings.feed_full_content, tuple(dict.fromkeys(f.fmt for f in dirty)),
                            tuple(sorted({default_author(f.spec) for f in dirty})))
    batch = Batch(root)
    fingerprints: dict[str, str] = {}  # recorded only once the file is really in place
    try:
        cache: EntryCache = {}
        failures = _stage_feeds(batch, dirty, iter_entries(needed, options, load_body, cache), cache, report,
                                fingerprints)
        report.skipped += [failures[a.id] for a in needed if a.id in failures]
        extras = _extras(settings, plan)
        for rel, data in extras.items():
            if _stage_file(batch, rel, lambda d: d, (data,), report):
                fingerprints[rel] = hashlib.sha1(data).hexdigest()
        rank = {rel: i for i, rel in enumerate([f.path for f in dirty] + list(extras))}
        batch.staged.sort(key=lambda item: rank[item[0]])  # report and rename in plan order
        staged = {rel for rel, _, _ in batch.staged}
        feeddates.date_staged(state.meta, ((rel, tmp, batch.digests[rel]) for rel, _, tmp in batch.staged))
        done = batch.commit()
    finally:
        batch.abort()
    report.written += done
    feeddates.record_dates(root, state.meta, ((rel, batch.digests[rel]) for rel in done))
    failed = staged - set(done)
    state.feeds.update({rel: fp for rel, fp in fingerprints.items() if rel not in failed})
    keep = {f.path for f in plan.feeds} | set(extras)
    for rel in sorted(set(state.feeds) - keep):
        if _remove(root, rel):
            report.removed.append(rel)
        del state.feeds[rel]
        feeddates.forget(state.meta, [rel])
    state.meta[SLUGS_META_KEY] = plan.slugs
    return report
