"""The post queue: what gets posted (planning) and posting it once and only once (drain).

Drains use PTB's real client against tests/fakebotapi.py and a fake clock, so hour-long flood
waits and back-offs take no real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from telegram import Bot

from bot import postqueue, stateschema
from bot.config import Settings
from bot.messages import render_post
from bot.models import Article, Post, ScanReport
from bot.postqueue import DrainReport, drain, plan_posts
from bot.publisher import TelegramPublisher
from bot.state import State
from tests.fakebotapi import NOT_MEMBER, NOT_MODIFIED, FakeBotAPI
from tests.imageserver import ImageServer
from tests.test_publisher import CHANNEL, TOKEN, fast_request

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
NO_CHANGE = ScanReport()


def art(article_id: str, minutes_ago: float = 60, **kw: Any) -> Article:
    at = T0 - timedelta(minutes=minutes_ago)
    base: dict[str, Any] = dict(source=f"{article_id}.md", id=article_id, title=f"标题 {article_id}",
                                url=f"https://news.example.com/{article_id}/", published_at=at, updated_at=at,
                                image_url=f"https://img.example.com/{article_id}.jpg", content_hash=f"h-{article_id}")
    return Article(**(base | kw))


def initialized() -> State:
    state = State()
    state.meta["initialized_at"] = (T0 - timedelta(days=30)).isoformat()
    return state


# --- planning --------------------------------------------------------------------------------

def test_first_run_records_history_as_seen_and_posts_nothing() -> None:
    state = State()
    articles = [art(f"a{i}", minutes_ago=60 * i) for i in range(5)]
    assert plan_posts(state, articles, NO_CHANGE, Settings(), T0) == []
    assert {r["status"] for r in state.posts.values()} == {"seen"}
    assert state.is_initialized and state.queue == []
    assert plan_posts(state, [*articles, art("new", minutes_ago=1)], NO_CHANGE, Settings(), T0) == ["new"]


def test_no_baseline_while_the_first_scan_found_nothing_or_files_were_settling() -> None:
    state = State()
    history = [art(f"a{i}", minutes_ago=60 * i) for i in range(1, 4)]
    assert plan_posts(state, [], NO_CHANGE, Settings(), T0) == []  # wrong include pattern, or empty checkout
    assert not state.is_initialized
    assert plan_posts(state, history[:1], ScanReport(settling=("a2.md", "a3.md")), Settings(), T0) == []
    assert not state.is_initialized and state.posts == {}
    assert plan_posts(state, history, NO_CHANGE, Settings(), T0) == []  # the whole history is the baseline
    assert {r["status"] for r in state.posts.values()} == {"seen"} and state.is_initialized


def test_backfill_zero_on_the_command_line_beats_the_setting() -> None:
    articles = [art(f"a{i}", minutes_ago=60 * i) for i in range(5)]
    assert plan_posts(State(), articles, NO_CHANGE, Settings(backfill=3), T0, backfill=0) == []
    assert len(plan_posts(State(), articles, NO_CHANGE, Settings(backfill=3), T0)) == 3


def test_first_run_backfill_posts_the_newest_n_oldest_first() -> None:
    state = State()
    articles = [art(f"a{i}", minutes_ago=60 * i) for i in range(5)] + [art("draft", 1, is_draft=True)]
    assert plan_posts(state, articles, NO_CHANGE, Settings(), T0, backfill=2) == ["a1", "a0"]
    assert state.queue == ["a1", "a0"]
    assert state.posts["a4"]["status"] == "seen" and "draft" not in state.posts
    state2 = State()
    assert plan_posts(state2, articles, NO_CHANGE, Settings(backfill=1), T0) == ["a0"]  # the setting works too


def test_articles_older_than_max_age_are_never_posted_automatically() -> None:
    state = initialized()
    queued = plan_posts(state, [art("old", minutes_ago=60 * 24 * 8), art("fresh")], NO_CHANGE,
                        Settings(max_age_days=7), T0)
    assert queued == ["fresh"]
    assert state.posts["old"] == state.posts["old"] | {"status": "seen", "reason": "older than max_age"}


def test_future_article_is_posted_on_the_first_plan_after_its_date() -> None:
    state = initialized()
    future = art("future", minutes_ago=-90)
    assert plan_posts(state, [future], ScanReport(held=("future.md",)), Settings(), T0) == []
    assert "future" not in state.posts
    assert plan_posts(state, [future], NO_CHANGE, Settings(), T0 + timedelta(minutes=89)) == []
    assert plan_posts(state, [future], NO_CHANGE, Settings(), T0 + timedelta(minutes=90)) == ["future"]


def test_future_articles_on_a_first_run_are_not_baselined() -> None:
    state = State()
    plan_posts(state, [art("past"), art("future", minutes_ago=-60)], NO_CHANGE, Settings(), T0)
    assert plan_posts(state, [art("past"), art("future", minutes_ago=-60)], NO_CHANGE, Settings(),
                      T0 + timedelta(hours=2)) == ["future"]


def test_drafts_wait_until_published() -> None:
    state = initialized()
    assert plan_posts(state, [art("d", is_draft=True)], NO_CHANGE, Settings(), T0) == []
    assert plan_posts(state, [art("d")], NO_CHANGE, Settings(), T0) == ["d"]


def test_rescans_and_renames_never_queue_twice() -> None:
    state = initialized()
    assert plan_posts(state, [art("x")], NO_CHANGE, Settings(), T0) == ["x"]
    assert plan_posts(state, [art("x")], NO_CHANGE, Settings(), T0) == []
    moved = art("x", source="2024/moved.md")
    assert plan_posts(state, [moved], ScanReport(renamed=(("x.md", "2024/moved.md"),)), Settings(), T0) == []
    assert state.queue == ["x"] and state.posts["x"]["source"] == "2024/moved.md"


def test_queue_survives_a_restart() -> None:
    state = initialized()
    plan_posts(state, [art("b", 10), art("a", 20)], NO_CHANGE, Settings(), T0)
    again = State.from_json_bytes(state.to_json_bytes())
    assert again.queue == ["a", "b"] and again.posts == state.posts


def _sent(state: State, article: Article, message_id: int = 7) -> None:
    state.posts[article.id] = {"status": "sent", "source": article.source, "message_id": message_id,
                               "fingerprint": postqueue.article_fingerprint(article), "has_photo": True,
                               "photo_url": article.image_url, "posted_hash": "x"}


@pytest.mark.parametrize(("edit_on_change", "queued"), [(True, ["x"]), (False, [])])
def test_changed_posted_article_is_queued_for_an_edit(edit_on_change: bool, queued: list[str]) -> None:
    state = initialized()
    _sent(state, art("x"))
    assert plan_posts(state, [art("x")], NO_CHANGE, Settings(), T0) == []  # unchanged: nothing
    plan_posts(state, [art("x", title="新标题")], NO_CHANGE, Settings(edit_on_change=edit_on_change), T0)
    assert state.queue == queued
    assert state.posts["x"].get("action") == ("edit" if edit_on_change else None)


@pytest.mark.parametrize(("delete_on_remove", "status", "queue"), [(False, "sent", []), (True, "pending", ["x"])])
def test_deleted_article_keeps_its_post_unless_asked(delete_on_remove: bool, status: str, queue: list[str]) -> None:
    state = initialized()
    _sent(state, art("x"))
    plan_posts(state, [art("y")], NO_CHANGE, Settings(), T0)
    plan_posts(state, [], ScanReport(deleted=("x.md", "y.md")), Settings(delete_on_remove=delete_on_remove), T0)
    assert state.posts["x"]["status"] == status and state.queue == queue
    assert state.posts["y"]["status"] == "skipped"  # queued but never posted: the article is gone


def test_an_article_back_after_its_deletion_was_planned_is_posted_or_kept() -> None:
    """Gone for a scan (a rename saved with broken YAML, a file moved out and back) and then back
    under the same id: the post it was due is queued again, and a planned delete is called off."""
    state = initialized()
    _sent(state, art("x"))
    plan_posts(state, [art("y")], NO_CHANGE, Settings(), T0)
    plan_posts(state, [], ScanReport(deleted=("x.md", "y.md")), Settings(delete_on_remove=True), T0)
    assert state.queue == ["x"] and state.posts["x"]["action"] == "delete" and state.posts["y"]["status"] == "skipped"
    back_y = art("y", source="y-renamed.md")
    plan_posts(state, [art("x"), back_y], ScanReport(renamed=(("y.md", "y-renamed.md"),)),
               Settings(delete_on_remove=True), T0)
    assert state.queue == ["y"]  # y is due again, x's message stays
    assert state.posts["x"]["status"] == "sent" and state.posts["x"].get("action") is None
    assert state.posts["y"]["status"] == "pending" and state.posts["y"]["action"] == "send"
    assert plan_posts(state, [art("x"), back_y], NO_CHANGE, Settings(delete_on_remove=True), T0) == []  # stable


# --- drain against the fake Bot API -----------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.at = T0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.at += timedelta(seconds=seconds)


class Env:
    """State + real publisher + fake clock; ``run()`` drains once and returns the report."""

    def __init__(self, fake: FakeBotAPI, publisher: TelegramPublisher, settings: Settings) -> None:
        self.fake, self.publisher, self.settings = fake, publisher, settings
        self.state, self.clock = initialized(), Clock()
        self.articles: dict[str, Article] = {}
        self.alerts: list[tuple[str, str]] = []
        self.saves: list[dict[str, str]] = []

    def add(self, *articles: Article) -> list[str]:
        self.articles.update({a.id: a for a in articles})
        return plan_posts(self.state, list(self.articles.values()), NO_CHANGE, self.settings, self.clock.now())

    def render(self, article_id: str) -> Post | None:
        a = self.articles.get(article_id)
        return None if a is None else render_post(a, "正文。", self.settings)

    def save(self) -> None:
        assert stateschema.validate(self.state.to_document()) == []  # the real store would accept it
        self.saves.append({i: r["status"] for i, r in self.state.posts.items()} | {"#sent": str(len(self.fake.sent))})

    async def alert(self, kind: str, text: str) -> None:
        self.alerts.append((kind, text))

    async def run(self) -> DrainReport:
        return await drain(self.state, self.save, self.publisher, self.render, self.settings, now=self.clock.now,
                           sleep=self.clock.sleep, alert=self.alert)

    def photos(self) -> list[Any]:
        return [c.params["photo"] for c in self.fake.calls_for("sendPhoto")]


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI.running() as server:
        yield server
        assert server.errors == []


@pytest.fixture
async def env(fake: FakeBotAPI) -> AsyncIterator[Env]:
    settings = Settings(allow_private_image_hosts=True, image_timeout_s=0.5)
    async with Bot(TOKEN, base_url=fake.base_url, request=fast_request(),
                   get_updates_request=fast_request()) as bot, httpx.AsyncClient(verify=False) as http:
        yield Env(fake, TelegramPublisher(bot, CHANNEL, settings, http), settings)


async def test_drain_posts_in_order_at_the_pace_and_records_before_and_after(env: Env) -> None:
    env.add(art("b", 10), art("a", 20), art("c", 5))
    report = await env.run()
    assert report.sent == ["a", "b", "c"] and env.state.queue == []
    assert env.photos() == [f"https://img.example.com/{i}.jpg" for i in "abc"]
    assert env.clock.slept == [3.0, 3.0]  # 20 per minute
    assert {"a": "in_flight", "#sent": "0"}.items() <= env.saves[0].items()  # saved before the request...
    assert {"a": "sent", "#sent": "1"}.items() <= env.saves[1].items()  # ...and after it
    rec = env.state.posts["a"]
    assert rec["message_id"] == env.fake.sent[0]["message_id"] and rec["file_id"] and rec["has_photo"]


async def test_pace_survives_a_restart(env: Env) -> None:
    env.state.meta["last_sent_at"] = (T0 - timedelta(seconds=1)).isoformat()
    env.add(art("a"))
    await env.run()
    assert env.clock.slept == [2.0]


async def test_hours_long_flood_wait_is_honoured_exactly(env: Env) -> None:
    env.add(art("a"), art("b", 30))
    env.fake.fail("sendPhoto", retry_after=3 * 3600)
    report = await env.run()
    assert report.resume_at == T0 + timedelta(hours=3) and report.sent == []
    assert env.state.queue == ["a", "b"] and env.state.posts["a"]["status"] == "pending"
    env.clock.at = T0 + timedelta(hours=3) - timedelta(seconds=1)
    assert (await env.run()).resume_at == T0 + timedelta(hours=3)
    assert len(env.fake.calls_for("sendPhoto")) == 1  # nothing tried during the wait
    env.clock.at = T0 + timedelta(hours=3)
    assert (await env.run()).sent == ["a", "b"]
    assert env.fake.count_429 == 1


async def test_server_errors_back_off_and_nothing_is_dropped(env: Env) -> None:
    env.add(art("a"))
    env.fake.fail("sendPhoto", 502, times=2)
    first = await env.run()
    assert first.resume_at == T0 + timedelta(seconds=30)
    env.clock.at = first.resume_at
    second = await env.run()
    assert second.resume_at == first.resume_at + timedelta(seconds=60)  # doubled
    assert env.state.posts["a"]["attempts"] == 2
    env.clock.at = second.resume_at
    assert (await env.run()).sent == ["a"] and len(env.fake.sent) == 1


@pytest.mark.parametrize(("status", "description"), [(403, NOT_MEMBER), (400, "Bad Request: chat not found")])
async def test_channel_errors_pause_alert_and_keep_the_queue(env: Env, status: int, description: str) -> None:
    env.add(art("a"), art("b", 30))
    env.fake.fail("sendPhoto", status, description)
    report = await env.run()
    assert report.paused and env.state.meta["paused"] and description.split(": ", 1)[1] in env.state.meta["pause_reason"].lower()
    assert [k for k, _ in env.alerts] == ["paused"]
    assert env.state.queue == ["a", "b"] and env.state.posts["a"]["status"] == "pending"
    assert (await env.run()).sent == []  # still paused
    postqueue.resume(env.state)
    env.clock.at += timedelta(minutes=1)
    assert (await env.run()).sent == ["a", "b"]


async def test_timeout_is_unknown_never_resent_and_listed_for_admins(env: Env) -> None:
    env.add(art("a"), art("b", 30))
    env.fake.delay("sendPhoto", 0.7)  # delivered, but the answer comes after PTB's read timeout
    report = await env.run()
    assert report.unknown == ["a"] and report.sent == ["b"]
    assert [k for k, _ in env.alerts] == ["unknown"] and "/post a" in env.alerts[0][1]
    await asyncio.sleep(0.4)  # let the slow reply finish
    await env.run()
    assert len(env.fake.calls_for("sendPhoto")) == 2  # a was not sent again
    assert [p["id"] for p in postqueue.problems(env.state)] == ["a"]
    postqueue.mark_done(env.state, "a")
    assert postqueue.problems(env.state) == [] and env.state.posts["a"]["status"] == "sent"


async def test_crash_in_flight_is_recovered_as_unknown(env: Env) -> None:
    env.add(art("a"), art("b", 30))
    env.state.posts["a"]["status"] = "in_flight"  # newsbot died during the request
    assert postqueue.recover_in_flight(env.state, T0) == ["a"]
    assert (await env.run()).sent == ["b"]
    assert env.state.posts["a"]["status"] == "unknown"
    postqueue.requeue(env.state, "a")  # the admin checked: it is not in the channel
    env.clock.at += timedelta(minutes=1)
    assert (await env.run()).sent == ["a"]


async def test_rejected_post_fails_alone(env: Env) -> None:
    env.add(art("a"), art("b", 30))
    env.fake.fail("sendPhoto", 400, "Bad Request: message caption is too long")
    report = await env.run()
    assert report.failed == ["a"] and report.sent == ["b"]
    assert env.state.posts["a"]["status"] == "failed" and [k for k, _ in env.alerts] == ["failed"]


async def test_vanished_article_is_skipped(env: Env) -> None:
    env.add(art("a"))
    del env.articles["a"]
    report = await env.run()
    assert report.skipped == ["a"] and env.state.posts["a"]["reason"] == "the article no longer exists"
    assert env.fake.calls_for("sendPhoto") == []


async def test_repost_reuses_the_file_id(env: Env) -> None:
    env.add(art("a"))
    await env.run()
    file_id = env.state.posts["a"]["file_id"]
    postqueue.requeue(env.state, "a")  # admin: post it again
    env.clock.at += timedelta(minutes=1)
    await env.run()
    assert env.photos() == ["https://img.example.com/a.jpg", file_id]
    assert len(env.fake.sent) == 2


async def test_photo_fallback_is_recorded(env: Env) -> None:
    with ImageServer.running() as img:
        env.add(art("a", image_url=img.url_for("/ok.jpg")))
        env.fake.fail("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")
        await env.run()
    rec = env.state.posts["a"]
    assert rec["status"] == "sent" and rec["fallback"] == "upload" and rec["has_photo"]


async def test_edit_on_change_and_not_modified_is_success(env: Env) -> None:
    env.add(art("a"))
    await env.run()
    env.clock.at += timedelta(minutes=1)
    env.add(art("a", content_hash="body changed only"))  # the post looks the same: no call
    assert (await env.run()).edited == [] and env.fake.calls_for("editMessageCaption") == []
    env.add(art("a", title="更正后的标题"))
    assert (await env.run()).edited == ["a"]
    assert env.fake.sent[0]["caption"].startswith("更正后的标题")
    env.add(art("a", title="再改一次"))
    env.fake.fail("editMessageCaption", 400, NOT_MODIFIED)
    env.clock.at += timedelta(minutes=1)
    assert (await env.run()).edited == ["a"] and env.state.posts["a"]["status"] == "sent"
    assert len(env.fake.calls_for("sendPhoto")) == 1  # never a second post


async def test_delete_on_remove(env: Env) -> None:
    env.settings = Settings(delete_on_remove=True)
    env.add(art("a"))
    await env.run()
    del env.articles["a"]
    plan_posts(env.state, [], ScanReport(deleted=("a.md",)), env.settings, env.clock.now())
    env.clock.at += timedelta(minutes=1)
    assert (await env.run()).deleted == ["a"]
    assert env.fake.messages == {} and env.state.posts["a"]["status"] == "skipped"
    assert env.state.posts["a"]["reason"] == "the article was deleted; so was its message"


async def test_stop_event_and_failing_alerts(env: Env) -> None:
    env.add(art("a"), art("b", 30))
    stop = asyncio.Event()
    stop.set()
    report = await drain(env.state, env.save, env.publisher, env.render, env.settings, now=env.clock.now,
                         sleep=env.clock.sleep, alert=env.alert, stop=stop)
    assert report.sent == [] and env.state.queue == ["a", "b"]

    async def broken_alert(kind: str, text: str) -> None:
        raise RuntimeError("admin chat unreachable")

    env.fake.fail("sendPhoto", 400, "Bad Request: message caption is too long")
    report = await drain(env.state, env.save, env.publisher, env.render, env.settings, now=env.clock.now,
                         sleep=env.clock.sleep, alert=broken_alert)
    assert report.failed == ["a"] and report.sent == ["b"]


def test_admin_views() -> None:
    state = initialized()
    plan_posts(state, [art("a", 20), art("b", 10)], NO_CHANGE, Settings(), T0)
    assert [r["id"] for r in postqueue.pending(state)] == ["a", "b"]
    postqueue.skip(state, "a")
    assert [r["id"] for r in postqueue.pending(state)] == ["b"] and state.posts["a"]["status"] == "skipped"
    postqueue.requeue(state, "a", front=False)
    assert state.queue == ["b", "a"]
    assert postqueue.skip(state, "nope") is False and postqueue.mark_done(state, "nope") is False


def test_pace_window_counts_from_answers_so_latency_never_bursts() -> None:
    from bot.drain import PACE_WINDOW, next_slot

    gap = timedelta(seconds=3)
    state = initialized()
    assert next_slot(state, gap) is None
    state.meta["last_sent_at"] = T0.isoformat()
    assert next_slot(state, gap) == T0 + gap
    # the request PACE_WINDOW back was answered 2 s late: the next slot moves by those 2 s
    answers = [T0 - gap * (PACE_WINDOW - 1 - i) for i in range(PACE_WINDOW)]
    answers[0] += timedelta(seconds=2)
    state.meta["recent_answers"] = [a.isoformat() for a in answers]
    assert next_slot(state, gap) == answers[0] + gap * PACE_WINDOW == T0 + gap + timedelta(seconds=2)
