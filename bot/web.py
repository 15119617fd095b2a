"""Web mode: serve feeds/ over HTTP from the newsbot process, with /healthz (and a webhook route).

Why tornado: python-telegram-bot's ``webhooks`` extra already ships it (no new dependency), its
``StaticFileHandler`` is mature (ETag, Last-Modified, 304, HEAD, Range), and PTB's own webhook
server is tornado, so feeds, health and Telegram updates share one port.

Why a thread: tornado serves every ready connection in one loop turn. Under 100 busy
connections a turn lasts ~30 ms, and a /status reply needs several turns, so on the bot's loop
it would take ~250 ms. The server runs its own event loop on a thread of the same process; the
interpreter's switch interval then bounds what the bot waits. Nothing crosses threads except
through ``call_soon_threadsafe``/``run_coroutine_threadsafe`` onto the bot's loop.

On top of ``StaticFileHandler``: content types with charset, an ETag that is a hash of the bytes
(tornado caches its hash per path forever, fine for versioned assets, wrong for feeds rewritten
in place), ``Cache-Control: public, max-age``, gzip compressed once per file version, and 404,
never 403, for anything outside feeds/: hidden files, traversal, symlinks out, the state folder.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import re
import socket
import stat
import threading
from collections.abc import Callable, Iterable
from typing import Any

import tornado.httpserver
import tornado.web

from bot.config import Settings
from bot.errors import ConfigError
from bot.health import HealthInfo, health_status
from bot.webfiles import Described, FileFacts, is_hidden_path, mount_path
from bot.webrevalidate import Revalidator

__all__ = ["HEALTH_PATH", "HealthInfo", "WebServer", "build_web_app", "health_status", "parse_listen", "start_http"]

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
HEALTH_TIMEOUT_S = 5.0  # the bot's loop must answer /healthz within this, or it is unhealthy
MAX_BODY_BYTES = 1_000_000  # Telegram updates are a few KB; GET needs no body at all


class FeedFileHandler(tornado.web.StaticFileHandler):
    """StaticFileHandler for feeds/: content-hash ETags, typed answers, 404 for what is not ours."""

    def initialize(self, path: str, facts: FileFacts) -> None:  # type: ignore[override]
        super().initialize(path, default_filename="index.html")
        self.facts = facts
        self._gzip: bytes | None = None

    async def get(self, path: str, include_body: bool = True) -> None:
        if is_hidden_path(path):
            raise tornado.web.HTTPError(404)
        await super().get(path, include_body)

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        return os.path.join(root, path)  # containment is checked on the resolved path below

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """One realpath and one stat: inside feeds/, not hidden, not state, a regular file."""
        resolved = self.facts.resolve(absolute_path)
        try:
            st = os.stat(resolved) if resolved else None
        except (OSError, ValueError):
            self.facts.forget(absolute_path)
            st = None
        if resolved and st and stat.S_ISDIR(st.st_mode):
            if not self.request.path.endswith("/"):
                self.redirect(self.request.path + "/", permanent=True)
                return None
            return self.validate_absolute_path(root, os.path.join(resolved, "index.html"))
        if not resolved or not st or not stat.S_ISREG(st.st_mode):
            raise tornado.web.HTTPError(404)
        self._stat_result = st
        return resolved

    def _described(self) -> Described:
        assert self.absolute_path is not None
        return self.facts.describe(self.absolute_path, self._stat())

    def _wants_gzip(self, info: Described) -> bool:
        return info.compressible and "gzip" in self.request.headers.get("Accept-Encoding", "")

    def compute_etag(self) -> str | None:
        info = self._described()
        # A gzipped body differs from the identity one, so its tag is weak (as nginx does).
        return f'W/"{info.digest}"' if self._wants_gzip(info) else f'"{info.digest}"'

    def get_content_type(self) -> str:
        return self._described().content_type

    def set_headers(self) -> None:
        """StaticFileHandler's headers, from facts kept per file version: a poll formats nothing."""
        info = self._described()
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Etag", self.compute_etag() or "")
        self.set_header("Last-Modified", info.last_modified)
        self.set_header("Content-Type", info.content_type)
        self.set_header("Cache-Control", self.facts.cache_control)
        if self._wants_gzip(info) and "Range" not in self.request.headers \
                and self._stat().st_size <= self.facts.max_gzip_bytes:
            self.set_header("Content-Encoding", "gzip")  # body from the cache below; tornado won't re-gzip

    def _gzipped(self) -> bytes | None:
        if self._headers.get("Content-Encoding") != "gzip" or self.absolute_path is None:
            return None
        if self._gzip is None:
            self._gzip = self.facts.gzipped(self.absolute_path, self._stat())
        return self._gzip

    def get_content_size(self) -> int:
        body = self._gzipped()
        return len(body) if body is not None else super().get_content_size()

    def get_content(self, abspath: str, start: int | None = None, end: int | None = None) -> Any:  # type: ignore[override]
        body = self._gzipped()
        return body[start:end] if body is not None else super().get_content(abspath, start, end)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.clear_header("Content-Encoding")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{status_code} {self._reason}\n")


class _GZip(tornado.web.GZipContentEncoding):
    """tornado's gzip transform for what is not precompressed (index redirects, errors, big files)."""

    CONTENT_TYPES = set(FileFacts.COMPRESSIBLE)  # noqa: RUF012 - tornado declares it a set

    def transform_first_chunk(self, status_code: int, headers: Any, chunk: bytes, finishing: bool) -> Any:
        if status_code == 206:  # Content-Range counts identity bytes: a gzipped part would lie
            self._gzipping = False
        return super().transform_first_chunk(status_code, headers, chunk, finishing)


