"""Feed files keep their modification date while their bytes stay the same, even across rebuilds.

Why: static hosts (nginx, a CDN) and newsbot's web mode derive Last-Modified, and nginx its
ETag, from a file's mtime. ``feeds/`` is often on a disk that does not survive a restart (a
Heroku dyno, a container), so every restart rebuilt identical files with new dates and every
reader that polls with If-Modified-Since downloaded every feed again. The scan document
remembers, per feed file, a hash of what was written and its mtime; a file written again with
the same bytes gets that mtime back, on its temporary file before the rename, so no reader
ever sees the file with a new date.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATES_META_KEY = "feed_dates"  # rel -> [hash of the bytes, mtime_ns]; kept in the scan document


def digest(data: bytes) -> str:
    """A short hash of a file's bytes: enough to tell versions of one file apart."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _known(meta: dict[str, Any], rel: str, hashed: str) -> int | None:
    """The mtime_ns recorded for these bytes of ``rel``, if any."""
    dates = meta.get(DATES_META_KEY)
    known = dates.get(rel) if isinstance(dates, dict) else None
    if isinstance(known, list) and len(known) == 2 and known[0] == hashed and isinstance(known[1], int):
        return known[1]
    return None


def date_staged(meta: dict[str, Any], staged: Iterable[tuple[str, str, str]]) -> int:
    """Before the rename: give each staged temp file (rel, temp path, digest) holding bytes its
    target held before the date they were first written, so the file never shows a new date.

    Returns how many got an earlier date.
    """
    restored = 0
    for rel, tmp, hashed in staged:
        mtime_ns = _known(meta, rel, hashed)
        if mtime_ns is None:
            continue
        try:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
            restored += 1
        except OSError as exc:
            logger.warning("Could not set the date of %s: %s", rel, exc.strerror or exc)
    return restored


def record_dates(root: Path, meta: dict[str, Any], written: Iterable[tuple[str, str]]) -> None:
    """After the rename: remember when new bytes (rel, digest) were first written."""
    dates = meta.get(DATES_META_KEY)
    if not isinstance(dates, dict):
        meta[DATES_META_KEY] = dates = {}
    for rel, hashed in written:
        if _known(meta, rel, hashed) is not None:
            continue
        try:
            dates[rel] = [hashed, (root / rel).stat().st_mtime_ns]
        except OSError as exc:
            logger.warning("Could not read the date of %s: %s", rel, exc.strerror or exc)


def forget(meta: dict[str, Any], rels: Iterable[str]) -> None:
    """Drop the dates of feed files that no longer exist."""
    dates = meta.get(DATES_META_KEY)
    if isinstance(dates, dict):
        for rel in rels:
            dates.pop(rel, None)
