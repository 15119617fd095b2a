"""Posting the queue (the I/O half of bot/postqueue.py): pace, send, record, recover.

Each call is bracketed by saves: ``in_flight`` before, the outcome after, so a crash never
leaves a post both unrecorded and delivered. The drain never sleeps longer than the pacing gap:
flood waits and back-offs end the drain with ``resume_at`` for the caller's scheduler, so a
long ``retry_after`` costs no task and survives restarts (it is in ``meta.not_before``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.errors import ChannelError, DeliveryUnknown, PostRejected, PublishError
from bot.messages import post_hash
from bot.models import Post
from bot.publisher import Publisher
from bot.state import State

logger = logging.getLogger(__name__)

BACKOFF_FIRST_S = 30.0
BACKOFF_MAX_S = 3600.0
ALERT_AFTER_ATTEMPTS = 5  # tell admins when a post keeps failing transiently
PACE_WINDOW = 20  # requests per sliding window checked against answer times (Telegram: 20/min)


def iso(at: datetime) -> str:
    return at.isoformat()


def parse_iso(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass
class DrainReport:
    """What one drain did; ``resume_at`` is when the caller should drain again (None: when new work)."""

    sent: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resume_at: datetime | None = None
    paused: bool = False


Alert = Callable[[str, str], Awaitable[None]]


@dataclass
class _Run:
    state: State
    save: Callable[[], None]
    publisher: Publisher
    render: Callable[[str], Post | None]
    now: Callable[[], datetime]
    alert: Alert
    report: DrainReport
    slot: datetime = datetime.min  # when the current request's pacing slot opened

    def called(self) -> None:
        """Note a request to the channel, for pacing; saved with the outcome."""
        answers = [*(self.state.meta.get("recent_answers") or [])[-PACE_WINDOW + 1:], iso(self.now())]
        self.state.meta.update(last_sent_at=iso(self.slot), recent_answers=answers)

    def finish(self, article_id: str, status: str, **fields: Any) -> None:
        rec = self.state.posts[article_id]
        rec.update(status=status, updated_at=iso(self.now()), **fields)
        for key in ["action", "not_before", *(k for k, v in fields.items() if v is None)]:
            rec.pop(key, None)  # done: no action left; records stay small, absent means none
        if article_id in self.state.queue:
            self.state.queue.remove(article_id)
        self.save()

    async def tell(self, kind: str, text: str) -> None:
        """Alert admins; an alert that fails is logged, never allowed to stop posting."""
        logger.warning("%s: %s", kind, text)
        try:
            await self.alert(kind, text)
        except Exception:  # noqa: BLE001 - the alert sink is the caller's; posting must go on
            logger.exception("Could not alert the admins (%s)", kind)


def _label(article_id: str, rec: dict[str, Any]) -> str:
    return f"{rec.get('title') or article_id} [{article_id}]"


def _head(run: _Run) -> str | None:
    """The first queued id that can be worked on; drops ids with no pending record."""
    while run.state.queue:
        article_id = run.state.queue[0]
        rec = run.state.posts.get(article_id)
        if rec is not None and rec["status"] == "pending":
            return article_id
        run.state.queue.pop(0)
        if rec is not None and rec["status"] == "in_flight":  # a crash without recover_in_flight
            rec.update(status="unknown", error="was in flight when newsbot stopped")
            run.report.unknown.append(article_id)
        run.save()
    return None


async def drain(state: State, save: Callable[[], None], publisher: Publisher, render: Callable[[str], Post | None],
                settings: Settings, *, now: Callable[[], datetime], sleep: Callable[[float], Awaitable[None]],
                alert: Alert, stop: asyncio.Event | None = None) -> DrainReport:
    """Post the queue in order at the configured pace until it is empty, held or paused."""
    run = _Run(state, save, publisher, render, now, alert, DrainReport())
    gap = timedelta(seconds=60.0 / settings.posts_per_minute)
    while state.queue and not (stop is not None and stop.is_set()):
        if state.meta.get("paused"):
            run.report.paused = True
            break
        at = now()
        hold = parse_iso(state.meta.get("not_before"))
        if hold is not None and at < hold:
            run.report.resume_at = hold
            break
        slot = next_slot(state, gap)
        if slot is not None and at < slot:
            await sleep(min(slot - at, gap * PACE_WINDOW).total_seconds())  # capped: a clock step back
            continue
        run.slot = slot if slot is not None and at - slot < gap else at  # a late wake-up must not drift the pace
        article_id = _head(run)
        if article_id is None or not await _work(run, article_id):
            break
    return run.report


def next_slot(state: State, gap: timedelta) -> datetime | None:
    """Earliest time the next request may start.

    Two rules: ``gap`` after the previous slot (the configured pace, drift-free), and
    ``PACE_WINDOW`` gaps after the *answer* to the request ``PACE_WINDOW`` back. Telegram
    received that one before it answered, so no ``PACE_WINDOW + 1`` requests ever reach it
    within ``PACE_WINDOW`` gaps, whatever the network latency; this costs one latency per
    window, not one per post.
    """
    times = [last + gap] if (last := parse_iso(state.meta.get("last_sent_at"))) else []
    answers = state.meta.get("recent_answers") or []
    if len(answers) >= PACE_WINDOW:
        times.append(datetime.fromisoformat(answers[-PACE_WINDOW]) + gap * PACE_WINDOW)
    return max(times, default=None)


async def _work(run: _Run, article_id: str) -> bool:
    """Do the queued action for one article; False when the drain must stop."""
    rec = run.state.posts[article_id]
    action = rec.get("action") or "send"
    post = None if action == "delete" else run.render(article_id)
    if action != "delete" and post is None:
        run.finish(article_id, "skipped" if action == "send" else "sent", reason="the article no longer exists")
        run.report.skipped.append(article_id)
        return True
    if action == "edit" and post is not None and post_hash(post) == rec.get("posted_hash"):
        run.finish(article_id, "sent")  # the change does not show in the post
        return True
    rec.update(status="in_flight", updated_at=iso(run.now()))
    run.save()
    try:
        await _call(run, article_id, rec, action, post)
    except PublishError as exc:
        run.called()
        return await _failed(run, article_id, action, exc)
    return True


async def _call(run: _Run, article_id: str, rec: dict[str, Any], action: str, post: Post | None) -> None:
    if action == "delete":
        await run.publisher.delete(rec["message_id"])
        run.called()
        run.finish(article_id, "skipped", reason="the article was deleted; so was its message")
        run.report.deleted.append(article_id)
        return
    assert post is not None
    if action == "edit":
        changed = post.photo_url != rec.get("photo_url")
        await run.publisher.edit(post, rec["message_id"], has_photo=bool(rec.get("has_photo")), photo_changed=changed)
        run.called()
        photo = {"photo_url": post.photo_url, "file_id": None} if changed and rec.get("has_photo") else {}
        run.finish(article_id, "sent", posted_hash=post_hash(post), error=None, **photo)
        run.report.edited.append(article_id)
        return
    reuse = rec.get("file_id") if rec.get("photo_url") == post.photo_url else None
    delivery = await run.publisher.send(post, file_id=reuse)
    run.called()
    has_photo = post.photo_url is not None and delivery.fallback != "text"
    run.finish(article_id, "sent", message_id=delivery.message_id, chat_id=delivery.chat_id,
               file_id=delivery.file_id, photo_url=post.photo_url if has_photo else None, has_photo=has_photo,
               posted_hash=post_hash(post), fallback=delivery.fallback, attempts=0, error=None,
               sent_at=iso(run.now()))
    run.report.sent.append(article_id)


async def _failed(run: _Run, article_id: str, action: str, exc: PublishError) -> bool:
    """Record a failed call; False when the drain must stop (paused, flood wait, outage)."""
    rec, at, label = run.state.posts[article_id], run.now(), _label(article_id, run.state.posts[article_id])
    if isinstance(exc, DeliveryUnknown) and action == "send":
        run.finish(article_id, "unknown", error=str(exc))
        run.report.unknown.append(article_id)
        await run.tell("unknown", f"Not sure whether {label} reached the channel ({exc}). Check the channel, "
                                  f"then /post {article_id} to post it again or /done {article_id}.")
        return True
    if isinstance(exc, PostRejected):
        run.finish(article_id, "failed" if action == "send" else "sent", error=f"{action}: {exc}")
        run.report.failed.append(article_id)
        await run.tell("failed", f"Telegram refused to {action} {label}: {exc}. /retry {article_id} after fixing it.")
        return True
    rec.update(status="pending", error=str(exc), updated_at=iso(at))
    if isinstance(exc, ChannelError):
        run.state.meta.update(paused=True, pause_reason=str(exc), paused_at=iso(at))
        run.report.paused = True
        run.save()
        await run.tell("paused", f"Posting is paused: {exc}. Nothing is lost; fix the channel, then /resume.")
        return False
    if exc.retry_after_s is not None:
        hold = at + timedelta(seconds=exc.retry_after_s)
        logger.warning("Telegram asks to wait %.0f s (until %s) before posting again", exc.retry_after_s, iso(hold))
    else:
        rec["attempts"] = int(rec.get("attempts") or 0) + 1
        hold = at + timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** (rec["attempts"] - 1), BACKOFF_MAX_S))
        logger.warning("Posting %s failed (%s); retrying at %s", label, exc, iso(hold))
        if rec["attempts"] == ALERT_AFTER_ATTEMPTS:
            await run.tell("retrying", f"{label} failed {rec['attempts']} times ({exc}); still retrying.")
    rec["not_before"] = iso(hold)
    run.state.meta["not_before"] = iso(hold)
    run.report.resume_at = hold
    run.save()
    return False
