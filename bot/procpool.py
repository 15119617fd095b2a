"""Worker processes for CPU-bound batches (a cold scan, a cold feed build), safe in the service.

Workers are started by ``fork`` when this process has a single thread (the CLI's ``build``),
else by ``forkserver`` with the named modules preloaded: the bot runs scans from a worker
thread, and forking a threaded process can deadlock. Workers see only small picklable jobs and
results. Log records raised in a worker (a GB18030 warning, say) are collected there and
replayed here, so they pass through the configured handlers and filters. A pool that cannot
start or dies raises ``PoolFailed`` saying how many chunks were done; the caller does the rest
itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

MAX_WORKERS = 4
C = TypeVar("C")
R = TypeVar("R")
Records = list[tuple[str, int, str]]


class PoolFailed(Exception):
    """The pool could not start or broke; ``done`` chunks were delivered before that."""

    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(f"{cause}")
        self.done = done


def worker_count(limit: int = MAX_WORKERS) -> int:
    """CPUs this process may run on, at most ``limit``."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(limit, cpus))


def pool_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def map_chunks(func: Callable[[C], R], chunks: Iterable[C], workers: int, *,
               init: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
               preload: Sequence[str] = ()) -> Iterator[R]:
    """``func(chunk)`` for every chunk in ``workers`` processes, results in chunk order.

    ``func`` and ``init`` must be module-level functions; ``init(*initargs)`` runs once per
    worker. Raises PoolFailed (with the count of chunks already yielded) if the pool fails.
    """
    done = 0
    finished = False
    try:
        pool = ProcessPoolExecutor(workers, mp_context=pool_context(preload), initializer=_init_worker,
                                   initargs=(init, initargs))
    except OSError as exc:
        raise PoolFailed(0, exc) from exc
    try:
        for result, records in pool.map(_call, ((func, chunk) for chunk in chunks)):
            for name, level, message in records:
                logging.getLogger(name).log(level, "%s", message)
            yield result
            done += 1
        finished = True
    except (OSError, BrokenProcessPool) as exc:
        raise PoolFailed(done, exc) from exc
    finally:
        # Left early (a cancelled scan, shutdown): drop the chunks not started instead of
        # waiting for the whole batch, so stopping stays quick on a huge cold scan.
        pool.shutdown(wait=finished, cancel_futures=not finished)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: Records = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


_collector: _Collector | None = None  # per worker process, set by _init_worker


def _init_worker(init: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    global _collector
    _collector = _Collector()
    root = logging.getLogger()
    root.handlers[:] = [_collector]
    root.setLevel(logging.WARNING)
    if init is not None:
        init(*initargs)


def _call(job: tuple[Callable[[Any], Any], Any]) -> tuple[Any, Records]:
    assert _collector is not None
    func, chunk = job
    _collector.records.clear()
    return func(chunk), list(_collector.records)
