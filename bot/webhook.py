"""Telegram webhook on the web-mode port: an alternative to long polling (the default).

The route runs on the web server's thread; each update is decoded there and handed to the
Application on the bot's loop with ``call_soon_threadsafe``. Telegram proves itself with the
secret token it echoes in ``X-Telegram-Bot-Api-Secret-Token``; it is derived from the bot token
(stable across restarts, so updates in flight during a deploy are not refused) and compared in
constant time. We do not reuse PTB's ``TelegramHandler``: it lives in a private module, expects
its own loop, and demands ``Content-Type`` to be exactly ``application/json``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from telegram import Update
from telegram.ext import Application, ExtBot

from bot.config import Settings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def webhook_secret(bot_token: str) -> str:
    """Secret token for ``set_webhook``: 64 hex characters, reveals nothing about the bot token."""
    return hmac.new(bot_token.encode(), b"newsbot webhook", hashlib.sha256).hexdigest()


def webhook_public_url(settings: Settings) -> str:
    """URL for ``set_webhook``: ``webhook_url`` plus ``/telegram`` unless it already ends so."""
    url = settings.webhook_url.rstrip("/")
    return url if urlsplit(url).path.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH


def _deliver(application: AnyApplication, update: Update) -> None:
    """On the bot's loop: what PTB's own webhook handler does with a decoded update."""
    if isinstance(application.bot, ExtBot):
        application.bot.insert_callback_data(update)
    application.update_queue.put_nowait(update)


class TelegramWebhookHandler(tornado.web.RequestHandler):
    """POST /telegram: check the secret, decode the update, queue it for the Application."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot_app: AnyApplication, secret_token: str) -> None:
        self.bot_app = bot_app
        self.secret_token = secret_token

    def post(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
            raise tornado.web.HTTPError(403)
        if self.request.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            raise tornado.web.HTTPError(415)
        try:
            update = Update.de_json(json.loads(self.request.body), self.bot_app.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("Ignored a webhook call that is not a Telegram update (%s)", type(exc).__name__)
            raise tornado.web.HTTPError(400) from None
        bot_loop: asyncio.AbstractEventLoop = self.settings["bot_loop"]
        try:
            bot_loop.call_soon_threadsafe(_deliver, self.bot_app, update)
        except RuntimeError:  # the bot's loop is closed: shutting down; Telegram will retry
            raise tornado.web.HTTPError(503) from None
        self.finish()


def webhook_handlers(application: AnyApplication, secret_token: str) -> list[Any]:
    """Routes for ``start_http(..., extra_handlers=...)``; Telegram must send ``secret_token``."""
    if not secret_token:
        raise ValueError("a webhook needs a secret token")
    return [(re.escape(WEBHOOK_PATH) + "/?", TelegramWebhookHandler,
             {"bot_app": application, "secret_token": secret_token})]
