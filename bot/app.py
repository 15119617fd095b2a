"""``newsbot run``: one asyncio process with the PTB Application, its JobQueue and the web server.

Lifecycle, in order: lock the state folder (a second instance stops here, before any network
call); build the Application; connect to Telegram; alert admins about anything a crash left
behind; register the command menu and the jobs; poll (or take webhooks) until SIGTERM/SIGINT;
then stop polling, let an in-flight send finish or record it as unknown, save, and exit 0 --
all within ``SHUTDOWN_S``. Without a token the same schedule runs and posts are only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
from telegram import Bot, BotCommandScopeChat, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot import __version__, alerts, postqueue
from bot.alerts import Alerts
from bot.commands import bot_commands
from bot.config import Settings
from bot.errors import ConfigError
from bot.handlers import SERVICE_KEY, add_handlers
from bot.jobs import Service
from bot.logs import RedactingFilter
from bot.publisher import TelegramPublisher
from bot.service import Engine, open_engine, utcnow
from bot.state import StateStore

logger = logging.getLogger(__name__)

SHUTDOWN_S = 9.0  # everything after the signal, so the process is gone within 10 s
PREVIEW_TOKEN = "0:preview"  # builds a JobQueue-only Application when there is no token
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]  # never channel posts
CONNECT_ATTEMPTS = 5
SWITCH_INTERVAL_S = 0.001


def file_url(api_url: str) -> str:
    """``https://api.telegram.org/bot`` -> ``https://api.telegram.org/file/bot``."""
    head, sep, _ = api_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else api_url.rstrip("/") + "/file/bot"


def _request() -> HTTPXRequest:
    # Short timeouts keep shutdown prompt; photo uploads get longer to write.
    return HTTPXRequest(connect_timeout=5.0, read_timeout=10.0, write_timeout=10.0, media_write_timeout=30.0,
                        pool_timeout=3.0)


def image_client(settings: Settings) -> httpx.AsyncClient:
    """The client the publisher downloads lead images with (see bot/imagefetch.py)."""
    return httpx.AsyncClient(timeout=settings.image_timeout_s, follow_redirects=False,
                             headers={"User-Agent": f"newsbot/{__version__}"})


@contextlib.asynccontextmanager
async def make_bot(settings: Settings) -> AsyncIterator[tuple[Bot, TelegramPublisher]]:
    """A connected Bot and a channel publisher, for one-shot verbs (``newsbot scan``)."""
    bot = Bot(settings.bot_token, base_url=settings.api_url, base_file_url=file_url(settings.api_url),
              request=_request())
    async with image_client(settings) as http, bot:
        yield bot, TelegramPublisher(bot, settings.channel_id, settings, http)


def build_application(settings: Settings, engine: Engine, *, http: httpx.AsyncClient | None = None,
                      store: StateStore | None = None) -> Application[Any, Any, Any, Any, Any, Any]:
    """The Application with handlers, error handler and a ``Service`` in ``bot_data``."""
    token = settings.bot_token or PREVIEW_TOKEN
    app = (ApplicationBuilder().token(token).base_url(settings.api_url).base_file_url(file_url(settings.api_url))
           .request(_request()).get_updates_request(_request()).concurrent_updates(True).build())
    live = bool(settings.bot_token and settings.channel_id and http is not None)
    publisher = TelegramPublisher(app.bot, settings.channel_id, settings, http) if live and http else None
    redact = RedactingFilter((settings.bot_token,)).redact
    alert = Alerts(app.bot if settings.bot_token else None, settings.admin_ids, settings.alert_interval_s,
                   redact=redact)
    app.bot_data[SERVICE_KEY] = Service(settings, engine, alert, publisher, http)
    add_handlers(app, settings.admin_ids)
    app.add_error_handler(on_error)
    return app


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one error handler: log with the traceback, DM admins a short summary (rate-limited)."""
    exc = context.error
    where = f" while handling update {update.update_id}" if isinstance(update, Update) else ""
    logger.error("Unexpected error%s: %s", where, exc, exc_info=exc)
    service: Service | None = context.bot_data.get(SERVICE_KEY)
    if service is not None:
        await service.alerts(alerts.ERROR, f"Unexpected error{where}: {type(exc).__name__}: {exc}")


async def on_startup(app: Application[Any, Any, Any, Any, Any, Any], store: StateStore) -> None:
    """What a previous run left behind, and the command menu."""
    service: Service = app.bot_data[SERVICE_KEY]
    if getattr(store, "recovered_from_backup", False):
        reason = getattr(store, "recovery_reason", "") or "the state file was unreadable"
        await service.alerts(alerts.RECOVERED, f"State recovered from its backup ({reason}); the last changes "
                                               "before that may be missing: check /queue and /retry.")
    unknown = postqueue.recover_in_flight(service.engine.state)
    if unknown:
        service.engine.save()
        await service.alerts(alerts.IN_FLIGHT, f"{len(unknown)} post(s) were being sent when newsbot stopped and "
                                               "may or may not be in the channel. /retry to repost or mark done.")
    if service.settings.bot_token:
        await _set_commands(app.bot, service.settings.admin_ids)
    if not service.settings.admin_ids:
        logger.warning("TELEGRAM_ADMIN_IDS is empty: nobody can use admin commands")
    if service.settings.bot_token and not service.settings.channel_id:
        logger.warning("TELEGRAM_CHANNEL_ID is not set: posts are only logged")


async def _set_commands(bot: Bot, admin_ids: list[int]) -> None:
    """The command menu, shown only in each admin's chat with the bot."""
    for admin in admin_ids:
        try:
            await bot.set_my_commands(bot_commands(), scope=BotCommandScopeChat(admin))
        except TelegramError as exc:
            logger.info("No command menu for admin %s yet (%s): they must start a chat with the bot first",
                        admin, exc.message)


