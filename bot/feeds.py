"""Atom and RSS 2.0 documents as bytes (JSON Feed: bot/jsonfeed.py), plus the entry values.

Pure: the same inputs always give the same bytes (no build time, no random ids), so an
unchanged feed is never rewritten. Each feedgen pitfall in the team's feed notes (FEEDS.md,
P1...P19) is handled where it bites; comments carry its number."""

from __future__ import annotations

import functools
import html
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from feedgen.entry import FeedEntry
from feedgen.ext.media import MediaEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from bot.markup import html_to_text, truncate, xml_clean
from bot.models import Article

logger = logging.getLogger(__name__)

GENERATOR = "newsbot"
SUMMARY_CHARS = 200
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)  # a feed with no entries yet
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
FeedEntry.atom_entry = _patched_atom_entry


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
    """An Entry with the article's own summary, else the start of its text, else its title
    (an entry with no text at all reads as empty in most readers)."""
    summary = xml_clean(article.summary).strip() or _lead_text(content_html, summary_chars)
    return Entry(article, content_html if full_content else "", summary or entry_title(article))


def _lead_text(content_html: str, limit: int) -> str:
    """The first ``limit`` characters of the text, cut at a sentence or word boundary.

    Only the start of the HTML is read when it holds enough text: summaries of long
    articles would otherwise cost a full parse each."""
    head = content_html[: content_html.rfind(">", 0, 8 * limit) + 1]
    text = html_to_text(head) if head else ""
    if len(text) <= limit + 20 and len(head) < len(content_html):
        text = html_to_text(content_html)
    return truncate(text, limit)


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
    """The feed-level part, without entries (they are serialised once each and spliced in)."""
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.id(url(feed.self_url))
    fg.title(xml_clean(feed.title))
    fg.subtitle(xml_clean(feed.subtitle) or xml_clean(feed.title))
    fg.link(href=url(feed.self_url), rel="self", type=self_type)  # P5: self first ...
    fg.link(href=url(feed.alternate_url), rel="alternate", type="text/html")  # ... alternate last
    fg.language(feed.language)  # P16: a BCP 47 code such as zh-CN
    fg.author({"name": default_author(feed)})  # P11
    fg.generator(GENERATOR)
    updated = feed_updated(entries)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    if feed.icon_url:
        fg.icon(url(feed.icon_url))
    if feed.logo_url:
        fg.logo(url(feed.logo_url))
        fg.image(url=url(feed.logo_url), title=xml_clean(feed.title), link=url(feed.alternate_url))
    return fg


def default_author(feed: FeedSpec) -> str:
    return xml_clean(feed.author).strip() or xml_clean(feed.title)


def _fill(fe: FeedEntry, entry: Entry, author: str) -> None:
    article = entry.article
    fe.id(entry_id(article.id))  # P9: one id call; RSS guid isPermaLink="false"
    fe.title(entry_title(article))
    fe.link(href=url(article.url), rel="alternate", type="text/html")
    fe.published(article.published_at)
    fe.updated(article.updated_at)  # P3
    # P11: every entry names an author; readers rarely inherit the feed's.
    fe.author({"name": xml_clean(article.author).strip() or author})
    for term in entry_terms(article):
        fe.category(term=term)
    if entry.summary:
        # RSS readers treat <description> as HTML, so the plain text is escaped once (and
        # declared as html in Atom): "List<T>" stays text instead of becoming a tag.
        fe.summary(html.escape(xml_clean(entry.summary), quote=False), type="html")
    if entry.content_html:
        fe.content(xml_clean(entry.content_html), type="html")  # P8
    if article.image_url:
        fe.media.thumbnail(url=url(article.image_url), group=None)  # P10
    if entry.enclosure is not None:  # P7
        enc = entry.enclosure
        fe.enclosure(url(enc.url), str(enc.length), enc.mime_type)


@functools.cache
def _root_namespaces(fmt: str) -> tuple[tuple[str, str], ...]:
    """Namespace declarations feedgen puts on the root, so entries need not repeat them."""
    fg = FeedGenerator()
    fg.load_extension("media")
    fg.id("urn:x")
    fg.title("x")
    fg.description("x")
    fg.link(href="https://x.invalid/", rel="alternate")
    root = fg._create_atom()[0] if fmt == "atom" else fg._create_rss()[0]
    return tuple(sorted((k, v) for k, v in root.nsmap.items() if k))


