"""``newsbot run``: one asyncio process with the PTB Application, its JobQueue and the web server.

In order: lock the state folder (a second instance stops here, before any network call); settle
what a crash left behind; start the web server and the scan schedule, so feeds and /healthz never
wait for Telegram; connect to Telegram in the background, with back-off through an outage, then
alert admins, set the command menu, take updates and post. SIGTERM/SIGINT: stop polling, finish
or record the in-flight send, let jobs return, save, exit 0, within ``SHUTDOWN_S``. Without a
token the same schedule runs and posts are only logged.
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
from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot import __version__, alerts, imagefetch, postqueue
from bot.alerts import Alerts
from bot.commands import set_menu
from bot.config import Settings
from bot.errors import ConfigError
from bot.handlers import SERVICE_KEY, add_handlers
from bot.jobs import Service
from bot.logs import RedactingFilter
from bot.publisher import TelegramPublisher
from bot.service import Engine, open_engine, utcnow
from bot.state import StateStore

logger = logging.getLogger(__name__)
App = Application[Any, Any, Any, Any, Any, Any]

SHUTDOWN_S = 9.0  # everything after the signal, so the process is gone within 10 s
PREVIEW_TOKEN = "0:preview"  # builds a JobQueue-only Application when there is no token
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]  # never channel posts
CONNECT_FIRST_WAIT_S, CONNECT_MAX_WAIT_S = 2.0, 60.0  # back-off between attempts to reach Telegram
SWITCH_INTERVAL_S = 0.001


def file_url(api_url: str) -> str:
    """``https://api.telegram.org/bot`` -> ``https://api.telegram.org/file/bot``."""
    head, sep, _ = api_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else api_url.rstrip("/") + "/file/bot"


def _request() -> HTTPXRequest:
    # Short timeouts keep shutdown prompt; photo uploads get longer to write.
    return HTTPXRequest(connect_timeout=5.0, read_timeout=10.0, write_timeout=10.0, media_write_timeout=30.0,
                        pool_timeout=3.0)


@contextlib.asynccontextmanager
async def make_bot(settings: Settings) -> AsyncIterator[tuple[Bot, TelegramPublisher]]:
    """A connected Bot and a channel publisher, for one-shot verbs (``newsbot scan``)."""
    bot = Bot(settings.bot_token, base_url=settings.api_url, base_file_url=file_url(settings.api_url),
              request=_request())
    async with imagefetch.image_client(settings) as http, bot:
        yield bot, TelegramPublisher(bot, settings.channel_id, settings, http)


def build_application(settings: Settings, engine: Engine, *, http: httpx.AsyncClient | None = None,
                      store: StateStore | None = None) -> App:
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


async def on_startup(app: App, store: StateStore) -> None:
    """What a previous run left behind, and the command menu."""
    service: Service = app.bot_data[SERVICE_KEY]
    await announce(app, recover(service, store))


def recover(service: Service, store: StateStore) -> list[tuple[str, str]]:
    """Settle what a previous run left behind (before any scan or post); the alerts it calls for."""
    found: list[tuple[str, str]] = []
    if getattr(store, "recovered_from_backup", False):
        reason = getattr(store, "recovery_reason", "") or "the state file was unreadable"
        found.append((alerts.RECOVERED, (f"State recovered from its backup ({reason}); the last changes "
                                         "before that may be missing: check /queue and /retry.")))
    unknown = postqueue.recover_in_flight(service.engine.state)
    if unknown:
        service.engine.save()
        found.append((alerts.IN_FLIGHT, (f"{len(unknown)} post(s) were being sent when newsbot stopped and "
                                         "may or may not be in the channel. /retry to repost or mark done.")))
    if not service.settings.admin_ids:
        logger.warning("TELEGRAM_ADMIN_IDS is empty: nobody can use admin commands")
    if service.settings.bot_token and not service.settings.channel_id:
        logger.warning("TELEGRAM_CHANNEL_ID is not set: posts are only logged")
    return found


async def announce(app: App, found: list[tuple[str, str]]) -> None:
    """The start-up alerts and the command menu, once Telegram can be reached."""
    service: Service = app.bot_data[SERVICE_KEY]
    for kind, text in found:
        await service.alerts(kind, text)
    if service.settings.bot_token:
        await set_menu(app.bot, service.settings.admin_ids)


async def _go_online(app: App, service: Service, found: list[tuple[str, str]]) -> bool:
    """Connect (getMe), take updates, alert, then post; retried with back-off until it works.

    Each failure is one WARNING line (INFO while the reason stays the same), never a traceback.
    False on a rejected token: the service stops and exits 1, as retrying cannot help.
    """
    wait_s, last_reason = CONNECT_FIRST_WAIT_S, ""
    while not service.stop.is_set():
        try:
            await app.initialize()  # at once when done already
            await _take_updates(app, service.settings)
        except InvalidToken:
            logger.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather")
            service.stop.set()
            return False
        except TelegramError as exc:
            logger.log(logging.INFO if exc.message == last_reason else logging.WARNING,
                       "Cannot reach Telegram (%s); feeds and scans go on, posting waits. Retrying in %.0f s",
                       exc.message, wait_s)
            last_reason = exc.message
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.stop.wait(), wait_s)
            wait_s = min(wait_s * 2, CONNECT_MAX_WAIT_S)
            continue
        await announce(app, found)
        service.online = True
        service.kick_drain()
        logger.info("Telegram connected: %s", _mode(service.settings))
        return True
    return True


