"""The running service's work: scans, posting and their schedule on PTB's JobQueue.

Every piece of work runs as one task owned by ``Service``; jobs and commands only start or
join it. So a /scan during a scheduled scan waits for that scan instead of starting a second
one, and shutdown knows exactly what to wait for. Scans run in a daemon thread, so the event
loop keeps answering commands and a scan cut short at shutdown never holds the process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from apscheduler.triggers.cron import CronTrigger
from telegram.ext import CallbackContext, JobQueue

from bot import __version__, alerts, postqueue
from bot.alerts import Alerts
from bot.config import Settings
from bot.errors import NewsbotError
from bot.models import ScanReport
from bot.publisher import PreviewPublisher, Publisher
from bot.runtime import run_in_daemon_thread, trim_memory
from bot.service import CycleReport, Engine, utcnow
from bot.statusinfo import Taxonomy, status_lines

logger = logging.getLogger(__name__)
T = TypeVar("T")

SCAN_JOB, DRAIN_JOB, RESUME_JOB, DUE_PREFIX = "scan", "drain", "drain-resume", "due:"
DRAIN_EVERY_S = 15.0
STATUS_BAD_FILES = 10  # listed by /status; /errors lists them all
DRAIN_GRACE_S = 5.0  # how long shutdown waits for an in-flight send before recording it as unknown
JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


class ScanCancelled(Exception):
    """Raised inside the scan thread (through its progress callback) when the service stops."""


class Service:
    """One Engine at work: scan, plan, post, on a schedule and on command."""

    def __init__(self, settings: Settings, engine: Engine, alert: Alerts, publisher: Publisher | None,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings, self.engine, self.alerts, self.publisher, self.http = settings, engine, alert, publisher, http
        self.live = publisher is not None and not isinstance(publisher, PreviewPublisher)
        # False while `newsbot run` is still connecting to Telegram: scans and feeds go on, posts wait.
        self.online = True
        self.preview = publisher if isinstance(publisher, PreviewPublisher) else PreviewPublisher(_log_post)
        self.stop = asyncio.Event()
        self.started_at = utcnow()
        self.job_queue: JobQueue[Any] | None = None
        self.web_url = ""  # where --http listens, once it does
        self._cancel_scan = threading.Event()
        self._scan_task: asyncio.Task[CycleReport | None] | None = None
        self._drain_task: asyncio.Task[postqueue.DrainReport | None] | None = None
        self._taxonomy: tuple[object, Taxonomy] = (None, Taxonomy(0, 0))

    # --- joining or starting the one task of each kind ------------------------------------
    async def _until_stopped(self, task: asyncio.Task[T]) -> T | None:
        """Wait for ``task`` unless the service stops first; never cancels the task itself."""
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        return task.result() if task in done and not task.cancelled() else None  # cancelled: at shutdown

    def _start(self, current: asyncio.Task[T] | None, coro: Callable[[], Coroutine[Any, Any, T]], name: str) -> asyncio.Task[T]:
        if current is not None and not current.done():
            return current
        return asyncio.get_running_loop().create_task(coro(), name=name)

    async def scan(self, *, fresh: bool = False) -> CycleReport | None:
        """Join the running scan, or start one; None if the service stopped.

        ``fresh`` (an admin's /scan): a scan that started before the request may have missed a
        file just written, so wait for it and run one more; concurrent requests share that one.
        """
        if self.stop.is_set():
            return None
        running = self._scan_task is not None and not self._scan_task.done()
        if fresh and running:
            assert self._scan_task is not None
            await self._until_stopped(self._scan_task)
            if self.stop.is_set():
                return None
        self._scan_task = self._start(self._scan_task, self._scan_once, "newsbot-scan")
        return await self._until_stopped(self._scan_task)

    @property
    def scanning(self) -> bool:
        return (self._scan_task is not None and not self._scan_task.done()) or self.engine.scan_running

    @property
    def draining(self) -> bool:
        return self._drain_task is not None and not self._drain_task.done()

    def kick_drain(self) -> None:
        """Post what is due soon, without waiting."""
        if self.live and self.online and not self.stop.is_set():
            self._drain_task = self._start(self._drain_task, self._drain_once, "newsbot-drain")

    async def drain(self) -> postqueue.DrainReport | None:
        if not (self.live and self.online) or self.stop.is_set():
            return None
        self._drain_task = self._start(self._drain_task, self._drain_once, "newsbot-drain")
        return await self._until_stopped(self._drain_task)

    # --- the work ---------------------------------------------------------------------
    def _progress(self, done: int, total: int) -> None:
        if self._cancel_scan.is_set():
            raise ScanCancelled

    async def _scan_once(self) -> CycleReport | None:
        bad_before = {k: v.get("reason") for k, v in self.engine.state.bad.items()}
        logger.debug("Scan started")
        try:
            cycle = await run_in_daemon_thread(lambda: self.engine.scan_and_build(progress=self._progress),
                                               "newsbot-scan")
        except ScanCancelled:
            logger.info("Scan stopped: shutting down")
            return None
        except (OSError, NewsbotError) as exc:
            logger.error("Scan failed: %s", exc)
            await self.alerts(alerts.ERROR, f"Scan failed: {exc}")
            return None
        if self.stop.is_set():
            return cycle
        planned_at = utcnow()
        queued = self.engine.plan(cycle.scan, planned_at)
        await asyncio.to_thread(self.engine.save)  # compressing and syncing a big state: off the loop
        trim_memory()
        self.schedule_held(since=planned_at)
        new_bad = [b for b in cycle.scan.bad if bad_before.get(b.source) != b.reason]
        if new_bad:
            listed = "\n".join(f"{b.source}: {b.reason}" for b in new_bad[:10])
            more = f"\n… and {len(new_bad) - 10} more" if len(new_bad) > 10 else ""
            await self.alerts(alerts.BAD_FILES, f"{len(new_bad)} new bad file(s), see /errors:\n{listed}{more}")
        await self._queued(queued)
        return cycle

    async def _queued(self, ids: list[str]) -> None:
        """Newly queued posts: send them (live) or show what would be sent (no token)."""
        if not ids:
            return
        if self.live:
            self.kick_drain()
            return
        for article_id in ids:
            post = self.engine.render(article_id)
            if post is not None:
                await self.preview.send(post)

    async def post_due(self) -> None:
        """A held article's date has come: plan (which queues it) and post."""
        queued = self.engine.plan(ScanReport())
        if queued:
            self.engine.save()
        await self._queued(queued)

    async def _drain_once(self) -> postqueue.DrainReport | None:
        if self.engine.state.meta.get("paused") or self.publisher is None:
            return None
        report = await self.engine.drain(self.publisher, alert=self.alerts, sleep=self.sleep, stop=self.stop)
        if report.resume_at is not None and self.job_queue is not None and not self.stop.is_set():
            for job in self.job_queue.get_jobs_by_name(RESUME_JOB):
                job.schedule_removal()
            self.job_queue.run_once(_drain_job, report.resume_at, name=RESUME_JOB, data=self,
                                    job_kwargs={"misfire_grace_time": None})
        return report

    async def sleep(self, seconds: float) -> None:
        """The queue's pacing sleep; returns early when the service stops."""
        try:
            await asyncio.wait_for(self.stop.wait(), max(0.0, seconds))
        except TimeoutError:
            pass

    # --- schedule ---------------------------------------------------------------------
    def schedule(self, job_queue: JobQueue[Any]) -> None:
        """Periodic scan (interval or cron), periodic drain, and one job per held article."""
        self.job_queue = job_queue
        # An explicit next_run_time: PTB's first=0 lands one interval late (APScheduler rounds up).
        first_run = {**JOB_OPTIONS, "next_run_time": utcnow()}
        if self.settings.scan_cron:
            trigger = CronTrigger.from_crontab(self.settings.scan_cron, timezone=self.settings.zone)
            job_queue.run_custom(_scan_job, {"trigger": trigger, **first_run}, name=SCAN_JOB, data=self)
        else:
            job_queue.run_repeating(_scan_job, self.settings.scan_interval, name=SCAN_JOB, data=self,
                                    job_kwargs=first_run)
        if self.live:
            job_queue.run_repeating(_drain_job, DRAIN_EVERY_S, first=DRAIN_EVERY_S, name=DRAIN_JOB, data=self,
                                    job_kwargs=JOB_OPTIONS)
        self.schedule_held()

    def schedule_held(self, since: datetime | None = None) -> None:
        """A run_once at the date of each article that was future-dated when last planned.

        Jobs are named by id and date, so a moved date re-plans. ``since`` is the time the last
        plan ran: an article that fell due between that plan and now still gets its job, which
        then fires at once (no grace limit), so nothing waits for the next scan.
        """
        if self.job_queue is None:
            return
        since = since or utcnow()
        for article in self.engine.catalog.articles:  # newest first: stop at the first already planned
            if article.published_at <= since:
                break
            name = f"{DUE_PREFIX}{article.id}@{article.published_at.isoformat()}"
            if not self.job_queue.get_jobs_by_name(name):
                self.job_queue.run_once(_due_job, article.published_at, name=name, data=self,
                                        job_kwargs={"misfire_grace_time": None})

    def next_scan_at(self) -> datetime | None:
        if self.job_queue is None:
            return None
        times = [j.next_t for j in self.job_queue.get_jobs_by_name(SCAN_JOB) if j.next_t]
        return min(times) if times else None

    def status(self) -> list[str]:
        catalog = self.engine.catalog
        if self._taxonomy[0] is not catalog:  # counted once per scan, not per /status
            self._taxonomy = (catalog, Taxonomy.of(catalog.articles))
        return status_lines(self.settings, self.engine.state, now=utcnow(), version=__version__,
                            articles=catalog.articles, next_scan_at=self.next_scan_at(),
                            scan_running=self.scanning, taxonomy=self._taxonomy[1], bad_files_shown=STATUS_BAD_FILES)

    def scan_interval_s(self) -> float:
        """For health checks: the gap between two scheduled scans."""
        if not self.settings.scan_cron:
            return float(self.settings.scan_interval)
        trigger = CronTrigger.from_crontab(self.settings.scan_cron, timezone=self.settings.zone)
        first = trigger.get_next_fire_time(None, utcnow())
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        return (second - first).total_seconds() if first and second else 86400.0

    # --- shutdown ---------------------------------------------------------------------
    async def close(self, grace_s: float = DRAIN_GRACE_S) -> None:
        """Stop work: let an in-flight send and a scan finish (bounded), record the rest as unknown, save.

        A scan stops at its next file (or finishes its feeds); waiting for it means the process
        never exits with worker processes of the scan still starting.
        """
        self.stop.set()
        self._cancel_scan.set()
        if self.job_queue is not None and self.job_queue.scheduler.running:
            self.job_queue.scheduler.pause()  # no new job runs: stopping the queue then waits for none it would cancel
        work = {t for t in (self._drain_task, self._scan_task) if t is not None and not t.done()}
        if work:
            await asyncio.wait(work, timeout=grace_s)
        task = self._drain_task
        if task is not None and not task.done():
            logger.warning("A channel post was still being sent at shutdown; recording it as unknown")
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if self._scan_task is not None and not self._scan_task.done():
            logger.info("A scan was still running at shutdown; it is dropped (the next start scans again)")
            self._scan_task.cancel()
        unknown = postqueue.recover_in_flight(self.engine.state)
        if unknown:
            logger.warning("Post(s) %s left unconfirmed at shutdown: see /retry after restart", ", ".join(unknown))
        self.engine.save()


def _log_post(text: str) -> None:
    logger.info("Would post (no token): %s", text.replace("\n", " | "))


def _service(context: CallbackContext[Any, Any, Any, Any]) -> Service:
    assert context.job is not None
    service: Service = context.job.data  # type: ignore[assignment]
    return service


async def _scan_job(context: CallbackContext[Any, Any, Any, Any]) -> None:
    await _service(context).scan()


async def _drain_job(context: CallbackContext[Any, Any, Any, Any]) -> None:
    await _service(context).drain()


async def _due_job(context: CallbackContext[Any, Any, Any, Any]) -> None:
    await _service(context).post_due()
