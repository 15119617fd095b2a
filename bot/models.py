"""Plain immutable values passed between the pure core and the edges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Article:
    """One source file as its generator would understand it, without its body.

    Bodies are not kept: they are re-read and rendered only when a feed or a post needs
    them, so scans stay cheap and the state never holds article text.
    """

    source: str  # POSIX path relative to the articles folder: the scan key
    id: str  # stable id, fixed at first sight and kept in state; feeds' id/guid and post key
    title: str
    url: str  # absolute, percent-encoded once
    published_at: datetime  # aware
    updated_at: datetime  # aware; equals published_at unless the article says otherwise
    categories: tuple[tuple[str, ...], ...] = ()  # each a hierarchy path; flat ones have 1 item
    tags: tuple[str, ...] = ()
    author: str = ""
    summary: str = ""  # explicit summary from front matter (plain text), else ""
    image_url: str | None = None  # absolute http(s) lead image
    content_hash: str = ""  # hash of the file's bytes
    uid: str = ""  # front-matter id/uuid/abbrlink, if any: survives renames
    body_format: str = "markdown"  # "markdown" or "html"
    is_draft: bool = False


@dataclass(frozen=True, slots=True)
class BadFile:
    """A source file that could not be read, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What one scan found, by source path."""

    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    held: tuple[str, ...] = ()  # future-dated, due later
    bad: tuple[BadFile, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()  # (old source, new source)
    unchanged: int = 0
    settling: tuple[str, ...] = ()  # modified moments ago: read at the next scan

    @property
    def is_noop(self) -> bool:
        return not (self.new or self.changed or self.deleted or self.renamed)


@dataclass(frozen=True, slots=True)
class Post:
    """A rendered channel post: exactly what goes to Telegram."""

    article_id: str
    html: str  # caption (with photo) or message text, parse mode HTML
    url: str  # article link, for the button and the link preview
    photo_url: str | None = None
    button_text: str = ""
    extras: dict[str, str] = field(default_factory=dict)
