"""Deliver posts to the channel: the only module that talks to Telegram for the post queue.

``TelegramPublisher.send`` always gets the article into the channel if the channel works:
photo by remembered ``file_id``, else by URL; when Telegram cannot use the URL (TELEGRAM.md 1.3)
newsbot downloads the image itself and uploads it; when that fails too, it sends the text with a
link preview of the article. Every fallback is logged.

telegram.error is mapped to our tree (bot/errors.py) so the queue can decide:

* ``RetryAfter`` -> ``PublishError(transient, retry_after_s=N)``: wait exactly N seconds.
* ``Forbidden``, ``InvalidToken``, ``ChatMigrated`` and BadRequests about the chat (chat not
  found, not enough rights) -> ``ChannelError``: pause and alert.
* other ``BadRequest`` -> ``PostRejected``: this post failed, the queue goes on.
* ``TimedOut`` on a send after the request left -> ``DeliveryUnknown``: it may be posted.
  A connect or pool timeout never reached Telegram, so it is only transient.
* ``NetworkError`` (5xx, connection errors) -> transient. A connection lost while *reading*
  the answer to a send is ``DeliveryUnknown`` too.
BadRequest and TimedOut subclass NetworkError, so the order of the checks matters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
from telegram import (Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, InputMediaPhoto, LinkPreviewOptions,
                      Message)
from telegram.constants import ParseMode
from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter,
                            TelegramError, TimedOut)

from bot.config import Settings
from bot.errors import ChannelError, DeliveryUnknown, ImageFetchError, PostRejected, PublishError
from bot.imagefetch import fetch_image
from bot.messages import visible_text
from bot.models import Post

logger = logging.getLogger(__name__)

# Lower-cased fragments of the errors Telegram gives when it cannot use a photo (TELEGRAM.md 1.3).
PHOTO_ERRORS = (
    "wrong file identifier", "failed to get http url content", "wrong type of the web page content",
    "image_process_failed", "photo_invalid_dimensions", "webpage_curl_failed", "webpage_media_empty",
    "media_empty", "photo_content_type_invalid", "wrong remote file identifier", "photo_ext_invalid",
    "photo_save_file_invalid", "failed to get http url", "wrong padding", "file must be non-empty",
    "not enough rights to send photos",
)
# BadRequests that mean the channel is unusable, not that this post is wrong.
CHANNEL_ERRORS = (
    "chat not found", "not enough rights", "need administrator rights", "bot is not a member",
    "have no rights to send", "chat_write_forbidden", "chat_admin_required", "channel_private",
    "bot was kicked", "peer_id_invalid", "chat_restricted", "group chat was upgraded",
)
NOT_MODIFIED = "message is not modified"
_GONE = ("message to delete not found", "message to edit not found")
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where a post landed; ``fallback`` is None, "upload" or "text" (how the photo went)."""

    message_id: int
    chat_id: str
    file_id: str | None = None
    fallback: str | None = None


class Publisher(Protocol):
    async def send(self, post: Post, *, file_id: str | None = None) -> Delivery: ...

    async def edit(self, post: Post, message_id: int, *, has_photo: bool, photo_changed: bool = False) -> None: ...

    async def delete(self, message_id: int) -> None: ...


def retry_after_s(exc: RetryAfter) -> float:
    """Seconds to wait; PTB 22 gives an int or (opted in) a timedelta."""
    value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _lower(exc: TelegramError) -> str:
    return exc.message.lower()


def is_photo_error(exc: TelegramError) -> bool:
    return isinstance(exc, BadRequest) and any(s in _lower(exc) for s in PHOTO_ERRORS)


def map_error(exc: TelegramError, *, sending: bool) -> PublishError:
    """Our error for a telegram.error; ``sending`` says whether a repeat could post twice."""
    name = type(exc).__name__
    text = exc.message if exc.message.startswith(f"{name}:") else f"{name}: {exc.message}"  # PTB keeps "Forbidden:"
    if isinstance(exc, RetryAfter):
        return PublishError(text, transient=True, retry_after_s=retry_after_s(exc))
    if isinstance(exc, (Forbidden, InvalidToken, ChatMigrated)):
        return ChannelError(text)
    if isinstance(exc, BadRequest):
        return ChannelError(text) if any(s in _lower(exc) for s in CHANNEL_ERRORS) else PostRejected(text)
    if isinstance(exc, TimedOut):
        never_sent = isinstance(exc.__cause__, (httpx.ConnectTimeout, httpx.PoolTimeout))
        if sending and not never_sent:
            return DeliveryUnknown(f"{text} (the post may have been delivered)")
        return PublishError(text, transient=True)
    if isinstance(exc, NetworkError):
        lost_answer = isinstance(exc.__cause__, (httpx.ReadError, httpx.RemoteProtocolError))
        if sending and lost_answer:
            return DeliveryUnknown(f"{text} (connection lost after sending; the post may have been delivered)")
        return PublishError(text, transient=True)
    if sending:
        return DeliveryUnknown(f"{text} (unexpected answer; the post may have been delivered)")
    return PublishError(text, transient=True)


def _file_id(msg: Message) -> str | None:
    return msg.photo[-1].file_id if msg.photo else None


