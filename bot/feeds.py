"""Atom, RSS 2.0 and JSON Feed 1.1 documents as bytes: deterministic, valid, reader-friendly.

Pure: values in, bytes out. The same inputs always give the same bytes (no build time, no
random ids), so an unchanged feed is never rewritten. Each feedgen pitfall listed in the
team's feed notes (FEEDS.md, P1...P19) is handled where it bites; comments carry its number.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from bot.markup import html_to_text, truncate, xml_clean
from bot.models import Article

logger = logging.getLogger(__name__)

GENERATOR = "newsbot"
SUMMARY_CHARS = 200
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=timezone.utc)  # a feed with no entries yet
MIME = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")
_LINK_TAGS = ("link", "{http://www.w3.org/2005/Atom}link")


def _patched_atom_entry(self: FeedEntry, extensions: bool = True) -> Any:
    """P6: feedgen 1.0.0 drops rel/type/length on entry links (python-feedgen#135); put
    them back, so an enclosure never becomes a second alternate link."""
    entry = _ORIGINAL_ATOM_ENTRY(self, extensions)
    links = [el for el in entry if el.tag in _LINK_TAGS]
    for el, data in zip(links, self.link() or []):
        for key in ("rel", "type", "hreflang", "title", "length"):
            if data.get(key) not in (None, ""):
                el.set(key, str(data[key]))
    return entry


_ORIGINAL_ATOM_ENTRY = getattr(FeedEntry.atom_entry, "__wrapped__", FeedEntry.atom_entry)
_patched_atom_entry.__wrapped__ = _ORIGINAL_ATOM_ENTRY  # type: ignore[attr-defined]
FeedEntry.atom_entry = _patched_atom_entry  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What a feed says about itself. URLs are absolute; ``stylesheet_href`` is relative
    to the feed file (browsers only apply same-origin XSLT)."""

    title: str
    self_url: str
    alternate_url: str
    language: str
    author: str
    subtitle: str = ""
    icon_url: str = ""
    logo_url: str = ""
    stylesheet_href: str = ""


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    length: int
    mime_type: str


@dataclass(frozen=True, slots=True)
class Entry:
    """An article ready for a feed: its rendered, sanitised HTML and a plain-text summary."""

    article: Article
    content_html: str
    summary: str
    enclosure: Enclosure | None = None  # P7: only when length and type are really known


def make_entry(article: Article, content_html: str, *, full_content: bool = True,
               summary_chars: int = SUMMARY_CHARS) -> Entry:
    """An Entry with the article's own summary, else the start of its text."""
    summary = xml_clean(article.summary).strip() or truncate(html_to_text(content_html), summary_chars)
    return Entry(article, content_html if full_content else "", summary)


def url(value: str) -> str:
    """P14: percent-encode once (already-encoded input is left alone)."""
    return quote(xml_clean(value).strip(), safe=_URL_SAFE)


def entry_id(article_id: str) -> str:
    """P9: the stable id as a URI (Atom needs one); a bare key becomes a name-based UUID URN."""
    clean = xml_clean(article_id).strip()
    if _URI.match(clean):
        return url(clean)
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, clean))


def entry_title(article: Article) -> str:
    return xml_clean(article.title).strip() or article.source


def entry_terms(article: Article) -> list[str]:
    """P12: categories (full paths) then tags; empty and duplicate terms dropped."""
    terms = ["/".join(p.strip() for p in path if p.strip()) for path in article.categories]
    terms += [t.strip() for t in article.tags]
    return list(dict.fromkeys(xml_clean(t) for t in terms if t))


def _has_zone(entry: Entry) -> bool:
    """P2: a date without a zone cannot be placed in time; such an entry is left out."""
    a = entry.article
    if a.published_at.utcoffset() is None or a.updated_at.utcoffset() is None:
        logger.warning("Left %s out of the feeds: its date has no time zone", a.source)
        return False
    return True


def newest_first(entries: Sequence[Entry]) -> list[Entry]:
    """P4: newest first by publication; ties broken by id so the order is stable."""
    usable = [e for e in entries if _has_zone(e)]
    return sorted(usable, key=lambda e: (e.article.published_at, e.article.id), reverse=True)


def feed_updated(entries: Sequence[Entry]) -> datetime:
    """P3: the newest entry's update, never the build time."""
    return max((e.article.updated_at for e in newest_first(entries)), default=EMPTY_FEED_UPDATED)