async def _take_updates(app: App, settings: Settings) -> None:
    """Start the update fetcher, then long polling or the webhook (each step once, so retries resume)."""
    if not app.running:
        await app.start()  # the job queue already runs
    if settings.webhook_url:
        from bot import webhook

        await app.bot.set_webhook(webhook.webhook_public_url(settings), allowed_updates=ALLOWED_UPDATES,
                                  secret_token=webhook.webhook_secret(settings.bot_token))
    elif app.updater is not None and not app.updater.running:
        await app.updater.start_polling(timeout=10, allowed_updates=ALLOWED_UPDATES, error_callback=_polling_error)


def run_service(settings: Settings, args: object = None) -> int:
    """``newsbot run``: returns the exit code. StateLockedError escapes before any network call."""
    if settings.webhook_url and not settings.http:
        raise ConfigError(["webhook_url: needs http (HOST:PORT) or $PORT to receive the webhook on"])
    engine, store = open_engine(settings)
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # the scan thread holds the GIL: commands answer in ms, not 100s
    try:
        return asyncio.run(serve(settings, engine, store))
    finally:
        store.release()


async def serve(settings: Settings, engine: Engine, store: StateStore, *,
                ready: Callable[[App], None] | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``Service.stop`` is set); the state folder is already locked.

    ``ready`` is called with the Application once feeds and scans run, perhaps before Telegram answers.
    """
    async with imagefetch.image_client(settings) as http:
        app = build_application(settings, engine, http=http, store=store)
        service: Service = app.bot_data[SERVICE_KEY]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_signal, service, sig)
        online: asyncio.Task[bool] | None = None
        try:
            found = recover(service, store)
            web = await _start(app, service)
            if settings.bot_token:
                online = asyncio.create_task(_go_online(app, service, found), name="newsbot-connect")
            else:
                await announce(app, found)
            logger.info("newsbot %s running: %s", __version__, "connecting to Telegram" if online else _mode(settings))
            if ready is not None:
                ready(app)
            await service.stop.wait()
            logger.info("Stopping")
            code = await _connected(online) if online is not None else 0
            await _stop(app, service, web)
            logger.info("Stopped; state saved")
            return code
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


async def _connected(online: asyncio.Task[bool]) -> int:
    """Stop trying to connect; the exit code: 1 if the token was rejected."""
    online.cancel()  # a no-op once connected
    [outcome] = await asyncio.gather(online, return_exceptions=True)
    if isinstance(outcome, Exception):
        logger.error("Connecting to Telegram failed: %s", outcome, exc_info=outcome)
    return 1 if outcome is False else 0


def _on_signal(service: Service, sig: signal.Signals) -> None:
    logger.info("Received %s", sig.name)
    service.stop.set()


def _mode(settings: Settings) -> str:
    if not settings.bot_token:
        return "no TELEGRAM_BOT_TOKEN, so scans run on schedule and posts are only logged"
    return "webhook" if settings.webhook_url else "long polling"


async def _start(app: App, service: Service) -> Any:
    """The web server if asked, then the scheduler and its jobs: nothing here needs Telegram."""
    settings = service.settings
    server = None
    if settings.http:
        from bot import web, webhook  # aiohttp is only needed in web mode

        secret = webhook.webhook_secret(settings.bot_token) if settings.bot_token else ""
        extra = webhook.webhook_routes(app, secret) if settings.webhook_url and secret else {}
        server = await web.start_http(settings, lambda: _health(service), extra_routes=extra)
        service.web_url = server.url
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is required"
    service.online = not settings.bot_token  # with a token, posting starts once Telegram answers
    await app.job_queue.start()
    service.schedule(app.job_queue)  # after the scheduler started, so the first scan is now
    return server


def _polling_error(exc: TelegramError) -> None:
    logger.warning("Polling Telegram failed: %s", exc.message)


def _health(service: Service) -> Any:
    from bot.health import HealthInfo

    last = service.engine.state.meta.get("last_scan_at")
    return HealthInfo(datetime.fromisoformat(last) if isinstance(last, str) else None, service.scan_interval_s(),
                      service.started_at, utcnow())


async def _stop(app: App, service: Service, server: Any) -> None:
    """Stop taking updates, finish or record the in-flight post, save; bounded by SHUTDOWN_S."""
    try:
        async with asyncio.timeout(SHUTDOWN_S):
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            await service.close()
            if server is not None:
                await server.stop()
            if app.running:
                await app.stop()  # waits for running jobs: they return at once now that the service stopped
            elif app.job_queue is not None:
                await app.job_queue.stop(wait=True)  # not wait=False: that cancels them and APScheduler logs an ERROR
            if service.settings.bot_token:
                await app.shutdown()
    except TimeoutError:
        logger.warning("Shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_S)
        service.engine.save()
