"""Articles as plain JSON records in the state, and their stable ids (pure, plus one cache).

``current_articles`` keeps a private cache of decoded Articles keyed by (source, hash, id,
settings fingerprint): a record only changes when its file's bytes or the parse settings
change, so over 100k records a call costs dictionary look-ups, not object rebuilds. The
cache is pruned to the live set on each call, so it never outgrows the state.
"""

from __future__ import annotations

import dataclasses
import functools
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


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Article) if f.default is not dataclasses.MISSING}


def article_to_record(a: Article) -> dict[str, Any]:
    """Article -> plain JSON dict; fields at their default are left out to keep the state small."""
    record: dict[str, Any] = {"source": a.source, "id": a.id, "title": a.title, "url": a.url,
                              "published_at": a.published_at.isoformat()}
    if a.updated_at != a.published_at:
        record["updated_at"] = a.updated_at.isoformat()
    for name, default in _DEFAULTS.items():
        value = getattr(a, name)
        if value != default:
            record[name] = [list(p) for p in value] if name == "categories" else list(value) if name == "tags" else value
    return record


def article_from_record(d: dict[str, Any]) -> Article:
    """The inverse of ``article_to_record``."""
    published_at = datetime.fromisoformat(d["published_at"])
    extra = {k: d[k] for k in _DEFAULTS if k in d}
    extra["categories"] = tuple(tuple(p) for p in d.get("categories", ()))
    extra["tags"] = tuple(d.get("tags", ()))
    return Article(source=d["source"], id=d["id"], title=d["title"], url=d["url"], published_at=published_at,
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
        live[key] = article if article is not None else article_from_record(rec["article"])
    _decoded.clear()
    _decoded.update(live)
    articles = [a for a in live.values() if now is None or a.published_at <= now]
    articles.sort(key=lambda a: (a.published_at, a.source), reverse=True)
    return articles
