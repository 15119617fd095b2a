"""The fake Bot API must behave like Telegram for the real PTB client, or every bot test lies."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakebotapi import WRONG_FILE, FakeBotAPI, RemoteFake, decode_params
from tests.imageserver import ImageServer, jpeg_bytes

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
CHANNEL = -1001234567890
ADMIN = 4242


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI.running() as server:
        yield server
        assert server.errors == []


def make_bot(fake: FakeBotAPI) -> Bot:
    return Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int form is deprecated in PTB 22; accept both
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def test_get_me_and_commands(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        assert bot.username == "newsbot_test_bot"
        assert bot.id == 123456
        await bot.set_my_commands([("status", "Show status"), ("pause", "Pause posting")])
        commands = await bot.get_my_commands()
        assert [c.command for c in commands] == ["status", "pause"]
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        assert await bot.delete_my_commands() is True
        assert await bot.get_my_commands() == ()
    call = fake.calls_for("getMe")[0]
    assert call.token == TOKEN and call.status == 200
    assert fake.calls_for("setMyCommands")[0].params["commands"][0] == {"command": "status",
                                                                         "description": "Show status"}


async def test_send_message_recorded_and_decoded(fake: FakeBotAPI) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Read", url="https://example.org/a")]])
    async with make_bot(fake) as bot:
        m1 = await bot.send_message(CHANNEL, "<b>Hi</b> &amp; 123", parse_mode="HTML", reply_markup=markup)
        m2 = await bot.send_message("@mychannel", "123")
        m3 = await bot.send_message(ADMIN, "hello")
    assert m1.chat.type == "channel" and m1.chat.id == CHANNEL and m1.text == "Hi & 123"
    assert m1.reply_markup == markup and m1.sender_chat is not None and m1.from_user is None
    assert m2.chat.type == "channel" and m2.chat.username == "mychannel"
    assert m3.chat.type == "private" and m3.from_user is not None and m3.from_user.is_bot
    assert m1.message_id < m2.message_id < m3.message_id
    params = [c.params for c in fake.calls_for("sendMessage")]
    assert params[0]["chat_id"] == CHANNEL and params[0]["parse_mode"] == "HTML"
    assert params[0]["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://example.org/a"
    assert params[1] == {"chat_id": "@mychannel", "text": "123"}  # a numeric-looking text stays a str
    assert len(fake.sent_messages(CHANNEL)) == 1 and len(fake.sent) == 3


async def test_send_photo_by_url_and_upload(fake: FakeBotAPI) -> None:
    with ImageServer.running() as img:
        url = img.url_for("/ok.jpg")
        async with make_bot(fake) as bot:
            by_url = await bot.send_photo(CHANNEL, url, caption="cap")
            data = jpeg_bytes(40, 30)
            uploaded = await bot.send_photo(CHANNEL, InputFile(data, filename="pic.jpg"), caption="up")
            again = await bot.send_photo(CHANNEL, by_url.photo[-1].file_id)
    assert by_url.photo[-1].file_id.startswith("AgAC-") and by_url.caption == "cap"
    assert uploaded.photo[-1].file_id != by_url.photo[-1].file_id and again.photo
    first, second, third = (c.params for c in fake.calls_for("sendPhoto"))
    assert first["photo"] == url and first["caption"] == "cap"
    assert second["photo"]["size"] == len(data) and second["photo"]["filename"] == "pic.jpg"
    assert second["photo"]["content_type"] == "image/jpeg" and second["caption"] == "up"
    assert second["chat_id"] == CHANNEL
    assert third["photo"] == by_url.photo[-1].file_id


async def test_edit_delete_and_not_modified(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        msg = await bot.send_message(CHANNEL, "v1")
        edited = await bot.edit_message_text("v2", chat_id=CHANNEL, message_id=msg.message_id)
        assert edited.text == "v2"
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("v2", chat_id=CHANNEL, message_id=msg.message_id)
        photo = await bot.send_photo(CHANNEL, "https://example.org/x.jpg", caption="c1")
        assert (await bot.edit_message_caption(CHANNEL, photo.message_id, caption="c2")).caption == "c2"
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]])
        await bot.edit_message_reply_markup(CHANNEL, photo.message_id, reply_markup=markup)
        assert await bot.delete_message(CHANNEL, msg.message_id) is True
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await bot.delete_message(CHANNEL, msg.message_id)
        chat = await bot.get_chat(CHANNEL)
        member = await bot.get_chat_member(CHANNEL, bot.id)
        assert chat.type == "channel" and member.status == "administrator"
        fake.set_chat_member(CHANNEL, bot.id, "left")
        assert (await bot.get_chat_member(CHANNEL, bot.id)).status == "left"
        assert await bot.answer_callback_query("cq1", text="ok") is True


async def test_validation_like_telegram(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(CHANNEL, "x" * 4097)
        await bot.send_message(CHANNEL, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # counted after parsing
        with pytest.raises(BadRequest, match="(?i)caption is too long"):
            await bot.send_photo(CHANNEL, "https://example.org/x.jpg", caption="y" * 1025)
        with pytest.raises(BadRequest, match="(?i)unsupported start tag \"br\""):
            await bot.send_message(CHANNEL, "a<br>b", parse_mode="HTML")
    assert [c.status for c in fake.calls_for("sendMessage")] == [400, 200, 400]


async def test_scripted_errors_map_to_ptb_exceptions(fake: FakeBotAPI) -> None:
    fake.fail("sendMessage", retry_after=3)
    fake.fail("sendPhoto", 400, WRONG_FILE)
    fake.fail("sendMessage", 403)
    fake.fail("sendMessage", 502)
    fake.fail("getChat", 400, "Bad Request: chat not found", times=2)
    async with make_bot(fake) as bot:
        with pytest.raises(RetryAfter) as exc_info:
            await bot.send_message(CHANNEL, "a")
        assert retry_after_seconds(exc_info.value) == 3
        with pytest.raises(BadRequest) as bad:
            await bot.send_photo(CHANNEL, "https://example.org/x.jpg")
        assert "wrong file identifier" in bad.value.message.lower()
        with pytest.raises(Forbidden, match="not a member"):
            await bot.send_message(CHANNEL, "b")
        with pytest.raises(NetworkError) as net:
            await bot.send_message(CHANNEL, "c")
        assert not isinstance(net.value, BadRequest | TimedOut)
        for _ in range(2):
            with pytest.raises(BadRequest, match="(?i)chat not found"):
                await bot.get_chat(CHANNEL)
        assert (await bot.get_chat(CHANNEL)).id == CHANNEL  # script used up
        assert (await bot.send_message(CHANNEL, "d")).text == "d"
    resp = fake.calls_for("sendMessage")[0].response
    assert resp == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                    "parameters": {"retry_after": 3}}
    assert fake.count_429 == 1 and len(fake.sent) == 1  # only the successful send was delivered


async def test_fail_match_only_hits_url_photos(fake: FakeBotAPI) -> None:
    fake.fail_match("sendPhoto", lambda p: isinstance(p.get("photo"), str) and p["photo"].startswith("http"),
                    400, WRONG_FILE, times=5)
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest):
            await bot.send_photo(CHANNEL, "https://example.org/x.jpg")
        sent = await bot.send_photo(CHANNEL, InputFile(jpeg_bytes(), filename="a.jpg"))
    assert sent.photo and [c.status for c in fake.calls_for("sendPhoto")] == [400, 200]


async def test_slow_reply_times_out_but_is_delivered(fake: FakeBotAPI) -> None:
    fake.delay("sendMessage", 1.0)
    async with make_bot(fake) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(CHANNEL, "slow", read_timeout=0.2)
    (call,) = fake.calls_for("sendMessage")
    assert call.status == 200 and call.delay_s == 1.0 and call.params["text"] == "slow"
    assert [m["text"] for m in fake.sent_messages(CHANNEL)] == ["slow"]


async def test_rate_enforcement_answers_429(fake: FakeBotAPI) -> None:
    fake.max_per_minute_per_chat = 3
    async with make_bot(fake) as bot:
        for i in range(3):
            await bot.send_message(CHANNEL, f"m{i}")
        await bot.send_message(ADMIN, "other chat is not limited")
        with pytest.raises(RetryAfter) as exc_info:
            await bot.send_message(CHANNEL, "too many")
    assert 1 <= retry_after_seconds(exc_info.value) <= 60
    assert fake.count_429 == 1 and len(fake.sent_messages(CHANNEL)) == 3


async def test_get_updates_offset_and_long_poll(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as bot:
        assert await bot.get_updates(timeout=0) == ()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await bot.get_updates(timeout=5) == ()  # long poll capped at 1 s
        assert 0.8 < loop.time() - started < 3
        fake.push_message(ADMIN, "/status@newsbot_test_bot now")
        fake.push_channel_post(CHANNEL, "/status")
        first = await bot.get_updates(timeout=1)
        assert len(first) == 2 and first[0].message.text.startswith("/status")
        assert first[0].message.entities[0].type == "bot_command"
        assert first[0].message.entities[0].length == len("/status@newsbot_test_bot")
        assert first[1].channel_post.sender_chat.id == CHANNEL and first[1].effective_user is None
        again = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
        assert again == ()  # confirmed


async def test_application_polling_command_and_callback(fake: FakeBotAPI) -> None:
    got: asyncio.Queue[str] = asyncio.Queue()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_message is not None
        await got.put(f"start:{update.effective_user.id}")
        await update.effective_message.reply_text("hello admin")

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("done")
        await got.put(f"cb:{update.callback_query.data}")

    app = ApplicationBuilder().token(TOKEN).base_url(fake.base_url).base_file_url(fake.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0.0, timeout=1, drop_pending_updates=True)
        fake.push_message(ADMIN, "/start")
        assert await asyncio.wait_for(got.get(), 5) == f"start:{ADMIN}"
        fake.push_callback_query(ADMIN, "pause", message_id=77)
        assert await asyncio.wait_for(got.get(), 5) == "cb:pause"
        await app.updater.stop()
        await app.stop()
    reply = fake.calls_for("sendMessage")[0].params
    assert reply["chat_id"] == ADMIN and reply["text"] == "hello admin"
    assert fake.calls_for("answerCallbackQuery")[0].params["text"] == "done"


async def test_unknown_method_and_wrong_token() -> None:
    with FakeBotAPI.running(token=TOKEN) as fake:
        req = urllib.request.Request(f"{fake.base_url}{TOKEN}/noSuchMethod", data=b"")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        with err.value:
            assert err.value.code == 404
            assert json.loads(err.value.read())["description"] == "Not Found: method not found"
        with pytest.raises(InvalidToken):
            async with Bot("999:wrong", base_url=fake.base_url):
                pass


def test_decode_params_shapes() -> None:
    assert decode_params("application/json", b'{"chat_id": 5, "text": "1"}') == {"chat_id": 5, "text": "1"}
    form = b"chat_id=-1001&text=true&disable_notification=true&reply_markup=%7B%22a%22%3A1%7D"
    assert decode_params("application/x-www-form-urlencoded", form) == {
        "chat_id": -1001, "text": "true", "disable_notification": True, "reply_markup": {"a": 1}}
    assert decode_params("", b"", "offset=3&timeout=0") == {"offset": 3, "timeout": 0}


def test_standalone_process_records_calls(tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    with RemoteFake.spawn("--record", str(record)) as remote:
        assert remote.url.startswith("http://127.0.0.1:")
        remote.fail("sendMessage", 429, retry_after=2)
        remote.push_message(ADMIN, "/status")

        async def drive() -> None:
            async with Bot(TOKEN, base_url=remote.base_url) as bot:
                with pytest.raises(RetryAfter):
                    await bot.send_message(CHANNEL, "x")
                await bot.send_message(CHANNEL, "y")
                updates = await bot.get_updates(timeout=0)
                assert updates[0].message.text == "/status"

        asyncio.run(drive())
        assert [c["status"] for c in remote.calls("sendMessage")] == [429, 200]
        assert remote.stats()["count_429"] == 1 and len(remote.sent_messages(CHANNEL)) == 1
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [entry["method"] for entry in lines] == ["getMe", "sendMessage", "sendMessage", "getUpdates"]
    assert TOKEN not in record.read_text() and lines[0]["bot_id"] == "123456"


def test_image_server_routes() -> None:
    with ImageServer.running(big_size=300_000, slow_s=0.3) as img:
        with urllib.request.urlopen(img.url_for("/ok.jpg"), timeout=5) as resp:
            body = resp.read()
            assert resp.headers["Content-Type"] == "image/jpeg" and body[:2] == b"\xff\xd8"
        with urllib.request.urlopen(img.url_for("/big.jpg"), timeout=5) as resp:
            assert int(resp.headers["Content-Length"]) >= 300_000
            assert len(resp.read()) == int(resp.headers["Content-Length"])
        with urllib.request.urlopen(img.url_for("/notimage"), timeout=5) as resp:
            assert resp.headers["Content-Type"].startswith("text/html")
            resp.read()
        with urllib.request.urlopen(img.url_for("/redirect.jpg"), timeout=5) as resp:
            assert resp.read() == body
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(img.url_for("/404.jpg"), timeout=5)
        err.value.close()
        with pytest.raises(TimeoutError):
            urllib.request.urlopen(img.url_for("/slow.jpg"), timeout=0.1)
        assert img.count("/ok.jpg") == 2 and img.count("/404.jpg") == 1 and img.count("/slow.jpg") == 1
