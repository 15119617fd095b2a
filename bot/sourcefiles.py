"""Read, hash and parse many article files, in worker processes when there are many (edge).

A cold scan of a big site is CPU-bound in YAML and text handling, so above
``POOL_MIN_FILES`` files the work is split over a few worker processes (``bot.procpool``:
fork or forkserver as the process's threads allow, worker log records replayed here); a
pool that cannot start falls back to reading here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import ArticleError
from bot.models import Article
from bot.procpool import PoolFailed, map_chunks, worker_count
from bot.reader import parse_article

logger = logging.getLogger(__name__)

POOL_MIN_FILES = 2000
MAX_WORKERS = 4
CHUNK_FILES = 200


@dataclass(frozen=True, slots=True)
class Job:
    rel: str  # POSIX path relative to the articles folder
    path: str  # path to open
    mtime_ns: int
    size: int
    old_hash: str | None  # the recorded hash: equal bytes are not parsed again


@dataclass(frozen=True, slots=True)
class Outcome:
    """``article`` when parsed, ``reason`` when bad, neither when the bytes are unchanged."""

    rel: str
    article: Article | None = None
    reason: str = ""


def read_files(jobs: list[Job], settings: Settings) -> Iterator[Outcome]:
    """Outcomes in job order, from worker processes for large batches."""
    workers = worker_count(MAX_WORKERS)
    if len(jobs) < POOL_MIN_FILES or workers < 2:
        yield from (read_file(job, settings) for job in jobs)
        return
    chunks = [jobs[i:i + CHUNK_FILES] for i in range(0, len(jobs), CHUNK_FILES)]
    done = 0
    try:
        for outcomes in map_chunks(_read_chunk, chunks, workers, init=_init_worker, initargs=(settings,),
                                   preload=["bot.reader"]):
            yield from outcomes
            done += len(outcomes)
    except PoolFailed as exc:
        logger.warning("Worker processes failed (%s); reading the remaining files here", exc)
        yield from (read_file(job, settings) for job in jobs[done:])


def read_file(job: Job, settings: Settings) -> Outcome:
    """One file -> Outcome; never raises for a bad file."""
    try:
        return Outcome(job.rel, article=_read(job, settings))
    except ArticleError as exc:
        return Outcome(job.rel, reason=exc.reason)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop a scan (pelican generators.py:722)
        logger.exception("Unexpected error reading %s", job.rel)
        return Outcome(job.rel, reason=f"unexpected error ({type(exc).__name__}: {exc}); please report it")


def _read(job: Job, settings: Settings) -> Article | None:
    limit = settings.max_file_bytes
    if job.size > limit:
        raise ArticleError(job.rel, f"file is {job.size:,} bytes, over the max_file_bytes limit of {limit:,}")
    try:
        with open(job.path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ArticleError(job.rel, f"cannot read the file: {exc.strerror}") from None
    if len(data) > limit:
        raise ArticleError(job.rel, f"file grew over the max_file_bytes limit of {limit:,}")
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    if digest == job.old_hash:
        return None
    return parse_article(data, job.rel, job.mtime_ns / 1e9, settings, digest)


_settings: Settings | None = None  # per worker process, set by _init_worker


def _init_worker(settings: Settings) -> None:
    global _settings
    _settings = settings


def _read_chunk(jobs: list[Job]) -> list[Outcome]:
    assert _settings is not None
    return [read_file(job, _settings) for job in jobs]
