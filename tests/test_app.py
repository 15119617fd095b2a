"""The running service: scheduled scans and posts, coalescing, responsiveness, alerts, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import postqueue
from bot.app import serve
from bot.config import Settings
from bot.handlers import SERVICE_KEY
from bot.jobs import Service
from bot.service import CycleReport, Engine
from bot.state import StateStore
from tests.fakebotapi import FakeBotAPI
from tests.servicekit import (
    ADMIN,
    BROKEN,
    CHANNEL,
    make_settings,
    open_with,
    running_bot,
    wait_until,
    write_article,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI.running() as server:
        yield server


class GatedEngine(Engine):
    """A real Engine whose scans wait at a gate first and count how many run at once."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.gate = threading.Event()
        self.gate.set()
        self.hold_s = 0.0
        self.started = 0
        self.running = 0
        self.max_running = 0
        self._count = threading.Lock()

    def scan_and_build(self, now: datetime | None = None, **kwargs: Any) -> CycleReport:
        with self._count:
            self.started += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.gate.wait(20)
            threading.Event().wait(self.hold_s)
            return super().scan_and_build(now, **kwargs)
        finally:
            with self._count:
                self.running -= 1


@contextlib.asynccontextmanager
async def serving(settings: Settings, engine_class: type[Engine] = Engine) -> AsyncIterator[tuple[Service, asyncio.Task[int]]]:
    """``serve`` (the body of ``newsbot run``) as a task; stopped and checked for exit code 0 after."""
    engine, store = open_with(settings, engine_class)
    apps: list[Any] = []
    task = asyncio.create_task(serve(settings, engine, store, ready=apps.append))
    try:
        await wait_until(lambda: bool(apps) or task.done(), 10)
        assert apps, f"serve ended early with {task.result()}"
        service: Service = apps[0].bot_data[SERVICE_KEY]
        yield service, task
        service.stop.set()
        assert await asyncio.wait_for(task, 12) == 0
    finally:
        if not task.done():
            task.cancel()
        if isinstance(engine, GatedEngine):
            engine.gate.set()
        store.release()


def channel_texts(fake: FakeBotAPI) -> list[str]:
    return [str(c.params.get("text") or c.params.get("caption")) for c in fake.calls
            if c.method.startswith("send") and str(c.params.get("chat_id")) == CHANNEL]


def admin_texts(fake: FakeBotAPI) -> list[str]:
    return [str(c.params.get("text")) for c in fake.calls_for("sendMessage") if c.params.get("chat_id") == ADMIN]


# --- the schedule ----------------------------------------------------------------------------
async def test_scheduled_scan_picks_up_a_new_file_and_posts_it(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake, scan_interval=1)
    async with serving(settings) as (service, _):
        await wait_until(lambda: service.engine.state.is_initialized, 10)
        write_article(settings.articles_dir, "breaking.md", "Breaking 突发")
        await wait_until(lambda: any("Breaking 突发" in t for t in channel_texts(fake)), 10)
        await wait_until(lambda: not service.engine.state.queue)  # recorded as sent
        # Commands arrive by real long polling (getUpdates) meanwhile.
        fake.push_message(ADMIN, "/queue")
        await wait_until(lambda: any("queue is empty" in t for t in admin_texts(fake)), 10)
    assert (settings.feeds_dir / "atom.xml").is_file()


async def test_a_future_dated_article_is_posted_when_its_date_comes(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake, scan_interval=3600)
    async with serving(settings) as (service, _):
        await wait_until(lambda: service.engine.state.is_initialized, 10)
        due = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        write_article(settings.articles_dir, "later.md", "Scheduled 定时", date=due.strftime("%Y-%m-%d %H:%M:%S +0000"))
        assert await service.scan(fresh=True) is not None  # /scan: the article is held, not posted
        assert not any("Scheduled 定时" in t for t in channel_texts(fake))
        await wait_until(lambda: any("Scheduled 定时" in t for t in channel_texts(fake)), 10)
    posted = [c for c in fake.calls if "Scheduled 定时" in str(c.params.get("text") or c.params.get("caption"))]
    assert datetime.fromtimestamp(posted[0].time, UTC) >= due