def entry_xml(fmt: str, entry: Entry, author: str) -> bytes:
    """One Atom ``<entry>`` or RSS ``<item>``, indented for its place in the document.

    Serialising an article once per run and splicing the bytes into each feed that shows it
    is what keeps 700 feeds of full-content entries fast; the feed-level XML still comes
    from feedgen. Raises ValueError/TypeError for an entry feedgen refuses.
    """
    return entry_xmls(entry, author, (fmt,))[fmt]


def entry_xmls(entry: Entry, author: str, formats: Sequence[str] = ("atom", "rss")) -> dict[str, bytes]:
    """``entry_xml`` for several formats from one filled feedgen entry (filling is half the cost)."""
    fe = FeedEntry()
    fe.register_extension("media", MediaEntryExtension)  # load_extension imports on every call
    _fill(fe, entry, author)
    return {fmt: _serialise(fmt, fe) for fmt in formats}


def _serialise(fmt: str, fe: FeedEntry) -> bytes:
    element = fe.atom_entry() if fmt == "atom" else fe.rss_entry()
    level = 1 if fmt == "atom" else 2
    holder = etree.Element("holder", nsmap=dict(_root_namespaces(fmt)))
    holder.append(element)
    etree.cleanup_namespaces(holder)
    etree.indent(element, space="  ", level=level)
    data: bytes = etree.tostring(element, encoding="utf-8", with_tail=False)
    head, rest = data.split(b">", 1)
    for prefix, uri in _root_namespaces(fmt):
        head = head.replace(f' xmlns:{prefix}="{uri}"'.encode(), b"")
    return b"  " * level + head + b">" + rest + b"\n"


EntryCache = dict[tuple[str, str, str], bytes]


def _entries_xml(fmt: str, feed: FeedSpec, entries: Sequence[Entry], cache: EntryCache | None) -> list[bytes]:
    author = default_author(feed)
    chunks = []
    for entry in newest_first(entries):  # P4
        key = (fmt, entry.article.id, author)
        chunk = cache.get(key) if cache is not None else None
        if chunk is None:
            try:
                chunk = entry_xml(fmt, entry, author)
            except (ValueError, TypeError) as exc:
                logger.warning("Left %s out of %s: %s", entry.article.source, feed.self_url, exc)
                continue
            if cache is not None:
                cache[key] = chunk
        chunks.append(chunk)
    return chunks


def _with_stylesheet(data: bytes, href: str) -> bytes:
    """Insert the xml-stylesheet instruction right after the XML declaration (P18)."""
    if not href:
        return data
    head, sep, rest = data.partition(b"?>\n")
    pi = '<?xml-stylesheet type="text/xsl" href="{}"?>\n'.format(href.replace('"', "%22"))
    return head + sep + pi.encode("utf-8") + rest


def _splice(document: bytes, closing: bytes, chunks: list[bytes]) -> bytes:
    if not document.endswith(closing):  # pragma: no cover - feedgen changed its output
        raise ValueError("unexpected feed skeleton")
    return document[: -len(closing)] + b"".join(chunks) + closing


def build_atom(feed: FeedSpec, entries: Sequence[Entry], cache: EntryCache | None = None) -> bytes:
    """An Atom 1.0 document. ``cache`` may be shared by builds of the same entries."""
    chunks = _entries_xml("atom", feed, entries, cache)
    skeleton = _generator(feed, entries, MIME["atom"]).atom_str(pretty=True)
    return _with_stylesheet(_splice(skeleton, b"</feed>\n", chunks), feed.stylesheet_href)


def build_rss(feed: FeedSpec, entries: Sequence[Entry], cache: EntryCache | None = None) -> bytes:
    """An RSS 2.0 document (with atom:link rel=self, content:encoded, media:thumbnail)."""
    chunks = [_rss_title_refs(c) for c in _entries_xml("rss", feed, entries, cache)]
    skeleton = _rss_title_refs(_generator(feed, entries, MIME["rss"]).rss_str(pretty=True))
    return _with_stylesheet(_splice(skeleton, b"  </channel>\n</rss>\n", chunks), feed.stylesheet_href)


_RSS_TITLE = re.compile(rb"<title>([^<]*)</title>")


def _rss_title_refs(data: bytes) -> bytes:
    """RSS titles are read as text by some readers and as HTML by others; the RSS Best
    Practices Profile asks for & and < as hexadecimal references, which both read right."""
    return _RSS_TITLE.sub(
        lambda m: b"<title>" + m.group(1).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;") + b"</title>",
        data)


