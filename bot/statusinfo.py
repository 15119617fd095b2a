"""The status summary shared by ``newsbot status`` and the bot's /status: plain text lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import postqueue
from bot.config import Settings
from bot.models import Article
from bot.state import State


def human_duration(seconds: float) -> str:
    """``35 s``, ``4 min``, ``2 h 5 min``, ``3 d 4 h``."""
    s = round(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def format_time(at: datetime, settings: Settings) -> str:
    return at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M %Z")


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _when(at: datetime | None, now: datetime, settings: Settings) -> str:
    if at is None:
        return "never"
    delta = (at - now).total_seconds()
    rel = f"in {human_duration(delta)}" if delta > 0 else f"{human_duration(delta)} ago"
    return f"{format_time(at, settings)} ({rel})"


def schedule_text(settings: Settings) -> str:
    return f"cron {settings.scan_cron!r}" if settings.scan_cron else f"every {human_duration(settings.scan_interval)}"


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Category and tag counts of a set of articles (independent of the clock, so cacheable)."""

    categories: int
    tags: int

    @classmethod
    def of(cls, articles: Sequence[Article]) -> Taxonomy:
        return cls(len({"/".join(path) for a in articles for path in a.categories}),
                   len({t for a in articles for t in a.tags}))


def status_lines(settings: Settings, state: State, *, now: datetime, version: str,
                 articles: Sequence[Article] | None = None, next_scan_at: datetime | None = None,
                 scan_running: bool = False, taxonomy: Taxonomy | None = None) -> list[str]:
    """What an admin wants to see first. ``articles`` (newest first) default to the ones in ``state``."""
    if articles is None:
        from bot import scanner  # the CLI path: no catalog in memory

        articles = sorted(scanner.current_articles(state), key=lambda a: a.published_at, reverse=True)
    taxonomy = taxonomy or Taxonomy.of(articles)
    lines = [f"newsbot {version}",
             f"articles: {len(articles)} in {taxonomy.categories} categories, {taxonomy.tags} tags"]
    future = next((i for i, a in enumerate(articles) if a.published_at <= now), len(articles))
    if future < len(articles):
        newest = articles[future]
        lines.append(f"newest: {format_time(newest.published_at, settings)} {newest.title}")
    if future:
        lines.append(f"scheduled: {future} future-dated, posted at their date")
    pending, problems = postqueue.pending(state), postqueue.problems(state)
    lines.append(f"channel queue: {len(pending)} pending, {len(problems)} failed or unconfirmed")
    if state.meta.get("paused"):
        reason = state.meta.get("pause_reason") or "no reason recorded"
        lines.append(f"posting: PAUSED ({reason})")
    else:
        lines.append(f"posting: active, to {settings.channel_id or '(no channel set)'}")
    lines.append(f"last scan: {_when(_parse(state.meta.get('last_scan_at')), now, settings)}")
    if scan_running:
        lines.append("next scan: running now")
    elif next_scan_at is not None:
        lines.append(f"next scan: {_when(next_scan_at, now, settings)}")
    else:
        lines.append(f"scan schedule: {schedule_text(settings)}")
    lines.append(f"bad files: {len(state.bad)}")
    lines.append(f"feed: {settings.public_feeds_url}{settings.feed_all_atom}")
    return lines
