"""Web mode: serve feeds/ over HTTP from the newsbot process, with /healthz and an optional webhook.

Why tornado: python-telegram-bot's ``webhooks`` extra already ships it (no new dependency), its
``StaticFileHandler`` is mature (ETag, Last-Modified, 304, HEAD, Range, symlink checks), and PTB's
own webhook server is tornado, so feeds, health and Telegram updates share one port and one
asyncio loop with the bot and the scheduler.

What we change on top of ``StaticFileHandler``: content types with charset (atom vs rss decided
by the feed path settings, else by sniffing), an ETag that is a hash of the bytes (tornado
caches its hash per path forever, which suits versioned assets, not feeds rewritten in place),
``Cache-Control: public, max-age``, gzip for the feed types, and 404, never 403, for anything
outside feeds/: hidden files, traversal, symlinks out, and the state folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import os
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote, urlsplit

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.ext import Application, ExtBot

from bot.config import Settings
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
HEALTH_PATH = "/healthz"
STALE_AFTER_INTERVALS = 3
MAX_BODY_BYTES = 1_000_000  # Telegram updates are a few KB; GET needs no body at all
_CACHE_ENTRIES = 4096
_UTF8 = "; charset=utf-8"
ATOM, RSS, JSON_FEED = "application/atom+xml" + _UTF8, "application/rss+xml" + _UTF8, "application/feed+json" + _UTF8
_BY_SUFFIX = {
    ".opml": "text/x-opml" + _UTF8, ".html": "text/html" + _UTF8, ".htm": "text/html" + _UTF8,
    ".xsl": "application/xml" + _UTF8, ".xslt": "application/xml" + _UTF8,  # what browsers accept for XSLT
    ".css": "text/css" + _UTF8, ".txt": "text/plain" + _UTF8,
}
_COMPRESSIBLE = {"application/rss+xml", "application/feed+json", "application/xml", "application/atom+xml",
                 "application/json", "image/svg+xml"}


# --- health (pure) -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HealthInfo:
    """What /healthz needs to know, gathered by the caller at request time."""

    last_scan_at: datetime | None
    scan_interval_s: float
    started_at: datetime
    now: datetime


def health_status(info: HealthInfo) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body): 503 once scans have stopped for three intervals."""
    limit_s = STALE_AFTER_INTERVALS * info.scan_interval_s
    since = info.last_scan_at or info.started_at
    age_s = max(0.0, (info.now - since).total_seconds())
    if age_s <= limit_s:
        status = "ok" if info.last_scan_at else "starting"
    else:
        status = "stale"
    body = {
        "status": status,
        "last_scan_at": info.last_scan_at.isoformat() if info.last_scan_at else None,
        "seconds_since_scan": round(age_s, 1) if info.last_scan_at else None,
        "stale_after_s": limit_s,
        "uptime_s": round(max(0.0, (info.now - info.started_at).total_seconds()), 1),
    }
    return (503 if status == "stale" else 200), body


# --- where and what (pure) -----------------------------------------------------------

def mount_path(settings: Settings) -> str:
    """URL path feeds/ is served under: the path of ``public_feeds_url``, so self links match."""
    path = unquote(urlsplit(settings.public_feeds_url).path) or "/"
    return path if path.endswith("/") else path + "/"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``[v6]:PORT`` -> (host, port); an empty host means all."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError([f"http: expected HOST:PORT such as 0.0.0.0:8080, got {value!r}"])
    return host.strip("[]"), int(port)


def _feed_globs(settings: Settings) -> list[tuple[str, str]]:
    """(glob relative to feeds_dir, content type) from the feed path settings."""
    kinds = {"atom": ATOM, "rss": RSS, "json": JSON_FEED}
    globs = []
    for scope in ("feed_all", "category_feed", "tag_feed"):
        for kind, ctype in kinds.items():
            pattern: str = getattr(settings, f"{scope}_{kind}")
            globs.append((pattern.replace("{slug}", "*").lstrip("/"), ctype))
    return globs


def sniff_content_type(rel_path: str, head: bytes, globs: Sequence[tuple[str, str]]) -> str:
    """Content type for a file in feeds/, from its path and its first bytes."""
    for glob, ctype in globs:
        if fnmatchcase(rel_path, glob):
            return ctype
    suffix = os.path.splitext(rel_path)[1].lower()
    if suffix == ".xml":
        return ATOM if b"<feed" in head else RSS if b"<rss" in head else "application/xml" + _UTF8
    if suffix == ".json":
        return JSON_FEED if b"jsonfeed.org/version" in head else "application/json" + _UTF8
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    guessed = mimetypes.guess_type(rel_path)[0] or "application/octet-stream"
    return guessed + _UTF8 if guessed.startswith("text/") else guessed


