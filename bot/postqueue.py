"""The persisted post queue: what to post (``plan_posts``) and the admins' actions on it, pure.

Posting it is ``drain`` (bot/drain.py, re-exported here).

Promises to channel followers and admins:

* Never twice: a post is marked ``in_flight`` and saved before the request, ``sent`` with its
  message id after. A send that may or may not have arrived (timeout, crash) becomes
  ``unknown`` and is never resent automatically; admins choose /post (repost) or /done.
* Never lost: nothing leaves the queue except as sent, failed (Telegram rejected the post),
  skipped (by an admin or because the article is gone) or unknown; the last three are listed
  by ``problems``/``pending`` and alerted. Channel-wide failures pause the queue instead.
* Never a flood: at most ``posts_per_minute``, spaced from ``meta.last_sent_at`` so restarts
  keep the pace; ``RetryAfter`` is honoured to the second, however long; timeouts and 5xx back
  off exponentially. A first run records the site's history as seen instead of posting it.

Record fields (``state.posts[article_id]``): status, action (send|edit|delete), source, title,
published_at, fingerprint, message_id, chat_id, file_id, photo_url, has_photo, posted_hash,
attempts, not_before, error, reason, fallback, sent_at, updated_at.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.drain import DrainReport, drain, iso, parse_iso
from bot.models import Article, ScanReport
from bot.publisher import Publisher
from bot.state import State

__all__ = ["DrainReport", "Publisher", "drain", "plan_posts", "recover_in_flight", "mark_done", "requeue", "skip", "resume",
           "pending", "problems", "article_fingerprint", "parse_iso"]

logger = logging.getLogger(__name__)
BASELINE_REASON = "existed before the first run"


def article_fingerprint(article: Article) -> str:
    """Cheap hash of what a post shows, so unchanged articles are never re-rendered."""
    parts = (article.title, article.summary, article.image_url or "", article.content_hash, article.url,
             repr(article.categories), repr(article.tags), article.author)
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:20]


def _new_record(article: Article, status: str, now: datetime, reason: str | None = None) -> dict[str, Any]:
    """A post record. "seen" ones are tiny (a site's whole history becomes them): the status, and
    a reason only when it is not the first-run baseline."""
    if status == "seen":
        return {"status": status, "reason": reason} if reason and reason != BASELINE_REASON else {"status": status}
    rec: dict[str, Any] = {"status": status, "source": article.source, "updated_at": iso(now)}
    if reason:
        rec["reason"] = reason
    if status == "pending":
        rec.update(action="send", title=article.title[:200], published_at=iso(article.published_at),
                   fingerprint=article_fingerprint(article), attempts=0)
    return rec


def _is_postable(article: Article, settings: Settings, now: datetime) -> bool:
    """Published (not a draft unless drafts are on) and its date has come."""
    return (settings.drafts or not article.is_draft) and article.published_at <= now


def _enqueue(state: State, articles: Sequence[Article], now: datetime) -> list[str]:
    ids: list[str] = []
    for article in sorted(articles, key=lambda a: a.published_at):
        state.posts[article.id] = _new_record(article, "pending", now)
        if article.id not in state.queue:
            state.queue.append(article.id)
        ids.append(article.id)
    return ids


def _baseline(state: State, articles: Sequence[Article], settings: Settings, now: datetime, backfill: int) -> list[str]:
    """First run: the site's history is seen, not posted, except the newest ``backfill``."""
    due = [a for a in articles if a.id not in state.posts and _is_postable(a, settings, now)]
    due.sort(key=lambda a: a.published_at, reverse=True)
    chosen = due[:backfill] if backfill > 0 else []
    for article in due[len(chosen):]:
        state.posts[article.id] = _new_record(article, "seen", now, BASELINE_REASON)
    logger.info("First run: %d existing articles recorded as seen, %d queued (backfill)", len(due) - len(chosen),
                len(chosen))
    return _enqueue(state, chosen, now)


DELETED_REASON = "the article was deleted"


def _plan_change(rec: dict[str, Any], article: Article, settings: Settings, now: datetime, state: State) -> None:
    """A posted article changed: queue an edit of its message (or just note the change)."""
    if rec["status"] == "seen":
        return
    rec["source"] = article.source
    if rec["status"] == "skipped" and rec.get("reason") == DELETED_REASON:
        # back (restored, or fixed after a rename saved broken): it was due to be posted and never was
        rec.update(status="pending", action="send", attempts=0, reason=None, updated_at=iso(now))
        if article.id not in state.queue:
            state.queue.append(article.id)
        return
    if rec["status"] == "pending" and rec.get("action") == "delete":  # back before its message was deleted
        rec.update(status="sent", action=None, updated_at=iso(now))
        if article.id in state.queue:
            state.queue.remove(article.id)
    if rec["status"] not in {"sent", "pending"}:
        return
    fingerprint = article_fingerprint(article)
    if rec.get("fingerprint") == fingerprint:
        return
    rec.update(fingerprint=fingerprint, title=article.title[:200])
    if rec["status"] == "sent" and rec.get("message_id") and settings.edit_on_change:
        rec.update(status="pending", action="edit", attempts=0, updated_at=iso(now))
        rec.pop("error", None)
        if article.id not in state.queue:
            state.queue.append(article.id)


def _plan_removals(state: State, current: set[str], report: ScanReport, settings: Settings, now: datetime) -> None:
    deleted = set(report.deleted)
    for article_id, rec in state.posts.items():
        if rec.get("source") not in deleted or article_id in current:
            continue
        if rec["status"] == "pending" and rec.get("action") == "send":
            rec.update(status="skipped", action=None, reason=DELETED_REASON, updated_at=iso(now))
            if article_id in state.queue:
                state.queue.remove(article_id)
        elif rec["status"] == "sent" and rec.get("message_id") and settings.delete_on_remove:
            rec.update(status="pending", action="delete", attempts=0, updated_at=iso(now))
            if article_id not in state.queue:
                state.queue.append(article_id)


def plan_posts(state: State, articles: Sequence[Article], report: ScanReport, settings: Settings, now: datetime,
               *, backfill: int | None = None) -> list[str]:
    """Update ``state.posts``/``state.queue`` for the current articles; return ids newly queued.

    Articles are matched by their stable id, so renames and rescans never post twice. Held
    (future) articles get no record until their date, so the first plan at or after it posts.

    The first-run baseline waits until the folder is settled and holds articles: a first scan
    that found nothing (a wrong ``include`` pattern, a checkout still being written) must not
    count as "the site's history", or everything found later would be posted as new.
    """
    backfill = settings.backfill if backfill is None else backfill
    renamed = dict(report.renamed)
    for rec in state.posts.values():
        if rec.get("source") in renamed:
            rec["source"] = renamed[rec["source"]]
    if not state.is_initialized:
        if report.settling or not articles:
            logger.info("First run: no baseline yet (%s); nothing is posted until it is recorded",
                        "files are still being written" if report.settling else "no articles found")
            return []
        queued = _baseline(state, articles, settings, now, backfill)
        state.meta["initialized_at"] = iso(now)
        return queued
    max_age = timedelta(days=settings.max_age_days)
    fresh: list[Article] = []
    for article in articles:
        known = state.posts.get(article.id)
        if known is not None:
            _plan_change(known, article, settings, now, state)
        elif not _is_postable(article, settings, now):
            continue
        elif now - article.published_at > max_age:
            state.posts[article.id] = _new_record(article, "seen", now, "older than max_age")
        else:
            fresh.append(article)
    _plan_removals(state, {a.id for a in articles}, report, settings, now)
    return _enqueue(state, fresh, now)



# --- admin actions (/queue /post /skip /retry /done /resume) -------------------------------

def recover_in_flight(state: State, now: datetime | None = None) -> list[str]:
    """At start-up: sends caught in flight become ``unknown`` (ids returned, for one alert).

    An interrupted edit or delete is safe to repeat, so it simply stays queued.
    """
    unknown: list[str] = []
    for article_id, rec in state.posts.items():
        if rec["status"] != "in_flight":
            continue
        if (rec.get("action") or "send") == "send":
            rec.update(status="unknown", error="was in flight when newsbot stopped: it may or may not be in the channel")
            if article_id in state.queue:
                state.queue.remove(article_id)
            unknown.append(article_id)
        else:
            rec["status"] = "pending"
        if now is not None:
            rec["updated_at"] = iso(now)
    return unknown


def mark_done(state: State, article_id: str) -> bool:
    """An admin says the post is in the channel (or must never be): stop tracking it as a problem."""
    rec = state.posts.get(article_id)
    if rec is None:
        return False
    rec.update(status="sent" if rec.get("message_id") or rec["status"] in {"unknown", "in_flight"} else "skipped",
               action=None, error=None, not_before=None, reason="marked done by an admin")
    if article_id in state.queue:
        state.queue.remove(article_id)
    return True


def requeue(state: State, article_id: str, *, front: bool = True) -> bool:
    """Post (again) as a new message: for unknown, failed, skipped, seen or even sent articles.

    An article with no record yet (e.g. future-dated) gets one; ``drain`` skips it if the
    article does not exist.
    """
    rec = state.posts.setdefault(article_id, {"status": "pending", "source": None, "title": "", "attempts": 0})
    rec.update(status="pending", action="send", attempts=0, error=None, not_before=None, reason="queued by an admin")
    if article_id in state.queue:
        state.queue.remove(article_id)
    if front:
        state.queue.insert(0, article_id)
    else:
        state.queue.append(article_id)
    return True


def skip(state: State, article_id: str) -> bool:
    """Never post this article (unless requeued); False if it is unknown."""
    rec = state.posts.get(article_id)
    if rec is None:
        return False
    if rec["status"] != "sent":
        rec["status"] = "skipped"
    rec.update(action=None, not_before=None, reason="skipped by an admin")
    if article_id in state.queue:
        state.queue.remove(article_id)
    return True


def resume(state: State) -> None:
    """Lift a pause (after an admin fixed the channel). A flood wait still applies."""
    for key in ("paused", "pause_reason", "paused_at"):
        state.meta.pop(key, None)


def _row(article_id: str, rec: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "action", "title", "source", "published_at", "attempts", "not_before", "error", "reason",
            "message_id", "updated_at")
    return {"id": article_id, **{k: rec.get(k) for k in keys}}


def pending(state: State) -> list[dict[str, Any]]:
    """The queue in posting order, one row per article."""
    return [_row(i, state.posts[i]) for i in state.queue if i in state.posts]


def problems(state: State) -> list[dict[str, Any]]:
    """Posts that need an admin: failed (Telegram refused) and unknown (may be posted)."""
    rows = [_row(i, r) for i, r in state.posts.items() if r["status"] in {"failed", "unknown"}]
    return sorted(rows, key=lambda r: r.get("updated_at") or "")
