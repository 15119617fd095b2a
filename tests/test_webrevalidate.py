"""The 304 fast path answers exactly as the full tornado Application would, and never more."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tornado.httpserver
import tornado.testing

from bot.config import Settings
from bot.health import HealthInfo
from bot.web import FeedFileHandler, WebServer, build_web_app, start_http

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
ATOM = ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>站点</title>" + "<entry><title>新闻</title><content>正文内容</content></entry>" * 40
        + "</feed>\n").encode()
CATEGORY = "/categories/%E7%A7%91%E6%8A%80/atom.xml"
Raw = tuple[int, list[str], bytes]


def _health() -> Callable[[], HealthInfo]:
    return lambda: HealthInfo(last_scan_at=NOW, scan_interval_s=300, started_at=NOW - timedelta(hours=1), now=NOW)


@pytest.fixture
def site(tmp_path: Path) -> Settings:
    feeds = tmp_path / "feeds"
    for rel, data in {"atom.xml": ATOM, "categories/科技/atom.xml": ATOM, "index.html": b"<!doctype html>",
                      "feeds.opml": b"<opml/>", ".hidden": b"secret", ".git/config": b"secret",
                      "atom.xml.tmp": b"half"}.items():
        (feeds / rel).parent.mkdir(parents=True, exist_ok=True)
        (feeds / rel).write_bytes(data)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text('{"secret": true}')
    (tmp_path / "outside.txt").write_text("outside")
    return Settings(feeds_dir=feeds, state_dir=tmp_path / "state", http="127.0.0.1:0",
                    feeds_url="http://127.0.0.1/", http_max_age_s=120)


@pytest.fixture
async def fast(site: Settings) -> AsyncIterator[WebServer]:
    web = await start_http(site, _health())
    yield web
    await web.stop()


@pytest.fixture
async def full(site: Settings) -> AsyncIterator[int]:
    """The Application alone (no fast path) on this loop: the reference answers."""
    sock, port = tornado.testing.bind_unused_port()
    server = tornado.httpserver.HTTPServer(build_web_app(site, _health(), asyncio.get_running_loop()), xheaders=True)
    server.add_sockets([sock])
    yield port
    server.stop()
    await server.close_all_connections()


@pytest.fixture
def handled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths that reached FeedFileHandler (the full path) rather than the fast one."""
    seen: list[str] = []
    monkeypatch.setattr(FeedFileHandler, "prepare", lambda self: seen.append(self.request.path))
    return seen


