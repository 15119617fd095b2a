"""Telegram webhook on the web-mode port: an alternative to long polling (the default).

The route runs on the web server's thread; each update is decoded there and handed to the
Application on the bot's loop with ``call_soon_threadsafe``. Telegram proves itself with the
secret token it echoes in ``X-Telegram-Bot-Api-Secret-Token``; it is derived from the bot token
(stable across restarts, so updates in flight during a deploy are not refused) and compared in
constant time. PTB's own webhook server (``run_webhook``) is a separate tornado server that
would need the port for itself; feeds, /healthz and updates share one port here instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ExtBot

from bot.config import Settings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


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


def _handler(application: AnyApplication, secret_token: str, bot_loop: asyncio.AbstractEventLoop) -> Handler:
    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(status=405, headers={"Allow": "POST"})
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret_token.encode()):
            return web.Response(status=403)
        if request.content_type.lower() != "application/json":
            return web.Response(status=415)
        try:
            update = Update.de_json(json.loads(await request.read()), application.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError) as exc:
            logger.warning("Ignored a webhook call that is not a Telegram update (%s)", type(exc).__name__)
            return web.Response(status=400)
        try:
            bot_loop.call_soon_threadsafe(_deliver, application, update)
        except RuntimeError:  # the bot's loop is closed: shutting down; Telegram will retry
            return web.Response(status=503)
        return web.Response(status=200)

    return handle


def webhook_routes(application: AnyApplication, secret_token: str) -> dict[str, Handler]:
    """Routes for ``start_http(..., extra_routes=...)``; Telegram must send ``secret_token``.

    Call it on the bot's loop: updates are handed to that loop, whatever thread serves HTTP.
    """
    if not secret_token:
        raise ValueError("a webhook needs a secret token")
    handle = _handler(application, secret_token, asyncio.get_running_loop())
    return {WEBHOOK_PATH: handle, WEBHOOK_PATH + "/": handle}
