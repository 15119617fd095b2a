"""Channel posts: one article -> one Telegram HTML caption that fits, for CJK and Latin text.

Why it is built this way:

* Telegram counts limits on the *visible* text after entity parsing (TELEGRAM.md 1.1). We build
  the post from plain-text parts we escape ourselves, so the visible text is known exactly; it
  is measured in UTF-16 code units, which is never less than tdlib's code-point count.
* When the post is too long the summary shrinks first, then the title (with …), then trailing
  hashtags go; as a last resort the template is ignored. Parts are cut as plain text before
  escaping, so a cut never lands inside a tag or an ``&entity;``.
* Summaries end at a sentence end that suits Chinese (。！？；) and English (". "), else at a
  word boundary, never mid-word; a cut summary always ends with …
* Hashtags keep letters, digits and underscores (CJK included): Telegram only links those.
  Every level of a category hierarchy is a hashtag (新媒体/趣头条 -> #新媒体 #趣头条): followers
  search by the broad name as often as by the narrow one.
* Cuts never split a grapheme: a ZWJ emoji, a flag, an accent or a skin tone stays whole.
"""

from __future__ import annotations

import hashlib
import html
import re
import string
import unicodedata
from urllib.parse import unquote

from telegram.constants import MessageLimit

from bot.config import Settings
from bot.models import Article, Post

ELLIPSIS = "…"
PLACEHOLDERS = ("title", "summary", "hashtags", "link", "author", "date")
LINK_TEXT_UNITS = 80  # longest shown link text; the href keeps the full URL
MIN_SUMMARY_UNITS = 24  # a shorter summary says nothing; drop it instead
_MAX_CLUSTER = 64  # longest grapheme cluster kept whole by a cut (a ZWJ family with skin tones is ~15)
_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot);")
_NON_WORD = re.compile(r"[\W]+")
_LANGUAGE_SUFFIX = re.compile(r"(?<=[^\W\d_])(\++|#)(?![^\W\d_])")  # C++, C#, F#, C++17
_SENTENCE_END = re.compile(r"(?:[。！？；!?;]|\.(?=\s|$))[”’」』）)\]】\"']*")
_TRAILING_PUNCT = " \t\n,，、:：;；-—(（[【「『“‘"
_TRAILING_SPACE = re.compile(r"[ \t]+(?=\n|$)")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def visible_text(post_html: str) -> str:
    """The text a reader sees once Telegram has parsed the HTML (tags gone, entities decoded)."""
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), _TAG.sub("", post_html))


def visible_length(post_html: str) -> int:
    """Visible length of Telegram HTML, in UTF-16 code units (see module docstring)."""
    return utf16_len(visible_text(post_html))


def post_hash(post: Post) -> str:
    """Fingerprint of what the channel shows, to tell whether an edit is needed."""
    data = "\x00".join((post.html, post.photo_url or "", post.button_text, post.url))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:20]


def template_problems(template: str) -> list[str]:
    """Problems with a post template, for config validation (empty list when fine)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [f"post_template: {exc}"]
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    return [f"post_template: unknown placeholder {{{f}}} (known: {', '.join(PLACEHOLDERS)})" for f in unknown]


def _prefix_units(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 code units, ending between graphemes."""
    if units <= 0:
        return ""
    if utf16_len(text) == len(text):
        return text[: _grapheme_boundary(text, units)]
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return text[: _grapheme_boundary(text, i)]
    return text


def _extends(ch: str) -> bool:
    """True for characters that belong to the grapheme before them (UAX #29 Extend/ZWJ/SpacingMark)."""
    code = ord(ch)
    return (code == 0x200D or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF
            or 0xE0020 <= code <= 0xE007F or 0xE0100 <= code <= 0xE01EF
            or unicodedata.category(ch) in ("Mn", "Me", "Mc"))


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _grapheme_boundary(text: str, cut: int) -> int:
    """``cut`` moved back to a grapheme boundary, so a cut keeps emoji, flags and accents whole.

    Simplified UAX #29, stdlib only: no break before an extending character or after a ZWJ,
    regional indicators pair up. A runaway cluster (thousands of stacked marks) is cut anyway.
    """
    start = cut
    while 0 < cut < len(text) and start - cut <= _MAX_CLUSTER:
        if _extends(text[cut]) or text[cut - 1] == "\u200d":
            cut -= 1
        elif _is_regional(text[cut]) and _is_regional(text[cut - 1]):
            run = cut
            while run > 0 and _is_regional(text[run - 1]):
                run -= 1
            return cut - (cut - run) % 2
        else:
            return cut
    return cut if start - cut <= _MAX_CLUSTER else start

def _is_word_char(ch: str) -> bool:
    """Letters and digits of scripts that separate words with spaces (not CJK)."""
    if not ch.isalnum():
        return ch in "'’-_" or unicodedata.category(ch).startswith("M")
    return unicodedata.east_asian_width(ch) not in ("W", "F")


def cut_text(text: str, units: int) -> str:
    """``text`` within ``units`` UTF-16 units: whole if it fits, else cut and ended with …

    The cut prefers the last sentence end past 40 % of the room, then a word
    boundary; CJK text can be cut between any two characters.
    """
    text = text.strip()
    if utf16_len(text) <= units:
        return text
    window = _prefix_units(text, units - 1)
    if not window:
        return ""
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() * 5 >= len(window) * 2]
    if ends:
        return window[: ends[-1]] + ELLIPSIS
    cut = len(window)
    if cut < len(text) and _is_word_char(text[cut]) and _is_word_char(window[-1]):
        while cut > 0 and _is_word_char(window[cut - 1]):
            cut -= 1
        if cut * 3 < len(window):  # one giant "word" (a URL, a hash): cut it anyway
            cut = len(window)
    return window[:cut].rstrip(_TRAILING_PUNCT) + ELLIPSIS


