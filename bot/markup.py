"""Article bodies to safe, self-contained HTML, and HTML to plain text.

Feed readers, RSS-to-email tools and Telegram all show article HTML out of the site's context,
so bodies are made safe and self-contained here, once:

* Markdown is rendered as CommonMark (plus tables and strikethrough) with raw HTML passed
  through, the way Jekyll, Hexo and Hugo render posts; ``.html`` bodies pass through as is.
* Lazy images (``data-src``, ``data-original``, ``data-lazy-src``) get a real ``src``: readers run
  no JavaScript, so a placeholder would be all they show (hexo-generator-feed PR #273).
* Every ``href``/``src``/``poster`` is made absolute against the article URL, protocol-relative
  ones included, and percent-encoded once: readers ignore ``xml:base`` (jekyll-feed#185, #395).
* nh3 (ammonia) then sanitises with a whitelist. Kept: text structure, links, images, figures,
  tables, code, and ``video``/``audio`` with controls. Dropped with their content: ``script``,
  ``style``, ``iframe``, ``object``, ``embed``, forms and ``template`` (embeds track readers and
  most readers block them anyway). Dropped: every ``on*`` handler, ``style``/``class``/``id``,
  and any URL whose scheme is not http, https or mailto.
* Characters XML cannot carry are removed (FEEDS.md P1, P19), so one bad byte never costs a feed.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, urljoin, urlsplit

import html2text
import lxml.etree
import lxml.html
import nh3
from markdown_it import MarkdownIt

# C0/C1 controls except \t \n \r, surrogates, non-characters, and U+FFFD left by bad decodes.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff\ufffd]")
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"
_LAZY_ATTRS = ("data-src", "data-original", "data-lazy-src", "data-actualsrc", "data-url")
_URL_ATTRS = ("href", "src", "poster", "cite")
_SCHEMES = {"http", "https", "mailto"}
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "form", "template",
                      "noscript", "textarea", "select", "button", "svg", "math", "frameset"}
_TAGS = (set(nh3.ALLOWED_TAGS) | {"video", "audio", "source", "track"}) - _DROP_WITH_CONTENT
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"lang", "title", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height", "title"},
    "video": {"src", "poster", "controls", "width", "height", "loop", "muted", "preload"},
    "audio": {"src", "controls", "loop", "preload"},
    "source": {"src", "type", "media"},
    "track": {"src", "kind", "srclang", "label"},
    "time": {"datetime"},
    "ol": {"start", "reversed", "type"},
}
_BLOCK = {"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5",
          "h6", "blockquote", "pre", "table", "tr", "figure", "figcaption", "section",
          "article", "header", "footer", "aside", "nav", "hr", "details", "summary", "caption"}
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[^\S\n]+|\n")
_SENTENCE_END = re.compile(r"[。！？；!?;…]|\.(?=\s)")
_PLACEHOLDER = re.compile(r"^(data:|about:)|(placeholder|loading|blank|lazy|spacer|pixel)\.", re.IGNORECASE)


def xml_clean(s: str) -> str:
    """Remove characters that XML 1.0 forbids (and U+FFFD); keep tab, newlines, emoji."""
    return _BAD_XML.sub("", s)


# CommonMark HTML block, start condition 6: such a block runs to the next blank line.
_HTML_BLOCK_START = re.compile(
    r"(?: {0,3})</?(?:address|article|aside|blockquote|body|center|details|dialog|dd|div|dl|dt"
    r"|figcaption|figure|footer|h[1-6]|header|hr|li|main|nav|ol|p|section|table|ul)(?:\s|/?>|$)",
    re.IGNORECASE)


def markdown_to_html(text: str) -> str:
    """CommonMark to HTML, with a shortcut that gives the same output faster.

    Scraped posts are mostly raw HTML. A top-level HTML block that opens with a block tag
    runs to the next blank line and is copied verbatim, and nothing after it can change it;
    so the leading run of such blocks is copied and only the rest goes through the (slow,
    pure-Python) parser. tests/test_markup.py checks the equivalence on real corpora.
    """
    if "\r" in text or "\0" in text:
        return str(_markdown().render(text))
    lines = text.split("\n")
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        while i < n and not lines[i].strip():
            i += 1
        if i == n or not _HTML_BLOCK_START.match(lines[i]):
            break
        start = i
        while i < n and lines[i].strip():
            i += 1
        out.append("\n".join(lines[start:i]) + ("\n" if i < n else ""))
    rest = "\n".join(lines[i:])
    return "".join(out) + (str(_markdown().render(rest)) if rest.strip() else "")


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@functools.lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(tags=_TAGS, clean_content_tags=_DROP_WITH_CONTENT, attributes=_ATTRIBUTES,
                       url_schemes=_SCHEMES, url_relative="deny", link_rel="noopener noreferrer")


def absolute_url(url: str, base_url: str) -> str | None:
    """``url`` made absolute against ``base_url`` and percent-encoded once; None if unusable."""
    url = url.strip()
    if not url:
        return None
    try:
        joined = urljoin(base_url, url)
        scheme = urlsplit(joined).scheme.lower()
    except ValueError:
        return None
    if scheme not in _SCHEMES:
        return None
    return quote(joined, safe=_URL_SAFE)


def _resolve_lazy(img: lxml.html.HtmlElement) -> None:
    """Give a lazy-loading image the real address its script would have set."""
    src = (img.get("src") or "").strip()
    for attr in _LAZY_ATTRS:
        lazy = (img.get(attr) or "").strip()
        if lazy and (not src or _PLACEHOLDER.search(src)):
            img.set("src", lazy)
            return


_HAS_URL = lxml.etree.XPath(
    "descendant::*[@href or @src or @poster or @cite or self::img]")


def _absolutise(root: lxml.html.HtmlElement, base_url: str) -> None:
    for el in _HAS_URL(root):
        if el.tag == "img":
            _resolve_lazy(el)
        for attr in _URL_ATTRS:
            value = el.get(attr)
            if value is None:
                continue
            fixed = absolute_url(value, base_url)
            if fixed is None:
                del el.attrib[attr]
            else:
                el.set(attr, fixed)
        if el.tag == "img" and el.get("src") is None:
            el.drop_tree()


def render_body(raw: str, body_format: str, base_url: str) -> str:
    """Render an article body to sanitised HTML with absolute links (see module docstring)."""
    text = xml_clean(raw)
    html = markdown_to_html(text) if body_format == "markdown" else text
    if not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""
    for el in list(root.iter(*_DROP_WITH_CONTENT)):
        el.drop_tree()
    _absolutise(root, base_url)
    inner = lxml.html.tostring(root, encoding="unicode")[len("<div>"):-len("</div>")]
    return xml_clean(_cleaner().clean(inner)).strip()


def first_image(html: str) -> str | None:
    """The ``src`` of the first image in rendered HTML, or None."""
    if "<img" not in html:
        return None
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return None
    for img in root.iter("img"):
        src = (img.get("src") or "").strip()
        if src.startswith(("http://", "https://")):
            return src
    return None


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: whitespace collapsed, one paragraph per line."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(xml_clean(html), create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""
    for el in list(root.iter(lxml.etree.Comment, lxml.etree.ProcessingInstruction, *_DROP_WITH_CONTENT)):
        el.drop_tree()
    parts: list[str] = []
    for event, el in lxml.etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            if el.tag in _BLOCK:
                parts.append("\n")
            if el.text:
                parts.append(_SPACES.sub(" ", el.text))
            continue
        if el.tag in _BLOCK:
            parts.append("\n")
        if el.tail and el is not root:
            parts.append(_SPACES.sub(" ", el.tail))
    text = _ZERO_WIDTH.sub("", "".join(parts)).replace("\xa0", " ").replace("\u3000", " ")
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


_MD_MARKS = re.compile(r"^(?:#{1,6}\s+|\s*[*+-]\s+(?=\S)|>\s?)", re.MULTILINE)


def reading_text(html: str) -> str:
    """Text for a person reading a channel post: paragraphs, line breaks and list items kept.

    html2text follows block layout (``<br>``, lists, tables, quotes) better than a plain text
    walk; Markdown marks it would add are stripped, links and images left out. About 1 ms per
    article, so it is used per post, not for thousands of feed summaries (``html_to_text``).
    """
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_links = converter.ignore_images = converter.ignore_emphasis = True
    converter.ignore_tables = converter.unicode_snob = True
    text = _ZERO_WIDTH.sub("", converter.handle(xml_clean(html))).replace("\xa0", " ")
    lines = (" ".join(_MD_MARKS.sub("", line).split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a sentence, else word, boundary.

    A cut that is not at a sentence end gets an ellipsis. Boundaries in the first half are
    ignored so a short first sentence does not swallow the summary.
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    window = text[: limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() >= limit // 2]
    if ends:
        return window[: ends[-1]].rstrip()
    window = text[: limit - 1]
    space = max(window.rfind(" "), window.rfind("\n"))
    cut = window[:space] if space >= limit // 2 else window
    return cut.rstrip(" ,，、;；:：\n") + "…"
