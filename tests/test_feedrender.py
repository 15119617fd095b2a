"""Rendering entries in worker processes gives the same feeds as rendering in this process."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import feedrender, procpool
from tests.test_feedwriter import Site


def build(tmp_path: Path, name: str) -> tuple[Site, dict[str, bytes]]:
    site = Site(tmp_path / name, n=30)
    site.replace(4, tags=("储能", "C++"), summary="", author="")
    site.replace(7, title="List<T> & <b>", image_url="https://img.example.org/a b.jpg")
    site.bodies[site.articles[9].id] = "<unreadable>"
    site.bodies[site.articles[11].id] = "# 标题\n\n正文 *强调* [链接](/x)\n"
    site.run()
    return site, {p.relative_to(site.feeds_dir).as_posix(): p.read_bytes()
                  for p in sorted(site.feeds_dir.rglob("*")) if p.is_file()}


def test_worker_processes_write_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    here, expected = build(tmp_path, "here")
    monkeypatch.setattr(feedrender, "POOL_MIN_ENTRIES", 2)
    monkeypatch.setattr(feedrender, "CHUNK_ENTRIES", 4)
    monkeypatch.setattr(feedrender, "worker_count", lambda limit: 2)
    caplog.clear()
    pooled, got = build(tmp_path, "pooled")
    assert got == expected
    assert pooled.state.feeds == here.state.feeds
    assert [r.getMessage() for r in caplog.records if "p10.md" in r.getMessage()] == [
        "Could not render p10.md for the feeds: Input/output error"]


def test_a_failing_pool_falls_back_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    _, expected = build(tmp_path, "here")
    real_map = procpool.map_chunks

    def breaks_after_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        results = real_map(*args, **kwargs)
        yield next(results)
        results.close()
        raise procpool.PoolFailed(1, OSError("worker died"))

    monkeypatch.setattr(feedrender, "POOL_MIN_ENTRIES", 2)
    monkeypatch.setattr(feedrender, "CHUNK_ENTRIES", 4)
    monkeypatch.setattr(feedrender, "worker_count", lambda limit: 2)
    monkeypatch.setattr(feedrender, "map_chunks", breaks_after_one)
    with caplog.at_level(logging.WARNING):
        _, got = build(tmp_path, "fallback")
    assert got == expected
    assert any("rendering the remaining entries here" in r.getMessage() for r in caplog.records)


def test_worker_processes_from_a_thread_use_forkserver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service builds feeds from a worker thread, where forking could deadlock."""
    _, expected = build(tmp_path, "here")
    monkeypatch.setattr(feedrender, "POOL_MIN_ENTRIES", 2)
    monkeypatch.setattr(feedrender, "worker_count", lambda limit: 2)
    contexts: list[str] = []
    real_context = procpool.pool_context
    monkeypatch.setattr(procpool, "pool_context", lambda preload: contexts.append(
        (ctx := real_context(preload)).get_start_method()) or ctx)
    with ThreadPoolExecutor(1) as thread:
        _, got = thread.submit(build, tmp_path, "threaded").result()
    assert contexts == ["forkserver"] and got == expected