async def raw(port: int, target: str, headers: str = "", method: str = "GET") -> Raw:
    """Status, header lines without Date (it ticks), body; the target is sent byte for byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert any(line.startswith("Date: ") for line in lines[1:])
    return int(lines[0].split()[1]), [line for line in lines[1:] if not line.startswith("Date: ")], body


async def _validators(port: int, target: str = "/atom.xml", encoding: str = "identity") -> tuple[str, str]:
    _, lines, _ = await raw(port, target, f"Accept-Encoding: {encoding}\r\n")
    found = dict(line.split(": ", 1) for line in lines)
    return found["Etag"], found["Last-Modified"]


async def test_answers_match_the_full_application(fast: WebServer, full: int) -> None:
    strong, modified = await _validators(full)
    weak, _ = await _validators(full, encoding="gzip")
    assert weak == "W/" + strong
    gz, ident = "Accept-Encoding: gzip, deflate\r\n", "Accept-Encoding: identity\r\n"
    cases = [
        ("GET", "/atom.xml", f"{ident}If-None-Match: {strong}\r\n", 304),
        ("GET", "/atom.xml", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("GET", "/atom.xml", f"{gz}If-None-Match: {strong}\r\n", 304),  # weak comparison both ways
        ("GET", "/atom.xml", f"{ident}If-None-Match: {weak}\r\n", 304),
        ("GET", "/atom.xml", f'If-None-Match: "other", {weak}, "more"\r\n', 304),
        ("GET", "/atom.xml", "If-None-Match: *\r\n", 304),
        ("GET", "/atom.xml?utm=1", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("HEAD", "/atom.xml", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("GET", CATEGORY, f"{gz}If-None-Match: {weak}\r\n", 304),
        ("GET", "/atom.xml", f"If-Modified-Since: {modified}\r\n", 304),
        ("GET", "/atom.xml", f"{gz}If-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n", 304),
        ("HEAD", "/atom.xml", f"If-Modified-Since: {modified}\r\n", 304),
        ("GET", "/atom.xml", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n", 200),
        ("GET", "/atom.xml", "If-Modified-Since: not a date\r\n", 200),
        ("GET", "/atom.xml", f'If-None-Match: "other"\r\nIf-Modified-Since: {modified}\r\n', 200),  # tag wins
        ("GET", "/atom.xml", "If-None-Match: W/\"\"\r\n", 200),
        ("GET", "/atom.xml", f"{gz}Range: bytes=0-9\r\nIf-None-Match: {weak}\r\n", 304),
        ("GET", "/", "If-None-Match: *\r\n", 304),  # the index: the Application's own 304
        ("GET", "/categories", "If-None-Match: *\r\n", 301),
        ("GET", "/healthz", "If-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n", 200),
    ]
    for method, target, headers, status in cases:
        got, expected = await raw(fast.port, target, headers, method), await raw(full, target, headers, method)
        assert got == expected, (method, target, headers)
        assert got[0] == status and (status != 304 or got[2] == b""), (method, target, headers)


async def test_fast_path_skips_the_application(fast: WebServer, handled: list[str]) -> None:
    etag, modified = await _validators(fast.port, encoding="gzip")
    handled.clear()
    for headers in (f"Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n", f"If-Modified-Since: {modified}\r\n"):
        assert (await raw(fast.port, "/atom.xml", headers))[0] == 304
    assert handled == []
    assert (await raw(fast.port, "/atom.xml", 'If-None-Match: "other"\r\n'))[0] == 200
    assert handled == ["/atom.xml"]


async def test_a_rewritten_file_is_never_304_with_the_old_tag(fast: WebServer, site: Settings) -> None:
    path = site.feeds_dir / "atom.xml"
    etag, modified = await _validators(fast.port, encoding="gzip")
    assert (await raw(fast.port, "/atom.xml", f"Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"))[0] == 304
    new = ATOM.replace("新闻".encode(), "快讯".encode())
    st = path.stat()
    tmp = path.with_name(".atom.xml.tmp")
    tmp.write_bytes(new)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the bytes tell
    os.replace(tmp, path)  # how newsbot writes: a new inode under the old name
    status, lines, body = await raw(fast.port, "/atom.xml", f"If-None-Match: {etag}\r\n")
    assert status == 200 and body == new
    assert f"Etag: {etag}" not in lines and f"Etag: {etag[2:]}" not in lines
    path.unlink()
    assert (await raw(fast.port, "/atom.xml", f"If-Modified-Since: {modified}\r\n"))[0] == 404


@pytest.mark.parametrize("target", [
    "/../state/state.json", "/%2e%2e/state/state.json", "/..%2fstate/state.json", "/%2E%2E%2Foutside.txt",
    "/categories/../../outside.txt", "/..\\outside.txt", "/.hidden", "/%2ehidden", "/.git/config",
    "/atom.xml.tmp", "//etc/passwd", "/categories//x/atom.xml", "/categories/%00.xml", "/%ff.xml", "/nope.xml",
])
async def test_unservable_paths_stay_404_with_validators(fast: WebServer, target: str) -> None:
    headers = "If-None-Match: *\r\nIf-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n"
    status, _, body = await raw(fast.port, target, headers)
    assert status in (400, 404) and b"secret" not in body and b"outside" not in body


async def test_state_and_links_out_stay_404_with_validators(site: Settings, tmp_path: Path) -> None:
    inner = site.feeds_dir / "state"
    inner.mkdir()
    (inner / "state.json").write_text('{"secret": true}')
    (site.feeds_dir / "leak.xml").symlink_to(tmp_path / "outside.txt")
    web = await start_http(replace(site, state_dir=inner), _health())
    try:
        for target in ("/state/state.json", "/leak.xml"):
            assert (await raw(web.port, target, "If-None-Match: *\r\n"))[0] == 404
        assert (await raw(web.port, "/atom.xml", "If-None-Match: *\r\n"))[0] == 304
    finally:
        await web.stop()


async def test_only_under_the_feeds_url_path(site: Settings) -> None:
    web = await start_http(replace(site, feeds_url="", site_url="https://blog.example.com/"), _health())
    try:
        assert (await raw(web.port, "/atom.xml", "If-None-Match: *\r\n"))[0] == 404
        assert (await raw(web.port, "/feeds/atom.xml", "If-None-Match: *\r\n"))[0] == 304
        assert (await raw(web.port, "/feeds", "If-None-Match: *\r\n"))[0] == 302
    finally:
        await web.stop()