def make_hashtag(name: str) -> str:
    """``name`` as a Telegram hashtag body ("新 媒体" -> "新_媒体"); "" if none is possible.

    ``+`` and ``#`` right after a word are spelled out (C++ -> Cpp, C# -> CSharp) so that
    languages stay apart instead of all becoming ``#C``.
    """
    text = _LANGUAGE_SUFFIX.sub(_spell_suffix, unicodedata.normalize("NFKC", name))
    body = _NON_WORD.sub("_", text).strip("_")
    return "" if not body or body.replace("_", "").isdigit() else body


def _spell_suffix(match: re.Match[str]) -> str:
    run = match.group(1)
    if run == "#":
        return "Sharp" if match.string[match.start() - 1].isupper() else "sharp"
    return "p" * len(run)


def hashtags(article: Article, limit: int) -> list[str]:
    """Hashtags for every category level (parent first), then tags; valid, de-duplicated ignoring case."""
    seen: set[str] = set()
    out: list[str] = []
    names = [name for path in article.categories for name in path] + list(article.tags)
    for name in names:
        if len(out) >= limit:
            break
        body = make_hashtag(name)
        if body and body.casefold() not in seen:
            seen.add(body.casefold())
            out.append("#" + body)
    return out


def _clean(text: str) -> str:
    """Drop control characters and lone surrogates: Telegram rejects them, UTF-16 cannot hold them."""
    return _CONTROL.sub("", text)


def _link_text(url: str) -> str:
    shown = unquote(url, errors="replace")
    shown = shown.removeprefix("https://").removeprefix("http://")
    return cut_text(shown, LINK_TEXT_UNITS) if utf16_len(shown) > LINK_TEXT_UNITS else shown


class _Parts:
    """Plain-text parts of one post; ``html()`` escapes and lays them out."""

    def __init__(self, article: Article, summary: str, settings: Settings) -> None:
        self.title = " ".join(_clean(article.title).split())
        self.summary = _clean(summary)
        self.tags = hashtags(article, settings.post_max_hashtags)
        self.url = article.url
        self.link = _link_text(article.url)
        self.author = " ".join(_clean(article.author or settings.author).split())
        self.date = article.published_at.astimezone(settings.zone).strftime("%Y-%m-%d")
        self.template = settings.post_template

    def values(self) -> dict[str, str]:
        e = html.escape
        return {
            "title": f"<b>{e(self.title)}</b>" if self.title else "",
            "summary": e(self.summary),
            "hashtags": " ".join(self.tags),
            "link": f'<a href="{e(self.url)}">{e(self.link)}</a>',
            "author": e(self.author),
            "date": e(self.date),
        }

    def html(self) -> str:
        values = self.values()
        out: list[str] = []
        for literal, name, _, _ in string.Formatter().parse(self.template):
            out.append(html.escape(literal, quote=False))
            if name is not None:
                out.append(values.get(name, ""))
        text = _TRAILING_SPACE.sub("", "".join(out).replace("\r\n", "\n"))
        return _MANY_NEWLINES.sub("\n\n", text).strip()

    def minimal_html(self, limit: int) -> str:
        """Title and link only, whatever the template: the guaranteed fallback."""
        link = f'<a href="{html.escape(self.url)}">{html.escape(self.link)}</a>'
        room = limit - utf16_len(self.link) - 1
        title = cut_text(self.title, room)
        return f"<b>{html.escape(title)}</b>\n{link}" if title else link


def _summary_source(article: Article, body_text: str, max_chars: int) -> str:
    text = article.summary.strip() or body_text.strip()
    if text.startswith(article.title.strip()) and not article.summary.strip():
        text = text[len(article.title.strip()):].strip()  # bodies often repeat the title
    return cut_text(text, max_chars)


def fit(parts: _Parts, limit: int) -> str:
    """Shrink summary, then title, then hashtags until the visible text is within ``limit``."""
    result = parts.html()
    over = visible_length(result) - limit
    if over > 0 and parts.summary:
        room = utf16_len(parts.summary) - over
        parts.summary = cut_text(parts.summary, room) if room >= MIN_SUMMARY_UNITS else ""
        result = parts.html()
        over = visible_length(result) - limit
    if over > 0 and parts.title:
        parts.title = cut_text(parts.title, max(utf16_len(parts.title) - over, 2))
        result = parts.html()
        over = visible_length(result) - limit
    while over > 0 and parts.tags:
        parts.tags.pop()
        result = parts.html()
        over = visible_length(result) - limit
    return result if over <= 0 else parts.minimal_html(limit)


def render_post(article: Article, body_text: str, settings: Settings) -> Post:
    """The channel post for ``article``: caption within Telegram's limit, HTML-escaped.

    ``body_text`` is the plain text of the rendered body, used when the article has no
    summary of its own.
    """
    photo_url = article.image_url if (article.image_url or "").startswith(("http://", "https://")) else None
    limit = int(MessageLimit.CAPTION_LENGTH if photo_url else MessageLimit.MAX_TEXT_LENGTH)
    parts = _Parts(article, _summary_source(article, body_text, settings.summary_chars), settings)
    return Post(
        article_id=article.id,
        html=fit(parts, limit),
        url=article.url,
        photo_url=photo_url,
        button_text=settings.button_text.strip(),
        extras={"title": parts.title},
    )