class HealthHandler(tornado.web.RequestHandler):
    """``/healthz``: asks the bot's own loop, so a stuck bot reads as unhealthy too."""

    def initialize(self, health: Callable[[], HealthInfo], bot_loop: asyncio.AbstractEventLoop) -> None:
        self.health = health
        self.bot_loop = bot_loop

    async def get(self) -> None:
        async def ask() -> HealthInfo:
            return self.health()

        try:
            pending = asyncio.run_coroutine_threadsafe(ask(), self.bot_loop)
            code, body = health_status(await asyncio.wait_for(asyncio.wrap_future(pending), HEALTH_TIMEOUT_S))
        except (TimeoutError, RuntimeError):  # RuntimeError: the bot's loop is closed
            code, body = 503, {"status": "unresponsive"}
        self.set_status(code)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    async def head(self) -> None:
        await self.get()


class _Redirect(tornado.web.RedirectHandler):
    """Also for HEAD: uptime monitors and link checkers probe ``/`` with it."""

    def head(self, *args: Any, **kwargs: Any) -> None:
        self.get(*args, **kwargs)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Only server errors reach the log: readers poll all day, scanners probe for files."""
    if handler.get_status() >= 500:
        logger.error("%d %s", handler.get_status(), handler._request_summary())


def build_web_app(settings: Settings, health: Callable[[], HealthInfo], bot_loop: asyncio.AbstractEventLoop, *,
                  extra_handlers: Iterable[Any] = ()) -> tornado.web.Application:
    """The tornado application: health, extra routes (the webhook), then feeds/ at its URL path."""
    prefix = mount_path(settings)
    rules: list[Any] = [(re.escape(HEALTH_PATH), HealthHandler, {"health": health, "bot_loop": bot_loop}),
                        *extra_handlers]
    if prefix != "/":
        moved = {"url": prefix, "permanent": False}
        rules += [(r"/", _Redirect, moved), (re.escape(prefix[:-1]), _Redirect, moved)]
    rules.append((re.escape(prefix) + "(.*)", FeedFileHandler, {"path": str(settings.feeds_dir), "facts": FileFacts(settings)}))
    return tornado.web.Application(rules, transforms=[_GZip], log_function=_log_request, static_hash_cache=False,
                                   bot_loop=bot_loop)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``[v6]:PORT`` -> (host, port); an empty host means all."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError([f"http: expected HOST:PORT such as 0.0.0.0:8080, got {value!r}"])
    return host.strip("[]"), int(port)


def _listen_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket; an empty host means every address, IPv6 and IPv4."""
    if not host and socket.has_dualstack_ipv6():
        sock = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=1024)
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.setblocking(False)
    return sock


class WebServer:
    """The running server: its own thread and event loop; ``port`` is the bound one (port 0 works)."""

    def __init__(self, host: str, port: int, loop: asyncio.AbstractEventLoop, thread: threading.Thread,
                 http_server: tornado.httpserver.HTTPServer) -> None:
        self.host, self.port, self.http_server = host, port, http_server
        self._loop, self._thread = loop, thread

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, close open connections, end the thread."""
        async def shutdown() -> None:
            self.http_server.stop()
            await self.http_server.close_all_connections()

        if self._thread.is_alive():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(shutdown(), self._loop))
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)


def _serve_forever(loop: asyncio.AbstractEventLoop, app: tornado.web.Application, sock: socket.socket,
                   started: concurrent.futures.Future[tornado.httpserver.HTTPServer]) -> None:
    asyncio.set_event_loop(loop)
    ok = False
    try:
        # 304s for unchanged feed files are answered in front of the Application (bot/webrevalidate.py).
        server = tornado.httpserver.HTTPServer(Revalidator(app, FeedFileHandler), xheaders=True,
                                               max_body_size=MAX_BODY_BYTES,
                                               idle_connection_timeout=75, body_timeout=30)
        server.add_sockets([sock])
        ok = True
    finally:
        if not ok:  # never leave start_http waiting; the error itself goes to the thread's excepthook
            started.set_exception(RuntimeError("the web server could not start"))
            sock.close()
            loop.close()
    started.set_result(server)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def start_http(settings: Settings, health: Callable[[], HealthInfo], *,
                     extra_handlers: Iterable[Any] = ()) -> WebServer:
    """Listen on ``settings.http``; raises ConfigError if it is malformed or the port is unusable.

    ``health`` is called on the caller's loop (the bot's), never on the server thread.
    """
    host, port = parse_listen(settings.http)
    app = build_web_app(settings, health, asyncio.get_running_loop(), extra_handlers=extra_handlers)
    try:
        sock = _listen_socket(host, port)
    except OSError as exc:
        raise ConfigError([f"http: cannot listen on {settings.http} ({exc.strerror or exc})"]) from None
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tornado.httpserver.HTTPServer] = concurrent.futures.Future()
    thread = threading.Thread(target=_serve_forever, args=(loop, app, sock, started), name="newsbot-web", daemon=True)
    thread.start()
    web = WebServer(host, sock.getsockname()[1], loop, thread, await asyncio.wrap_future(started))
    logger.info("Serving %s at %s%s (health at %s)", settings.feeds_dir, web.url, mount_path(settings), HEALTH_PATH)
    return web