def is_hidden_path(rel_path: str) -> bool:
    """True for paths we never serve: dot segments, backslashes, NULs, absolute or temp files."""
    if not rel_path:
        return False
    if rel_path.startswith("/") or "\\" in rel_path or "\x00" in rel_path or rel_path.endswith((".tmp", "~")):
        return True
    return any(part.startswith(".") for part in rel_path.split("/"))


# --- static files (edge) -------------------------------------------------------------

class _Guard:
    """Resolved roots and per-file facts shared by every request (not a module global)."""

    def __init__(self, settings: Settings) -> None:
        self.root = os.path.realpath(settings.feeds_dir)
        self.state = os.path.realpath(settings.state_dir) + os.sep
        self.globs = _feed_globs(settings)
        self.max_age_s = settings.http_max_age_s
        self._facts: dict[tuple[str, int, int, int], tuple[str, str]] = {}

    def is_denied(self, resolved: str) -> bool:
        rel = os.path.relpath(resolved, self.root).replace(os.sep, "/")
        return (resolved + os.sep).startswith(self.state) or is_hidden_path(rel) or rel.startswith("..")

    def facts(self, resolved: str, st: os.stat_result) -> tuple[str, str]:
        """(content hash, content type), computed once per file version."""
        key = (resolved, st.st_ino, st.st_mtime_ns, st.st_size)
        found = self._facts.get(key)
        if found is None:
            digest = hashlib.blake2b(digest_size=16)
            with open(resolved, "rb") as fh:
                head = fh.read(512)
                digest.update(head)
                for block in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(block)
            rel = os.path.relpath(resolved, self.root).replace(os.sep, "/")
            found = (digest.hexdigest(), sniff_content_type(rel, head, self.globs))
            if len(self._facts) >= _CACHE_ENTRIES:
                self._facts.clear()
            self._facts[key] = found
        return found


class FeedFileHandler(tornado.web.StaticFileHandler):
    """StaticFileHandler for feeds/: content-hash ETags, typed answers, 404 for what is not ours."""

    def initialize(self, path: str, guard: _Guard) -> None:  # type: ignore[override]
        super().initialize(path, default_filename="index.html")
        self.guard = guard

    async def get(self, path: str, include_body: bool = True) -> None:
        if is_hidden_path(path):
            raise tornado.web.HTTPError(404)
        try:
            await super().get(path, include_body)
        except tornado.web.HTTPError as exc:
            if exc.status_code == 403:  # outside the root, or not a regular file: we say 404
                raise tornado.web.HTTPError(404) from None
            raise

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        resolved = super().validate_absolute_path(root, absolute_path)
        if resolved is not None and self.guard.is_denied(resolved):
            raise tornado.web.HTTPError(404)
        return resolved

    def _facts(self) -> tuple[str, str]:
        assert self.absolute_path is not None
        return self.guard.facts(self.absolute_path, self._stat())

    def compute_etag(self) -> str | None:
        digest, ctype = self._facts()
        # A gzipped body differs from the identity one, so its tag is weak (as nginx does).
        weak = "gzip" in self.request.headers.get("Accept-Encoding", "") and _is_compressible(ctype)
        return f'W/"{digest}"' if weak else f'"{digest}"'

    def get_content_type(self) -> str:
        return self._facts()[1]

    def get_cache_time(self, path: str, modified: datetime | None, mime_type: str) -> int:
        return 0  # Cache-Control is set below, without tornado's Expires date formatting

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", f"public, max-age={self.guard.max_age_s}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{status_code} {self._reason}\n")


def _is_compressible(ctype: str) -> bool:
    base = ctype.split(";", 1)[0]
    return base.startswith("text/") or base in _COMPRESSIBLE


class _GZip(tornado.web.GZipContentEncoding):
    """tornado's gzip transform, extended to RSS, JSON Feed and OPML types."""

    CONTENT_TYPES = _COMPRESSIBLE


