"""The CLI verbs. Each takes Settings and the parsed args and returns an exit code.

These functions print for the person at the terminal; the engine underneath only logs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from bot import __version__, postqueue, statecmd
from bot.config import Settings
from bot.publisher import PreviewPublisher
from bot.service import CycleReport, Engine, open_engine, utcnow

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
    return (f"{len(r.new)} new, {len(r.changed)} changed, {len(r.deleted)} deleted, {len(r.held)} held, "
            f"{len(r.bad)} bad, {r.unchanged} unchanged; {cycle.feeds_written} feed files written, "
            f"{cycle.feeds_removed} removed ({cycle.seconds:.2f}s)")


def build(settings: Settings, args: argparse.Namespace) -> int:
    engine, store = open_engine(settings)
    try:
        cycle = engine.scan_and_build(progress=_progress_bar())
        engine.save()
    finally:
        store.release()
    print(f"built feeds in {settings.feeds_dir}: {summary_line(cycle)}")
    return 0


async def _scan_and_post(engine: Engine, settings: Settings, args: argparse.Namespace) -> int:
    """One full cycle: build, plan, then drain the queue once (or preview it)."""
    cycle = engine.scan_and_build(progress=_progress_bar())
    queued = engine.plan(cycle.scan, backfill=getattr(args, "backfill", None))
    engine.save()
    print(f"scan: {summary_line(cycle)}; {len(queued)} queued for the channel")
    if getattr(args, "dry_run", False) or not settings.bot_token:
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
    from bot.app import make_bot  # the Telegram client is only needed when posting

    async with make_bot(settings) as (bot, publisher):
        report = await engine.drain(publisher, alert=_log_alert, sleep=asyncio.sleep)
    print(f"posted {report.sent}; {len(postqueue.pending(engine.state))} still queued")
    return 0


async def _log_alert(kind: str, text: str) -> None:
    logger.warning("alert (%s): %s", kind, text)


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
    from bot.state import StateStore

    store = StateStore(settings.state_dir)
    state = store.load()
    for line in status_lines(settings, state, now=utcnow(), version=__version__):
        print(line)
    return 0


state_check = statecmd.state_check
state_export = statecmd.state_export
state_import = statecmd.state_import
state_reset = statecmd.state_reset