class SlowSaveEngine(Engine):
    """A real Engine whose saves can be made slow, to widen the gap between planning and scheduling."""

    save_delay_s = 0.0

    def save(self) -> bool:
        threading.Event().wait(self.save_delay_s)
        return super().save()


async def test_an_article_falling_due_while_a_scan_finishes_is_not_left_for_the_next_scan(
        tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake, scan_interval=3600)
    async with serving(settings, SlowSaveEngine) as (service, _):
        engine = service.engine
        assert isinstance(engine, SlowSaveEngine)
        await wait_until(lambda: engine.state.is_initialized, 10)
        due = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        write_article(settings.articles_dir, "race.md", "Race 竞态", date=due.strftime("%Y-%m-%d %H:%M:%S +0000"))
        engine.save_delay_s = 3.0  # planned while future, scheduled after its date has passed
        assert await service.scan(fresh=True) is not None
        engine.save_delay_s = 0.0
        await wait_until(lambda: any("Race 竞态" in t for t in channel_texts(fake)), 10)


async def test_scans_never_overlap_and_missed_runs_coalesce(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake, scan_interval=1)
    async with serving(settings, GatedEngine) as (service, _):
        engine = service.engine
        assert isinstance(engine, GatedEngine)
        engine.hold_s = 2.5  # each scan outlasts two intervals
        await wait_until(lambda: engine.started >= 1, 5)
        await asyncio.gather(service.scan(), service.scan())  # two joins of the scheduled scan
        assert engine.started == 1
        await asyncio.gather(service.scan(fresh=True), service.scan(fresh=True))  # two /scan: one more scan
        before = engine.started
        await asyncio.sleep(3.5)
        assert engine.max_running == 1
        assert engine.started - before <= 2  # 3.5 s of 1 s ticks with 2.5 s scans: runs coalesce, none queue up


