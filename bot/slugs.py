"""Readable, unique and safe slugs for category and tag feeds.

A slug becomes a folder or file name under ``feeds/`` and part of a public URL that readers
subscribe to, so it must be:

* readable: CJK and other letters are kept by default, as Hexo and Jekyll do
  (``slug_style = "unicode"``); ``"ascii"`` transliterates with unidecode, as Pelican does;
  ``slug_map`` names a slug explicitly (by the name, or by the full ``parent/child`` path);
* safe: only letters, marks, digits and ``-`` survive, so ``/``, ``\\``, ``..`` and leading dots
  cannot appear; empty names become ``untitled``; Windows device names (``con``, ``nul``, ...)
  get a suffix; long names are cut to ~80 bytes of UTF-8 plus a short hash of the full name;
* unique and stable: two names never share a slug. Clashes get ``-2``, ``-3``... in name order,
  and a slug assigned in an earlier run (``keep``) stays with its name, so adding a category
  never moves an existing feed.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from unidecode import unidecode

logger = logging.getLogger(__name__)

MAX_SLUG_BYTES = 80
FALLBACK = "untitled"
RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                      *(f"lpt{i}" for i in range(10))})

Key = str | tuple[str, ...]


def _clean(text: str) -> str:
    """Letters, marks and digits kept (lower-cased); every other run becomes one ``-``."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        if unicodedata.category(ch)[0] in "LMN":
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def _cap(slug: str, full_name: str) -> str:
    data = slug.encode("utf-8")
    if len(data) <= MAX_SLUG_BYTES:
        return slug
    digest = hashlib.sha1(full_name.encode("utf-8")).hexdigest()[:8]
    head = data[: MAX_SLUG_BYTES - len(digest) - 1].decode("utf-8", "ignore").rstrip("-")
    return f"{head}-{digest}"


def _safe(slug: str, full_name: str) -> str:
    slug = _clean(slug) or FALLBACK
    if slug in RESERVED:
        slug += "-x"
    return _cap(slug, full_name)


def slugify(name: str, style: str = "unicode", slug_map: Mapping[str, str] | None = None) -> str:
    """The slug of one name: ``slug_map`` first, else cleaned (transliterated if ``ascii``)."""
    mapped = (slug_map or {}).get(name)
    if mapped is not None:
        return _safe(mapped, name)
    text = unidecode(name) if style == "ascii" else name
    return _safe(text, name)


def display_name(key: Key) -> str:
    """``parent/child`` for a category path, the name itself for a flat name or tag."""
    return key if isinstance(key, str) else "/".join(key)


def slugify_path(path: tuple[str, ...], style: str = "unicode",
                 slug_map: Mapping[str, str] | None = None) -> str:
    """One slug for a full category path: ``新媒体/趣头条`` -> ``新媒体-趣头条``."""
    full = "/".join(path)
    mapped = (slug_map or {}).get(full)
    if mapped is not None or len(path) == 1:
        return slugify(full if len(path) > 1 else path[0], style, slug_map)
    parts = [slugify(part, style, slug_map) for part in path]
    return _safe("-".join(parts), full)


def assign_slugs(names: Iterable[Key], style: str = "unicode",
                 slug_map: Mapping[str, str] | None = None,
                 keep: Mapping[str, str] | None = None,
                 taken: Iterable[str] = (),
                 aliases: Mapping[Key, Sequence[Key]] | None = None) -> dict[Key, str]:
    """A unique, safe slug for every name (a string, or a category path tuple).

    ``keep`` maps display names to the slugs they had before; a name keeps its slug while
    that slug is still safe and nobody with a stronger claim (an explicit ``slug_map``) takes
    it. ``taken`` lists slugs nobody may get. New clashes are resolved in name order.
    ``aliases`` gives other spellings merged into a name (``Energy`` for ``energy``): their
    ``slug_map`` entries and kept slugs count for it, so merging two feeds keeps one of their
    URLs, the plain slug first (``energy`` over ``energy-2``), then the name's own.
    """
    keys = sorted(set(names), key=lambda k: (display_name(k), isinstance(k, tuple)))
    spellings = {k: [k, *(aliases or {}).get(k, ())] for k in keys}
    sources = {k: next((s for s in spellings[k] if display_name(s) in (slug_map or {})), k) for k in keys}
    wanted = {k: (slugify(s, style, slug_map) if isinstance(s, str) else slugify_path(s, style, slug_map))
              for k, s in sources.items()}
    used = set(taken)
    result: dict[Key, str] = {}
    mapped = {k for k in keys if display_name(sources[k]) in (slug_map or {})}
    previous = keep or {}
    # Explicit map entries claim first, then previously assigned slugs, then the rest.
    for k in [k for k in keys if k in mapped]:
        result[k] = _claim(wanted[k], used, k)
    for k in keys:
        olds = [old for s in spellings[k] if (old := previous.get(display_name(s)))]
        olds.sort(key=lambda old: old != wanted[k])  # stable: then the name's own, then its aliases
        old = next((o for o in olds if o not in used and _is_variant(o, wanted[k])), None)
        if k not in result and old:
            result[k] = old
            used.add(old)
    for k in keys:
        if k not in result:
            result[k] = _claim(wanted[k], used, k)
    return result


def _is_variant(old: str, wanted: str) -> bool:
    """``old`` is ``wanted`` or a numbered variant of it (settings may have changed since)."""
    return old == wanted or (old.startswith(wanted + "-") and old[len(wanted) + 1:].isdigit())


def _claim(slug: str, used: set[str], key: Key) -> str:
    candidate, n = slug, 1
    while candidate in used:
        n += 1
        candidate = f"{slug}-{n}"
    if candidate != slug:
        logger.info("Slug %r of %r is taken; using %r", slug, display_name(key), candidate)
    used.add(candidate)
    return candidate
