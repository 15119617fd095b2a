"""Tiny local image host for photo-pipeline tests.

Why: the publisher sends photos by URL and falls back to download + upload; tests need URLs that
are good, too big, not images, slow or missing, without touching the network. Images are made in
code (a small baseline-JPEG and PNG writer below), so no Pillow and no binary fixtures.
"""

from __future__ import annotations

import contextlib
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Standard JPEG luminance DC table (ITU T.81 K.3); AC table has one symbol: EOB (code "0").
_DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
_DC_VALS = list(range(12))
_AC_BITS = [1] + [0] * 15
_AC_VALS = [0x00]


def _huff_codes(bits: list[int], vals: list[int]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes: symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code, k = 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[vals[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(payload) + 2) + payload


def jpeg_bytes(width: int = 16, height: int = 16, gray: int = 128, comment: bytes = b"") -> bytes:
    """A valid baseline grayscale JPEG of one flat colour; tiny even at 10000x10 pixels.

    Why: dimension-limit tests (w+h > 10000, ratio > 20) need real headers, not big files.
    """
    dc_codes, ac_codes = _huff_codes(_DC_BITS, _DC_VALS), _huff_codes(_AC_BITS, _AC_VALS)
    out = bytearray(b"\xff\xd8")
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if comment:
        out += _segment(0xFE, comment[:65533])
    out += _segment(0xDB, b"\x00" + b"\x01" * 64)  # all-ones quantisation table
    out += _segment(0xC0, struct.pack(">BHHBBBB", 8, height, width, 1, 1, 0x11, 0))
    out += _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS))
    out += _segment(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS))
    out += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    acc, nbits, prev = 0, 0, 0
    scan = bytearray()

    def put(code: int, length: int) -> None:
        nonlocal acc, nbits
        acc, nbits = (acc << length) | code, nbits + length
        while nbits >= 8:
            nbits -= 8
            byte = (acc >> nbits) & 0xFF
            scan.append(byte)
            if byte == 0xFF:
                scan.append(0x00)

    dc = 8 * (max(0, min(255, gray)) - 128)
    for _ in range(((width + 7) // 8) * ((height + 7) // 8)):
        diff, prev = dc - prev, dc
        cat = abs(diff).bit_length()
        put(*dc_codes[cat])
        if cat:
            put(diff if diff > 0 else diff + (1 << cat) - 1, cat)
        put(*ac_codes[0x00])  # EOB: all AC coefficients zero
    if nbits:
        put((1 << (8 - nbits)) - 1, 8 - nbits)
    return bytes(out + scan + b"\xff\xd9")


def png_bytes(width: int = 16, height: int = 16, gray: int = 200) -> bytes:
    """A valid 8-bit grayscale PNG (for 'not a JPEG but still an image' cases)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([gray]) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def big_jpeg_chunks(min_size: int) -> tuple[int, Iterator[bytes]]:
    """(total length, chunks) of a valid JPEG padded with COM segments to >= min_size bytes."""
    base = jpeg_bytes(64, 64)
    pad = max(0, min_size - len(base))
    sizes: list[int] = []
    while pad > 0:
        n = max(0, min(65533, pad - 4))
        sizes.append(n)
        pad -= n + 4
    total = len(base) + sum(n + 4 for n in sizes)

    def gen() -> Iterator[bytes]:
        yield base[:2]
        for n in sizes:
            yield struct.pack(">HH", 0xFFFE, n + 2) + b"\x00" * n
        yield base[2:]

    return total, gen()


class _Route:
    def __init__(self, body: bytes, content_type: str, status: int = 200, delay_s: float = 0.0,
                 headers: dict[str, str] | None = None) -> None:
        self.body, self.content_type, self.status = body, content_type, status
        self.delay_s, self.headers = delay_s, headers or {}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        img: ImageServer = self.server.owner
        path = self.path.split("?", 1)[0]
        img._count(path)
        img.hosts.append(self.headers.get("Host", ""))
        try:
            if path in ("/big.jpg", "/big-nolength.jpg"):
                total, chunks = big_jpeg_chunks(img.big_size)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                if path == "/big.jpg":
                    self.send_header("Content-Length", str(total))
                self.send_header("Connection", "close")
                self.end_headers()
                if not head:
                    for chunk in chunks:
                        if img._stopping.is_set():
                            break
                        self.wfile.write(chunk)
                return
            route = img._routes.get(path)
            if route is None:
                route = _Route(b"not found", "text/plain", 404)
            if route.delay_s and img._stopping.wait(route.delay_s):
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            for key, value in route.headers.items():
                self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            if not head:
                self.wfile.write(route.body)
        except OSError:
            pass  # the client gave up (size cap, timeout): that's what the test wanted


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins handler threads: no dangling sockets
    owner: ImageServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class ImageServer:
    """HTTP server on 127.0.0.1 (random port) in a thread, serving generated images.

    Routes: /ok.jpg, /ok.png, /wide.jpg (2100x100, ratio 21), /huge-dims.jpg (9000x1200,
    w+h > 10000), /big.jpg (> big_size bytes, streamed, with Content-Length),
    /big-nolength.jpg (same without Content-Length), /notimage (text/html), /slow.jpg
    (ok.jpg after slow_s), /redirect.jpg (302 -> /ok.jpg), /404.jpg; add more with `add()`.
    """

    def __init__(self, big_size: int = 6 * 1024 * 1024, slow_s: float = 2.0, port: int = 0) -> None:
        self.big_size, self.slow_s, self._port = big_size, slow_s, port
        self.ok_jpeg = jpeg_bytes(32, 24, gray=90)
        self.counts: Counter[str] = Counter()
        self.hosts: list[str] = []  # the Host header of every request, in order
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[str, _Route] = {
            "/ok.jpg": _Route(self.ok_jpeg, "image/jpeg"),
            "/ok.png": _Route(png_bytes(), "image/png"),
            "/wide.jpg": _Route(jpeg_bytes(2100, 100), "image/jpeg"),
            "/huge-dims.jpg": _Route(jpeg_bytes(9000, 1200), "image/jpeg"),
            "/notimage": _Route(b"<!doctype html><html><body>hello</body></html>", "text/html; charset=utf-8"),
            "/slow.jpg": _Route(self.ok_jpeg, "image/jpeg", delay_s=slow_s),
            "/redirect.jpg": _Route(b"", "text/plain", 302, headers={"Location": "/ok.jpg"}),
            "/404.jpg": _Route(b"not found", "text/plain", 404),
        }

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        assert self._server is not None, "ImageServer not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url_for(self, path: str) -> str:
        """Absolute URL of a route, e.g. url_for('/ok.jpg')."""
        return self.url + (path if path.startswith("/") else "/" + path)

    def add(self, path: str, body: bytes, content_type: str = "image/jpeg", status: int = 200,
            delay_s: float = 0.0, headers: dict[str, str] | None = None) -> str:
        """Serve `body` at `path`; returns its absolute URL."""
        self._routes[path] = _Route(body, content_type, status, delay_s, headers)
        return self.url_for(path)

    def count(self, path: str) -> int:
        """How many requests (GET/HEAD) hit `path`."""
        with self._lock:
            return self.counts[path]

    def _count(self, path: str) -> None:
        with self._lock:
            self.counts[path] += 1

    def start(self) -> ImageServer:
        """Bind and serve in a background thread."""
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="imageserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, join threads, close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @classmethod
    @contextlib.contextmanager
    def running(cls, **kwargs: Any) -> Iterator[ImageServer]:
        """`with ImageServer.running() as img: img.url_for('/ok.jpg')`."""
        server = cls(**kwargs).start()
        try:
            yield server
        finally:
            server.stop()
