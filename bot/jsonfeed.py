"""JSON Feed 1.1 documents (https://jsonfeed.org/version/1.1), written by hand: no library
needed, and sorted keys make identical inputs give identical bytes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.feeds import (
    Entry,
    FeedSpec,
    default_author,
    entry_id,
    entry_terms,
    entry_title,
    newest_first,
    url,
)
from bot.markup import xml_clean

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ItemCache = dict[tuple[str, str, str], bytes]


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


def item_json(entry: Entry) -> bytes:
    """One item, indented for its place in ``items`` (JSON strings hold no raw newlines, so
    re-indenting line by line is exact)."""
    text = json.dumps(_json_item(entry), sort_keys=True, ensure_ascii=False, indent=2)
    return "\n".join("    " + line for line in text.split("\n")).encode("utf-8")


def build_json(feed: FeedSpec, entries: Sequence[Entry], cache: ItemCache | None = None) -> bytes:
    """A JSON Feed 1.1 document; byte for byte what ``json.dumps(doc, indent=2,
    sort_keys=True)`` gives, with each item serialised once per ``cache``."""
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": xml_clean(feed.title),
        "home_page_url": url(feed.alternate_url),
        "feed_url": url(feed.self_url),
        "language": feed.language,
        "authors": [{"name": default_author(feed)}],
        "items": [],
    }
    if feed.subtitle:
        doc["description"] = xml_clean(feed.subtitle)
    if feed.icon_url:
        doc["icon"] = doc["favicon"] = url(feed.icon_url)
    items = []
    for entry in newest_first(entries):
        key = ("json", entry.article.id, "")
        chunk = cache.get(key) if cache is not None else None
        if chunk is None:
            chunk = item_json(entry)
            if cache is not None:
                cache[key] = chunk
        items.append(chunk)
    head = json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8")
    body = b"[\n" + b",\n".join(items) + b"\n  ]" if items else b"[]"
    return head.replace(b'"items": []', b'"items": ' + body, 1) + b"\n"
