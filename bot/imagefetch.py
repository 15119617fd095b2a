"""Download a lead image ourselves when Telegram cannot fetch its URL (TELEGRAM.md 1.3).

The URL comes from an article, i.e. from whoever wrote the site, so the download is treated as
untrusted: only http(s); every host (redirects included, at most ``MAX_REDIRECTS``) must resolve
to public addresses unless ``allow_private_image_hosts``, and ``ImageClient`` connects such a
host only to the addresses that were checked (each in turn), so a DNS answer that changes
between the check and the connect (rebinding) cannot reach an internal service. The URL, and
so the Host header, TLS name, certificate check and connection pool, stay the host's own; a
proxy from the environment still applies. The whole exchange has one deadline;
the body is streamed with a byte cap; the content type must be an image Telegram can show; and
the picture must fit Telegram's photo limits (width + height <= 10000, ratio <= 20) when its
header tells us its size.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from bot.config import Settings
from bot.errors import ImageFetchError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
PHOTO_MAX_SIDES = 10_000  # Bot API sendPhoto: width + height must not exceed 10000
PHOTO_MAX_RATIO = 20  # Bot API sendPhoto: width and height ratio must be at most 20
_NOT_PHOTOS = {"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/tiff"}


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the system resolver answers."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but a checked host connects only to its checked addresses."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, pins: dict[str, list[str]]) -> None:
        self._inner, self._pins = inner, pins

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host)
        if not addresses:  # not an image host (e.g. the proxy): as httpcore would
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class ImageClient(httpx.AsyncClient):
    """An httpx client whose connections to checked hosts go only to the checked addresses.

    ``pinned`` is False if this httpx no longer has the transport internals used here (then
    hosts are still checked, but the connection resolves again); a test guards it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pins: dict[str, list[str]] = {}
        self.pinned = False
        for transport in (self._transport, *self._mounts.values()):
            pool = getattr(transport, "_pool", None)
            inner = getattr(pool, "_network_backend", None)
            if isinstance(inner, httpcore.AsyncNetworkBackend):
                pool._network_backend = _PinnedBackend(inner, self.pins)  # type: ignore[union-attr]
                self.pinned = True
        if not self.pinned:
            logger.warning("Image downloads: cannot pin checked addresses with this httpx; hosts are checked only")


def image_client(settings: Settings) -> ImageClient:
    """The client the publisher downloads lead images with."""
    from bot import __version__

    return ImageClient(timeout=settings.image_timeout_s, follow_redirects=False,
                       headers={"User-Agent": f"newsbot/{__version__}"})


async def fetch_image(url: str, settings: Settings, client: httpx.AsyncClient, *,
                      resolver: Resolver = resolve) -> tuple[bytes, str]:
    """(bytes, content type) of the image at ``url``; raises ImageFetchError saying why not."""
    try:
        async with asyncio.timeout(settings.image_timeout_s):
            data, ctype = await _follow(url, settings, client, resolver)
    except TimeoutError:
        raise ImageFetchError(f"{url}: no complete answer within {settings.image_timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise ImageFetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    size = image_size(data)
    if size is not None and not fits_photo_limits(*size):
        raise ImageFetchError(f"{url}: {size[0]}x{size[1]} pixels is outside Telegram's photo limits")
    return data, ctype


async def _follow(url: str, settings: Settings, client: httpx.AsyncClient,
                  resolver: Resolver) -> tuple[bytes, str]:
    for _ in range(MAX_REDIRECTS + 1):
        host, addresses = await check_host(url, allow_private=settings.allow_private_image_hosts, resolver=resolver)
        pins = getattr(client, "pins", None)
        if pins is not None:
            pins[host] = addresses
        request = client.build_request("GET", url, headers={"Accept": "image/*"})
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            return await _read(url, response, settings.image_max_bytes)
        finally:
            await response.aclose()
    raise ImageFetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


async def _read(url: str, response: httpx.Response, max_bytes: int) -> tuple[bytes, str]:
    if response.status_code != 200:
        raise ImageFetchError(f"{url}: HTTP {response.status_code}")
    ctype = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not ctype.startswith("image/") or ctype in _NOT_PHOTOS:
        raise ImageFetchError(f"{url}: content type {ctype or 'missing'!r} is not a photo")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ImageFetchError(f"{url}: {int(declared)} bytes is over the {max_bytes}-byte cap")
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > max_bytes:
            raise ImageFetchError(f"{url}: more than the {max_bytes}-byte cap")
    if not data:
        raise ImageFetchError(f"{url}: empty body")
    return bytes(data), ctype


async def check_host(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> tuple[str, list[str]]:
    """(host as connected to, its addresses): resolved once, all public unless ``allow_private``.

    Refuses non-http(s) URLs, and hosts with any private, loopback or reserved address.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImageFetchError(f"{url}: only http(s) URLs with a host are downloaded")
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if parts.scheme == "https" else 80)
        addresses = [host] if _is_ip(host) else await resolver(host, port)
    except (OSError, UnicodeError, ValueError, httpx.InvalidURL) as exc:
        raise ImageFetchError(f"{url}: cannot resolve host ({exc})") from None
    if not addresses:
        raise ImageFetchError(f"{url}: cannot resolve host (no address)")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise ImageFetchError(f"{url}: host resolves to non-public address {address}")
    return host, addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 checked as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def fits_photo_limits(width: int, height: int) -> bool:
    """Whether Telegram accepts a photo of this size as a photo (not as a file)."""
    if width <= 0 or height <= 0:
        return False
    return width + height <= PHOTO_MAX_SIDES and max(width, height) / min(width, height) <= PHOTO_MAX_RATIO


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, WebP or JPEG header; None when unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None
