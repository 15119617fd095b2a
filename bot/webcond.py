"""HTTP validators and byte ranges for files in feeds/: pure rules, no server in sight.

Why our own rather than aiohttp's ``FileResponse``: it tags a file by mtime and size, so a feed
rewritten with the same bytes (a rebuild, a restore, a checkout) would look new to every reader.
newsbot tags a file by a hash of its bytes (``bot.webfiles.FileFacts``); these functions decide,
from that tag and the request's headers, between 304, 206, 416 and 200 (RFC 9110 §13, §14).
"""

from __future__ import annotations

import email.utils
import functools
import re
from datetime import UTC
from typing import Final

__all__ = ["UNSATISFIABLE", "accepts_gzip", "byte_range", "if_range_holds", "not_modified"]

_TAGS = re.compile(r'\*|(?:W/)?"[^"]*"')
_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})", re.ASCII)  # longer numbers: no such file
UNSATISFIABLE: Final = (-1, -1)  # answer 416 with ``Content-Range: bytes */size``


def not_modified(if_none_match: str | None, if_modified_since: str | None, etag: str, mtime_s: int) -> bool:
    """True when a GET/HEAD may be answered 304.

    If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2); tags compare weakly, so the
    weak tag of the gzipped body and the strong tag of the identity body both match; ``*``
    matches any file that exists. A date that does not parse is ignored, as the RFC says.
    """
    if if_none_match:
        wanted = etag.removeprefix("W/")
        tags = _TAGS.findall(if_none_match)
        return bool(tags) and (tags[0] == "*" or any(tag.removeprefix("W/") == wanted for tag in tags))
    if not if_modified_since:
        return False
    since = _timestamp(if_modified_since)
    return since is not None and since >= mtime_s


@functools.lru_cache(maxsize=256)
def _timestamp(http_date: str) -> float | None:
    """Seconds since the epoch of an HTTP date; remembered, as readers repeat the same one all day."""
    try:
        when = email.utils.parsedate_to_datetime(http_date)
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for one satisfiable range, UNSATISFIABLE, or None for the whole file.

    Several ranges, or a header we cannot read, get the whole file (RFC 9110 §14.2 lets a server
    ignore Range); feed readers never ask for parts, download resumers ask for one.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        return (max(size - length, 0), size) if length and size else UNSATISFIABLE
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        return UNSATISFIABLE
    end = min(int(last) + 1, size) if last else size
    return start, end


def if_range_holds(if_range: str | None, strong_etag: str, last_modified: str) -> bool:
    """Whether a Range may be honoured: no If-Range, or it names this exact version.

    Only a strong tag or the exact Last-Modified date counts (RFC 9110 §13.1.5); otherwise the
    client gets the whole new file rather than a piece of it glued to a piece of the old one.
    """
    if not if_range:
        return True
    value = if_range.strip()
    if value.startswith(("W/", '"')):
        return value == strong_etag
    return value == last_modified


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip: listed (or ``*``) with a quality above zero."""
    qualities: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[name.strip()] = quality
    if "gzip" in qualities or "x-gzip" in qualities:
        return max(qualities.get("gzip", 0.0), qualities.get("x-gzip", 0.0)) > 0
    return qualities.get("*", 0.0) > 0
