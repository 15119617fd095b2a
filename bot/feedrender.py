"""The entries the feeds need: each article's HTML and summary, and its serialised entry in
every format, done once per run however many feeds show it (edge: reads the bodies).

Rendering and serialising are most of a cold build (Markdown, sanitising, summaries, XML),
so above ``POOL_MIN_ENTRIES`` articles they run in worker processes (``bot.procpool``); the
bodies are read here, so ``load_body`` may be any callable. A pool that fails falls back to
rendering here. The output is the same either way.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bot.errors import ArticleError
from bot.feeds import Entry, EntryCache, entry_xmls, make_entry
from bot.jsonfeed import item_json
from bot.markup import render_body
from bot.models import Article
from bot.procpool import PoolFailed, map_chunks, worker_count

logger = logging.getLogger(__name__)

POOL_MIN_ENTRIES = 400
CHUNK_ENTRIES = 100
MAX_WORKERS = 4
Failure = tuple[str, str]  # (article source, reason)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    full_content: bool
    formats: tuple[str, ...]  # atom | rss | json
    authors: tuple[str, ...]  # the feeds' default entry authors (Atom/RSS entries name one)


@dataclass(frozen=True, slots=True)
class _Rendered:
    article_id: str
    content_html: str
    summary: str
    chunks: tuple[tuple[tuple[str, str, str], bytes], ...]  # EntryCache items


def render_entries(articles: Sequence[Article], options: RenderOptions, load_body: Callable[[Article], str],
                   ) -> tuple[dict[str, Entry], EntryCache, list[Failure]]:
    """Entries by article id, the serialised entries for ``bot.feeds``' cache, and the articles
    left out (unreadable or unrenderable, in ``articles`` order), each logged once."""
    entries: dict[str, Entry] = {}
    cache: EntryCache = {}
    failed: dict[str, Failure] = {}
    for article_id, entry, failure in iter_entries(articles, options, load_body, cache):
        if entry is not None:
            entries[article_id] = entry
        elif failure is not None:
            failed[article_id] = failure
    return entries, cache, [failed[a.id] for a in articles if a.id in failed]


Outcome = tuple[str, Entry | None, Failure | None]  # (article id, entry, failure): one is set


def iter_entries(articles: Sequence[Article], options: RenderOptions, load_body: Callable[[Article], str],
                 cache: EntryCache) -> Iterator[Outcome]:
    """``render_entries`` as a stream, roughly in ``articles`` order: each article's outcome as
    soon as its chunk is back (its serialised entries added to ``cache`` first), so a caller
    can write a feed while workers still render the entries of later feeds."""
    unread: list[tuple[str, Failure]] = []

    def jobs() -> Iterator[tuple[Article, str]]:  # bodies are read while workers render earlier chunks
        for article in articles:
            try:
                needs_body = options.full_content or not article.summary
                yield article, (load_body(article) if needs_body else "")
            except (OSError, UnicodeError, ValueError, ArticleError) as exc:
                unread.append((article.id, _failure(article, exc)))

    by_id = {a.id: a for a in articles}
    for item in _rendered(jobs(), len(articles), options):
        yield from ((article_id, None, failure) for article_id, failure in unread)
        unread.clear()
        if isinstance(item, _Rendered):
            cache.update(item.chunks)
            yield item.article_id, Entry(by_id[item.article_id], item.content_html, item.summary), None
        else:
            yield item[0], None, item[1]
    yield from ((article_id, None, failure) for article_id, failure in unread)


def _failure(article: Article, exc: BaseException) -> Failure:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    logger.warning("Could not render %s for the feeds: %s", article.source, reason)
    return article.source, reason


Job = tuple[Article, str]
Chunk = tuple[RenderOptions, list[Job]]


def _rendered(jobs: Iterator[Job], count: int, options: RenderOptions,
              ) -> Iterator[_Rendered | tuple[str, Failure]]:
    workers = worker_count(MAX_WORKERS)
    if count < POOL_MIN_ENTRIES or workers < 2:
        yield from _render_chunk((options, list(jobs)))
        return
    made: list[Chunk] = []  # what the pool was given, for the fallback

    def chunks() -> Iterator[Chunk]:
        while batch := list(itertools.islice(jobs, CHUNK_ENTRIES)):
            made.append((options, batch))
            yield made[-1]

    done = 0
    try:
        for results in map_chunks(_render_chunk, chunks(), workers, preload=["bot.feedrender"]):
            yield from results
            done += 1
    except PoolFailed as exc:
        logger.warning("Worker processes failed (%s); rendering the remaining entries here", exc)
        for chunk in itertools.chain(made[done:], chunks()):
            yield from _render_chunk(chunk)


def _render_chunk(chunk: Chunk) -> list[_Rendered | tuple[str, Failure]]:
    options, jobs = chunk
    return [_render_one(article, body, options) for article, body in jobs]


def _render_one(article: Article, body: str, options: RenderOptions) -> _Rendered | tuple[str, Failure]:
    try:
        html = render_body(body, article.body_format, article.url) if body else ""
        entry = make_entry(article, html, full_content=options.full_content)
    except (ValueError, ArticleError) as exc:
        return article.id, _failure(article, exc)
    chunks: list[tuple[tuple[str, str, str], bytes]] = []
    if "json" in options.formats:
        chunks.append((("json", article.id, ""), item_json(entry)))
    xml_formats = [f for f in options.formats if f != "json"]
    for author in options.authors if xml_formats else ():
        try:
            chunks += [((fmt, article.id, author), data) for fmt, data in entry_xmls(entry, author, xml_formats).items()]
        except (ValueError, TypeError):
            continue  # left to the feed builder, which logs it per feed
    return _Rendered(article.id, entry.content_html, entry.summary, tuple(chunks))
