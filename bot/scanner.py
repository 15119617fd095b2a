"""Incremental scan of the articles folder into ``State.articles`` (edge: reads the disk).

A file whose ``stat`` (mtime_ns, size) matches its record is not read. A changed file is
read and hashed; if the hash is the same only the stat is refreshed, else it is parsed
again. Deleted files are dropped. Nothing is saved here: ``scan`` mutates the in-memory
State and the caller saves once, so a crash mid-scan never writes a partial state.

Rules worth knowing:

* Ids are fixed at first sight (``tag:<host>,<date>:<uid or URL path>``) and never change
  for that file. A file that disappears while one with the same content hash, uid or URL
  appears in the same scan is a rename: it keeps its id and is reported in ``renamed``.
* Two files with one permalink: the one already known keeps it (on a cold scan, the first
  by sorted path); the other is reported bad naming the first, and is read again when
  the first changes or goes.
* A known article whose new version is bad (broken YAML, unreadable date...) keeps its
  last good record, so a typo does not unpublish it; it is reported bad until fixed.
* A file renamed and broken in one save cannot be matched while it is unreadable: the old
  record is reported deleted but kept aside (``meta["scan_vanished"]``) for the unknown files
  that were unreadable then, and while they stay so; once one of them reads, it is matched
  to that record like a rename and keeps its id (it is not a new article to post again).
* Drafts are not articles (unless ``drafts`` is on): skipped, remembered by stat in
  ``meta["scan_skipped"]`` so they are not re-read; a published article that becomes a
  draft counts as deleted.
* ``held`` lists every recorded article dated after ``now``, at every scan (a new
  future-dated article is in both ``new`` and ``held``).
* Changing a setting that affects parsing (site URL, time zone, permalink...) re-reads
  every file once; ids stay.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.errors import ScanError
from bot.models import Article, BadFile, ScanReport
from bot.records import (SETTINGS_KEY, VANISHED_KEY, RenameIndex, UrlClaims, article_from_record, article_to_record,
                         current_articles, keep_vanished, new_id, revive_vanished)
from bot.sourcefiles import Job, read_files
from bot.state import State

__all__ = ["scan", "bad_files", "article_to_record", "article_from_record", "current_articles", "new_id"]

logger = logging.getLogger(__name__)

SKIPPED_KEY = "scan_skipped"
_BACKUP_SUFFIXES = ("~", ".swp", ".swo", ".swx", ".bak", ".tmp", ".orig", ".rej", ".part", ".crdownload")
_BACKUP_PREFIXES = (".", "#", "~$")
# Jekyll, Hexo and Hugo skip "_name" files and folders (_site, _layouts, Hugo's _index.md list
# pages) except the posts folder itself, and _drafts when drafts are on.
_KEPT_UNDERSCORE_DIRS = ("_posts",)
_FUTURE_MTIME_S = 60.0
_PARSE_SETTINGS = ("articles_dir", "site_url", "permalink", "category_style", "timezone", "image_keys", "drafts", "max_file_bytes")


@dataclasses.dataclass
class _Found:
    path: str
    mtime_ns: int
    size: int


@dataclasses.dataclass
class _Outcome:
    """What the scan decided, gathered before ``ScanReport`` is frozen."""

    new: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)
    renamed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    vanished: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # records of deleted files


def scan(settings: Settings, state: State, now: datetime, *,
         progress: Callable[[int, int], None] | None = None) -> ScanReport:
    """Bring ``state.articles``/``state.bad`` up to date with the folder; report what moved."""
    fingerprint = repr([getattr(settings, k) for k in _PARSE_SETTINGS])
    reread_all = state.meta.get(SETTINGS_KEY) != fingerprint
    skipped: dict[str, list[int]] = state.meta.setdefault(SKIPPED_KEY, {})
    found, settling, unlisted = _walk(settings, now.timestamp())
    if state.articles and not found and not settling:
        raise ScanError(
            f"articles folder {settings.articles_dir} is {'unreadable' if unlisted else 'empty'}; refusing to treat "
            f"{len(state.articles)} known articles as deleted (if they really are gone, run "
            "`newsbot state reset --baseline`)")
    out = _Outcome()
    todo = _changed_files(state, skipped, found, reread_all, out)
    parsed = _read_all(todo, found, state, settings, reread_all, out, progress)
    gone = [rel for rel in state.articles
            if rel not in found and rel not in settling and not rel.startswith(unlisted)]
    _apply(parsed, gone, state, settings, out)
    for rel in [r for r in state.bad if r not in found]:
        del state.bad[rel]
    keep_vanished(state, out.vanished)
    for rel in [r for r in skipped if r not in found]:
        del skipped[rel]
    state.meta[SETTINGS_KEY] = fingerprint
    held = sorted(rel for rel, rec in state.articles.items()
                  if datetime.fromisoformat(rec["article"]["published_at"]) > now)
    report = ScanReport(
        new=tuple(sorted(out.new)), changed=tuple(sorted(out.changed)), deleted=tuple(sorted(out.deleted)),
        held=tuple(held), renamed=tuple(sorted(out.renamed)), unchanged=out.unchanged, settling=tuple(sorted(settling)),
        bad=tuple(bad_files(state)),
    )
    level = logging.DEBUG if report.is_noop else logging.INFO
    logger.log(level, "scan: %d new, %d changed, %d deleted, %d renamed, %d held, %d bad, %d unchanged, %d settling",
               len(report.new), len(report.changed), len(report.deleted), len(report.renamed),
               len(report.held), len(report.bad), report.unchanged, len(settling))
    return report


def _walk(settings: Settings, now_ts: float) -> tuple[dict[str, _Found], set[str], tuple[str, ...]]:
    """Article files by relative POSIX path, the ones too fresh to read yet, and the relative
    prefixes of folders that could not be listed (their files are not taken as deleted)."""
    root = settings.articles_dir
    if not root.is_dir():
        raise ScanError(f"articles folder {root} does not exist or is not a folder")
    include = re.compile("|".join(fnmatch.translate(p) for p in settings.include), re.I)
    excluded = [re.compile(fnmatch.translate(p)) for p in settings.exclude]
    kept_dirs = _KEPT_UNDERSCORE_DIRS + (("_drafts",) if settings.drafts else ())
    found: dict[str, _Found] = {}
    settling: set[str] = set()
    unlisted: list[str] = []
    unmatched: list[str] = []
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        entries = _list(folder)
        if entries is None:
            unlisted.append(prefix)
            continue
        for entry in entries:
            name = entry.name
            rel = prefix + name
            if name.startswith(_BACKUP_PREFIXES) or any(p.match(rel) for p in excluded):
                continue
            if entry.is_dir(follow_symlinks=False):
                if not name.startswith("_") or name in kept_dirs:
                    stack.append((entry.path, rel + "/"))
                continue
            if name.startswith("_") or name.endswith(_BACKUP_SUFFIXES):
                continue
            if not include.match(name):
                unmatched.append(rel)
                continue
            try:
                st = entry.stat()
            except OSError:
                continue  # vanished or a broken link
            rel = _json_safe(rel)
            age_s = now_ts - st.st_mtime
            if -_FUTURE_MTIME_S < age_s < settings.settle_s:
                settling.add(rel)
            else:
                found[rel] = _Found(entry.path, st.st_mtime_ns, st.st_size)
    if not found and not settling and unmatched:
        logger.warning("%s has %d files but none matches the article patterns (include = %s), e.g. %s",
                       root, len(unmatched), ", ".join(settings.include), unmatched[0])
    return found, settling, tuple(unlisted)


def _list(folder: str) -> list[os.DirEntry[str]] | None:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        logger.warning("Cannot list %s: %s", folder, exc.strerror)
        return None


def _json_safe(rel: str) -> str:
    """A file name that is not valid UTF-8 gets a readable, JSON-storable key (\\xff escapes)."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return rel


