"""Reply text for admins: escaped HTML, split into messages Telegram accepts.

Telegram counts a message's length after parsing entities, in characters; we measure the raw
HTML in UTF-16 units, which is never less, so every chunk is accepted whatever the content.
Lines are the unit of splitting: each line must be self-contained HTML (tags closed on it).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from telegram.constants import MessageLimit

LIMIT = int(MessageLimit.MAX_TEXT_LENGTH)
_TAG = re.compile(r"<[^>]*>")


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def escape_fit(text: str, limit: int) -> str:
    """``html.escape(text)``, cut (with an ellipsis) so the result is at most ``limit`` units."""
    escaped = html.escape(text, quote=False)
    if units(escaped) <= limit:
        return escaped
    out: list[str] = []
    used = 1  # the ellipsis
    for ch in text:
        piece = html.escape(ch, quote=False)
        n = units(piece)
        if used + n > limit:
            break
        out.append(piece)
        used += n
    return "".join(out) + "…"


def _split_long_line(line: str, limit: int) -> list[str]:
    """A single line over the limit loses its markup and is cut into plain escaped pieces."""
    pieces: list[str] = []
    buf: list[str] = []
    used = 0
    for ch in html.unescape(_TAG.sub("", line)):
        piece = html.escape(ch, quote=False)
        n = units(piece)
        if used + n > limit:
            pieces.append("".join(buf))
            buf, used = [], 0
        buf.append(piece)
        used += n
    if buf:
        pieces.append("".join(buf))
    return pieces


def split_lines(lines: Iterable[str], limit: int = LIMIT) -> list[str]:
    """Join HTML lines into as few messages as possible, each at most ``limit`` units."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        parts = [line] if units(line) <= limit else _split_long_line(line, limit)
        for part in parts:
            n = units(part) + (1 if current else 0)
            if current and size + n > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
                n = units(part)
            current.append(part)
            size += n
    if current:
        chunks.append("\n".join(current))
    return [c for c in chunks if c.strip()] or ["(nothing)"]


def code(text: str) -> str:
    """Monospace, tap-to-copy in Telegram clients."""
    return f"<code>{html.escape(text, quote=False)}</code>"


def esc(text: str) -> str:
    return html.escape(text, quote=False)
