"""Feed files keep their modification date while their bytes stay the same, even across rebuilds.

Why: static hosts (nginx, a CDN) and newsbot's web mode derive Last-Modified, and nginx its
ETag, from a file's mtime. ``feeds/`` is often on a disk that does not survive a restart (a
Heroku dyno, a container), so every restart rebuilt identical files with new dates and every
reader that polls with If-Modified-Since downloaded every feed again. The scan document
remembers, per feed file, a hash of what was written and its mtime; a file written again with
the same bytes gets that mtime back.
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


def keep_dates(root: Path, meta: dict[str, Any], written: Iterable[tuple[str, str]]) -> int:
    """After ``written`` (rel, digest) files were replaced: restore known dates, record new ones.

    Returns how many files got their earlier date back.
    """
    dates = meta.get(DATES_META_KEY)
    if not isinstance(dates, dict):
        meta[DATES_META_KEY] = dates = {}
    restored = 0
    for rel, hashed in written:
        target = root / rel
        known = dates.get(rel)
        try:
            if isinstance(known, list) and len(known) == 2 and known[0] == hashed and isinstance(known[1], int):
                os.utime(target, ns=(known[1], known[1]))
                restored += 1
            else:
                dates[rel] = [hashed, target.stat().st_mtime_ns]
        except OSError as exc:
            logger.warning("Could not set the date of %s: %s", rel, exc.strerror or exc)
    return restored


def forget(meta: dict[str, Any], rels: Iterable[str]) -> None:
    """Drop the dates of feed files that no longer exist."""
    dates = meta.get(DATES_META_KEY)
    if isinstance(dates, dict):
        for rel in rels:
            dates.pop(rel, None)