def _generator(feed: FeedSpec, entries: Sequence[Entry], self_type: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.id(url(feed.self_url))
    fg.title(xml_clean(feed.title))
    fg.subtitle(xml_clean(feed.subtitle) or xml_clean(feed.title))
    fg.link(href=url(feed.self_url), rel="self", type=self_type)  # P5: self first ...
    fg.link(href=url(feed.alternate_url), rel="alternate", type="text/html")  # ... alternate last
    fg.language(feed.language)  # P16: a BCP 47 code such as zh-CN
    fg.author({"name": xml_clean(feed.author) or xml_clean(feed.title)})  # P11
    fg.generator(GENERATOR)
    updated = feed_updated(entries)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    if feed.icon_url:
        fg.icon(url(feed.icon_url))
    if feed.logo_url:
        fg.logo(url(feed.logo_url))
        fg.image(url=url(feed.logo_url), title=xml_clean(feed.title), link=url(feed.alternate_url))
    for entry in newest_first(entries):
        fe = fg.add_entry(order="append")  # P4
        try:
            _fill(fe, entry, xml_clean(feed.author) or xml_clean(feed.title))
        except (ValueError, TypeError) as exc:
            logger.warning("Left %s out of %s: %s", entry.article.source, feed.self_url, exc)
            fg.remove_entry(fe)
    return fg


def _fill(fe: FeedEntry, entry: Entry, default_author: str) -> None:
    article = entry.article
    fe.id(entry_id(article.id))  # P9: one id call; RSS guid isPermaLink="false"
    fe.title(entry_title(article))
    fe.link(href=url(article.url), rel="alternate", type="text/html")
    fe.published(article.published_at)
    fe.updated(article.updated_at)  # P3
    # P11: every entry names an author; readers rarely inherit the feed's.
    fe.author({"name": xml_clean(article.author).strip() or default_author})
    for term in entry_terms(article):
        fe.category(term=term)
    if entry.summary:
        fe.summary(xml_clean(entry.summary))
    if entry.content_html:
        fe.content(xml_clean(entry.content_html), type="html")  # P8
    if article.image_url:
        fe.media.thumbnail(url=url(article.image_url), group=None)  # P10
    if entry.enclosure is not None:  # P7
        enc = entry.enclosure
        fe.enclosure(url(enc.url), str(enc.length), enc.mime_type)


def _with_stylesheet(data: bytes, href: str) -> bytes:
    """Insert the xml-stylesheet instruction right after the XML declaration (P18)."""
    if not href:
        return data
    head, sep, rest = data.partition(b"?>\n")
    pi = '<?xml-stylesheet type="text/xsl" href="%s"?>\n' % href.replace('"', "%22")
    return head + sep + pi.encode("utf-8") + rest


def build_atom(feed: FeedSpec, entries: Sequence[Entry]) -> bytes:
    """An Atom 1.0 document."""
    data = _generator(feed, entries, MIME["atom"]).atom_str(pretty=True)
    return _with_stylesheet(data, feed.stylesheet_href)


def build_rss(feed: FeedSpec, entries: Sequence[Entry]) -> bytes:
    """An RSS 2.0 document (with atom:link rel=self, content:encoded, media:thumbnail)."""
    data = _generator(feed, entries, MIME["rss"]).rss_str(pretty=True)
    return _with_stylesheet(data, feed.stylesheet_href)


def _json_item(entry: Entry) -> dict[str, Any]:
    article = entry.article
    item: dict[str, Any] = {
        "id": entry_id(article.id),
        "url": url(article.url),
        "title": entry_title(article),
        "date_published": article.published_at.isoformat(),
        "date_modified": article.updated_at.isoformat(),
    }
    if entry.content_html:
        item["content_html"] = xml_clean(entry.content_html)
    else:
        item["content_text"] = xml_clean(entry.summary)
    if entry.summary:
        item["summary"] = xml_clean(entry.summary)
    if article.image_url:
        item["image"] = url(article.image_url)
    if article.author.strip():
        item["authors"] = [{"name": xml_clean(article.author).strip()}]
    terms = entry_terms(article)
    if terms:
        item["tags"] = terms
    if entry.enclosure is not None:
        enc = entry.enclosure
        item["attachments"] = [{"url": url(enc.url), "mime_type": enc.mime_type,
                                "size_in_bytes": enc.length}]
    return item


def build_json(feed: FeedSpec, entries: Sequence[Entry]) -> bytes:
    """A JSON Feed 1.1 document (https://jsonfeed.org/version/1.1)."""
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": xml_clean(feed.title),
        "home_page_url": url(feed.alternate_url),
        "feed_url": url(feed.self_url),
        "language": feed.language,
        "authors": [{"name": xml_clean(feed.author) or xml_clean(feed.title)}],
        "items": [_json_item(e) for e in newest_first(entries)],
    }
    if feed.subtitle:
        doc["description"] = xml_clean(feed.subtitle)
    if feed.icon_url:
        doc["icon"] = doc["favicon"] = url(feed.icon_url)
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


BUILDERS = {"atom": build_atom, "rss": build_rss, "json": build_json}
