"""TelegramPublisher with the real PTB client against tests/fakebotapi.py, images from tests/imageserver.py."""

from __future__ import annotations

import json
import hashlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.errors import ChannelError, DeliveryUnknown, PostRejected, PublishError
from bot.messages import render_post
from bot.models import Post
from bot.publisher import Delivery, PreviewPublisher, TelegramPublisher
from tests.fakebotapi import CHAT_NOT_FOUND, NOT_MEMBER, WRONG_FILE, FakeBotAPI
from tests.imageserver import ImageServer
from tests.test_messages import GOLDEN_CASES

pytestmark = pytest.mark.integration

TOKEN = "123456:TEST-token_for-the-fake"
CHANNEL = "-1001234567890"
PHOTO_URL_ERRORS = [
    WRONG_FILE,
    "Bad Request: failed to get HTTP URL content",
    "Bad Request: wrong type of the web page content",
    "Bad Request: IMAGE_PROCESS_FAILED",
    "Bad Request: PHOTO_INVALID_DIMENSIONS",
    "Bad Request: WEBPAGE_CURL_FAILED",
    "Bad Request: WEBPAGE_MEDIA_EMPTY",
]


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI.running() as server:
        yield server
        assert server.errors == []


@pytest.fixture(scope="module")
def img() -> Iterator[ImageServer]:
    with ImageServer.running(slow_s=1.0) as server:
        yield server


@pytest.fixture
def settings() -> Settings:
    return Settings(allow_private_image_hosts=True, image_timeout_s=0.5)


def fast_request(**kw: float) -> HTTPXRequest:
    """PTB's real HTTP client with short timeouts; no CA bundle (plain http to 127.0.0.1, 0.14 s saved)."""
    return HTTPXRequest(read_timeout=kw.get("read_timeout", 0.4), connect_timeout=0.5, httpx_kwargs={"verify": False})


@pytest.fixture
async def publisher(fake: FakeBotAPI, settings: Settings) -> AsyncIterator[TelegramPublisher]:
    async with Bot(TOKEN, base_url=fake.base_url, request=fast_request(),
                   get_updates_request=fast_request()) as bot, httpx.AsyncClient(verify=False) as http:
        yield TelegramPublisher(bot, CHANNEL, settings, http)


def post(photo_url: str | None = "https://img.example.com/lead.jpg", **kw: str) -> Post:
    base = {"article_id": "a1", "html": "<b>标题</b>\n\n摘要。", "url": "https://news.example.com/a1/",
            "photo_url": photo_url, "button_text": "阅读全文"}
    return Post(**(base | kw))  # type: ignore[arg-type]


def sends(fake: FakeBotAPI) -> list[tuple[str, object]]:
    return [(c.method, c.params.get("photo")) for c in fake.calls if c.method.startswith("send")]


async def test_photo_by_url_with_caption_and_button(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    delivery = await publisher.send(post())
    (call,) = fake.calls_for("sendPhoto")
    assert call.params["photo"] == "https://img.example.com/lead.jpg"
    assert call.params["caption"] == "<b>标题</b>\n\n摘要。"
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "阅读全文", "url": "https://news.example.com/a1/"}]]}
    assert delivery == Delivery(fake.sent[0]["message_id"], CHANNEL, "AgAC-1", None)


@pytest.mark.parametrize("error", PHOTO_URL_ERRORS)
async def test_photo_url_error_falls_back_to_upload(fake: FakeBotAPI, img: ImageServer, publisher: TelegramPublisher,
                                                    error: str) -> None:
    fake.fail_match("sendPhoto", lambda p: isinstance(p.get("photo"), str), 400, error)
    delivery = await publisher.send(post(img.url_for("/ok.jpg")))
    first, second = fake.calls_for("sendPhoto")
    assert first.params["photo"] == img.url_for("/ok.jpg")
    assert second.params["photo"]["sha256"] == hashlib.sha256(img.ok_jpeg).hexdigest()  # our own bytes
    assert second.params["caption"] == "<b>标题</b>\n\n摘要。"
    assert delivery.fallback == "upload" and delivery.file_id == "AgAC-1"
    assert len(fake.sent) == 1