class HealthHandler(tornado.web.RequestHandler):
    """``/healthz`` for platform health checks and uptime monitors."""

    def initialize(self, health: Callable[[], HealthInfo]) -> None:
        self.health = health

    def get(self) -> None:
        code, body = health_status(self.health())
        self.set_status(code)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))

    def head(self) -> None:
        self.get()


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Only server errors reach the log: readers poll all day, scanners probe for files."""
    if handler.get_status() >= 500:
        logger.error("%d %s", handler.get_status(), handler._request_summary())


def build_web_app(settings: Settings, health: Callable[[], HealthInfo], *,
                  extra_handlers: Iterable[Any] = ()) -> tornado.web.Application:
    """The tornado application: health, any extra routes (webhook), then feeds/."""
    prefix = mount_path(settings)
    rules: list[Any] = [(re.escape(HEALTH_PATH), HealthHandler, {"health": health}), *extra_handlers]
    if prefix != "/":
        rules += [(r"/", tornado.web.RedirectHandler, {"url": prefix, "permanent": False}),
                  (re.escape(prefix[:-1]), tornado.web.RedirectHandler, {"url": prefix, "permanent": False})]
    rules.append((re.escape(prefix) + "(.*)", FeedFileHandler,
                  {"path": str(settings.feeds_dir), "guard": _Guard(settings)}))
    return tornado.web.Application(rules, transforms=[_GZip], log_function=_log_request,
                                   static_hash_cache=False)


# --- Telegram webhook (edge) ---------------------------------------------------------

def webhook_secret(bot_token: str) -> str:
    """Secret token Telegram echoes in every webhook call; stable across restarts, reveals nothing."""
    return hmac.new(bot_token.encode(), b"newsbot webhook", hashlib.sha256).hexdigest()


def webhook_public_url(settings: Settings) -> str:
    """URL to hand to ``set_webhook``: ``webhook_url`` plus ``/telegram`` unless it already ends so."""
    url = settings.webhook_url.rstrip("/")
    return url if urlsplit(url).path.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH


class TelegramWebhookHandler(tornado.web.RequestHandler):
    """POST /telegram: check the secret token, decode the update, queue it for the Application."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, bot_app: Application[Any, Any, Any, Any, Any, Any], secret_token: str) -> None:
        self.bot_app = bot_app
        self.secret_token = secret_token

    async def post(self) -> None:
        given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.secret_token.encode()):
            raise tornado.web.HTTPError(403)
        if self.request.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
            raise tornado.web.HTTPError(415)
        bot = self.bot_app.bot
        try:
            update = Update.de_json(json.loads(self.request.body), bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("Ignored a webhook call that is not a Telegram update (%s)", type(exc).__name__)
            raise tornado.web.HTTPError(400) from None
        if isinstance(bot, ExtBot):
            bot.insert_callback_data(update)
        await self.bot_app.update_queue.put(update)
        self.finish()


def webhook_handlers(application: Application[Any, Any, Any, Any, Any, Any], secret_token: str) -> list[Any]:
    """Routes to pass as ``extra_handlers``; Telegram must send ``secret_token`` (see set_webhook)."""
    if not secret_token:
        raise ValueError("a webhook needs a secret token")
    return [(re.escape(WEBHOOK_PATH) + "/?", TelegramWebhookHandler,
             {"bot_app": application, "secret_token": secret_token})]


# --- server (edge) -------------------------------------------------------------------

@dataclass
class WebServer:
    """A listening server: ``port`` is the bound one (useful with port 0)."""

    http_server: tornado.httpserver.HTTPServer
    host: str
    port: int

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, then close open connections."""
        self.http_server.stop()
        await self.http_server.close_all_connections()


def _listen_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket; an empty host means every address, IPv6 and IPv4."""
    if not host and socket.has_dualstack_ipv6():
        sock = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=1024)
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.setblocking(False)
    return sock


async def start_http(settings: Settings, health: Callable[[], HealthInfo], *,
                     extra_handlers: Iterable[Any] = ()) -> WebServer:
    """Listen on ``settings.http`` in the running loop; raises ConfigError if the port is unusable."""
    host, port = parse_listen(settings.http)
    app = build_web_app(settings, health, extra_handlers=extra_handlers)
    server = tornado.httpserver.HTTPServer(app, xheaders=True, max_body_size=MAX_BODY_BYTES,
                                           idle_connection_timeout=75, body_timeout=30)
    try:
        sock = _listen_socket(host, port)
    except OSError as exc:
        raise ConfigError([f"http: cannot listen on {settings.http} ({exc.strerror or exc})"]) from None
    server.add_sockets([sock])
    web = WebServer(server, host, sock.getsockname()[1])
    logger.info("Serving %s at %s%s (health at %s)", settings.feeds_dir, web.url, mount_path(settings), HEALTH_PATH)
    return web
