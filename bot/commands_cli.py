"""The CLI verbs. Each takes Settings and the parsed args and returns an exit code.

These functions print for the person at the terminal; the engine underneath only logs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable

from bot import __version__, postcmd, postqueue, statecmd
from bot.config import Settings
from bot.drain import DrainReport, parse_iso
from bot.logs import RedactingFilter
from bot.postcmd import problem
from bot.publisher import PreviewPublisher
from bot.service import CycleReport, Engine, open_engine, utcnow
from bot.state import State, StateStore
from bot.statusinfo import format_time

logger = logging.getLogger(__name__)


def _progress_bar() -> Callable[[int, int], None] | None:
    """A one-line progress bar on a terminal; nothing when output is piped."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total < 500 or (done % 200 and done != total):
            return
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\rscanning [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def summary_line(cycle: CycleReport) -> str:
    r = cycle.scan
    settling = f", {len(r.settling)} still being written (read next run)" if r.settling else ""
    return (f"{len(r.new)} new, {len(r.changed)} changed, {len(r.deleted)} deleted, {len(r.held)} held, "
            f"{len(r.bad)} bad, {r.unchanged} unchanged{settling}; {cycle.feeds_written} feed files written, "
            f"{cycle.feeds_removed} removed ({cycle.seconds:.2f}s)")


def settled_cycle(engine: Engine, settings: Settings) -> CycleReport:
    """One scan + build for a one-shot verb. Files modified moments ago are skipped by a scan
    (they may be half written); right after a checkout that is every file, so a one-shot run
    waits out ``settle_s`` once and scans again rather than publish empty feeds."""
    cycle = engine.scan_and_build(progress=_progress_bar())
    if cycle.scan.settling:
        logger.info("%d file(s) were modified moments ago; waiting %.1fs for them to settle",
                    len(cycle.scan.settling), settings.settle_s)
        time.sleep(settings.settle_s)
        cycle = engine.scan_and_build(progress=_progress_bar())
    return cycle


def build(settings: Settings, args: argparse.Namespace) -> int:
    engine, store = open_engine(settings)
    try:
        cycle = settled_cycle(engine, settings)
        engine.save()
    finally:
        store.release()
    print(f"built feeds in {settings.feeds_dir}: {summary_line(cycle)}")
    return 0


async def _scan_and_post(engine: Engine, settings: Settings, args: argparse.Namespace) -> int:
    """One full cycle: build, plan, then drain the queue once (or preview it).

    Exit 1 when posting needs a person: paused (the channel refused posts), posts refused or
    unconfirmed in this run, Telegram unreachable or the token rejected; cron mails the lines.
    """
    cycle = settled_cycle(engine, settings)
    queued = engine.plan(cycle.scan, backfill=getattr(args, "backfill", None))
    engine.save()
    print(f"scan: {summary_line(cycle)}; {len(queued)} queued for the channel")
    if getattr(args, "dry_run", False) or not settings.bot_token:
        return await _preview(engine, settings, args)
    waiting = len(postqueue.pending(engine.state))
    if engine.state.meta.get("paused"):
        return _paused(engine.state, waiting)
    hold = parse_iso(engine.state.meta.get("not_before"))
    if not waiting:
        print("nothing to post")
        return 0
    if hold is not None and hold > utcnow():  # connecting now would only be told to wait again
        print(f"nothing to post now: {waiting} queued, Telegram asked to wait until {format_time(hold, settings)}")
        return 0
    report = await _post_queue(engine, settings)
    return 1 if report is None else _posted(report, engine.state, settings)


async def _preview(engine: Engine, settings: Settings, args: argparse.Namespace) -> int:
    if not settings.bot_token and not getattr(args, "dry_run", False):
        print("no TELEGRAM_BOT_TOKEN: preview mode, these posts would be sent:")
    preview = PreviewPublisher(print)
    due = postqueue.pending(engine.state)
    for item in due:
        post = engine.render(item["id"])
        if post is not None:
            await preview.send(post)
    if not due:
        print("nothing is due for the channel (a first run records existing articles as seen; "
              "--backfill N posts the newest N)")
    return 0


async def _post_queue(engine: Engine, settings: Settings) -> DrainReport | None:
    """Drain once; None (after one clear line) when Telegram cannot be reached or refuses the token."""
    from telegram.error import InvalidToken, TelegramError  # the Telegram client is only needed when posting

    from bot.app import make_bot

    redact = RedactingFilter((settings.bot_token,)).redact
    try:
        async with make_bot(settings) as (_, publisher):
            return await engine.drain(publisher, alert=_no_alert, sleep=asyncio.sleep)
    except InvalidToken:
        problem("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather")
    except TelegramError as exc:
        problem(f"cannot reach Telegram at {redact(settings.api_url)} ({redact(exc.message)}); "
                 f"{len(postqueue.pending(engine.state))} post(s) stay queued for the next run")
    return None


def _posted(report: DrainReport, state: State, settings: Settings) -> int:
    """The run's outcome in one line, then what needs a person (stderr); 1 if anything does."""
    counts = [f"posted {len(report.sent)}"]
    counts += [f"{len(ids)} {what}" for ids, what in ((report.edited, "edited"), (report.deleted, "deleted"),
                                                     (report.failed, "refused"), (report.unknown, "unconfirmed"))
               if ids]
    waiting = len(postqueue.pending(state))
    later = f" (next try after {format_time(report.resume_at, settings)})" if waiting and report.resume_at else ""
    print(f"{', '.join(counts)}; {waiting} still queued{later}")
    for article_id in report.failed:
        rec = state.posts.get(article_id, {})
        problem(f"Telegram refused {rec.get('title') or article_id} [{article_id}]: {rec.get('error')}; "
                 f"fix it, then /retry {article_id} in the admin chat (or `newsbot retry {article_id}`)")
    for article_id in report.unknown:
        rec = state.posts.get(article_id, {})
        problem(f"not sure whether {rec.get('title') or article_id} [{article_id}] reached the channel; "
                 f"check it, then /retry or /done {article_id} in the admin chat (or `newsbot retry|done ID`)")
    if report.paused:
        _paused(state, waiting)
    return 1 if report.paused or report.failed or report.unknown else 0


def _paused(state: State, waiting: int) -> int:
    reason = state.meta.get("pause_reason") or "no reason recorded"
    if reason.startswith("paused by admin"):  # deliberate: say so, but don't fail every cron run
        print(f"posting is paused ({reason}); {waiting} post(s) wait for /resume or `newsbot resume`")
        return 0
    problem(f"posting is paused ({reason}); {waiting} post(s) wait. Fix the channel (the bot must be an "
             "admin allowed to post there), then run `newsbot resume` (or send /resume to the bot)")
    return 1


async def _no_alert(kind: str, text: str) -> None:
    """No admin chat to alert from a one-shot run: the drain has logged the alert already."""


def scan(settings: Settings, args: argparse.Namespace) -> int:
    engine, store = open_engine(settings)
    try:
        return asyncio.run(_scan_and_post(engine, settings, args))
    finally:
        engine.save()
        store.release()


def run(settings: Settings, args: argparse.Namespace) -> int:
    """The long-running service; ``--once`` does a single cycle and exits (previews without a token)."""
    if getattr(args, "once", False):
        if not settings.bot_token:
            print("newsbot run --once: no TELEGRAM_BOT_TOKEN, so one full cycle in preview mode "
                  "(feeds are written, posts are shown, nothing is sent).")
        return scan(settings, args)
    from bot.app import run_service

    return run_service(settings, args)


def status(settings: Settings, args: argparse.Namespace) -> int:
    from bot.statusinfo import status_lines

    store = StateStore(settings.state_dir)
    state = store.load() if store.state_dir.is_dir() else State()
    if not (state.meta or state.posts or state.articles):
        problem(f"there is no newsbot state in {store.state_dir}: check --state (or state_dir / "
                 "NEWSBOT_STATE_DIR); `newsbot build`, `scan` or `run` create it")
        return 1
    for line in status_lines(settings, state, now=utcnow(), version=__version__):
        print(line)
    return 0


def resume(settings: Settings, args: argparse.Namespace) -> int:
    """Lift a pause from the command line (``/resume`` in the bot does the same)."""
    with postcmd.locked_state(settings, "resume") as held:
        if held is None:
            return 1
        store, state = held
        meta = dict(state.meta)
        postqueue.resume(state)
        store.save(state)
    waiting = len(postqueue.pending(state))
    if not meta.get("paused"):
        print(f"posting was not paused; {waiting} post(s) queued")
        return 0
    since = parse_iso(meta.get("paused_at"))
    when = f" since {format_time(since, settings)}" if since else ""
    print(f"posting resumed (it was paused{when}: {meta.get('pause_reason') or 'no reason recorded'}); "
          f"{waiting} post(s) queued: the next `newsbot scan` posts them")
    return 0


retry = postcmd.retry
done = postcmd.done
state_check = statecmd.state_check
state_export = statecmd.state_export
state_import = statecmd.state_import
state_reset = statecmd.state_reset
