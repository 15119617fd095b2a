"""Downloading lead images ourselves: safe, capped, and only real photos (tests/imageserver.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bot.config import Settings
from bot.errors import ImageFetchError
from bot.imagefetch import check_host, fetch_image, fits_photo_limits, image_client, image_size, is_public_address
from tests.imageserver import ImageServer, jpeg_bytes, png_bytes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def img() -> Iterator[ImageServer]:
    with ImageServer.running(big_size=300_000, slow_s=1.0) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with image_client(_settings()) as c:
        assert c.pinned  # this httpx still lets us pin connections to the checked addresses
        yield c


def _settings(**kw: object) -> Settings:
    base: dict[str, object] = {"allow_private_image_hosts": True, "image_timeout_s": 0.3, "image_max_bytes": 100_000}
    return Settings(**(base | kw))  # type: ignore[arg-type]


async def test_downloads_a_jpeg_with_its_content_type(img: ImageServer, client: httpx.AsyncClient) -> None:
    data, ctype = await fetch_image(img.url_for("/ok.jpg"), _settings(), client)
    assert data == img.ok_jpeg
    assert ctype == "image/jpeg"


async def test_follows_a_redirect(img: ImageServer, client: httpx.AsyncClient) -> None:
    data, _ = await fetch_image(img.url_for("/redirect.jpg"), _settings(), client)
    assert data == img.ok_jpeg


async def test_redirect_loop_stops(img: ImageServer, client: httpx.AsyncClient) -> None:
    img.add("/loop.jpg", b"", "text/plain", 302, headers={"Location": "/loop.jpg"})
    with pytest.raises(ImageFetchError, match="redirects"):
        await fetch_image(img.url_for("/loop.jpg"), _settings(), client)
    assert img.count("/loop.jpg") == 4  # the first request and three redirects


@pytest.mark.parametrize(("path", "reason"), [
    ("/big.jpg", "cap"),  # declared Content-Length over the cap
    ("/big-nolength.jpg", "cap"),  # streamed past the cap
    ("/notimage", "not a photo"),
    ("/404.jpg", "HTTP 404"),
    ("/slow.jpg", "within 0.3 s"),
    ("/wide.jpg", "photo limits"),  # ratio 21
    ("/huge-dims.jpg", "photo limits"),  # width + height > 10000
])
async def test_refuses_with_a_clear_reason(img: ImageServer, client: httpx.AsyncClient, path: str,
                                           reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(ImageFetchError, match=reason) as info:
        await fetch_image(img.url_for(path), _settings(), client)
    assert img.url_for(path) in str(info.value)
    assert time.monotonic() - started < 1.0  # never waits for the whole slow or huge body


async def test_svg_is_not_a_photo(img: ImageServer, client: httpx.AsyncClient) -> None:
    url = img.add("/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")
    with pytest.raises(ImageFetchError, match="not a photo"):
        await fetch_image(url, _settings(), client)


async def test_private_hosts_refused_unless_allowed(img: ImageServer, client: httpx.AsyncClient) -> None:
    with pytest.raises(ImageFetchError, match="non-public address 127.0.0.1"):
        await fetch_image(img.url_for("/ok.jpg"), _settings(allow_private_image_hosts=False), client)
    assert img.count("/never-requested") == 0


async def test_redirect_to_private_host_refused(client: httpx.AsyncClient) -> None:
    # localhost resolves to loopback: the check happens before any connection is made.
    with pytest.raises(ImageFetchError, match="non-public"):
        await check_host("http://localhost:9/x.jpg", allow_private=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "data:image/png;base64,AAAA",
                                 "http:///nohost.jpg"])
async def test_only_http_urls(url: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(ImageFetchError, match="only http"):
        await fetch_image(url, _settings(), client)


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("172.16.5.4", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1%eth0", False), ("fc00::1", False), ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False),
])
def test_public_address_table(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_image_size_from_headers() -> None:
    assert image_size(jpeg_bytes(2100, 100)) == (2100, 100)
    assert image_size(png_bytes(16, 9)) == (16, 9)
    assert image_size(b"GIF89a\x0a\x00\x05\x00rest") == (10, 5)
    assert image_size(b"not an image") is None


@pytest.mark.parametrize(("w", "h", "ok"), [(800, 600, True), (5000, 5000, True), (5001, 5000, False),
                                            (2100, 100, False), (2000, 100, True), (0, 10, False)])
def test_photo_limits(w: int, h: int, ok: bool) -> None:
    assert fits_photo_limits(w, h) is ok


async def test_connects_to_the_address_it_checked(img: ImageServer, client: httpx.AsyncClient) -> None:
    """DNS rebinding: the host is resolved once, checked, and that address is the one connected to,
    with the URL's own Host header (the names below exist in no DNS: a second lookup would fail)."""
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.2", "127.0.0.1"]  # nothing listens on the first: the next one is tried

    port = img.url.rsplit(":", 1)[1]
    img.add("/hop.jpg", b"", "text/plain", 302, headers={"Location": f"http://second.rebind.invalid:{port}/ok.jpg"})
    img.hosts.clear()
    data, _ = await fetch_image(f"http://first.rebind.invalid:{port}/hop.jpg", _settings(), client, resolver=resolver)
    assert data == img.ok_jpeg
    assert asked == ["first.rebind.invalid", "second.rebind.invalid"]  # once per hop, each checked
    assert img.hosts == [f"first.rebind.invalid:{port}", f"second.rebind.invalid:{port}"]


async def test_any_private_answer_refuses_before_connecting(client: httpx.AsyncClient) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(ImageFetchError, match=r"non-public address 10\.0\.0\.7"):
        await fetch_image("https://cdn.example.com/a.jpg", _settings(allow_private_image_hosts=False), client,
                          resolver=resolver)