class TelegramPublisher:
    """Posts to one channel through python-telegram-bot."""

    def __init__(self, bot: Bot, chat_id: str, settings: Settings, http: httpx.AsyncClient) -> None:
        self.bot, self.chat_id, self.settings, self.http = bot, chat_id, settings, http

    def _markup(self, post: Post) -> InlineKeyboardMarkup | None:
        if not post.button_text:
            return None
        return InlineKeyboardMarkup([[InlineKeyboardButton(post.button_text, url=post.url)]])

    async def send(self, post: Post, *, file_id: str | None = None) -> Delivery:
        """Post it: photo (file_id, URL, upload) or text with a link preview. See module doc."""
        try:
            if post.photo_url or file_id:
                delivery = await self._send_photo(post, file_id)
                if delivery is not None:
                    return delivery
            msg = await self.bot.send_message(
                self.chat_id, post.html, parse_mode=ParseMode.HTML, reply_markup=self._markup(post),
                link_preview_options=LinkPreviewOptions(url=post.url, prefer_large_media=True))
        except TelegramError as exc:
            raise map_error(exc, sending=True) from exc
        fallback = "text" if (post.photo_url or file_id) else None
        if fallback:
            logger.warning("Post %s went out as text with a link preview: no usable photo", post.article_id)
        return Delivery(msg.message_id, self.chat_id, None, fallback)

    async def _photo(self, post: Post, photo: Any) -> Message:
        return await self.bot.send_photo(self.chat_id, photo, caption=post.html, parse_mode=ParseMode.HTML,
                                         reply_markup=self._markup(post))

    async def _send_photo(self, post: Post, file_id: str | None) -> Delivery | None:
        """The photo post, trying each way in turn; None when none worked (photo errors only)."""
        for kind, photo in (("file_id", file_id), ("URL", post.photo_url)):
            if not photo:
                continue
            try:
                msg = await self._photo(post, photo)
                return Delivery(msg.message_id, self.chat_id, _file_id(msg) or file_id, None)
            except BadRequest as exc:
                if not is_photo_error(exc):
                    raise
                logger.warning("Telegram could not use the photo %s of post %s: %s", kind, post.article_id,
                               exc.message)
        upload = await self._download(post.photo_url)
        if upload is None:
            return None
        try:
            msg = await self._photo(post, upload)
        except BadRequest as exc:
            if not is_photo_error(exc):
                raise
            logger.warning("Telegram refused the uploaded photo of post %s: %s", post.article_id, exc.message)
            return None
        logger.warning("Post %s: photo uploaded by newsbot because Telegram could not fetch %s",
                       post.article_id, post.photo_url)
        return Delivery(msg.message_id, self.chat_id, _file_id(msg), "upload")

    async def _download(self, url: str | None) -> InputFile | None:
        if not url:
            return None
        try:
            data, ctype = await fetch_image(url, self.settings, self.http)
        except ImageFetchError as exc:
            logger.warning("Could not download the photo myself: %s", exc)
            return None
        return InputFile(data, filename=f"photo.{_EXT.get(ctype, 'jpg')}")

    async def edit(self, post: Post, message_id: int, *, has_photo: bool, photo_changed: bool = False) -> None:
        """Bring a posted message up to date; "message is not modified" counts as done."""
        markup = self._markup(post)
        try:
            if has_photo and photo_changed and post.photo_url and await self._edit_photo(post, message_id):
                return
            if has_photo:
                await self.bot.edit_message_caption(self.chat_id, message_id, caption=post.html,
                                                    parse_mode=ParseMode.HTML, reply_markup=markup)
            else:
                await self.bot.edit_message_text(
                    post.html, self.chat_id, message_id, parse_mode=ParseMode.HTML, reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(url=post.url, prefer_large_media=True))
        except BadRequest as exc:
            if NOT_MODIFIED not in _lower(exc):
                raise map_error(exc, sending=False) from exc
        except TelegramError as exc:
            raise map_error(exc, sending=False) from exc

    async def _edit_photo(self, post: Post, message_id: int) -> bool:
        """Swap the photo and caption; False when no new photo could be used (caption-only edit)."""
        assert post.photo_url is not None
        for media in (post.photo_url, await self._download(post.photo_url)):
            if media is None:
                continue
            try:
                await self.bot.edit_message_media(
                    InputMediaPhoto(media, caption=post.html, parse_mode=ParseMode.HTML),
                    self.chat_id, message_id, reply_markup=self._markup(post))
                return True
            except BadRequest as exc:
                if NOT_MODIFIED in _lower(exc):
                    return True
                if not is_photo_error(exc):
                    raise
                logger.warning("Telegram could not use the new photo of post %s: %s", post.article_id, exc.message)
        return False

    async def delete(self, message_id: int) -> None:
        """Remove a channel message; one already gone counts as done."""
        try:
            await self.bot.delete_message(self.chat_id, message_id)
        except BadRequest as exc:
            if not any(s in _lower(exc) for s in _GONE):
                raise map_error(exc, sending=False) from exc
        except TelegramError as exc:
            raise map_error(exc, sending=False) from exc


def describe_post(post: Post) -> str:
    """A readable rendering of a post as followers would see it (preview mode, /preview)."""
    lines = [f"── post {post.article_id} ──"]
    lines.append(f"[photo] {post.photo_url}" if post.photo_url else f"[link preview] {post.url}")
    lines.append(visible_text(post.html))
    if post.button_text:
        lines.append(f"[ {post.button_text} ] -> {post.url}")
    return "\n".join(lines)


class PreviewPublisher:
    """Publisher for runs without a token: shows each post through ``emit`` and pretends it went out."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self._next_id = 0

    async def send(self, post: Post, *, file_id: str | None = None) -> Delivery:
        self._next_id += 1
        self.emit(describe_post(post))
        return Delivery(self._next_id, "preview", None, None)

    async def edit(self, post: Post, message_id: int, *, has_photo: bool, photo_changed: bool = False) -> None:
        self.emit(f"(edit of message {message_id})\n{describe_post(post)}")

    async def delete(self, message_id: int) -> None:
        self.emit(f"(delete of message {message_id})")
