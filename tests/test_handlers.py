"""Admin commands through the real PTB Application and the fake Bot API: who may do what, and what they see."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram.constants import MessageLimit

from bot import __version__, postqueue
from bot.commands import listed_commands
from tests.fakebotapi import FakeBotAPI
from tests.servicekit import (
    ADMIN,
    BROKEN,
    CHANNEL,
    STRANGER,
    Bot,
    make_settings,
    running_bot,
    wait_until,
    write_article,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI.running() as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with running_bot(make_settings(tmp_path, fake), fake) as b:
        yield b


async def queue_new_article(bot: Bot, name: str = "fresh.md", title: str = "Fresh news 新闻") -> str:
    """A new file, scanned and queued (posting paused so it stays queued); returns its id."""
    bot.engine.state.meta["paused"] = True
    write_article(bot.site, name, title)
    await bot.service.scan()
    article = bot.engine.catalog.find(name)
    assert article is not None and article.id in bot.engine.state.queue
    return article.id


# --- authorisation ---------------------------------------------------------------------------
async def test_help_lists_every_command(bot: Bot) -> None:
    [reply] = await bot.send(ADMIN, "/help")
    for command in listed_commands():
        assert f"/{command.name}" in reply
    assert "Ids are shown by /queue and /retry;" in reply  # /status shows no ids


async def test_stranger_gets_one_polite_refusal_is_logged_and_changes_nothing(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    first = await bot.send(STRANGER, "/pause")
    second = await bot.send(STRANGER, "/scan")
    assert len(first) == 1 and "only its admins" in first[0]
    assert second == []  # no spam: one refusal per user per interval
    assert not bot.engine.state.meta.get("paused")
    refusals = [r for r in caplog.records if "non-admin" in r.getMessage()]
    assert len(refusals) == 2 and all(str(STRANGER) in r.getMessage() for r in refusals)


async def test_empty_admin_list_means_nobody(tmp_path: Path, fake: FakeBotAPI) -> None:
    async with running_bot(make_settings(tmp_path, fake, admins=""), fake) as bot:
        replies = await bot.send(ADMIN, "/pause")
        assert len(replies) == 1 and "only its admins" in replies[0]
        assert not bot.engine.state.meta.get("paused")


async def test_commands_in_the_channel_and_in_groups_are_ignored(bot: Bot) -> None:
    before = len(bot.fake.calls)
    await bot.deliver(bot.fake.push_channel_post(CHANNEL, "/pause"))
    await bot.send(ADMIN, "/pause", chat_type="group", chat_id=-4242)
    assert not bot.engine.state.meta.get("paused")
    assert [c for c in bot.fake.calls[before:] if c.method.startswith("send")] == []


async def test_button_press_by_a_stranger_changes_nothing(bot: Bot) -> None:
    article_id = await queue_new_article(bot)
    postqueue.skip(bot.engine.state, article_id)
    bot.engine.state.posts[article_id]["status"] = "failed"
    await bot.send(ADMIN, "/retry")
    calls = await bot.press(STRANGER, "retry:1", message_id=1)
    assert bot.engine.state.posts[article_id]["status"] == "failed"
    [answer] = [c for c in calls if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == "Not allowed."


# --- reading ------------------------------------------------------------------------------
async def test_status_shows_what_an_admin_needs(bot: Bot) -> None:
    [reply] = await bot.send(ADMIN, "/status")
    articles = len(bot.engine.catalog.articles)
    for expected in (f"newsbot {__version__}", f"articles: {articles} in ", "channel queue: 0 pending",
                     "posting: active", "last scan: ", "(in 5 min), every 5 min",
                     "bad files: 0", "feed: https://news.example.org/feeds/atom.xml"):
        assert expected in reply


async def test_status_says_paused_and_counts_bad_files(bot: Bot) -> None:
    (bot.site / "broken.md").write_text(BROKEN, encoding="utf-8")
    await bot.service.scan()
    await bot.send(ADMIN, "/pause")
    [reply] = await bot.send(ADMIN, "/status")
    assert "posting: PAUSED" in reply and "bad files: 1" in reply
    assert "broken.md: " in reply  # with its reason


async def test_status_caps_the_bad_file_list_and_points_to_errors(bot: Bot) -> None:
    for n in range(12):
        (bot.site / f"broken{n:02}.md").write_text(BROKEN, encoding="utf-8")
    await bot.service.scan()
    [reply] = await bot.send(ADMIN, "/status")
    assert "bad files: 12" in reply and "broken09.md: " in reply and "broken10.md" not in reply
    assert "… and 2 more: see /errors" in reply


async def test_errors_lists_bad_files_with_reasons(bot: Bot) -> None:
    (bot.site / "broken.md").write_text(BROKEN, encoding="utf-8")
    await bot.service.scan()
    [reply] = await bot.send(ADMIN, "/errors")
    assert "broken.md" in reply and bot.engine.state.bad["broken.md"]["reason"].split(":")[0] in reply


async def test_long_replies_are_split_within_telegram_limits(bot: Bot) -> None:
    for i in range(150):
        (bot.site / f"broken-{i:03d}-{'很长的文件名' * 8}.md").write_text(BROKEN, encoding="utf-8")
    await bot.service.scan()
    replies = await bot.send(ADMIN, "/errors")
    assert len(replies) >= 2
    assert all(len(r.encode("utf-16-le")) // 2 <= MessageLimit.MAX_TEXT_LENGTH for r in replies)
    shown = "\n".join(replies)
    assert "broken-000-" in shown and "broken-099-" in shown and "and 50 more" in shown


async def test_feeds_lists_site_and_category_feeds_and_tags_on_request(bot: Bot) -> None:
    replies = await bot.send(ADMIN, "/feeds")
    text = "\n".join(replies)
    assert "https://news.example.org/feeds/atom.xml" in text and "/feeds/categories/" in text
    assert "/feeds/tags/" not in text and "/feeds tags" in text
    tags = "\n".join(await bot.send(ADMIN, "/feeds tags"))
    assert "https://news.example.org/feeds/tags/" in tags


async def test_queue_lists_pending_posts_with_ids(bot: Bot) -> None:
    article_id = await queue_new_article(bot)
    [reply] = await bot.send(ADMIN, "/queue")
    assert "1 pending" in reply and article_id in reply and "Fresh news 新闻" in reply


# --- acting -------------------------------------------------------------------------------
async def test_scan_reports_counts(bot: Bot) -> None:
    write_article(bot.site, "new-one.md", "New one")
    (bot.site / "broken.md").write_text(BROKEN, encoding="utf-8")
    replies = await bot.send(ADMIN, "/scan")
    assert replies[0] == "Scanning…"
    assert "1 new, 0 changed, 0 deleted, 1 held, 1 bad" in replies[-1]


async def test_pause_stops_posting_and_resume_restarts_it(bot: Bot) -> None:
    assert "paused" in (await bot.send(ADMIN, "/pause"))[0]
    write_article(bot.site, "fresh.md", "Fresh news 新闻")
    await bot.service.scan()
    await bot.service.drain()
    assert bot.channel_calls() == []
    assert "already paused" in (await bot.send(ADMIN, "/pause"))[0]
    assert "resumed; 1 post(s) pending" in (await bot.send(ADMIN, "/resume"))[0]
    await wait_until(lambda: len(bot.channel_calls()) == 1)
    assert "Fresh news 新闻" in str(bot.channel_calls()[0].params.get("text"))


async def test_post_by_path_posts_now_and_reposts_a_sent_article(bot: Bot) -> None:
    old = bot.engine.catalog.articles[-1]  # the oldest: recorded as seen on the first run, never posted
    [reply] = await bot.send(ADMIN, f"/post {old.source}")
    assert "Queued first" in reply
    await wait_until(lambda: bot.engine.state.posts[old.id]["status"] == "sent")
    await bot.send(ADMIN, f"/post {old.id}")
    await wait_until(lambda: len(bot.channel_calls()) == 2 and not bot.service.draining)
    assert bot.engine.state.posts[old.id]["status"] == "sent"


async def test_arguments_are_validated(bot: Bot) -> None:
    assert (await bot.send(ADMIN, "/post"))[0] == "Usage: /post &lt;id|path&gt;"
    assert "No article or post" in (await bot.send(ADMIN, "/post no/such/file.md"))[0]
    assert "not in the queue" in (await bot.send(ADMIN, "/skip nope"))[0]
    assert "takes no arguments" in (await bot.send(ADMIN, "/status now"))[0]
    assert "Usage: /feeds [tags]" in (await bot.send(ADMIN, "/feeds everything"))[0]
    assert "No article or post" in (await bot.send(ADMIN, "/preview 12345"))[0]
    assert "Unknown command" in (await bot.send(ADMIN, "/frobnicate"))[0]


async def test_skip_drops_a_pending_post(bot: Bot) -> None:
    article_id = await queue_new_article(bot)
    assert "Skipped" in (await bot.send(ADMIN, f"/skip {article_id}"))[0]
    assert article_id not in bot.engine.state.queue
    await bot.send(ADMIN, "/resume")
    await bot.service.drain()
    assert bot.channel_calls() == []


async def test_retry_buttons_repost_or_mark_done(bot: Bot) -> None:
    bot.fake.fail_match("sendMessage", lambda p: str(p.get("chat_id")) == CHANNEL, 400,
                        "Bad Request: message must be non-empty", times=2)
    write_article(bot.site, "a.md", "Article A")
    write_article(bot.site, "b.md", "Article B", date="2026-11-20 11:00:00 +0800")
    await bot.service.scan()
    await wait_until(lambda: len(postqueue.problems(bot.engine.state)) == 2)
    before = len(bot.fake.calls)
    replies = await bot.send(ADMIN, "/retry")
    assert "2 post(s) need a decision" in replies[0]
    keyboards = [c for c in bot.fake.calls[before:] if c.params.get("reply_markup")]
    assert len(keyboards) == 2
    by_title = {}
    for call in keyboards:
        buttons = call.params["reply_markup"]["inline_keyboard"][0]
        title = "Article A" if "Article A" in call.params["text"] else "Article B"
        by_title[title] = {b["text"]: b["callback_data"] for b in buttons}
        assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    a, b = bot.engine.catalog.find("a.md"), bot.engine.catalog.find("b.md")
    assert a is not None and b is not None
    await bot.press(ADMIN, by_title["Article A"]["Repost"], message_id=1)
    await bot.press(ADMIN, by_title["Article B"]["Mark done"], message_id=2)
    await wait_until(lambda: bot.engine.state.posts[a.id]["status"] == "sent")
    assert bot.engine.state.posts[b.id]["status"] == "skipped"
    assert postqueue.problems(bot.engine.state) == []
    sends = len(bot.channel_calls())
    for title, button, status in (("Article A", "Repost", "sent"), ("Article A", "Mark done", "sent"),
                                  ("Article B", "Repost", "skipped")):  # stale buttons, pressed again
        calls = await bot.press(ADMIN, by_title[title][button], message_id=1)
        answer = next(c for c in calls if c.method == "answerCallbackQuery").params["text"]
        assert answer == f"Already handled ({status})."
    await asyncio.sleep(0.2)  # a wrongly queued repost would be sent by now
    assert len(bot.channel_calls()) == sends and not bot.engine.state.queue
    assert bot.engine.state.posts[a.id]["status"] == "sent" and bot.engine.state.posts[b.id]["status"] == "skipped"
    expired = await bot.press(ADMIN, "retry:999", message_id=3)
    assert "expired" in next(c for c in expired if c.method == "answerCallbackQuery").params["text"]


async def test_preview_sends_the_exact_channel_post_to_the_admin_only(bot: Bot) -> None:
    article = next(a for a in bot.engine.catalog.articles if a.image_url)
    before = len(bot.fake.calls)
    await bot.send(ADMIN, f"/preview {article.source}")
    previews = [c for c in bot.fake.calls[before:] if c.method.startswith("send")]
    assert bot.channel_calls() == []
    [preview] = previews
    assert str(preview.params["chat_id"]) == str(ADMIN) and preview.method == "sendPhoto"
    await bot.send(ADMIN, f"/post {article.id}")
    await wait_until(lambda: len(bot.channel_calls()) == 1)
    [posted] = bot.channel_calls()
    for key in ("caption", "photo", "parse_mode", "reply_markup"):
        assert preview.params[key] == posted.params[key]
