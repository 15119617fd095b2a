"""Article URLs: front-matter permalinks, permalink patterns, and percent-encoding once (pure).

Patterns use the placeholders Jekyll and Hexo share: ``:year :month :day :i_month :i_day
:hour :minute :second :title :slug :name :categories :category :section``. Dates are taken
in the site's time zone (Jekyll calls ``Time#localtime`` under the site ``timezone``).

``:title`` follows the generator the preset names:

* ``jekyll``: front-matter ``slug`` or the file name without its date, through Jekyll's
  "pretty" slugify (letters, digits and ``._~!$&'()+,;=@`` kept, case kept, the rest -> ``-``);
  ``:categories`` are lower-cased, as Jekyll's URL drop does.
* ``hugo``: the content path, lower-cased (Hugo lower-cases paths): folders, then ``slug`` or the
  file name (a page bundle's ``index.md`` is named by its folder).
* anything else (Hexo): ``slug`` or the file path under the posts folder without its
  extension, sub-folders kept (``LeetCode/1092``), case kept.

``:section`` is the first folder of the file's path under the articles folder (Hugo's section:
``blog/x.md`` -> ``blog``), empty for a top-level file (no ``//`` is left behind); a pattern
that uses it leaves that folder out of ``:title`` so it is not written twice.

Every URL is percent-encoded exactly once: existing ``%XX`` escapes are kept as written
(a source that was double-encoded, ``%25E6``, stays so), a lone ``%`` becomes ``%25``,
and spaces and non-ASCII characters become UTF-8 escapes. Encoding is idempotent.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from bot.dates import filename_date

if TYPE_CHECKING:
    from bot.config import Settings

_PATH_SAFE = "!$&'()*+,/:;=@~%"  # RFC 3986 pchar and "/"; brackets are for IPv6 hosts only
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_JEKYLL_PRETTY = re.compile(r"(?:[^\w.~!$&'()+,;=@]|_)+")
_SLASHES = re.compile(r"/{2,}")
# An http(s) URL with a plain host and nothing that needs escaping: returned as is (fast path).
_CLEAN_HTTP = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#][\w\-.~!$&'()*+,;=:@/?#%]*)?", re.A)


def encode_url(url: str) -> str:
    """Percent-encode a URL once; an already-encoded URL comes back unchanged."""
    parts = urlsplit(url)
    netloc = parts.netloc if parts.netloc.isascii() else _idna_netloc(parts.netloc)

    def enc(text: str, safe: str) -> str:
        return quote(_LONE_PERCENT.sub("%25", text), safe=safe)

    return urlunsplit((parts.scheme, netloc, enc(parts.path, _PATH_SAFE),
                       enc(parts.query, _QUERY_SAFE), enc(parts.fragment, _QUERY_SAFE)))


def _idna_netloc(netloc: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    host, sep, port = hostport.partition(":")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        host = quote(host, safe="")
    return (userinfo + "@" if userinfo else "") + host + sep + port


def absolute_http_url(ref: str, base_url: str) -> str | None:
    """Resolve ``ref`` (absolute, protocol-relative, root- or document-relative) on ``base_url``.

    Returns the percent-encoded URL, or None unless it is http(s) with a host.
    """
    ref = ref.strip()
    if not ref or ref.startswith(("data:", "javascript:", "#")):
        return None
    if _CLEAN_HTTP.fullmatch(ref) and not _LONE_PERCENT.search(ref):
        return ref
    try:
        url = ref if ref.startswith(("http://", "https://")) else urljoin(base_url, ref)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return encode_url(url)


def site_url_for(ref: str, site_url: str) -> str | None:
    """A link written in front matter, resolved as Hexo's ``url_for`` / Jekyll's ``relative_url`` do.

    A root-relative path (``/img/a.png``) lives under the site URL's path
    (``https://ex.github.io/blog/img/a.png``), not at the host root; absolute and
    protocol-relative URLs are kept. None unless the result is http(s) with a host.
    """
    value = ref.strip()
    if value.startswith("/") and not value.startswith("//"):
        value = value.lstrip("/")
    return absolute_http_url(value, _encoded_root(site_url))


@functools.lru_cache(maxsize=8)
def _encoded_root(site_url: str) -> str:
    return encode_url(site_url if site_url.endswith("/") else site_url + "/")


def article_url(permalink: Any, slug: str, path: PurePosixPath, local_at: datetime,
                categories: tuple[tuple[str, ...], ...], settings: Settings) -> str | None:
    """The article's absolute URL: front-matter permalink/url, else the permalink pattern."""
    root = _encoded_root(settings.site_url)
    if isinstance(permalink, str) and permalink.strip():
        return site_url_for(permalink, settings.site_url)
    pattern = settings.permalink_pattern
    values = _placeholders(slug, path, local_at, categories, settings.permalink, ":section" in pattern)
    expanded = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)
    relative = _SLASHES.sub("/", expanded).lstrip("/")
    return root + quote(_LONE_PERCENT.sub("%25", relative), safe=_PATH_SAFE)


def _placeholders(slug: str, path: PurePosixPath, at: datetime, categories: tuple[tuple[str, ...], ...],
                  preset: str, with_section: bool = False) -> dict[str, str]:
    names: list[str] = []
    for hierarchy in categories:
        names += [n for n in hierarchy if n not in names]
    joined = "/".join(n.lower() for n in names) if preset == "jekyll" else "/".join(names)
    stem = path.stem[11:] if filename_date(path.name) else path.stem
    name = slug or stem.strip()
    section = path.parts[0] if len(path.parts) > 1 else ""
    parents = [p for p in path.parts[int(bool(with_section and section)):-1] if p != "_posts"]
    if preset == "jekyll":
        title = jekyll_slugify(name)
    elif preset == "hugo":  # Hugo's content path: folders kept, a bundle's index.md is its folder
        leaf = [] if not slug and stem in {"index", "_index"} and parents else [name]
        title = "/".join([*parents, *leaf]).lower().replace(" ", "-")
    else:
        title = slug or "/".join([*parents, stem])
    return {
        "year": f"{at.year:04d}", "month": f"{at.month:02d}", "day": f"{at.day:02d}",
        "i_month": str(at.month), "i_day": str(at.day), "hour": f"{at.hour:02d}",
        "minute": f"{at.minute:02d}", "second": f"{at.second:02d}",
        "title": title, "slug": title, "name": stem, "categories": joined, "category": joined,
        "section": section,
    }


def jekyll_slugify(text: str) -> str:
    """Jekyll ``slugify(mode: "pretty", cased: true)``."""
    return _JEKYLL_PRETTY.sub("-", text).strip("-")
