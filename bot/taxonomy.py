"""Categories and tags, read the way each generator reads them (pure).

Category styles (setting ``category_style``):

* ``jekyll``: a list or a space-separated string is a set of flat categories, and folders
  above ``_posts/`` are categories too (``news/_posts/x.md`` -> ``news``).
* ``hexo``: a list is one hierarchy (parent > child); a list containing lists is several
  hierarchies; a string is one category, spaces and all.
* ``hugo``: ``categories`` and ``tags`` are flat taxonomies; a string is one term.
* ``auto`` (default), per file, first match wins: TOML front matter or ``permalink = "hugo"``
  -> hugo; ``permalink = "jekyll"`` -> jekyll; a file under ``source/_posts`` (or an
  ``articles_dir`` that ends in it) -> hexo, whatever its name (Hexo sites often date their
  file names too); a ``_posts`` folder or a ``YYYY-MM-DD-`` file name -> jekyll; else hexo.
  ``permalink = "hexo"`` is the default, so it says nothing about the site and is no signal.

Names are stripped (zero-width characters too), empty ones dropped, and duplicates that
differ only in case or full/half width merged (the first spelling wins). A name that could
act as a path (``../../etc``, ``/x``) or holds control or bidi-override characters is
rejected: the file is reported bad rather than published under a hostile feed name.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import Any

from bot.config import Settings
from bot.dates import filename_date
from bot.errors import ArticleError

_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
_UNSAFE_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_NAME_CHARS = 100
MAX_CATEGORIES = 50
MAX_TAGS = 100
MAX_DEPTH = 10
_MAX_ITEMS = 1000  # names looked at before giving up (after cleaning, the MAX_* limits apply)
_HEXO_POSTS = ("source", "_posts")


def category_style(settings: Settings, source: str | PurePosixPath, kind: str) -> str:
    """The style ``source`` (path under ``articles_dir``) is read in; see the module docstring."""
    style = getattr(settings, "category_style", "auto")
    if style in {"jekyll", "hexo", "hugo"}:
        return style
    path = PurePosixPath(source)
    if kind == "toml" or settings.permalink == "hugo":
        return "hugo"
    if settings.permalink == "jekyll":
        return "jekyll"
    folders = path.parts[:-1]
    if tuple(settings.articles_dir.parts[-2:]) == _HEXO_POSTS or _has_run(folders, _HEXO_POSTS):
        return "hexo"
    if "_posts" in folders or filename_date(path.name) is not None:
        return "jekyll"
    return "hexo"


def _has_run(parts: tuple[str, ...], run: tuple[str, ...]) -> bool:
    return any(parts[i:i + len(run)] == run for i in range(len(parts) - len(run) + 1))


def categories_of(low: dict[str, Any], path: PurePosixPath, style: str, source: str) -> tuple[tuple[str, ...], ...]:
    paths: list[tuple[Any, ...]] = []
    if style == "jekyll" and "_posts" in path.parts[:-1]:
        paths += [(folder,) for folder in path.parts[: path.parts.index("_posts")]]
    for key in ("categories", "category"):
        value = low.get(key)
        if isinstance(value, dict):
            raise ArticleError(source, f"{key} must be a name or a list, not a mapping")
        try:
            if isinstance(value, list) and style == "hexo" and any(isinstance(v, list) for v in value):
                paths += [tuple(_flat(v)) if isinstance(v, list) else (v,) for v in value[:_MAX_ITEMS]]
            elif isinstance(value, list) and style == "hexo":
                paths.append(tuple(_flat(value)))
            else:
                paths += [(v,) for v in _terms(value, style)]
        except ValueError as exc:
            raise ArticleError(source, f"{key}: {exc}") from None
    cleaned = _unique([tuple(n for n in (_name(v, source, "category") for v in p) if n) for p in paths])
    if len(cleaned) > MAX_CATEGORIES or any(len(p) > MAX_DEPTH for p in cleaned):
        raise ArticleError(source, f"too many categories ({len(cleaned)}; at most {MAX_CATEGORIES}, {MAX_DEPTH} levels)")
    return tuple(p for p in cleaned if p)


def tags_of(low: dict[str, Any], style: str, source: str) -> tuple[str, ...]:
    names: list[tuple[str, ...]] = []
    for key in ("tags", "tag"):
        value = low.get(key)
        if isinstance(value, dict):
            raise ArticleError(source, f"{key} must be a name or a list, not a mapping")
        try:
            terms = _terms(value, style)
        except ValueError as exc:
            raise ArticleError(source, f"{key}: {exc}") from None
        names += [(n,) for n in (_name(v, source, "tag") for v in terms) if n]
    tags = tuple(p[0] for p in _unique(names))
    if len(tags) > MAX_TAGS:
        raise ArticleError(source, f"too many tags ({len(tags)}; at most {MAX_TAGS})")
    return tags


def _terms(value: Any, style: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return _flat(value)
    if isinstance(value, str) and style == "jekyll":
        return value.split()[:_MAX_ITEMS]
    return [value]


def _flat(values: list[Any]) -> list[Any]:
    """Nested lists -> one list, bounded: YAML aliases can make a small file expand without end."""
    out: list[Any] = []
    stack = [iter(values)]
    while stack:
        for v in stack[-1]:
            if isinstance(v, list):
                if len(stack) >= MAX_DEPTH:
                    raise ValueError(f"lists nested more than {MAX_DEPTH} deep")
                stack.append(iter(v))
                break
            if not isinstance(v, dict):
                out.append(v)
                if len(out) > _MAX_ITEMS:
                    raise ValueError(f"more than {_MAX_ITEMS} names")
        else:
            stack.pop()
    return out


def _name(value: Any, source: str, what: str) -> str:
    """A clean category/tag name; a name that could act as a path or control code is rejected."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    text = _ZERO_WIDTH.sub("", text).strip()
    if _UNSAFE_NAME.search(text):
        raise ArticleError(source, f"unsafe {what} name {text!r} (control characters)")
    if (text.startswith(("/", "\\", ".")) or "/." in text or "\\." in text) and (
            text.startswith(("/", "\\")) or any(p in {".", ".."} for p in re.split(r"[/\\]", text))):
        raise ArticleError(source, f"unsafe {what} name {text!r} (looks like a file path)")
    if len(text) > MAX_NAME_CHARS:
        raise ArticleError(source, f"{what} name longer than {MAX_NAME_CHARS} characters: {text[:40]!r}…")
    return text


def _unique(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Drop duplicates that differ only in case or full/half width; the first spelling wins."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for p in paths:
        key = tuple(unicodedata.normalize("NFKC", n).casefold() for n in p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
