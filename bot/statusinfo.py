"""The status summary shared by ``newsbot status`` and the bot's /status: plain text lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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


def expected_next_scan(settings: Settings, last_scan_at: datetime | None, now: datetime) -> datetime | None:
    """When ``newsbot run``'s schedule scans next: the cron's next fire time, or last scan + interval."""
    if settings.scan_cron:
        from apscheduler.triggers.cron import CronTrigger  # only the status path needs it

        trigger = CronTrigger.from_crontab(settings.scan_cron, timezone=settings.zone)
        fire: datetime | None = trigger.get_next_fire_time(None, now)
        return fire
    if last_scan_at is None:
        return None
    return last_scan_at + timedelta(seconds=settings.scan_interval)


def _next_scan_line(settings: Settings, last: datetime | None, now: datetime, known: datetime | None) -> str:
    at = known or expected_next_scan(settings, last, now)
    if at is None:
        return f"scan schedule: {schedule_text(settings)}"
    if at < now:
        return (f"next scan: overdue, was due {_when(at, now, settings)}, {schedule_text(settings)}: "
                "is `newsbot run` running?")
    return f"next scan: {_when(at, now, settings)}, {schedule_text(settings)}"


def bad_file_lines(state: State, limit: int | None) -> list[str]:
    """``bad files: N`` and one indented ``path: reason`` line each, the first ``limit`` if given."""
    bad = sorted(state.bad.copy().items())
    lines = [f"bad files: {len(bad)}"]
    shown = bad if limit is None else bad[:limit]
    lines += [f"  {path}: {rec.get('reason') or 'no reason recorded'}" for path, rec in shown]
    if len(bad) > len(shown):
        lines.append(f"  … and {len(bad) - len(shown)} more: see /errors")
    return lines


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
                 scan_running: bool = False, taxonomy: Taxonomy | None = None,
                 bad_files_shown: int | None = None) -> list[str]:
    """What an admin wants to see first. ``articles`` (newest first) default to the ones in ``state``.

    ``next_scan_at`` is the scheduler's own answer when there is one (the running bot); without
    it the next scan is worked out from the settings. ``bad_files_shown`` caps the bad-file list
    (None: all of them, as the CLI shows).
    """
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
    last = _parse(state.meta.get("last_scan_at"))
    lines.append(f"last scan: {_when(last, now, settings)}")
    lines.append("next scan: running now" if scan_running else _next_scan_line(settings, last, now, next_scan_at))
    lines += bad_file_lines(state, bad_files_shown)
    lines.append(f"feed: {settings.public_feeds_url}{settings.feed_all_atom}")
    return lines
