"""Read, hash and parse many article files, in worker processes when there are many (edge).

A cold scan of a big site is CPU-bound in YAML and text handling, so above
``POOL_MIN_FILES`` files the work is split over a few worker processes. They are started
by ``fork`` when this process has a single thread (the CLI's ``build``), else by
``forkserver`` preloaded with the reader (the bot has threads, and forking a threaded
process can deadlock). Workers only see small picklable jobs and results; a pool that
cannot start falls back to reading here. Log records raised in a worker (a GB18030
warning, say) are replayed in this process, so they pass through the configured handlers
and filters.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import ArticleError
from bot.models import Article
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
    workers = min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if len(jobs) < POOL_MIN_FILES or workers < 2:
        yield from (read_file(job, settings) for job in jobs)
        return
    chunks = [jobs[i:i + CHUNK_FILES] for i in range(0, len(jobs), CHUNK_FILES)]
    done = 0
    try:
        context = _context()
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(settings,)) as pool:
            for outcomes, records in pool.map(_read_chunk, chunks):
                for record in records:
                    logging.getLogger(record[0]).log(record[1], "%s", record[2])
                yield from outcomes
                done += len(outcomes)
    except (OSError, BrokenProcessPool) as exc:
        logger.warning("Worker processes failed (%s); reading the remaining files here", exc)
        yield from (read_file(job, settings) for job in jobs[done:])


def _context() -> multiprocessing.context.BaseContext:
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bot.reader"])
    return context


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


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


_worker: tuple[Settings, _Collector] | None = None  # per worker process, set by _init_worker


def _init_worker(settings: Settings) -> None:
    global _worker
    collector = _Collector()
    root = logging.getLogger()
    root.handlers[:] = [collector]
    root.setLevel(logging.WARNING)
    _worker = (settings, collector)


def _read_chunk(jobs: list[Job]) -> tuple[list[Outcome], list[tuple[str, int, str]]]:
    assert _worker is not None
    settings, collector = _worker
    collector.records.clear()
    return [read_file(job, settings) for job in jobs], list(collector.records)
