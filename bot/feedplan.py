"""Which feed files exist, what each holds, and a fingerprint of everything that shapes it.

Pure: settings and articles in, a list of ``PlannedFeed`` out. The writer compares each
fingerprint with the one recorded in state and rebuilds only the feeds whose inputs changed,
so one edited article costs only the feeds that show it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import posixpath
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

from bot import __version__
from bot.config import Settings
from bot.feedindex import texts_for
from bot.feeds import FeedSpec
from bot.models import Article
from bot.slugs import Key, assign_slugs, display_name, slugify

logger = logging.getLogger(__name__)

# Bump when the builders' output changes for the same inputs, so every feed is rebuilt once.
OUTPUT_VERSION = "1"
FORMATS = ("atom", "rss", "json")
STYLESHEET = "feed.xsl"


@dataclass(frozen=True, slots=True)
class PlannedFeed:
    """One feed file: where it goes, what it says about itself, which articles it shows."""

    path: str  # POSIX, relative to feeds_dir
    fmt: str  # atom | rss | json
    kind: str  # site | category | tag
    name: str  # display name; "" for the site feeds
    spec: FeedSpec
    article_ids: tuple[str, ...]  # newest first
    fingerprint: str


@dataclass(frozen=True, slots=True)
class FeedPlan:
    feeds: tuple[PlannedFeed, ...]
    slugs: dict[str, dict[str, str]]  # {"categories": {name: slug}, "tags": {...}}: kept in state
    dropped: tuple[str, ...] = ()  # paths claimed twice (overlapping patterns); first one wins


def is_visible(article: Article, settings: Settings, now: datetime) -> bool:
    """Drafts (unless settings.drafts) and future-dated articles stay out of feeds (P17)."""
    return (settings.drafts or not article.is_draft) and article.published_at <= now


def newest_first(articles: Iterable[Article]) -> list[Article]:
    return sorted(articles, key=lambda a: (a.published_at, a.id), reverse=True)


@dataclass(frozen=True, slots=True)
class Groups:
    """The articles of each feed (top ``limit``, newest first), keyed by display name."""

    site: list[Article]
    categories: dict[tuple[str, ...], list[Article]]  # a parent includes its children's articles
    tags: dict[str, list[Article]]
    aliases: dict[Key, list[Key]]  # other spellings merged into a name, most used first


def fold(name: str) -> str:
    """Names equal under this are one category or tag site-wide (``Energy``, ``energy``, ``ＥＮＥＲＧＹ``)."""
    return unicodedata.normalize("NFKC", name).casefold()


K = TypeVar("K", str, tuple[str, ...])


def _ranked(counts: Counter[K]) -> list[K]:
    """Spellings, most used first; ties in sorted order, so runs agree."""
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], display_name(kv[0])))]


def _merged(articles: Sequence[Article], limit: int, names_of: Callable[[Article], Iterable[K]],
            fold_key: Callable[[K], K]) -> tuple[dict[K, list[Article]], dict[K, Counter[K]]]:
    """Top ``limit`` articles per folded name, and how often each spelling of it is used."""
    members: dict[K, list[Article]] = defaultdict(list)
    spellings: dict[K, Counter[K]] = defaultdict(Counter)
    folded: dict[K, K] = {}  # a few hundred names, seen thousands of times
    for article in articles:
        own: dict[K, K] = {}
        for name in names_of(article):
            key = folded.get(name)
            if key is None:
                key = folded[name] = fold_key(name)
            if key not in own or display_name(name) < display_name(own[key]):
                own[key] = name
        for key, name in own.items():
            spellings[key][name] += 1
            if len(members[key]) < limit:
                members[key].append(article)
    return members, spellings


def _prefixes(article: Article) -> frozenset[tuple[str, ...]]:
    return _paths_and_parents(article.categories)


@functools.lru_cache(maxsize=4096)
def _paths_and_parents(categories: tuple[tuple[str, ...], ...]) -> frozenset[tuple[str, ...]]:
    """Every category path and its parents (a parent feed shows its children's articles)."""
    return frozenset(path[:i] for path in categories for i in range(1, len(path) + 1)
                     if all(p.strip() for p in path[:i]))


def group_articles(articles: Sequence[Article], limit: int) -> Groups:
    """Group ``articles`` (newest first) by site, category path and tag; names that differ
    only in case or width are merged (per path segment) and shown in their most used spelling."""
    cats, cat_spellings = _merged(articles, limit, _prefixes, lambda path: tuple(fold(p) for p in path))
    tags, tag_spellings = _merged(articles, limit, lambda a: {t for t in a.tags if t.strip()}, fold)
    last = {key: _ranked(counts)[0][-1] for key, counts in cat_spellings.items()}
    # A path shows its parent's spelling, so a child feed never names its parent differently.
    cat_names = {key: tuple(last[key[:i]] for i in range(1, len(key) + 1)) for key in cats}
    tag_names = {key: _ranked(counts)[0] for key, counts in tag_spellings.items()}
    aliases: dict[Key, list[Key]] = {}
    for key, shown in cat_names.items():
        if others := [s for s in _ranked(cat_spellings[key]) if s != shown]:
            aliases[shown] = list(others)
    for tag, shown_tag in tag_names.items():
        if other_tags := [s for s in _ranked(tag_spellings[tag]) if s != shown_tag]:
            aliases[shown_tag] = list(other_tags)
    return Groups(list(articles[:limit]), {cat_names[k]: v for k, v in cats.items()},
                  {tag_names[k]: v for k, v in tags.items()}, aliases)


def article_digest(article: Article) -> str:
    """Everything of an article that can change a feed: its fields and its file's hash."""
    return hashlib.sha1(repr(article).encode("utf-8")).hexdigest()


def _patterns(settings: Settings, kind: str) -> dict[str, str]:
    if kind == "site":
        return {"atom": settings.feed_all_atom, "rss": settings.feed_all_rss, "json": settings.feed_all_json}
    return {fmt: getattr(settings, f"{kind}_feed_{fmt}") for fmt in FORMATS}


def feed_rel_path(pattern: str, slug: str) -> str:
    """The normalised relative path of a feed; raises ValueError if it would leave feeds_dir."""
    rel = posixpath.normpath(pattern.replace("{slug}", slug).replace("\\", "/").lstrip("/"))
    if rel in {".", "", ".."} or rel.startswith(("../", "/")):
        raise ValueError(f"feed path {pattern!r} with slug {slug!r} leaves the feeds folder")
    return rel


def site_page(settings: Settings, kind: str, key: Key, slug: str) -> str:
    """The site's own page of a category or tag, for the feed's alternate link.

    ``{path}`` slugs each level on its own and joins them with ``/``: Hexo serves a nested
    category at ``categories/parent/child/``, not at the feed's dashed ``parent-child`` slug.
    It has none of the feed slug's ``-2`` suffixes either, which only newsbot knows about.
    """
    levels = (key,) if isinstance(key, str) else key
    path = "/".join(slugify(level, settings.slug_style, settings.slug_map) for level in levels)
    site = settings.site_url if settings.site_url.endswith("/") else settings.site_url + "/"
    return site + quote(getattr(settings, f"{kind}_url").replace("{path}", path).replace("{slug}", slug))


def _spec(settings: Settings, kind: str, key: Key, slug: str, rel: str) -> FeedSpec:
    texts = texts_for(settings.language)
    site = settings.site_url if settings.site_url.endswith("/") else settings.site_url + "/"
    if kind == "site":
        title, subtitle, page = settings.site_title, settings.site_subtitle, site
    else:
        name = display_name(key)
        label = texts["category"] if kind == "category" else texts["tag"]
        title = f"{settings.site_title} · {name}"
        subtitle = f"{label}{texts['colon']}{name}"
        page = site_page(settings, kind, key, slug)
    depth = rel.count("/")
    return FeedSpec(
        title=title, subtitle=subtitle, self_url=settings.public_feeds_url + quote(rel),
        alternate_url=page, language=settings.language,
        author=settings.author or settings.site_title, icon_url=settings.icon_url,
        logo_url=settings.logo_url,
        stylesheet_href=("../" * depth + STYLESHEET) if settings.feed_stylesheet else "")


def _fingerprint(fmt: str, spec: FeedSpec, settings: Settings, digests: Sequence[str]) -> str:
    h = hashlib.sha1()
    for part in (OUTPUT_VERSION, __version__, fmt, repr(spec), str(settings.feed_full_content), *digests):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def plan_feeds(settings: Settings, articles: Sequence[Article], now: datetime,
               keep_slugs: Mapping[str, Mapping[str, str]] | None = None,
               reserved: Iterable[str] = ()) -> FeedPlan:
    """Every feed file with its entries, for the visible articles. ``reserved`` paths (the
    index files) are never given to a feed; neither is a path another feed already has."""
    visible = newest_first(a for a in articles if is_visible(a, settings, now))
    groups_of = group_articles(visible, settings.feed_limit)
    site, categories, tags = groups_of.site, groups_of.categories, groups_of.tags
    keep = keep_slugs or {}
    cat_slugs = assign_slugs(categories, settings.slug_style, settings.slug_map, keep.get("categories"),
                             aliases=groups_of.aliases)
    tag_slugs = assign_slugs(tags, settings.slug_style, settings.slug_map, keep.get("tags"), aliases=groups_of.aliases)
    digests: dict[str, str] = {}
    groups: list[tuple[str, Key, str, list[Article]]] = [("site", "", "", site)]
    groups += [("category", k, cat_slugs[k], categories[k]) for k in sorted(categories)]
    groups += [("tag", k, tag_slugs[k], tags[k]) for k in sorted(tags)]
    feeds: list[PlannedFeed] = []
    seen: set[str] = set(reserved)
    dropped: list[str] = []
    formats = [f for f in FORMATS if f in settings.feed_formats]
    for kind, key, slug, members in groups:
        ids = tuple(a.id for a in members)
        member_digests = [digests.get(a.id) or digests.setdefault(a.id, article_digest(a)) for a in members]
        patterns = _patterns(settings, kind)
        for fmt in formats:
            try:
                rel = feed_rel_path(patterns[fmt], slug)
            except ValueError as exc:
                logger.error("Feed not written: %s", exc)
                continue
            if rel in seen:
                dropped.append(rel)
                continue
            seen.add(rel)
            spec = _spec(settings, kind, key, slug, rel)
            feeds.append(PlannedFeed(rel, fmt, kind, display_name(key) if key else "", spec, ids,
                                     _fingerprint(fmt, spec, settings, member_digests)))
    slugs = {kind: {display_name(name): slug for k, slug in assigned.items()
                    for name in (k, *groups_of.aliases.get(k, ()))}
             for kind, assigned in (("categories", cat_slugs), ("tags", tag_slugs))}
    return FeedPlan(tuple(feeds), slugs, tuple(dropped))
