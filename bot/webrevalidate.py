"""Revalidation of unchanged feed files answered in front of the tornado Application.

Why: feed readers poll with If-None-Match or If-Modified-Since all day, and nearly every poll
is a 304. Through a RequestHandler a 304 costs ~450 µs of CPU (handler set-up, transforms,
header bookkeeping, logging), which caps a 100-reader load well below what tornado's HTTP/1.1
code itself allows. This router stays on tornado's own HTTP server and connection code; it
answers a conditional GET/HEAD of an unchanged file with the same validators and headers as
``FeedFileHandler`` (same routing rules, hidden/containment/state checks and a fresh stat per
request) and hands every other request, unchanged, to the Application.
"""

from __future__ import annotations

import email.utils
import os
import re
import stat
import time
from datetime import UTC, datetime
from typing import Any

import tornado
import tornado.routing
import tornado.web
from tornado import httputil

from bot.webfiles import FileFacts, is_hidden_path

__all__ = ["Revalidator", "not_modified"]

_NOT_MODIFIED = httputil.ResponseStartLine("", 304, "Not Modified")
_SERVER = f"TornadoServer/{tornado.version}"
_TAGS = re.compile(r'\*|(?:W/)?"[^"]*"')  # tornado's check_etag_header


def not_modified(headers: httputil.HTTPHeaders, etag: str, mtime_s: int) -> bool:
    """tornado's ``StaticFileHandler.should_return_304`` for this tag and whole-second mtime.

    If-None-Match wins over If-Modified-Since; tags compare weakly; ``*`` matches.
    """
    if headers.get("If-None-Match"):
        wanted = etag.removeprefix("W/")
        tags = _TAGS.findall(headers["If-None-Match"])
        if not tags:
            return False
        return tags[0] == "*" or any(tag.removeprefix("W/") == wanted for tag in tags)
    since = headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when >= datetime.fromtimestamp(mtime_s, UTC)


class _Answered(httputil.HTTPMessageDelegate):
    """Sends the prepared 304 once the request (and any body) has been read."""

    __slots__ = ("conn", "headers")

    def __init__(self, conn: httputil.HTTPConnection, headers: httputil.HTTPHeaders) -> None:
        self.conn, self.headers = conn, headers

    def finish(self) -> None:
        self.conn.write_headers(_NOT_MODIFIED, self.headers)
        self.conn.finish()


class Revalidator(tornado.routing.Router):
    """The HTTP server's delegate: 304s for unchanged feed files, the Application for the rest."""

    def __init__(self, app: tornado.web.Application, handler: type[tornado.web.RequestHandler]) -> None:
        self.app, self.handler = app, handler
        rules = app.wildcard_router.rules
        target = next(rule for rule in rules if rule.target is handler)
        self.before = rules[:rules.index(target)]  # routes that win over the files (health, webhook)
        self.files = target.matcher
        self.root: str = target.target_kwargs["path"]
        self.facts: FileFacts = target.target_kwargs["facts"]
        self._date = (0, "")

    def find_handler(self, request: httputil.HTTPServerRequest, **kwargs: Any) -> httputil.HTTPMessageDelegate:
        headers = request.headers
        if request.method in ("GET", "HEAD") and "Range" not in headers \
                and ("If-None-Match" in headers or "If-Modified-Since" in headers):
            answer = self._unchanged(request)
            if answer is not None:
                assert request.connection is not None
                return _Answered(request.connection, answer)
        return self.app.find_handler(request, **kwargs)

    def _unchanged(self, request: httputil.HTTPServerRequest) -> httputil.HTTPHeaders | None:
        """The 304's headers if FeedFileHandler would answer 304, else None (it decides)."""
        if any(rule.matcher.match(request) is not None for rule in self.before):
            return None
        match = self.files.match(request)
        if match is None or len(match["path_args"]) != 1:
            return None
        try:
            path = match["path_args"][0].decode("utf-8")
        except (AttributeError, UnicodeDecodeError):
            return None
        if is_hidden_path(path):
            return None
        resolved = self.facts.resolve(os.path.join(self.root, path))
        try:
            st = os.stat(resolved) if resolved else None
            if st is None or not stat.S_ISREG(st.st_mode):
                return None
            info = self.facts.describe(resolved, st)  # type: ignore[arg-type]
        except (OSError, ValueError):
            return None
        gzip = info.compressible and "gzip" in request.headers.get("Accept-Encoding", "")
        etag = f'W/"{info.digest}"' if gzip else f'"{info.digest}"'
        if not not_modified(request.headers, etag, int(st.st_mtime)):
            return None
        return httputil.HTTPHeaders({
            "Server": _SERVER, "Date": self._now(), "Accept-Ranges": "bytes", "Etag": etag,
            "Last-Modified": info.last_modified, "Cache-Control": self.facts.cache_control,
            "Vary": "Accept-Encoding",  # the Application's gzip transform adds it to every answer
        })

    def _now(self) -> str:
        """The Date header, formatted once a second."""
        second = int(time.time())
        if self._date[0] != second:
            self._date = (second, httputil.format_timestamp(second))
        return self._date[1]