def _same_stat(rec: dict[str, Any] | list[int] | None, f: _Found) -> bool:
    if isinstance(rec, list):
        return rec == [f.mtime_ns, f.size]
    return rec is not None and rec["mtime_ns"] == f.mtime_ns and rec["size"] == f.size


def _changed_files(state: State, skipped: dict[str, list[int]], found: dict[str, _Found],
                   reread_all: bool, out: _Outcome) -> list[str]:
    """Paths whose stat differs from what the state remembers (all of them after a settings change)."""
    todo = []
    for rel, f in found.items():
        bad = state.bad.get(rel)
        if not reread_all and (_same_stat(bad, f) if bad else
                               _same_stat(state.articles.get(rel), f) or _same_stat(skipped.get(rel), f)):
            out.unchanged += 1
        else:
            todo.append(rel)
    pending = set(todo)
    for rel, bad in state.bad.items():  # a duplicate is retried when the file it clashed with moves
        other = bad.get("dup_of")
        if other and rel in found and rel not in pending and (other not in found or other in pending):
            todo.append(rel)
            out.unchanged -= 1
    return sorted(todo)


def _read_all(todo: list[str], found: dict[str, _Found], state: State, settings: Settings,
              force: bool, out: _Outcome, progress: Callable[[int, int], None] | None,
              ) -> dict[str, tuple[_Found, Article]]:
    skipped: dict[str, list[int]] = state.meta[SKIPPED_KEY]
    parsed: dict[str, tuple[_Found, Article]] = {}
    jobs = [Job(rel, found[rel].path, found[rel].mtime_ns, found[rel].size,
                None if force or rel not in state.articles else state.articles[rel]["hash"]) for rel in todo]
    for i, outcome in enumerate(read_files(jobs, settings), 1):
        if progress is not None:
            progress(i, len(jobs))
        rel, article, f = outcome.rel, outcome.article, found[outcome.rel]
        if outcome.reason:
            _mark_bad(state, rel, f, outcome.reason)
            skipped.pop(rel, None)
        elif article is None:  # same bytes as recorded: refresh the stat only
            state.articles[rel].update(mtime_ns=f.mtime_ns, size=f.size)
            state.bad.pop(rel, None)
            out.unchanged += 1
        elif article.is_draft and not settings.drafts:
            skipped[rel] = [f.mtime_ns, f.size]
            state.bad.pop(rel, None)
            if state.articles.pop(rel, None) is not None:
                out.deleted.append(rel)
            logger.debug("Skipping draft %s", rel)
        else:
            skipped.pop(rel, None)
            parsed[rel] = (f, article)
    return parsed