async def _connect(app: Application[Any, Any, Any, Any, Any, Any], stop: asyncio.Event) -> bool:
    """``initialize`` (getMe) with a few retries for a flaky network; False on a bad token."""
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            await app.initialize()
            return True
        except InvalidToken:
            logger.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather")
            return False
        except NetworkError as exc:
            logger.warning("Cannot reach Telegram (%s); retrying", exc.message)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0 * 2**attempt)
            if stop.is_set():
                return False
    logger.error("Could not reach Telegram after %d attempts", CONNECT_ATTEMPTS)
    return False


def run_service(settings: Settings, args: object = None) -> int:
    """``newsbot run``: returns the exit code. StateLockedError escapes before any network call."""
    if settings.webhook_url and not settings.http:
        raise ConfigError(["webhook_url: needs http (HOST:PORT) or $PORT to receive the webhook on"])
    engine, store = open_engine(settings)
    # The scan thread holds the GIL most of the time; a shorter switch interval lets the event loop
    # take it back sooner, so commands are answered in tens of ms during a scan instead of hundreds.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        return asyncio.run(serve(settings, engine, store))
    finally:
        store.release()


async def serve(settings: Settings, engine: Engine, store: StateStore, *,
                ready: Callable[[Application[Any, Any, Any, Any, Any, Any]], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``Service.stop`` is set); the state folder is already locked.

    ``ready`` is called with the running Application (tests and benchmarks steer it through it).
    """
    async with image_client(settings) as http:
        app = build_application(settings, engine, http=http, store=store)
        service: Service = app.bot_data[SERVICE_KEY]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_signal, service, sig)
        try:
            if settings.bot_token and not await _connect(app, service.stop):
                return 0 if service.stop.is_set() else 1
            web = await _start(app, service, store)
            logger.info("newsbot %s running: %s", __version__, _mode(settings))
            if ready is not None:
                ready(app)
            await service.stop.wait()
            logger.info("Stopping")
            await _stop(app, service, web)
            logger.info("Stopped; state saved")
            return 0
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def _on_signal(service: Service, sig: signal.Signals) -> None:
    logger.info("Received %s", sig.name)
    service.stop.set()


def _mode(settings: Settings) -> str:
    if not settings.bot_token:
        return "no TELEGRAM_BOT_TOKEN, so scans run on schedule and posts are only logged"
    return "webhook" if settings.webhook_url else "long polling"


async def _start(app: Application[Any, Any, Any, Any, Any, Any], service: Service, store: StateStore) -> Any:
    """Startup hooks, the web server if asked, the jobs, then updates (polling or webhook)."""
    settings = service.settings
    await on_startup(app, store)
    server, secret = None, ""
    if settings.http:
        from bot import web, webhook  # tornado is only needed in web mode

        secret = webhook.webhook_secret(settings.bot_token) if settings.bot_token else ""
        extra = webhook.webhook_handlers(app, secret) if settings.webhook_url and secret else []
        server = await web.start_http(settings, lambda: _health(service), extra_handlers=extra)
        service.web_url = server.url
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is required"
    if settings.bot_token:
        await app.start()
    else:
        await app.job_queue.start()
    service.schedule(app.job_queue)  # after the scheduler started, so the first scan is now
    if settings.bot_token and settings.webhook_url:
        from bot import webhook

        await app.bot.set_webhook(webhook.webhook_public_url(settings), secret_token=secret,
                                  allowed_updates=ALLOWED_UPDATES)
    elif settings.bot_token:
        assert app.updater is not None
        await app.updater.start_polling(timeout=10, allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error)
    return server


def _polling_error(exc: TelegramError) -> None:
    logger.warning("Polling Telegram failed: %s", exc.message)


def _health(service: Service) -> Any:
    from bot.health import HealthInfo

    last = service.engine.state.meta.get("last_scan_at")
    return HealthInfo(datetime.fromisoformat(last) if isinstance(last, str) else None, service.scan_interval_s(),
                      service.started_at, utcnow())


async def _stop(app: Application[Any, Any, Any, Any, Any, Any], service: Service, server: Any) -> None:
    """Stop taking updates, finish or record the in-flight post, save; bounded by SHUTDOWN_S."""
    try:
        async with asyncio.timeout(SHUTDOWN_S):
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            await service.close()
            if server is not None:
                await server.stop()
            if app.running:
                await app.stop()
            elif app.job_queue is not None:
                await app.job_queue.stop(wait=False)
            if service.settings.bot_token:
                await app.shutdown()
    except TimeoutError:
        logger.warning("Shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_S)
        service.engine.save()
