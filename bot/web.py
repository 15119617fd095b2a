"""Web mode: serve feeds/ over HTTP from the newsbot process, with /healthz (and a webhook route).

Why aiohttp: nearly every request a feed server gets is a reader's poll answered 304. aiohttp
parses HTTP in C (llhttp) and answers such a poll for about a third of the CPU tornado's pure
Python HTTP/1.1 code needs (tornado came free with python-telegram-bot's ``webhooks`` extra and
served web mode first; under 100 polling connections it could not keep p99 latency under 50 ms
on a 2-core machine, see docs/serving-feeds.md for both sets of figures). aiohttp is the other
server the issue names; it is maintained by aio-libs and brings only its own small C extensions.

Why a thread: the server serves every ready connection in one loop turn. Under 100 busy
connections a turn lasts several milliseconds, and a /status reply needs several turns, so the
bot's loop is kept free of it. The server runs its own event loop on a thread of the same
process; the interpreter's switch interval then bounds what the bot waits. Nothing crosses
threads except through ``call_soon_threadsafe``/``run_coroutine_threadsafe`` onto the bot's loop.

What the file answers carry (``FeedFiles``): content types with charset, an ETag that is a hash
of the bytes (the same bytes keep their tag whatever their mtime), ``Cache-Control: public,
max-age``, gzip compressed once per file version, one byte range, and 404, never 403, for
anything outside feeds/: hidden files, traversal, symlinks out, the state folder.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import socket
import stat
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import BinaryIO
from urllib.parse import quote

from aiohttp import web, web_server

from bot.config import Settings
from bot.errors import ConfigError
from bot.health import HealthInfo, health_status
from bot.webcond import UNSATISFIABLE, accepts_gzip, byte_range, if_range_holds, not_modified
from bot.webfiles import FileFacts, is_hidden_path, mount_path

__all__ = ["HEALTH_PATH", "FeedFiles", "Handler", "HealthInfo", "WebServer", "build_handler", "health_status",
           "parse_listen", "start_http"]

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
HEALTH_TIMEOUT_S = 5.0  # the bot's loop must answer /healthz within this, or it is unhealthy
MAX_BODY_BYTES = 1_000_000  # Telegram updates are a few KB; GET needs no body at all
KEEPALIVE_S = 75.0  # what nginx and most load balancers expect of an upstream
SHUTDOWN_S = 2.0  # open requests get this long to finish when newsbot stops
_CHUNK = 256 * 1024
_GET_HEAD = frozenset({"GET", "HEAD"})
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def _plain(status: int, reason: str, **headers: str) -> web.Response:
    return web.Response(status=status, text=f"{status} {reason}\n", content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store", **headers})


class FeedFiles:
    """The handler for everything that is not health or the webhook: files of feeds/ or 404."""

    def __init__(self, settings: Settings) -> None:
        self.root = str(settings.feeds_dir)
        self.prefix = mount_path(settings)
        self.facts = FileFacts(settings)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in _GET_HEAD:
            return _plain(405, "Method Not Allowed", Allow="GET, HEAD")
        path = request.path
        if not path.startswith(self.prefix):
            if path in ("/", self.prefix[:-1]):  # the site root or the folder without its slash
                return _redirect(302, quote(self.prefix))
            return _plain(404, "Not Found")
        rel = path[len(self.prefix):]
        if is_hidden_path(rel):
            return _plain(404, "Not Found")
        target = os.path.join(self.root, rel)
        found = self._find(target)
        if found == "dir":
            if rel and not rel.endswith("/"):
                return _redirect(301, request.rel_url.raw_path + "/")
            target = os.path.join(target, "index.html")
            found = self._find(target)
        if not isinstance(found, tuple):
            return _plain(404, "Not Found")
        try:
            return await self._answer(request, *found)
        except OSError:  # the file went away between the stat and the read
            self.facts.forget(target)
            return _plain(404, "Not Found")

    def _find(self, path: str) -> tuple[str, os.stat_result] | str | None:
        """(real path, stat) of a servable regular file, "dir", or None: one realpath (cached), one stat."""
        resolved = self.facts.resolve(path)
        if resolved is None:
            return None
        try:
            st = os.stat(resolved)
        except (OSError, ValueError):
            self.facts.forget(path)
            return None
        if stat.S_ISDIR(st.st_mode):
            return "dir"
        return (resolved, st) if stat.S_ISREG(st.st_mode) else None

    async def _answer(self, request: web.BaseRequest, resolved: str, st: os.stat_result, *,
                      again: bool = False) -> web.StreamResponse:
        info = self.facts.describe(resolved, st)  # reads the file once per version: may raise OSError
        headers = request.headers
        wants_range = request.method == "GET" and "Range" in headers
        gzipped = info.compressible and not wants_range and accepts_gzip(headers.get("Accept-Encoding", "")) \
            and st.st_size <= self.facts.max_gzip_bytes
        strong = f'"{info.digest}"'
        etag = "W/" + strong if gzipped else strong  # a gzipped body is another representation (as nginx)
        out = {"ETag": etag, "Last-Modified": info.last_modified, "Cache-Control": self.facts.cache_control,
               "Vary": "Accept-Encoding", "Accept-Ranges": "bytes"}
        if not_modified(headers.get("If-None-Match"), headers.get("If-Modified-Since"), etag, info.mtime_s):
            return web.Response(status=304, headers=out)
        out["Content-Type"] = info.content_type
        with open(resolved, "rb") as fh:  # noqa: ASYNC230 - the server's own thread; feeds sit in the page cache
            if not self.facts.still_inside(fh.fileno()):  # a link swapped in since it was resolved
                raise FileNotFoundError(resolved)
            now = os.fstat(fh.fileno())
            if _version(now) != _version(st):  # rewritten meanwhile: answer for what was opened
                if again:
                    raise FileNotFoundError(resolved)
                return await self._answer(request, resolved, now, again=True)
            if gzipped:
                out["Content-Encoding"] = "gzip"
                return web.Response(body=self.facts.gzipped(resolved, st, fh), headers=out)
            span = byte_range(headers.get("Range"), st.st_size) \
                if wants_range and if_range_holds(headers.get("If-Range"), strong, info.last_modified) else None
            if span == UNSATISFIABLE:
                return _plain(416, "Range Not Satisfiable", **{"Content-Range": f"bytes */{st.st_size}"})
            start, end = span or (0, st.st_size)
            if span:
                out["Content-Range"] = f"bytes {start}-{end - 1}/{st.st_size}"
            status = 206 if span else 200
            fh.seek(start)
            if end - start <= self.facts.max_gzip_bytes:
                return web.Response(status=status, body=fh.read(end - start), headers=out)
            return await _stream(request, fh, end - start, web.StreamResponse(status=status, headers=out))


def _version(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


async def _stream(request: web.BaseRequest, fh: BinaryIO, length: int,
                  response: web.StreamResponse) -> web.StreamResponse:
    """A big file in chunks rather than in memory at once."""
    response.content_length = length
    await response.prepare(request)
    while request.method == "GET" and length > 0 and (chunk := fh.read(min(_CHUNK, length))):
        await response.write(chunk)
        length -= len(chunk)
    await response.write_eof()
    return response


def _health_handler(health: Callable[[], HealthInfo], bot_loop: asyncio.AbstractEventLoop) -> Handler:
    """``/healthz``: asks the bot's own loop, so a stuck bot reads as unhealthy too."""

    async def ask() -> HealthInfo:
        return health()

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in _GET_HEAD:
            return _plain(405, "Method Not Allowed", Allow="GET, HEAD")
        try:
            pending = asyncio.run_coroutine_threadsafe(ask(), bot_loop)
            code, body = health_status(await asyncio.wait_for(asyncio.wrap_future(pending), HEALTH_TIMEOUT_S))
        except (TimeoutError, RuntimeError):  # RuntimeError: the bot's loop is closed
            code, body = 503, {"status": "unresponsive"}
        return web.Response(status=code, text=json.dumps(body), content_type="application/json", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    return handle


def build_handler(settings: Settings, health: Callable[[], HealthInfo], bot_loop: asyncio.AbstractEventLoop, *,
                  extra_routes: Mapping[str, Handler] | None = None) -> Handler:
    """One function answers every request: /healthz, extra routes (the webhook) by exact path,
    then feeds/ at its URL path and 404 for the rest.

    Why not ``web.Application``: its router, middleware and request set-up took 10-25 % of
    the CPU of a 304 (measured with wrk on loopback), and three fixed paths need no router.
    """
    routes: dict[str, Handler] = {HEALTH_PATH: _health_handler(health, bot_loop), **(extra_routes or {})}
    files = FeedFiles(settings).handle

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        return await routes.get(request.path, files)(request)

    return dispatch


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
                 server: tuple[web_server.Server, asyncio.Server]) -> None:
        self.host, self.port = host, port
        self._http, self._listener = server
        self._loop, self._thread = loop, thread

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, let open requests finish (briefly), end the thread."""
        async def shutdown() -> None:
            self._listener.close()
            await self._http.shutdown(SHUTDOWN_S)

        if self._thread.is_alive():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(shutdown(), self._loop))
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10)


def _serve_forever(loop: asyncio.AbstractEventLoop, handler: Handler, sock: socket.socket,
                   started: concurrent.futures.Future[tuple[web_server.Server, asyncio.Server]]) -> None:
    asyncio.set_event_loop(loop)
    try:
        http = web_server.Server(handler, loop=loop, access_log=None, keepalive_timeout=KEEPALIVE_S)
        listener = loop.run_until_complete(loop.create_server(http, sock=sock, backlog=1024))
    except BaseException as exc:  # never leave start_http waiting
        started.set_exception(RuntimeError(f"the web server could not start: {exc}"))
        sock.close()
        loop.close()
        return
    started.set_result((http, listener))
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def start_http(settings: Settings, health: Callable[[], HealthInfo], *,
                     extra_routes: Mapping[str, Handler] | None = None) -> WebServer:
    """Listen on ``settings.http``; raises ConfigError if it is malformed or the port is unusable.

    ``health`` is called on the caller's loop (the bot's), never on the server thread.
    """
    host, port = parse_listen(settings.http)
    handler = build_handler(settings, health, asyncio.get_running_loop(), extra_routes=extra_routes)
    try:
        sock = _listen_socket(host, port)
    except OSError as exc:
        raise ConfigError([f"http: cannot listen on {settings.http} ({exc.strerror or exc})"]) from None
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tuple[web_server.Server, asyncio.Server]] = concurrent.futures.Future()
    thread = threading.Thread(target=_serve_forever, args=(loop, handler, sock, started), name="newsbot-web",
                              daemon=True)
    bound = sock.getsockname()[1]
    thread.start()
    web_server = WebServer(host, bound, loop, thread, await asyncio.wrap_future(started))
    logger.info("Serving %s at %s%s (health at %s)", settings.feeds_dir, web_server.url, mount_path(settings),
                HEALTH_PATH)
    return web_server