@pytest.mark.parametrize("path", ["/404.jpg", "/notimage", "/slow.jpg", "/wide.jpg"])
async def test_when_upload_is_impossible_text_with_link_preview(fake: FakeBotAPI, img: ImageServer,
                                                                publisher: TelegramPublisher, path: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    fake.fail("sendPhoto", 400, WRONG_FILE)
    delivery = await publisher.send(post(img.url_for(path)))
    assert [m for m, _ in sends(fake)] == ["sendPhoto", "sendMessage"]
    (msg,) = fake.calls_for("sendMessage")
    assert msg.params["text"] == "<b>标题</b>\n\n摘要。"
    assert msg.params["link_preview_options"]["url"] == "https://news.example.com/a1/"
    assert msg.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "阅读全文"
    assert delivery.fallback == "text" and delivery.file_id is None
    assert "went out as text" in caplog.text  # the fallback is logged


async def test_uploaded_photo_refused_too_goes_out_as_text(fake: FakeBotAPI, img: ImageServer,
                                                           publisher: TelegramPublisher) -> None:
    fake.fail("sendPhoto", 400, WRONG_FILE)
    fake.fail("sendPhoto", 400, "Bad Request: IMAGE_PROCESS_FAILED")
    delivery = await publisher.send(post(img.url_for("/ok.jpg")))
    assert [m for m, _ in sends(fake)] == ["sendPhoto", "sendPhoto", "sendMessage"]
    assert delivery.fallback == "text"


async def test_remembered_file_id_is_used_and_a_stale_one_falls_back(fake: FakeBotAPI,
                                                                     publisher: TelegramPublisher) -> None:
    first = await publisher.send(post())
    again = await publisher.send(post(), file_id=first.file_id)
    assert fake.calls_for("sendPhoto")[1].params["photo"] == first.file_id == "AgAC-1"
    fake.fail("sendPhoto", 400, WRONG_FILE)
    await publisher.send(post(), file_id="stale-id")
    assert [p for _, p in sends(fake)][2:] == ["stale-id", "https://img.example.com/lead.jpg"]
    assert again.message_id != first.message_id


async def test_text_post_when_the_article_has_no_image(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    delivery = await publisher.send(post(None, button_text=""))
    (msg,) = fake.calls_for("sendMessage")
    assert "reply_markup" not in msg.params  # no button when its text is empty
    assert delivery.fallback is None


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
async def test_golden_posts_are_accepted_by_telegram_rules(fake: FakeBotAPI, publisher: TelegramPublisher,
                                                           name: str) -> None:
    art, body = GOLDEN_CASES[name]
    await publisher.send(render_post(art, body, Settings()))  # the fake checks tags and lengths like Telegram
    assert len(fake.sent) == 1


@pytest.mark.parametrize(("status", "description", "kind"), [
    (403, NOT_MEMBER, ChannelError),
    (400, CHAT_NOT_FOUND, ChannelError),
    (400, "Bad Request: not enough rights to send text messages to the chat", ChannelError),
    (401, "Unauthorized", ChannelError),
    (400, "Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 3", PostRejected),
    (400, "Bad Request: message caption is too long", PostRejected),
])
async def test_permanent_errors_are_classified(fake: FakeBotAPI, publisher: TelegramPublisher, status: int,
                                               description: str, kind: type[PublishError]) -> None:
    fake.fail("sendPhoto", status, description)
    with pytest.raises(kind) as info:
        await publisher.send(post())
    assert not info.value.transient
    assert TOKEN not in str(info.value)
    words = str(info.value).split()
    assert words[0] != words[1], str(info.value)  # "Forbidden: bot is not …", never "Forbidden: Forbidden: …"


async def test_flood_wait_is_reported_exactly(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    fake.fail("sendPhoto", retry_after=43837)
    with pytest.raises(PublishError) as info:
        await publisher.send(post())
    assert info.value.retry_after_s == 43837 and info.value.transient
    assert fake.sent == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_transient(fake: FakeBotAPI, publisher: TelegramPublisher, status: int) -> None:
    fake.fail("sendPhoto", status)
    with pytest.raises(PublishError) as info:
        await publisher.send(post())
    assert info.value.transient and info.value.retry_after_s is None
    assert not isinstance(info.value, DeliveryUnknown)


async def test_slow_reply_is_unknown_not_failed(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    fake.delay("sendPhoto", 0.8)
    with pytest.raises(DeliveryUnknown):
        await publisher.send(post())
    assert len(fake.sent_messages()) == 1  # it did reach the channel: resending would post it twice


async def test_unreachable_api_is_transient(settings: Settings) -> None:
    with FakeBotAPI.running() as gone:
        bot = Bot(TOKEN, base_url=gone.base_url, request=fast_request(), get_updates_request=fast_request())
        await bot.initialize()
    try:  # the server is stopped now: connection refused
        async with httpx.AsyncClient(verify=False) as http:
            with pytest.raises(PublishError) as info:
                await TelegramPublisher(bot, CHANNEL, settings, http).send(post())
    finally:
        await bot.shutdown()
    assert info.value.transient and not isinstance(info.value, DeliveryUnknown)


async def test_edit_caption_and_not_modified_is_success(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    sent = await publisher.send(post())
    await publisher.edit(post(html="<b>新标题</b>"), sent.message_id, has_photo=True)
    await publisher.edit(post(html="<b>新标题</b>"), sent.message_id, has_photo=True)  # same again: not modified
    assert fake.sent[0]["caption"] == "新标题"
    assert [c.status for c in fake.calls_for("editMessageCaption")] == [200, 400]


async def test_edit_text_post(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    sent = await publisher.send(post(None))
    await publisher.edit(post(None, html="<b>改</b> &amp; more"), sent.message_id, has_photo=False)
    assert fake.sent[0]["text"] == "改 & more"
    assert fake.calls_for("editMessageText")[0].params["link_preview_options"]["url"] == post().url


async def test_edit_of_a_vanished_message_is_rejected(publisher: TelegramPublisher) -> None:
    with pytest.raises(PostRejected, match="not found"):
        await publisher.edit(post(), 999, has_photo=True)


async def test_delete_and_delete_again(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    sent = await publisher.send(post())
    await publisher.delete(sent.message_id)
    await publisher.delete(sent.message_id)  # already gone counts as done
    assert fake.messages == {}


async def test_preview_publisher_shows_the_post_readably() -> None:
    shown: list[str] = []
    preview = PreviewPublisher(shown.append)
    first = await preview.send(post(html="<b>标题 &amp; 副题</b>\n\n摘要。"))
    second = await preview.send(post(None))
    assert first.message_id != second.message_id
    assert shown[0].splitlines() == ["── post a1 ──", "[photo] https://img.example.com/lead.jpg", "标题 & 副题", "",
                                     "摘要。", "[ 阅读全文 ] -> https://news.example.com/a1/"]
    assert "[link preview] https://news.example.com/a1/" in shown[1]


async def test_a_changed_lead_image_swaps_the_photo_in_place(fake: FakeBotAPI, publisher: TelegramPublisher) -> None:
    sent = await publisher.send(post())
    await publisher.edit(post("https://img.example.com/new.jpg", html="<b>新图</b>"), sent.message_id,
                         has_photo=True, photo_changed=True)
    (call,) = fake.calls_for("editMessageMedia")
    media = call.params["media"]
    media = json.loads(media) if isinstance(media, str) else media
    assert media["media"] == "https://img.example.com/new.jpg"
    assert fake.sent[0]["caption"] == "新图"
    assert not fake.calls_for("sendPhoto")[1:]  # edited in place, not posted again
