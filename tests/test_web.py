"""Web mode against the real aiohttp server on 127.0.0.1:0: what a feed reader and a host see."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import bot.web
import bot.webfiles
from bot.config import Settings
from bot.errors import ConfigError
from bot.health import HealthInfo
from bot.web import WebServer, parse_listen, start_http

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
ATOM = ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>站点</title>" + "<entry><title>新闻</title><content>正文内容</content></entry>" * 40
        + "</feed>\n").encode()
RSS = b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title></channel></rss>\n'
JSON_FEED = b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}'
OPML = b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head/><body/></opml>\n'
INDEX = "<!doctype html><title>订阅</title>".encode()


def _health(last_scan_at: datetime | None = NOW) -> Callable[[], HealthInfo]:
    return lambda: HealthInfo(last_scan_at=last_scan_at, scan_interval_s=300, started_at=NOW - timedelta(hours=1), now=NOW)


@pytest.fixture
def site(tmp_path: Path) -> Settings:
    feeds = tmp_path / "feeds"
    for rel, data in {
        "atom.xml": ATOM, "rss.xml": RSS, "feed.json": JSON_FEED, "feeds.opml": OPML, "index.html": INDEX,
        "categories/科技/atom.xml": ATOM, "categories/科技/rss.xml": RSS, "categories/科技/feed.json": JSON_FEED,
        "style.xsl": b'<?xml version="1.0"?><xsl:stylesheet version="1.0"/>', "other.xml": RSS,
        ".hidden": b"secret", ".git/config": b"secret", "atom.xml.tmp": b"half",
    }.items():
        (feeds / rel).parent.mkdir(parents=True, exist_ok=True)
        (feeds / rel).write_bytes(data)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state.json").write_text('{"secret": true}')
    (tmp_path / "outside.txt").write_text("outside")
    return Settings(feeds_dir=feeds, state_dir=tmp_path / "state", http="127.0.0.1:0",
                    feeds_url="http://127.0.0.1/", http_max_age_s=120)


async def _serve(settings: Settings, health: Callable[[], HealthInfo] | None = None, **kw: object) -> WebServer:
    return await start_http(settings, health or _health(), **kw)  # type: ignore[arg-type]


@pytest.fixture
async def server(site: Settings) -> AsyncIterator[WebServer]:
    web = await _serve(site)
    yield web
    await web.stop()


@pytest.fixture
async def client(server: WebServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers={"Accept-Encoding": "identity"}) as c:
        yield c


async def raw_get(server: WebServer, target: str, headers: str = "", method: str = "GET") -> tuple[int, str, bytes]:
    """One request with the target sent byte for byte (clients normalise `..`; attackers don't)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), body


@pytest.mark.parametrize(("path", "ctype"), [
    ("/atom.xml", "application/atom+xml; charset=utf-8"),
    ("/rss.xml", "application/rss+xml; charset=utf-8"),
    ("/feed.json", "application/feed+json; charset=utf-8"),
    ("/categories/%E7%A7%91%E6%8A%80/atom.xml", "application/atom+xml; charset=utf-8"),
    ("/categories/%E7%A7%91%E6%8A%80/rss.xml", "application/rss+xml; charset=utf-8"),
    ("/categories/%E7%A7%91%E6%8A%80/feed.json", "application/feed+json; charset=utf-8"),
    ("/feeds.opml", "text/x-opml; charset=utf-8"),
    ("/other.xml", "application/rss+xml; charset=utf-8"),  # not a feed path: sniffed
    ("/style.xsl", "application/xml; charset=utf-8"),
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
])
async def test_content_types_carry_charset(client: httpx.AsyncClient, path: str, ctype: str) -> None:
    r = await client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    assert r.headers["cache-control"] == "public, max-age=120"


async def test_body_and_validators_are_the_file(client: httpx.AsyncClient, site: Settings) -> None:
    r = await client.get("/atom.xml")
    assert r.content == ATOM
    assert r.headers["etag"].startswith('"') and r.headers["last-modified"]
    again = await client.get("/atom.xml")
    assert again.headers["etag"] == r.headers["etag"]
    assert again.headers["last-modified"] == r.headers["last-modified"]


async def test_conditional_get_round_trips(client: httpx.AsyncClient) -> None:
    first = await client.get("/atom.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = await client.get("/atom.xml", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b"" and by_etag.headers["etag"] == etag
    by_date = await client.get("/atom.xml", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    stale = await client.get("/atom.xml", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == ATOM
    older = await client.get("/atom.xml", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert older.status_code == 200


async def test_validators_follow_the_bytes(client: httpx.AsyncClient, site: Settings) -> None:
    path = site.feeds_dir / "atom.xml"
    first = await client.get("/atom.xml")
    st = path.stat()
    path.write_bytes(ATOM)  # same bytes, new mtime: the content-hash ETag holds
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    same = await client.get("/atom.xml", headers={"If-None-Match": first.headers["etag"]})
    assert same.status_code == 304
    by_date = await client.get("/atom.xml", headers={"If-Modified-Since": first.headers["last-modified"]})
    assert by_date.status_code == 304 and by_date.headers["last-modified"] == first.headers["last-modified"]
    path.write_bytes(ATOM.replace("新闻".encode(), "快讯".encode()))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    changed = await client.get("/atom.xml", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and "快讯".encode() in changed.content
    assert changed.headers["etag"] != first.headers["etag"]
    assert changed.headers["last-modified"] != first.headers["last-modified"]


async def test_gzip_when_asked(server: WebServer, site: Settings) -> None:
    padding = b" " * 4000
    (site.feeds_dir / "rss.xml").write_bytes(RSS + padding)
    (site.feeds_dir / "feed.json").write_bytes(JSON_FEED + padding)
    (site.feeds_dir / "feeds.opml").write_bytes(OPML + padding)
    expected = {"/atom.xml": ATOM, "/categories/%E7%A7%91%E6%8A%80/atom.xml": ATOM, "/rss.xml": RSS + padding,
                "/feed.json": JSON_FEED + padding, "/feeds.opml": OPML + padding}
    async with httpx.AsyncClient(base_url=server.url, headers={"Accept-Encoding": "gzip"}) as c:
        for path, data in expected.items():
            r = await c.get(path)
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip", path
            assert "Accept-Encoding" in r.headers["vary"]
            assert r.content == data and r.num_bytes_downloaded < len(data) // 2, path  # httpx decodes
    _, head, body = await raw_get(server, "/atom.xml")
    assert "content-encoding" not in head.lower() and body == ATOM


async def test_gzip_etag_is_weak_and_revalidates(server: WebServer) -> None:
    _, head, _ = await raw_get(server, "/atom.xml", "Accept-Encoding: gzip\r\n")
    etag = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("etag:"))
    assert etag.startswith('W/"')
    status, _, _ = await raw_get(server, "/atom.xml", f"Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n")
    assert status == 304


async def test_head_has_headers_and_no_body(client: httpx.AsyncClient) -> None:
    r = await client.head("/atom.xml")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(ATOM))
    assert r.headers["content-type"].startswith("application/atom+xml")


@pytest.mark.parametrize("target", [
    "/../state/state.json", "/%2e%2e/state/state.json", "/..%2fstate/state.json", "/%2E%2E%2Foutside.txt",
    "/categories/../../outside.txt", "/..\\outside.txt", "/.hidden", "/%2ehidden", "/.git/config",
    "/atom.xml.tmp", "//etc/passwd", "/%2fetc/passwd", "/categories//x/atom.xml", "/categories", "/nope.xml", "/categories/%00.xml",
])
async def test_nothing_outside_feeds_is_served(server: WebServer, target: str) -> None:
    status, _, body = await raw_get(server, target)
    assert status in (404, 301) and b"secret" not in body and b"outside" not in body
    if target != "/categories":
        assert status == 404


async def test_directory_without_slash_redirects_inside(server: WebServer) -> None:
    status, head, _ = await raw_get(server, "/categories")
    assert status == 301 and "location: /categories/" in head.lower()


async def test_symlink_out_of_feeds_is_404(site: Settings, tmp_path: Path) -> None:
    (site.feeds_dir / "leak.xml").symlink_to(tmp_path / "outside.txt")
    (site.feeds_dir / "leakdir").symlink_to(tmp_path / "state", target_is_directory=True)
    (site.feeds_dir / "alias.xml").symlink_to(site.feeds_dir / "atom.xml")
    web = await _serve(site)
    try:
        assert (await raw_get(web, "/leak.xml"))[0] == 404
        assert (await raw_get(web, "/leakdir/state.json"))[0] == 404
        assert (await raw_get(web, "/alias.xml"))[0] == 200  # links inside feeds/ are fine
    finally:
        await web.stop()


async def test_state_folder_inside_feeds_is_404(site: Settings) -> None:
    inner = site.feeds_dir / "state"
    inner.mkdir()
    (inner / "state.json").write_text('{"secret": true}')
    web = await _serve(replace(site, state_dir=inner))
    try:
        assert (await raw_get(web, "/state/state.json"))[0] == 404
        assert (await raw_get(web, "/state/"))[0] == 404
        assert (await raw_get(web, "/atom.xml"))[0] == 200
    finally:
        await web.stop()


async def test_only_get_and_head(client: httpx.AsyncClient) -> None:
    assert (await client.post("/atom.xml", content=b"x")).status_code == 405
    assert (await client.delete("/atom.xml")).status_code == 405


async def test_served_under_the_feeds_url_path(site: Settings) -> None:
    web = await _serve(replace(site, feeds_url="", site_url="https://blog.example.com/"))
    try:
        async with httpx.AsyncClient(base_url=web.url) as c:
            assert (await c.get("/feeds/atom.xml")).content == ATOM
            root = await c.get("/")
            assert root.status_code == 302 and root.headers["location"] == "/feeds/"
            for path in ("/", "/feeds"):  # monitors and link checkers probe with HEAD
                head = await c.head(path)
                assert head.status_code == 302 and head.headers["location"] == "/feeds/"
            assert (await c.get("/atom.xml")).status_code == 404
    finally:
        await web.stop()


async def test_healthz_ok_then_stale(site: Settings) -> None:
    for last, code, status in ((NOW - timedelta(minutes=5), 200, "ok"), (NOW - timedelta(minutes=16), 503, "stale")):
        web = await _serve(site, _health(last))
        try:
            async with httpx.AsyncClient(base_url=web.url) as c:
                r = await c.get("/healthz")
            assert r.status_code == code
            body = r.json()
            assert body["status"] == status and body["last_scan_at"] == last.isoformat()
            assert r.headers["cache-control"] == "no-store"
        finally:
            await web.stop()


@pytest.mark.parametrize(("value", "expected"), [("0.0.0.0:8080", ("0.0.0.0", 8080)), (":5000", ("", 5000)),
                                                 ("[::1]:0", ("::1", 0)), ("localhost:0", ("localhost", 0))])
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["8080", "host:", "host:http", "host:70000"])
def test_parse_listen_rejects(value: str) -> None:
    with pytest.raises(ConfigError, match="http: expected HOST:PORT"):
        parse_listen(value)


async def test_port_in_use_is_one_clear_error(server: WebServer, site: Settings) -> None:
    with pytest.raises(ConfigError, match=f"http: cannot listen on 127.0.0.1:{server.port}"):
        await _serve(replace(site, http=f"127.0.0.1:{server.port}"))




async def test_gzip_body_follows_the_bytes(server: WebServer, site: Settings) -> None:
    path = site.feeds_dir / "atom.xml"
    async with httpx.AsyncClient(base_url=server.url, headers={"Accept-Encoding": "gzip"}) as c:
        assert (await c.get("/atom.xml")).content == ATOM
        new = ATOM.replace("新闻".encode(), "更新".encode())
        tmp = path.with_name(".atom.xml.tmp")
        tmp.write_bytes(new)
        os.replace(tmp, path)  # how newsbot writes: a new inode under the old name
        r = await c.get("/atom.xml")
        assert r.headers["content-encoding"] == "gzip" and r.content == new


async def test_feeds_folder_made_after_start(site: Settings, tmp_path: Path) -> None:
    """Web mode starts before the first scan has written anything."""
    web = await _serve(replace(site, feeds_dir=tmp_path / "later"))
    try:
        assert (await raw_get(web, "/atom.xml"))[0] == 404
        (tmp_path / "later").mkdir()
        (tmp_path / "later" / "atom.xml").write_bytes(ATOM)
        status, _, body = await raw_get(web, "/atom.xml")
        assert status == 200 and body == ATOM
    finally:
        await web.stop()


async def test_deleted_file_is_404_at_once(client: httpx.AsyncClient, site: Settings) -> None:
    assert (await client.get("/rss.xml")).status_code == 200
    (site.feeds_dir / "rss.xml").unlink()
    assert (await client.get("/rss.xml")).status_code == 404


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_range_request_is_identity_bytes(server: WebServer, encoding: str) -> None:
    status, head, body = await raw_get(server, "/atom.xml", f"Range: bytes=0-37\r\nAccept-Encoding: {encoding}\r\n")
    assert status == 206 and body == ATOM[:38] and "content-encoding" not in head.lower()
    assert f"content-range: bytes 0-37/{len(ATOM)}" in head.lower()


async def test_feeds_inside_the_state_folder_are_served(tmp_path: Path, site: Settings) -> None:
    """A common disk layout: /data holds state.json and /data/feeds."""
    web = await _serve(replace(site, state_dir=site.feeds_dir.parent))
    try:
        assert (await raw_get(web, "/atom.xml"))[0] == 200
        assert (await raw_get(web, "/../state/state.json"))[0] == 404
    finally:
        await web.stop()


async def test_healthz_head(client: httpx.AsyncClient) -> None:
    r = await client.head("/healthz")
    assert r.status_code == 200 and r.content == b""


async def test_healthz_says_unresponsive_when_the_bot_loop_is_stuck(server: WebServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """/healthz is answered by the bot's loop; a blocked loop must not look healthy."""
    monkeypatch.setattr(bot.web, "HEALTH_TIMEOUT_S", 0.3)
    answer: list[httpx.Response] = []
    asker = threading.Thread(target=lambda: answer.append(httpx.get(server.url + "/healthz", timeout=10)))
    asker.start()
    time.sleep(1.0)  # noqa: ASYNC251 - block this loop (the bot's) as a stuck handler would
    await asyncio.to_thread(asker.join, 10)
    assert answer[0].status_code == 503 and answer[0].json() == {"status": "unresponsive"}


async def test_feeds_stay_fast_while_the_bot_loop_is_busy(server: WebServer) -> None:
    """The server has its own loop: a slow bot never delays readers."""
    answer: list[float] = []

    def poll() -> None:
        t0 = time.perf_counter()
        httpx.get(server.url + "/atom.xml", timeout=10).raise_for_status()
        answer.append(time.perf_counter() - t0)

    asker = threading.Thread(target=poll)
    asker.start()
    time.sleep(1.0)  # noqa: ASYNC251 - the bot's loop is busy
    await asyncio.to_thread(asker.join, 10)
    assert answer and answer[0] < 0.9


async def _validators(server: WebServer, encoding: str = "identity") -> tuple[str, str]:
    _, head, _ = await raw_get(server, "/atom.xml", f"Accept-Encoding: {encoding}\r\n")
    found = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    return found["ETag"], found["Last-Modified"]


async def raw(server: WebServer, target: str, headers: str = "",
              method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """raw_get with any method, and the header lines as a dict keyed in lower case."""
    status, head, body = await raw_get(server, target, headers, method)
    return status, {k.lower(): v for k, v in (line.split(": ", 1) for line in head.split("\r\n")[1:])}, body


async def test_conditional_answers(server: WebServer) -> None:
    strong, modified = await _validators(server)
    weak, _ = await _validators(server, "gzip")
    assert weak == "W/" + strong
    gz, ident = "Accept-Encoding: gzip, deflate\r\n", "Accept-Encoding: identity\r\n"
    cases = [
        ("GET", "/atom.xml", f"{ident}If-None-Match: {strong}\r\n", 304),
        ("GET", "/atom.xml", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("GET", "/atom.xml", f"{gz}If-None-Match: {strong}\r\n", 304),
        ("GET", "/atom.xml", f"{ident}If-None-Match: {weak}\r\n", 304),
        ("GET", "/atom.xml", f'If-None-Match: "other", {weak}, "more"\r\n', 304),
        ("GET", "/atom.xml", "If-None-Match: *\r\n", 304),
        ("GET", "/atom.xml?utm=1", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("HEAD", "/atom.xml", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("GET", "/categories/%E7%A7%91%E6%8A%80/atom.xml", f"{gz}If-None-Match: {weak}\r\n", 304),
        ("GET", "/atom.xml", f"If-Modified-Since: {modified}\r\n", 304),
        ("GET", "/atom.xml", f"{gz}If-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n", 304),
        ("HEAD", "/atom.xml", f"If-Modified-Since: {modified}\r\n", 304),
        ("GET", "/atom.xml", "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT\r\n", 200),
        ("GET", "/atom.xml", "If-Modified-Since: not a date\r\n", 200),
        ("GET", "/atom.xml", f'If-None-Match: "other"\r\nIf-Modified-Since: {modified}\r\n', 200),  # tag wins
        ("GET", "/atom.xml", "If-None-Match: W/\"\"\r\n", 200),
        ("GET", "/atom.xml", f"{gz}Range: bytes=0-9\r\nIf-None-Match: {weak}\r\n", 304),
        ("GET", "/", "If-None-Match: *\r\n", 304),
        ("GET", "/categories", "If-None-Match: *\r\n", 301),
        ("GET", "/healthz", "If-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n", 200),
    ]
    for method, target, headers, status in cases:
        got, found, body = await raw(server, target, headers, method)
        assert got == status, (method, target, headers)
        if status == 304:  # a 304 repeats the validators and caching rules, and has no body
            assert body == b"" and found["cache-control"] == "public, max-age=120"
            assert found["etag"] in (strong, weak) or not target.startswith("/atom.xml")
            assert found["last-modified"] and "content-encoding" not in found


async def test_a_rewritten_file_is_never_304_with_the_old_tag(server: WebServer, site: Settings) -> None:
    path = site.feeds_dir / "atom.xml"
    etag, modified = await _validators(server, "gzip")
    assert (await raw(server, "/atom.xml", f"Accept-Encoding: gzip\r\nIf-None-Match: {etag}\r\n"))[0] == 304
    new = ATOM.replace("新闻".encode(), "快讯".encode())
    st = path.stat()
    tmp = path.with_name(".atom.xml.tmp")
    tmp.write_bytes(new)
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the bytes tell
    os.replace(tmp, path)  # how newsbot writes: a new inode under the old name
    status, found, body = await raw(server, "/atom.xml", f"If-None-Match: {etag}\r\n")
    assert status == 200 and body == new and found["etag"] not in (etag, etag[2:])
    path.unlink()
    assert (await raw(server, "/atom.xml", f"If-Modified-Since: {modified}\r\n"))[0] == 404


@pytest.mark.parametrize("target", [
    "/../state/state.json", "/%2e%2e/state/state.json", "/..%2fstate/state.json", "/%2E%2E%2Foutside.txt",
    "/categories/../../outside.txt", "/..\\outside.txt", "/.hidden", "/%2ehidden", "/.git/config",
    "/atom.xml.tmp", "//etc/passwd", "/categories//x/atom.xml", "/categories/%00.xml", "/%ff.xml", "/nope.xml",
])
async def test_unservable_paths_stay_404_with_validators(server: WebServer, target: str) -> None:
    headers = "If-None-Match: *\r\nIf-Modified-Since: Tue, 01 Jan 2030 00:00:00 GMT\r\n"
    status, _, body = await raw(server, target, headers)
    assert status in (400, 404) and b"secret" not in body and b"outside" not in body


async def test_state_and_links_out_stay_404_with_validators(site: Settings, tmp_path: Path) -> None:
    inner = site.feeds_dir / "state"
    inner.mkdir()
    (inner / "state.json").write_text('{"secret": true}')
    (site.feeds_dir / "leak.xml").symlink_to(tmp_path / "outside.txt")
    web = await _serve(replace(site, state_dir=inner))
    try:
        for target in ("/state/state.json", "/leak.xml"):
            assert (await raw(web, target, "If-None-Match: *\r\n"))[0] == 404
        assert (await raw(web, "/atom.xml", "If-None-Match: *\r\n"))[0] == 304
    finally:
        await web.stop()


async def test_validators_only_under_the_feeds_url_path(site: Settings) -> None:
    web = await _serve(replace(site, feeds_url="", site_url="https://blog.example.com/"))
    try:
        assert (await raw(web, "/atom.xml", "If-None-Match: *\r\n"))[0] == 404
        assert (await raw(web, "/feeds/atom.xml", "If-None-Match: *\r\n"))[0] == 304
        assert (await raw(web, "/feeds", "If-None-Match: *\r\n"))[0] == 302
    finally:
        await web.stop()


async def test_ranges_resume_only_the_same_version(server: WebServer) -> None:
    strong, modified = await _validators(server)
    status, found, body = await raw(server, "/atom.xml", f"Range: bytes=-16\r\nIf-Range: {strong}\r\n")
    size = len(ATOM)
    assert status == 206 and body == ATOM[-16:] and found["content-range"] == f"bytes {size - 16}-{size - 1}/{size}"
    assert (await raw(server, "/atom.xml", f"Range: bytes=10-19\r\nIf-Range: {modified}\r\n"))[2] == ATOM[10:20]
    status, _, body = await raw(server, "/atom.xml", 'Range: bytes=10-19\r\nIf-Range: "an-older-version"\r\n')
    assert status == 200 and body == ATOM  # never a piece of the new file glued to the old one
    status, found, _ = await raw(server, "/atom.xml", f"Range: bytes={len(ATOM)}-\r\n")
    assert status == 416 and found["content-range"] == f"bytes */{len(ATOM)}"
    status, _, body = await raw(server, "/atom.xml", "Range: bytes=0-1,4-5\r\n")
    assert status == 200 and body == ATOM


async def test_big_files_are_streamed_whole_and_in_part(site: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.webfiles, "MAX_GZIP_BYTES", 1000)  # so ATOM counts as big
    web = await _serve(site)
    try:
        status, found, body = await raw(web, "/atom.xml", "Accept-Encoding: gzip\r\n")
        assert status == 200 and body == ATOM and "content-encoding" not in found
        assert found["content-length"] == str(len(ATOM))
        status, _, body = await raw(web, "/atom.xml", "Range: bytes=100-2099\r\n")
        assert status == 206 and body == ATOM[100:2100]
        status, found, body = await raw(web, "/atom.xml", method="HEAD")
        assert status == 200 and body == b"" and found["content-length"] == str(len(ATOM))
    finally:
        await web.stop()


async def test_a_link_swapped_in_after_a_poll_never_leads_out(server: WebServer, site: Settings) -> None:
    """The path a poll resolved is trusted for a second; a link put in its place meanwhile must
    not serve what it points to (the state folder here)."""
    assert (await raw(server, "/rss.xml"))[0] == 200
    path = site.feeds_dir / "rss.xml"
    path.unlink()
    path.symlink_to(site.state_dir / "state.json")
    for encoding in ("identity", "gzip"):
        status, _, body = await raw(server, "/rss.xml", f"Accept-Encoding: {encoding}\r\n")
        assert status == 404 and b"secret" not in body


@pytest.mark.parametrize(("header", "gzipped"), [
    ("gzip", True), ("gzip;q=0", False), ("identity, gzip;q=0.0", False), ("*", True), ("*;q=0", False),
    ("br, gzip;q=0.5", True), ("deflate", False), ("x-gzip", True),
])
async def test_gzip_only_when_the_client_accepts_it(server: WebServer, header: str, gzipped: bool) -> None:
    status, found, body = await raw(server, "/atom.xml", f"Accept-Encoding: {header}\r\n")
    assert status == 200 and ("content-encoding" in found) is gzipped and (body == ATOM) is not gzipped


@pytest.mark.parametrize("header", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000, "bytes=\u0663-"])
async def test_absurd_ranges_get_the_whole_file(server: WebServer, header: str) -> None:
    status, _, body = await raw(server, "/atom.xml", f"Range: {header}\r\n".encode().decode("latin-1"))
    assert status == 200 and body == ATOM
