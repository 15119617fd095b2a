"""Feed discovery: ``index.opml`` for readers and ``index.html`` for people, as bytes.

Pure and deterministic: the bytes change only when the set of feeds changes. The OPML lists
every feed once, in the first configured XML format (Atom by default), in three folders (site,
categories, tags): importing it must not subscribe a reader to the same articles three times.
The HTML page lists every format with subscribe links, in the site's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from bot.markup import xml_clean

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "page_title": "订阅", "site": "全站", "categories": "分类", "tags": "标签",
        "category": "分类", "tag": "标签", "colon": "：",
        "intro": "把下面的链接复制到阅读器（Feedly、Inoreader、NetNewsWire、Thunderbird、newsboat 等），"
                 "或导入 OPML 一次订阅全部。",
        "opml": "下载 OPML（导入全部订阅）", "home": "返回网站",
        "atom": "Atom", "rss": "RSS", "json": "JSON Feed",
    },
    "en": {
        "page_title": "Subscribe", "site": "Whole site", "categories": "Categories", "tags": "Tags",
        "category": "Category", "tag": "Tag", "colon": ": ",
        "intro": "Copy a link below into your feed reader (Feedly, Inoreader, NetNewsWire, Thunderbird, "
                 "newsboat...), or import the OPML file to subscribe to everything at once.",
        "opml": "Download OPML (import every feed)", "home": "Back to the site",
        "atom": "Atom", "rss": "RSS", "json": "JSON Feed",
    },
}
MIME = {"atom": "application/atom+xml", "rss": "application/rss+xml", "json": "application/feed+json"}
READERS = (("Feedly", "https://feedly.com/i/subscription/feed/"),
           ("Inoreader", "https://www.inoreader.com/?add_feed="))


def texts_for(language: str) -> Mapping[str, str]:
    """UI strings for a BCP 47 language; English unless a translation exists."""
    return TEXTS.get(language.split("-")[0].lower(), TEXTS["en"])


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One feed (site, category or tag) in every format it is written in."""

    kind: str  # site | category | tag
    name: str  # display name, "" for the site
    title: str
    page_url: str
    urls: Mapping[str, str]  # format -> public URL, in format order


def build_opml(title: str, language: str, links: Sequence[FeedLink]) -> bytes:
    """OPML 2.0 with one outline per feed, grouped in site/categories/tags folders."""
    texts = texts_for(language)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{escape(xml_clean(title), quote=False)}</title>", "  </head>", "  <body>"]
    for kind, folder in (("site", texts["site"]), ("category", texts["categories"]), ("tag", texts["tags"])):
        members = [link for link in links if link.kind == kind and _preferred(link)]
        if not members:
            continue
        lines.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
        for link in members:
            fmt, feed_url = _preferred(link)  # type: ignore[misc]
            lines.append(
                f"      <outline type=\"rss\" version={quoteattr(fmt.upper())} "
                f"text={quoteattr(xml_clean(link.title))} title={quoteattr(xml_clean(link.title))} "
                f"xmlUrl={quoteattr(feed_url)} htmlUrl={quoteattr(link.page_url)} "
                f"language={quoteattr(language)}/>")
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def _preferred(link: FeedLink) -> tuple[str, str] | None:
    for fmt in ("atom", "rss"):
        if fmt in link.urls:
            return fmt, link.urls[fmt]
    return None


_CSS = """body{font:16px/1.6 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;
max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222;background:#fff}
h1{font-size:1.6rem;margin:0 0 .5rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #ddd}
ul{list-style:none;padding:0;margin:0}li{padding:.45rem 0;border-bottom:1px solid #f0f0f0}
.name{font-weight:600;margin-right:.5rem}.links a{margin-right:.6rem;white-space:nowrap}
.fmt{display:inline-block;padding:0 .45rem;border-radius:.3rem;background:#f26522;color:#fff;text-decoration:none;font-size:.85rem}
.reader{font-size:.85rem;color:#555}code{font-size:.8rem;color:#666;word-break:break-all}
@media (prefers-color-scheme:dark){body{background:#161616;color:#ddd}h2{border-color:#333}
li{border-color:#262626}.reader{color:#aaa}code{color:#999}}"""


def _row(link: FeedLink, texts: Mapping[str, str]) -> str:
    name = link.name or link.title
    parts = [f'<li><span class="name"><a href="{escape(link.page_url)}">{escape(name)}</a></span>',
             '<span class="links">']
    for fmt, feed_url in link.urls.items():
        parts.append(f'<a class="fmt" href="{escape(feed_url)}" type="{MIME[fmt]}">{escape(texts[fmt])}</a>')
    preferred = _preferred(link)
    if preferred:
        for reader, prefix in READERS:
            href = prefix + quote(preferred[1], safe="")
            parts.append(f'<a class="reader" href="{escape(href)}" rel="nofollow">{reader}</a>')
        parts.append(f"<br><code>{escape(preferred[1])}</code>")
    parts.append("</span></li>")
    return "".join(parts)


def build_index_html(title: str, language: str, site_url: str, links: Sequence[FeedLink],
                     opml_href: str = "index.opml") -> bytes:
    """A small, self-contained page listing every feed with subscribe links."""
    texts = texts_for(language)
    site_links = [link for link in links if link.kind == "site"]
    head_links = "".join(
        f'<link rel="alternate" type="{MIME[fmt]}" title="{escape(link.title)}" href="{escape(u)}">\n'
        for link in site_links for fmt, u in link.urls.items())
    body = [f"<h1>{escape(title)} · {escape(texts['page_title'])}</h1>",
            f"<p>{escape(texts['intro'])}</p>",
            (f'<p><a href="{escape(opml_href)}" type="text/x-opml">{escape(texts["opml"])}</a> · '
             f'<a href="{escape(site_url)}">{escape(texts["home"])}</a></p>')]
    for kind, heading in (("site", texts["site"]), ("category", texts["categories"]), ("tag", texts["tags"])):
        members = [link for link in links if link.kind == kind]
        if members:
            body.append(f"<h2>{escape(heading)}</h2>\n<ul>")
            body += [_row(link, texts) for link in members]
            body.append("</ul>")
    page = (f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">\n'
            f"<title>{escape(title)} · {escape(texts['page_title'])}</title>\n{head_links}"
            f"<style>\n{_CSS}\n</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
    return xml_clean(page).encode("utf-8")
