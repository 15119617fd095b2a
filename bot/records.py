"""Articles as JSON records in the state, their stable ids, and indexes over them (pure + one cache).

``current_articles`` keeps a private cache of decoded Articles keyed by (source, hash, id,
settings fingerprint): a record only changes when its file's bytes or the parse settings
change, so over 100k records a call costs dictionary look-ups, not object rebuilds. The
cache is pruned to the live set on each call, so it never outgrows the state.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bot.config import Settings
from bot.models import Article
from bot.state import State

SETTINGS_KEY = "scan_settings"  # meta key: fingerprint of the settings the records were parsed with
_decoded: dict[tuple[str, str, str, str], Article] = {}


@functools.lru_cache(maxsize=8)
def _host(site_url: str) -> str:
    return urlsplit(site_url).hostname or "localhost"


def new_id(article: Article, settings: Settings, taken: set[str]) -> str:
    """A valid RFC 4151 tag URI: ``tag:<host>,<published date>:<uid or URL path>``, unique in ``taken``."""
    host = _host(settings.site_url)
    after_host = article.url.partition("://")[2].partition("#")[0]
    path = after_host[after_host.find("/"):] if "/" in after_host else "/"
    keys = [quote(article.uid, safe="-._~!$&'()*+,;=:@/")] if article.uid else []
    keys += [path, "/" + quote(article.source, safe="/")]
    for key in keys:
        candidate = f"tag:{host},{article.published_at.date().isoformat()}:{key}"
        if candidate not in taken:
            return candidate
    n = 2
    while f"{candidate}~{n}" in taken:
        n += 1
    return f"{candidate}~{n}"


class UrlClaims:
    """Which file holds each URL. Known files keeping their URL go first and need no check, so
    a scan that only edits files never builds the index (cost follows what changed)."""

    def __init__(self, state: State, parsed: Mapping[str, object], gone: set[str]) -> None:
        self._state, self._parsed, self._gone = state, parsed, gone
        self._owners: dict[str, str] | None = None
        self._done: set[str] = set()

    def rank(self, rel: str, url: str) -> int:
        """0: known, same URL as recorded; 1: known, URL changed; 2: a file not seen before."""
        old = self._state.articles.get(rel)
        return 2 if old is None or rel in self._gone else 0 if old["article"]["url"] == url else 1

    def owner(self, url: str) -> str | None:
        if self._owners is None:
            self._owners = {rec["article"]["url"]: rel for rel, rec in self._state.articles.items()
                            if rel not in self._gone and (rel not in self._parsed or rel in self._done)}
        return self._owners.get(url)

    def claim(self, url: str, rel: str) -> None:
        self._done.add(rel)
        if self._owners is not None:
            self._owners[url] = rel


class RenameIndex:
    """Records of files gone in this scan, by content hash, uid, URL, then (date, title), in
    that order of trust. The last catches a rename made together with an edit (new slug, fixed
    typo): the same title at the same second is the same article, not a new one to post."""

    def __init__(self, records: Mapping[str, dict[str, Any]]) -> None:
        """``records``: a name for each candidate (its old path) -> its record."""
        self._by: list[dict[str, str]] = [{}, {}, {}, {}]
        for rel in sorted(records):
            rec = records[rel]
            art = rec["article"]
            keys = (rec["hash"], art.get("uid", ""), art["url"], f"{art['published_at']}|{art['title']}")
            for index, key in zip(self._by, keys, strict=True):
                if key:
                    index.setdefault(key, rel)
        self._taken: set[str] = set()

    def match(self, article: Article) -> str | None:
        keys = (article.content_hash, article.uid, article.url, f"{article.published_at.isoformat()}|{article.title}")
        for index, key in zip(self._by, keys, strict=True):
            rel = index.get(key) if key else None
            if rel is not None and rel not in self._taken:
                self._taken.add(rel)
                return rel
        return None


VANISHED_KEY = "scan_vanished"  # old path -> record, for files gone while unknown files were bad
VANISHED_MAX = 1000


def keep_vanished(state: State, vanished: dict[str, dict[str, Any]]) -> None:
    """Keep the records of deleted files aside for the unknown files that are unreadable now.

    One of those may be a deleted file renamed and broken in the same save; once it reads,
    ``revive_vanished`` matches it to its record. A record is dropped when none of the files
    it was kept for is still unreadable, so a plain deletion keeps nothing.
    """
    unreadable = sorted(rel for rel in state.bad if rel not in state.articles)
    kept: dict[str, dict[str, Any]] = state.meta.get(VANISHED_KEY) or {}
    still = set(unreadable)
    for rel, entry in list(kept.items()):
        entry["for"] = [r for r in entry.get("for", ()) if r in still]
        if not entry["for"]:
            del kept[rel]
    if unreadable:
        kept.update({rel: {"record": rec, "for": unreadable} for rel, rec in vanished.items()})
    for rel in list(kept)[:max(0, len(kept) - VANISHED_MAX)]:  # the oldest first
        del kept[rel]
    if kept:
        state.meta[VANISHED_KEY] = kept
    else:
        state.meta.pop(VANISHED_KEY, None)


def revive_vanished(state: State, rel: str, article: Article) -> str | None:
    """The old path of a record kept aside for ``rel`` that ``article`` matches, if any."""
    kept: dict[str, dict[str, Any]] = state.meta.get(VANISHED_KEY) or {}
    candidates = {old: entry["record"] for old, entry in kept.items() if rel in entry.get("for", ())}
    return RenameIndex(candidates).match(article) if candidates else None


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Article) if f.default is not dataclasses.MISSING}


_OUTER = ("content_hash",)  # kept in the outer record (``hash``), like ``source`` (the key) and ``id``


def article_to_record(a: Article) -> dict[str, Any]:
    """Article -> plain JSON dict, as small as it can be: fields at their default are left out,
    and so are ``source``, ``id`` and ``content_hash``, which the record around it holds."""
    record: dict[str, Any] = {"title": a.title, "url": a.url, "published_at": a.published_at.isoformat()}
    if a.updated_at != a.published_at:
        record["updated_at"] = a.updated_at.isoformat()
    for name, default in _DEFAULTS.items():
        if name in _OUTER:
            continue
        value = getattr(a, name)
        if value != default:
            record[name] = [list(p) for p in value] if name == "categories" else list(value) if name == "tags" else value
    return record


def article_from_record(d: dict[str, Any], source: str | None = None, *, id: str | None = None,
                        content_hash: str | None = None) -> Article:
    """The inverse of ``article_to_record``; the outer record gives ``source``, ``id`` and
    ``content_hash`` (records of state version 1 also held them inside)."""
    published_at = datetime.fromisoformat(d["published_at"])
    extra = {k: d[k] for k in _DEFAULTS if k in d}
    extra["categories"] = tuple(tuple(p) for p in d.get("categories", ()))
    extra["tags"] = tuple(d.get("tags", ()))
    extra["content_hash"] = content_hash if content_hash is not None else d.get("content_hash", "")
    return Article(source=source if source is not None else d["source"], id=id if id is not None else d["id"],
                   title=d["title"], url=d["url"], published_at=published_at,
                   updated_at=datetime.fromisoformat(d["updated_at"]) if "updated_at" in d else published_at,
                   **extra)


def current_articles(state: State, now: datetime | None = None) -> list[Article]:
    """Every recorded article (only those published by ``now`` if given), newest first.

    Decoded Articles are cached (see the module docstring), so calling this on every tick over
    100k records costs dictionary look-ups, not 100k object rebuilds.
    """
    fingerprint = str(state.meta.get(SETTINGS_KEY, ""))
    live: dict[tuple[str, str, str, str], Article] = {}
    for rel, rec in state.articles.items():
        key = (rel, rec["hash"], rec["id"], fingerprint)
        article = _decoded.get(key)
        live[key] = article if article is not None else article_from_record(rec["article"], rel, id=rec["id"],
                                                                                content_hash=rec["hash"])
    _decoded.clear()
    _decoded.update(live)
    articles = [a for a in live.values() if now is None or a.published_at <= now]
    articles.sort(key=lambda a: (a.published_at, a.source), reverse=True)
    return articles