def _mark_bad(state: State, rel: str, f: _Found, reason: str, dup_of: str = "") -> None:
    previous = state.bad.get(rel)
    if previous is None or previous["reason"] != reason:
        logger.warning("Could not process %s: %s", rel, reason)
    state.bad[rel] = {"reason": reason, "mtime_ns": f.mtime_ns, "size": f.size, **({"dup_of": dup_of} if dup_of else {})}


def _apply(parsed: dict[str, tuple[_Found, Article]], gone: list[str], state: State,
           settings: Settings, out: _Outcome) -> None:
    """Record parsed articles: keep ids, detect renames and permalink clashes, drop the gone."""
    gone_set = set(gone)
    claims = UrlClaims(state, parsed, gone_set)
    renames = RenameIndex({rel: state.articles[rel] for rel in gone})
    ids: set[str] = set()
    for rel in sorted(parsed, key=lambda r: (claims.rank(r, parsed[r][1].url), r)):
        f, article = parsed[rel]
        other = claims.owner(article.url) if claims.rank(rel, article.url) else None
        if other is not None and other != rel:
            _mark_bad(state, rel, f, f"same permalink {article.url} as {other}", dup_of=other)
            continue
        old = state.articles.get(rel)
        is_known = old is not None
        if old is None and (old_rel := renames.match(article)) is not None:
            old = state.articles.pop(old_rel)
            gone_set.discard(old_rel)
            out.renamed.append((old_rel, rel))
        elif old is None and (old_rel := revive_vanished(state, rel, article)) is not None:
            old = state.meta[VANISHED_KEY].pop(old_rel)["record"]  # gone while this file was unreadable
            out.renamed.append((old_rel, rel))
        elif old is None:
            ids = ids or {rec["id"] for rec in state.articles.values()}
            out.new.append(rel)
        record = article_to_record(article)
        article_id = old["id"] if old else new_id(article, settings, ids)
        ids.add(article_id)
        if old is not None and is_known:
            if old["hash"] != article.content_hash or old["article"] != record:
                out.changed.append(rel)
            else:
                out.unchanged += 1
        claims.claim(article.url, rel)
        state.articles[rel] = {"mtime_ns": f.mtime_ns, "size": f.size, "hash": article.content_hash,
                               "id": article_id, "article": record}
        state.bad.pop(rel, None)
    for rel in sorted(gone_set):
        out.vanished[rel] = state.articles.pop(rel)
        out.deleted.append(rel)


def bad_files(state: State) -> list[BadFile]:
    """Every file the last scans could not use, with why, by path (for ``status`` and /status)."""
    return [BadFile(rel, rec["reason"]) for rel, rec in sorted(state.bad.items())]