async def test_status_is_answered_while_a_long_scan_runs(tmp_path: Path, fake: FakeBotAPI) -> None:
    async with running_bot(make_settings(tmp_path, fake), fake, engine_class=GatedEngine) as bot:
        engine = bot.engine
        assert isinstance(engine, GatedEngine)
        engine.gate.clear()
        scan = asyncio.create_task(bot.service.scan())
        await wait_until(lambda: engine.running == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        [reply] = await bot.send(ADMIN, "/status")
        assert loop.time() - started < 1.0
        assert "next scan: running now" in reply and not scan.done()
        engine.gate.set()
        assert await scan is not None


# --- alerts ----------------------------------------------------------------------------------
async def test_a_channel_failure_pauses_posting_and_alerts_admins_once(tmp_path: Path, fake: FakeBotAPI) -> None:
    async with running_bot(make_settings(tmp_path, fake), fake) as bot:
        fake.fail_match("sendMessage", lambda p: str(p.get("chat_id")) == CHANNEL, 403, times=5)
        write_article(bot.site, "a.md", "Article A")
        await bot.service.scan()
        await wait_until(lambda: bool(bot.engine.state.meta.get("paused")))
        await wait_until(lambda: any("Posting is paused" in t for t in admin_texts(fake)) and not bot.service.draining)
        bot.engine.state.meta.pop("paused")
        await bot.service.drain()  # fails again: paused again, but admins are not told twice in a row
        assert bot.engine.state.meta.get("paused")
        assert sum("Posting is paused" in t for t in admin_texts(fake)) == 1
        assert [r["id"] for r in postqueue.pending(bot.engine.state)]  # nothing lost


async def test_new_bad_files_alert_admins_once_per_interval(tmp_path: Path, fake: FakeBotAPI) -> None:
    async with running_bot(make_settings(tmp_path, fake), fake) as bot:
        (bot.site / "broken.md").write_text(BROKEN, encoding="utf-8")
        await bot.service.scan()
        await bot.service.scan()  # the same bad file again: not new
        alerts = [t for t in admin_texts(fake) if "new bad file" in t]
        assert len(alerts) == 1 and "broken.md" in alerts[0]
        (bot.site / "broken2.md").write_text(BROKEN, encoding="utf-8")
        await bot.service.scan()  # new, but within alert_interval_s of the last one
        assert len([t for t in admin_texts(fake) if "new bad file" in t]) == 1


async def test_a_post_left_in_flight_by_a_crash_is_alerted_at_start(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake)
    async with running_bot(settings, fake) as bot:
        bot.engine.state.meta["paused"] = True
        write_article(bot.site, "a.md", "Article A")
        await bot.service.scan()
        article = bot.engine.catalog.find("a.md")
        assert article is not None
    store = StateStore(settings.state_dir)  # as a crash mid-send leaves it
    store.acquire()
    state = store.load()
    state.posts[article.id]["status"] = "in_flight"
    store.save(state)
    store.release()
    async with running_bot(settings, fake, startup=True, first_scan=False) as bot:
        assert bot.engine.state.posts[article.id]["status"] == "unknown"
        assert any("may or may not be in the channel" in t for t in admin_texts(fake))
        assert StateStore(settings.state_dir).load().posts[article.id]["status"] == "unknown"


async def test_state_recovered_from_its_backup_is_alerted_at_start(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake)
    async with running_bot(settings, fake) as bot:
        bot.engine.state.meta["note"] = "second save"
        bot.engine.save()
    (settings.state_dir / "state.json.zst").write_bytes(b"\x00garbage")
    async with running_bot(settings, fake, startup=True, first_scan=False):
        assert any("recovered from its backup" in t for t in admin_texts(fake))


# --- modes and shutdown ------------------------------------------------------------------------
async def test_without_a_token_it_scans_on_schedule_and_only_logs_posts(
        tmp_path: Path, fake: FakeBotAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(tmp_path, None, backfill=2, scan_interval=1)
    async with serving(settings) as (service, _):
        await wait_until(lambda: service.engine.state.is_initialized, 10)
        write_article(settings.articles_dir, "fresh.md", "Fresh 新")
        await wait_until(lambda: any("Fresh 新" in r.getMessage() for r in caplog.records), 10)
    would = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Would post")]
    assert len(would) == 3 and all("\n" not in line for line in would)  # backfill 2, then the new one
    assert fake.calls == []  # nothing reached any Bot API
    assert (settings.feeds_dir / "atom.xml").is_file()
    assert len(postqueue.pending(StateStore(settings.state_dir).load())) == 3  # kept for when a token is set


async def test_shutdown_records_a_stuck_send_as_unknown_and_saves(tmp_path: Path, fake: FakeBotAPI) -> None:
    settings = make_settings(tmp_path, fake)
    async with running_bot(settings, fake) as bot:
        fake.fail_match("sendMessage", lambda p: str(p.get("chat_id")) == CHANNEL, 200, delay_s=4, deliver=True)
        write_article(bot.site, "a.md", "Article A")
        await bot.service.scan()
        article = bot.engine.catalog.find("a.md")
        assert article is not None
        await wait_until(lambda: bot.engine.state.posts[article.id]["status"] == "in_flight")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await bot.service.close(grace_s=0.5)
        assert loop.time() - started < 2.0
    assert StateStore(settings.state_dir).load().posts[article.id]["status"] == "unknown"


async def test_web_mode_serves_feeds_and_health_and_takes_webhooks(tmp_path: Path, fake: FakeBotAPI) -> None:
    import httpx

    from bot.webhook import SECRET_HEADER, webhook_secret

    settings = make_settings(tmp_path, fake, http="127.0.0.1:0", webhook_url="https://bot.example.org/hooks")
    async with serving(settings) as (service, _):
        await wait_until(lambda: service.engine.state.is_initialized and bool(fake.calls_for("setWebhook")), 10)
        [hook] = fake.calls_for("setWebhook")
        assert hook.params["url"] == "https://bot.example.org/hooks/telegram"
        assert hook.params["secret_token"] == webhook_secret(settings.bot_token)
        assert not fake.calls_for("getUpdates")  # webhook mode: no polling
        update = fake.push_message(ADMIN, "/queue")
        async with httpx.AsyncClient(base_url=service.web_url) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/feeds/atom.xml")).status_code == 200
            refused = await client.post("/telegram", json=update, headers={SECRET_HEADER: "wrong"})
            assert refused.status_code == 403
            accepted = await client.post("/telegram", json=update, headers={SECRET_HEADER: hook.params["secret_token"]})
            assert accepted.status_code == 200
        await wait_until(lambda: any("queue is empty" in t for t in admin_texts(fake)), 10)


# --- Telegram down at start, and a clean stop mid-scan ------------------------------------------
async def test_telegram_down_at_start_still_serves_feeds_then_connects_and_posts(
        tmp_path: Path, fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import httpx

    from bot import app as app_module

    monkeypatch.setattr(app_module, "CONNECT_FIRST_WAIT_S", 0.05)  # the back-off, shortened for the test
    monkeypatch.setattr(app_module, "CONNECT_MAX_WAIT_S", 0.2)
    caplog.set_level(logging.INFO)
    fake.fail("getMe", 502, times=100_000)  # Telegram (or the way to it) is down
    settings = make_settings(tmp_path, fake, http="127.0.0.1:0", scan_interval=1)
    async with serving(settings) as (service, _):
        await wait_until(lambda: service.engine.state.is_initialized, 10)
        async with httpx.AsyncClient(base_url=service.web_url) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/feeds/atom.xml")).status_code == 200
        write_article(settings.articles_dir, "outage.md", "Outage 断网")
        await wait_until(lambda: bool(service.engine.state.queue), 10)  # scanned and queued, not posted
        await wait_until(lambda: len(fake.calls_for("getMe")) >= 5)
        assert channel_texts(fake) == [] and not fake.calls_for("getUpdates")
        tries = [r for r in caplog.records if r.getMessage().startswith("Cannot reach Telegram")]
        assert all(r.exc_info is None for r in tries)  # one line each, no traceback
        assert [r.levelname for r in tries].count("WARNING") == 1  # the same reason again is INFO
        fake.clear()  # Telegram is back
        await wait_until(lambda: any("Outage 断网" in t for t in channel_texts(fake)), 10)
        await wait_until(lambda: bool(fake.calls_for("getUpdates")), 10)  # admin commands work too
        fake.push_message(ADMIN, "/queue")
        await wait_until(lambda: any("queue is empty" in t for t in admin_texts(fake)), 10)


async def test_a_rejected_token_stops_the_service_with_exit_1(tmp_path: Path, fake: FakeBotAPI) -> None:
    fake.fail("getMe", 401)
    settings = make_settings(tmp_path, fake)
    engine, store = open_with(settings)
    try:
        assert await asyncio.wait_for(serve(settings, engine, store), 15) == 1
    finally:
        store.release()


class HeldEngine(GatedEngine):
    """A GatedEngine whose first scan waits at the gate."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.gate.clear()


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
async def test_a_stop_during_a_scan_logs_no_error(tmp_path: Path, fake: FakeBotAPI, with_token: bool,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, fake if with_token else None)
    async with serving(settings, HeldEngine) as (service, task):
        engine = service.engine
        assert isinstance(engine, HeldEngine)
        await wait_until(lambda: engine.running == 1, 10)
        service.stop.set()  # what SIGTERM does
        await asyncio.sleep(0.1)
        engine.gate.set()
        assert await asyncio.wait_for(task, 12) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
