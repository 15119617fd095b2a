"""What the web server may serve from feeds/, and how each file is described.

The rules (``mount_path``, ``is_hidden_path``, ``sniff_content_type``) are pure. ``FileFacts``
applies them to the disk and remembers, per file version (inode, mtime, size), the content hash
used as ETag, the content type and the gzipped body, so a poll costs one realpath and one stat.
It is used from the web server's thread only.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import mimetypes
import os
import time
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import BinaryIO, NamedTuple
from urllib.parse import unquote, urlsplit

from bot.config import Settings

_UTF8 = "; charset=utf-8"
ATOM = "application/atom+xml" + _UTF8
RSS = "application/rss+xml" + _UTF8
JSON_FEED = "application/feed+json" + _UTF8
_BY_SUFFIX = {
    ".opml": "text/x-opml" + _UTF8, ".html": "text/html" + _UTF8, ".htm": "text/html" + _UTF8,
    # XSLT for the browser view of feeds: every browser applies it when served as application/xml.
    ".xsl": "application/xml" + _UTF8, ".xslt": "application/xml" + _UTF8,
    ".css": "text/css" + _UTF8, ".txt": "text/plain" + _UTF8,
}
_SNIFF_BYTES = 1024
MAX_GZIP_BYTES = 8_000_000  # larger files are streamed as they are, not gzipped in memory
GZIP_CACHE_BYTES = 64_000_000
RESOLVE_TTL_S = 1.0
_RESOLVED_ENTRIES = 10_000
_RESOLVED_KEY_CHARS = 1024
_Version = tuple[int, int, int]  # inode, mtime_ns, size


class Described(NamedTuple):
    """One version of one file, as the headers need it."""

    digest: str  # content hash: the ETag
    content_type: str
    compressible: bool
    last_modified: str  # HTTP date of the mtime, whole seconds (what If-Modified-Since compares)
    mtime_s: int  # the same instant as a number


def mount_path(settings: Settings) -> str:
    """URL path feeds/ is served under: the path of ``public_feeds_url``, so self links match."""
    path = unquote(urlsplit(settings.public_feeds_url).path) or "/"
    return path if path.endswith("/") else path + "/"


def feed_globs(settings: Settings) -> list[tuple[str, str]]:
    """(glob relative to feeds_dir, content type) from the feed path settings."""
    kinds = {"atom": ATOM, "rss": RSS, "json": JSON_FEED}
    return [(str(getattr(settings, f"{scope}_{kind}")).replace("{slug}", "*").lstrip("/"), ctype)
            for scope in ("feed_all", "category_feed", "tag_feed") for kind, ctype in kinds.items()]


def sniff_content_type(rel_path: str, head: bytes, globs: Sequence[tuple[str, str]]) -> str:
    """Content type of a file in feeds/: by the feed path settings, else by suffix and first bytes."""
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
    """Paths never served: dot segments (.., .git, .tmp files), backslashes, NULs, absolute, temp.

    Empty segments (``a//b``) are refused too: no link of ours has one, and each spelling would
    otherwise be a new key in the resolution cache.
    """
    if not rel_path:
        return False
    if rel_path.startswith("/") or "//" in rel_path or "\\" in rel_path or "\x00" in rel_path \
            or rel_path.endswith((".tmp", "~")):
        return True
    return any(part.startswith(".") for part in rel_path.split("/"))


class FileFacts:
    """Resolved roots, and per file version: (hash, type) and the gzipped body."""

    COMPRESSIBLE = frozenset({"application/rss+xml", "application/feed+json", "application/xml",
                              "application/atom+xml", "application/json", "image/svg+xml"})

    def __init__(self, settings: Settings) -> None:
        self.root = os.path.realpath(settings.feeds_dir)
        state = os.path.realpath(settings.state_dir)
        # Only a state folder *inside* feeds/ needs hiding; one outside is out of reach anyway.
        self.state = state + os.sep if (state + os.sep).startswith(self.root + os.sep) else None
        self.globs = feed_globs(settings)
        self.cache_control = f"public, max-age={settings.http_max_age_s}"
        self.max_gzip_bytes = MAX_GZIP_BYTES
        self._resolved: dict[str, tuple[str, float]] = {}
        self._described: dict[str, tuple[_Version, Described]] = {}
        self._gzipped: dict[str, tuple[_Version, bytes]] = {}
        self._gzipped_total = 0

    @staticmethod
    def is_compressible(ctype: str) -> bool:
        base = ctype.split(";", 1)[0]
        return base.startswith("text/") or base in FileFacts.COMPRESSIBLE

    def resolve(self, path: str) -> str | None:
        """The real path if it may be served (inside feeds/, not hidden, not state), else None.

        Allowed answers are remembered for a second: realpath is most of a poll's cost. The
        remembered path is itself inside feeds/, so a link changed meanwhile cannot lead out.
        """
        now = time.monotonic()
        known = self._resolved.get(path)
        if known is not None and known[1] > now:
            return known[0]
        resolved = self._resolve(path)
        if resolved is not None and len(path) <= _RESOLVED_KEY_CHARS:
            if len(self._resolved) >= _RESOLVED_ENTRIES:
                self._resolved.clear()
            self._resolved[path] = (resolved, now + RESOLVE_TTL_S)
        return resolved

    def still_inside(self, fd: int) -> bool:
        """Whether an opened file is still one we may serve, judged by where it really is now.

        The resolution cache trusts a path for a second; a link swapped in meanwhile must not
        lead out. Linux names an open file's real path in /proc; elsewhere the cache stands.
        """
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return True
        return self._resolve(real) == real

    def forget(self, path: str) -> None:
        """Drop a remembered resolution (the file vanished)."""
        self._resolved.pop(path, None)

    def _resolve(self, path: str) -> str | None:
        resolved = os.path.realpath(path)
        if resolved == self.root:
            return resolved
        if not resolved.startswith(self.root + os.sep) or is_hidden_path(resolved[len(self.root) + 1:]):
            return None
        if self.state and (resolved + os.sep).startswith(self.state):
            return None
        return resolved

    def describe(self, resolved: str, st: os.stat_result) -> Described:
        """Hash, type and dates of this version of the file, worked out once.

        Last-Modified follows the bytes like the ETag: a new version with the same hash keeps
        the date the bytes last changed, so If-Modified-Since readers are not sent it again.
        """
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self._described.get(resolved)
        if known is None or known[0] != version:
            digest = hashlib.blake2b(digest_size=16)
            with open(resolved, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
                digest.update(head)
                for block in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(block)
            ctype = sniff_content_type(resolved[len(self.root) + 1:].replace(os.sep, "/"), head, self.globs)
            mtime_s = int(st.st_mtime)
            if known is not None and known[1].digest == digest.hexdigest():
                mtime_s = known[1].mtime_s  # rewritten or touched with the same bytes: nothing was modified
            known = (version, Described(digest.hexdigest(), ctype, self.is_compressible(ctype),
                                        email.utils.formatdate(mtime_s, usegmt=True), mtime_s))
            self._described[resolved] = known
        return known[1]

    def gzipped(self, resolved: str, st: os.stat_result, fh: BinaryIO) -> bytes:
        """The gzipped bytes of this version (read from ``fh``, opened and checked by the caller),
        compressed once (level 6, no timestamp: stable)."""
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        known = self._gzipped.get(resolved)
        if known is not None and known[0] == version:
            return known[1]
        body = gzip.compress(fh.read(), compresslevel=6, mtime=0)
        if known is not None:
            self._gzipped_total -= len(known[1])
            del self._gzipped[resolved]
        while self._gzipped and self._gzipped_total + len(body) > GZIP_CACHE_BYTES:
            oldest = next(iter(self._gzipped))
            self._gzipped_total -= len(self._gzipped.pop(oldest)[1])
        self._gzipped[resolved] = (version, body)
        self._gzipped_total += len(body)
        return body
