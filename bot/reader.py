"""One article file -> Article, read the way its generator (Jekyll, Hexo, Hugo) reads it (pure).

Front matter is YAML (``---``) or TOML (``+++``), after optional blank lines (Hexo and
python-frontmatter skip them; Jekyll would not, see corpus/SOURCES.md seed 000). A file
without front matter is still an article, as in all three generators. The split is our own
(BOM, CRLF, leading blank lines, unclosed fences get clear reasons); YAML is loaded by
python-frontmatter's handler (safe, libyaml's C loader), TOML by the standard library's
``tomllib`` (python-frontmatter's TOML handler needs the slow, unmaintained ``toml`` package).

Dates: ``date`` (or Hugo's ``publishDate``), else the Jekyll file-name date, else the file's
mtime, all read by ``bot.dates``. A date that is present but unreadable (``date:  +0800``)
makes the file bad input, as Jekyll does: it is reported with the reason and not published
(a guessed date could post stale news as new); a known article keeps its last good version
until the file is fixed. An unreadable ``updated``/``lastmod`` is only logged.

Bodies are not rendered here (``bot.markup`` does that when a feed or post needs them):
the title and lead-image fallbacks use cheap regular expressions over the raw body.
"""

from __future__ import annotations

import codecs
import html
import logging
import re
import tomllib
from datetime import datetime, time
from pathlib import PurePosixPath
from typing import Any

import frontmatter
import yaml

from bot.config import Settings
from bot.dates import filename_date, parse_date
from bot.errors import ArticleError
from bot.models import Article
from bot.permalink import absolute_http_url, article_url, encode_url, site_url_for
from bot.taxonomy import categories_of, category_style, tags_of

logger = logging.getLogger(__name__)

# python-frontmatter's handler: safe loading with libyaml's C loader when it is built in.
_YAML = frontmatter.YAMLHandler()
_LEADING_BLANK = re.compile(r"\A(?:[ \t]*\n)+")
_YAML_FM = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_TOML_FM = re.compile(r"\A\+\+\+[ \t]*\n(?:(.*?)\n)?\+\+\+[ \t]*(?:\n|\Z)", re.S)
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
_TAG = re.compile(r"<!--.*?-->|<[A-Za-z/!][^>]*>", re.S)
_SPACE = re.compile(r"\s+")
_HEADING = re.compile(
    r"^#{1,6}[ \t]+([^\n]+?)[ \t#]*$|^([^\s<][^\n]*)\n=+[ \t]*$|<h[1-3]\b[^>]*>(.*?)</h[1-3]\s*>",
    re.M | re.S | re.I,
)
# Markdown image destinations: <angle brackets> may hold spaces (CommonMark), bare ones may not.
_IMAGE = re.compile(r"<img\b[^>]*>|!\[[^\]\n]*\]\(\s*(?:<([^<>\n]+)>|([^)\s<>]+))", re.I)
_IMG_ATTR = re.compile(r"""\s(data-src|data-original|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_BODY_SCAN_CHARS = 200_000
DATE_KEYS = ("date", "publishdate", "pubdate")
UPDATED_KEYS = ("updated", "lastmod", "last_modified_at", "modified")
SUMMARY_KEYS = ("description", "excerpt", "summary")
UID_KEYS = ("id", "uuid", "abbrlink")


def decode(data: bytes, source: str) -> tuple[str, list[str]]:
    """Bytes -> text with ``\\n`` line ends. UTF-8 (BOM or not), else GB18030 with a warning."""
    warnings: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise ArticleError(source, "cannot decode: broken UTF-16") from None
        warnings.append("encoded as UTF-16; read it as such (save it as UTF-8)")
        return _checked_text(text, source), warnings
    if not data.strip():
        raise ArticleError(source, "empty file")
    if b"\x00" in data:
        raise ArticleError(source, "binary file (contains NUL bytes), not an article")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ArticleError(source, f"cannot decode: not UTF-8 (bad byte at offset {exc.start}) nor GB18030") from None
        warnings.append(f"not UTF-8 (bad byte at offset {exc.start}); read it as GB18030")
    return _checked_text(text, source), warnings


def _checked_text(text: str, source: str) -> str:
    sample = text[:8192]
    if not sample.strip():
        raise ArticleError(source, "empty file")
    if _CONTROL.search(sample) and len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
        raise ArticleError(source, "binary file (many control characters), not an article")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _fences(text: str, source: str) -> tuple[str, str, str]:
    """Text -> (kind, raw front matter, body), by the fence rules alone (nothing is parsed)."""
    stripped = _LEADING_BLANK.sub("", text, count=1)
    for kind, pattern in (("yaml", _YAML_FM), ("toml", _TOML_FM)):
        match = pattern.match(stripped)
        if match:
            return kind, match.group(1) or "", stripped[match.end():]
    first_line = stripped.split("\n", 1)[0].rstrip()
    if first_line in {"---", "+++"}:
        raise ArticleError(source, f"front matter opened with {first_line} is never closed")
    return "none", "", text


def split_front_matter(text: str, source: str = "") -> tuple[dict[str, Any], str, str]:
    """Text -> (metadata, body, kind) with kind "yaml", "toml" or "none"."""
    kind, raw, body = _fences(text, source)
    return (_load(kind, raw, source) if kind != "none" else {}), body, kind


def _load(kind: str, raw: str, source: str) -> dict[str, Any]:
    try:
        meta = tomllib.loads(raw) if kind == "toml" else _YAML.load(raw)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 2}" if exc.problem_mark else ""
        raise ArticleError(source, f"broken YAML front matter: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise ArticleError(source, f"broken YAML front matter: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ArticleError(source, f"broken TOML front matter: {exc}") from None
    except RecursionError:
        raise ArticleError(source, "front matter is nested too deeply") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ArticleError(source, f"front matter is not a mapping of keys (it is a {type(meta).__name__})")
    return {str(k): v for k, v in meta.items()}


def read_body(data: bytes, source: str = "") -> str:
    """The raw body (after the front matter), for rendering by ``bot.markup``.

    Only the fences are found, the front matter is not parsed: the file was parsed when it
    was scanned, and feeds re-read thousands of bodies."""
    text, _ = decode(data, source)
    return _fences(text, source)[2]


def parse_article(data: bytes, source: str, mtime: float, settings: Settings, content_hash: str) -> Article:
    """One file's bytes -> Article (``id`` left empty: the scanner fixes it at first sight)."""
    text, warnings = decode(data, source)
    for warning in warnings:
        logger.warning("%s: %s", source, warning)
    meta, body, kind = split_front_matter(text, source)
    low = _lower_keys(meta)
    zone = settings.zone
    path = PurePosixPath(source)
    published_at = _published_at(low, path.name, mtime, zone, source)
    style = category_style(settings, path, kind)
    categories = categories_of(low, path, style, source)
    slug = _text(low.get("slug"))
    url = article_url(low.get("permalink") or low.get("url"), slug, path, published_at.astimezone(zone),
                      categories, settings)
    if url is None:
        raise ArticleError(source, "permalink/url in the front matter is not an http(s) URL or site path")
    return Article(
        source=source, id="", url=url, published_at=published_at,
        title=_text(low.get("title")) or _first_heading(body) or _title_from_name(path),
        updated_at=_updated_at(low, published_at, zone, source),
        categories=categories, tags=tags_of(low, style, source),
        author=_author(low.get("author") or low.get("authors")),
        summary=next((s for s in (_plain(low.get(k)) for k in SUMMARY_KEYS) if s), ""),
        image_url=_lead_image(low, body, settings, url),
        content_hash=content_hash,
        uid=next((u for u in (_uid(low.get(k)) for k in UID_KEYS) if u), ""),
        body_format="html" if path.suffix.lower() in {".html", ".htm"} else "markdown",
        is_draft=_is_draft(low, path),
    )


def _lower_keys(meta: dict[str, Any]) -> dict[str, Any]:
    """Keys are matched case-insensitively (Hugo's ``publishDate``); an exact lower-case key wins."""
    low = {k.lower(): v for k, v in meta.items() if k != k.lower()}
    low.update((k, v) for k, v in meta.items() if k == k.lower())
    return low


def _published_at(low: dict[str, Any], name: str, mtime: float, zone: Any, source: str) -> datetime:
    for key in DATE_KEYS:
        value = low.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            return parse_date(value, zone)
        except ValueError as exc:
            raise ArticleError(source, f"unreadable {key}: {exc}") from None
    day = filename_date(name)
    if day is not None:
        return datetime.combine(day, time(), tzinfo=zone)
    return datetime.fromtimestamp(mtime, tz=zone)


def _updated_at(low: dict[str, Any], published_at: datetime, zone: Any, source: str) -> datetime:
    for key in UPDATED_KEYS:
        value = low.get(key)
        if value is None or value == "":
            continue
        try:
            return max(parse_date(value, zone), published_at)
        except ValueError as exc:
            logger.warning("%s: ignoring unreadable %s (%s)", source, key, exc)
    return published_at


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return _SPACE.sub(" ", html.unescape(_ZERO_WIDTH.sub("", str(value)))).strip()


def _plain(value: Any) -> str:
    """Front-matter text that may hold HTML -> plain text on one line."""
    return _text(_TAG.sub(" ", value)) if isinstance(value, str) else _text(value)


def _author(value: Any) -> str:
    if isinstance(value, dict):
        return _text(value.get("name"))
    if isinstance(value, list):  # top-level names only: YAML aliases could nest without end
        return ", ".join(n for n in (_author(v) for v in value[:20] if not isinstance(v, list)) if n)
    return _text(value)


def _uid(value: Any) -> str:
    return "" if isinstance(value, (bool, dict, list)) or value is None else str(value).strip()


def _is_draft(low: dict[str, Any], path: PurePosixPath) -> bool:
    def truth(v: Any) -> bool | None:
        if isinstance(v, bool):
            return v
        return {"true": True, "yes": True, "false": False, "no": False}.get(str(v).strip().lower())

    return "_drafts" in path.parts[:-1] or truth(low.get("published")) is False or truth(low.get("draft")) is True


def _first_heading(body: str) -> str:
    match = _HEADING.search(body, 0, _BODY_SCAN_CHARS)
    return _plain(next(g for g in match.groups() if g is not None)) if match else ""


def _title_from_name(path: PurePosixPath) -> str:
    stem = path.stem
    if filename_date(stem + "-") is not None:
        stem = stem[11:]
    return stem.strip(" -_") or path.stem


def _lead_image(low: dict[str, Any], body: str, settings: Settings, url: str) -> str | None:
    """First image-key value that is an http(s) URL, else the body's first http(s) image.

    Front-matter paths are site paths (themes pass them through ``url_for``), so ``/img/a.png``
    lives under the site URL's path; body images resolve against the article URL, as a browser does.
    """
    for key in settings.image_keys:
        value = low.get(key.lower())
        if isinstance(value, dict):
            value = value.get("path") or value.get("url") or value.get("src")
        elif isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            found = site_url_for(html.unescape(value.strip()), settings.site_url)
            if found:
                return found
    for match in _IMAGE.finditer(body, 0, _BODY_SCAN_CHARS):
        markdown = match.group(1) or match.group(2)
        candidates = [markdown] if markdown else _img_sources(match.group(0))
        for candidate in candidates:
            found = absolute_http_url(html.unescape(candidate.strip()), url)
            if found:
                return encode_url(found)
    return None


def _img_sources(tag: str) -> list[str]:
    """An <img> tag's sources, lazy-loading ``data-src``/``data-original`` before ``src``."""
    found = {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or "" for m in _IMG_ATTR.finditer(tag)}
    return [found[k] for k in ("data-src", "data-original", "src") if found.get(k)]
