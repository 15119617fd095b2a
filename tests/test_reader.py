"""One file -> Article: front matter, encodings, dates, categories, titles, images, links, drafts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.config import Settings
from bot.errors import ArticleError
from bot.models import Article
from bot.reader import decode, parse_article, read_body, split_front_matter

CST = timezone(timedelta(hours=8))
MTIME = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc).timestamp()


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"site_url": "https://news.example.org/", "timezone": "Asia/Shanghai"}
    return Settings(**(base | overrides))


def parse(text: str | bytes, source: str = "post.md", **overrides: Any) -> Article:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_article(data, source, MTIME, settings(**overrides), "hash")


def bad_reason(text: str | bytes, source: str = "post.md", **overrides: Any) -> str:
    with pytest.raises(ArticleError) as info:
        parse(text, source, **overrides)
    assert info.value.path == source
    return info.value.reason


# --- front matter and encodings --------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "meta", "body", "kind"),
    [
        ("---\ntitle: A\n---\nbody\n", {"title": "A"}, "body\n", "yaml"),
        ("\n\n---\ntitle: A\n---\nbody", {"title": "A"}, "body", "yaml"),  # seed 000: blank line first
        ("---\n---\nbody", {}, "body", "yaml"),
        ("---\ntitle: A\n...\nbody", {"title": "A"}, "body", "yaml"),
        ('+++\ntitle = "A"\ntags = ["x"]\n+++\nbody', {"title": "A", "tags": ["x"]}, "body", "toml"),
        ("# Just Markdown\n\ntext", {}, "# Just Markdown\n\ntext", "none"),
        ("---\ntitle: A\n---", {"title": "A"}, "", "yaml"),
        ("---\ntitle: A\n---\nx\n---\nnot front matter\n", {"title": "A"}, "x\n---\nnot front matter\n", "yaml"),
    ],
)
def test_split_front_matter(text: str, meta: dict[str, Any], body: str, kind: str) -> None:
    assert split_front_matter(text) == (meta, body, kind)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("---\ntitle: [unclosed\n---\nbody", "broken YAML front matter"),
        ("---\ntitle: a\n\tbad: tab\n---\n", "broken YAML front matter"),
        ("---\n- a\n- b\n---\nbody", "not a mapping of keys (it is a list)"),
        ("---\njust a string\n---\nbody", "not a mapping of keys (it is a str)"),
        ('+++\ntitle = "unclosed\n+++\nbody', "broken TOML front matter"),
        ("---\ntitle: A\nno closing line", "never closed"),
        ("---\n" + "[" * 5000 + "\n---\n", "front matter"),
    ],
)
def test_broken_front_matter_is_bad_input(text: str, reason: str) -> None:
    assert reason in bad_reason(text)


def test_yaml_error_names_the_file_line() -> None:
    assert "line 3" in bad_reason("---\ntitle: ok\nbroken: x: y\n---\n")


@pytest.mark.parametrize(
    ("data", "title", "warns"),
    [
        ("---\ntitle: 标题\n---\n".encode(), "标题", False),
        (b"\xef\xbb\xbf---\ntitle: BOM\n---\n", "BOM", False),
        (b"---\r\ntitle: CRLF\r\ndate: 2021-01-01\r\n---\r\nbody\r\n", "CRLF", False),
        ("---\ntitle: 国网新闻\n---\n正文".encode("gb18030"), "国网新闻", True),
        ("---\ntitle: UTF16\n---\n".encode("utf-16"), "UTF16", True),
    ],
)
def test_encodings(data: bytes, title: str, warns: bool) -> None:
    text, warnings = decode(data, "p.md")
    assert "\r" not in text
    assert bool(warnings) is warns
    assert parse(data).title == title


def test_gb18030_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    parse("---\ntitle: 国网新闻\n---\n".encode("gb18030"), "gb.md")
    assert any("gb.md" in r.getMessage() and "GB18030" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\n\t", "empty file"),
        (b"\xef\xbb\xbf", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (bytes(range(1, 32)) * 20, "binary file"),
        (b"\xff\xfe\xfd\x80\x81", "cannot decode"),
    ],
)
def test_undecodable_files_are_bad_input(data: bytes, reason: str) -> None:
    assert reason in bad_reason(data)


# --- dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "source", "published", "updated"),
    [
        ("---\ndate: 2022-02-17 19:34:59 +0800\n---\n", "p.md", datetime(2022, 2, 17, 19, 34, 59, tzinfo=CST), None),
        ("---\ndate: 2024-10-31 22:01:42\n---\n", "p.md", datetime(2024, 10, 31, 22, 1, 42, tzinfo=CST), None),
        ("---\ntitle: x\n---\n", "2021-12-08-slug.md", datetime(2021, 12, 8, tzinfo=CST), None),
        ("---\ntitle: x\n---\n", "no-date.md", datetime.fromtimestamp(MTIME, timezone.utc), None),
        ("---\ndate:\n---\n", "2021-12-08-empty.md", datetime(2021, 12, 8, tzinfo=CST), None),
        ('+++\npublishDate = "2021-01-11T23:17:55Z"\n+++\n', "p.md", datetime(2021, 1, 11, 23, 17, 55, tzinfo=timezone.utc), None),
        ("---\ndate: 2021-01-01\nupdated: 2021-02-01 10:00\n---\n", "p.md", datetime(2021, 1, 1, tzinfo=CST),
         datetime(2021, 2, 1, 10, tzinfo=CST)),
        ("---\ndate: 2021-01-01\nlastmod: 2021-03-01T00:00:00Z\n---\n", "p.md", datetime(2021, 1, 1, tzinfo=CST),
         datetime(2021, 3, 1, tzinfo=timezone.utc)),
        ("---\ndate: 2021-01-01\nlast_modified_at: 2021-04-01\n---\n", "p.md", datetime(2021, 1, 1, tzinfo=CST),
         datetime(2021, 4, 1, tzinfo=CST)),
        # an update before the date, or an unreadable one, falls back to the date
        ("---\ndate: 2021-01-01\nupdated: 2020-01-01\n---\n", "p.md", datetime(2021, 1, 1, tzinfo=CST), None),
        ("---\ndate: 2021-01-01\nupdated: soon\n---\n", "p.md", datetime(2021, 1, 1, tzinfo=CST), None),
    ],
)
def test_dates(text: str, source: str, published: datetime, updated: datetime | None) -> None:
    a = parse(text, source)
    assert a.published_at == published
    assert a.published_at.tzinfo is not None
    assert a.updated_at == (updated or published)


def test_an_unreadable_date_makes_the_file_bad_not_a_guess() -> None:
    # finews: "date:  +0800". Jekyll rejects it too; publishing it under a guessed date could
    # post stale news as new, so the file is reported until someone fixes it.
    assert "unreadable date" in bad_reason("---\ntitle: x\ndate:  +0800\n---\n", "2021-12-08-x.md")


# --- categories and tags ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("front", "source", "style", "categories", "tags"),
    [
        # seed 000 (Hexo): a list is one hierarchy
        ("categories:\n - 新媒体\n - 趣头条\n - 分类", "000.txt", "auto", (("新媒体", "趣头条", "分类"),), ()),
        # Hexo: a list of lists is several hierarchies, strings beside them are single categories
        ("categories:\n - [A, B]\n - [A, C]\n - D", "p.md", "hexo", (("A", "B"), ("A", "C"), ("D",)), ()),
        # Hexo: a space-separated string is one category
        ("categories: Machine Learning", "p.md", "hexo", (("Machine Learning",),), ()),
        # seed 004 (Jekyll): strings, split on spaces for categories and tags
        ("categories: beifangwang\ntags: 北方网新闻", "004.txt", "auto", (("beifangwang",),), ("北方网新闻",)),
        ("categories: a b\ntags: x y", "2021-01-01-p.md", "auto", (("a",), ("b",)), ("x", "y")),
        ("categories: [ iYouPort ]\ntags: [ iYouPort ]", "2019-07-01-p.md", "auto", (("iYouPort",),), ("iYouPort",)),
        ("categories: [A, B]", "2019-07-01-p.md", "auto", (("A",), ("B",)), ()),
        ("categories: [A, B]", "p.md", "jekyll", (("A",), ("B",)), ()),
        # singular keys
        ("category: News\ntag: hot", "2019-07-01-p.md", "auto", (("News",),), ("hot",)),
        # Hugo: flat taxonomy lists
        ("categories: [plugin, external]", "p.md", "hugo", (("plugin",), ("external",)), ()),
        # cleaning: strip, drop empty and null, merge case/width duplicates (first spelling wins)
        ("categories: ['  News ', '', null, news, ＮＥＷＳ]\ntags: [Go, go, ' ', Ｇｏ, \u200bRust]", "p.md", "jekyll",
         (("News",),), ("Go", "Rust")),
        ("categories:\ntags:", "p.md", "hexo", (), ()),
        ("title: 1092\ncategories: 2019\ntags: [1, true]", "p.md", "hexo", (("2019",),), ("1", "true")),
        ("categorieso: typo", "p.md", "hexo", (), ()),
    ],
)
def test_categories_and_tags(front: str, source: str, style: str, categories: tuple[tuple[str, ...], ...],
                             tags: tuple[str, ...]) -> None:
    a = parse(f"---\n{front}\n---\n", source, category_style=style)
    assert a.categories == categories
    assert a.tags == tags


def test_toml_front_matter_reads_as_hugo_taxonomies() -> None:
    a = parse('+++\ncategories = ["plugin", "external"]\n+++\n', "plugins/x.md")
    assert a.categories == (("plugin",), ("external",))


def test_jekyll_folder_categories_come_first() -> None:
    a = parse("---\ncategories: local\n---\n", "news/world/_posts/2021-01-01-x.md")
    assert a.categories == (("news",), ("world",), ("local",))


@pytest.mark.parametrize(
    "front",
    ["categories: ../../etc", "categories: [/etc/passwd]", "tags: [..]", "categories: \"a\\x00b\"",
     "tags: \"evil\\u202etxt\"", "categories: [" + "x" * 101 + "]", "categories: {a: b}",
     "tags: [" + ", ".join(f"t{i}" for i in range(101)) + "]"],
)
def test_hostile_category_names_are_bad_input(front: str) -> None:
    bad_reason(f"---\n{front}\n---\n", "2021-01-01-p.md")


def test_a_category_with_a_slash_inside_is_fine() -> None:
    assert parse("---\ncategories: [C/C++]\n---\n", "2021-01-01-p.md").categories == (("C/C++",),)


# --- title, author, summary -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "source", "title"),
    [
        ("---\ntitle: '  Hello   World '\n---\n", "p.md", "Hello World"),
        ("---\ntitle: 1092\n---\n", "p.md", "1092"),
        ("---\ntitle: Tom &amp; Jerry\n---\n", "p.md", "Tom & Jerry"),
        ('---\ntitle: ""\n---\n# From **Heading**\n\ntext', "p.md", "From **Heading**"),
        ("---\ndate: 2021-01-01\n---\n<p>x</p><h2 class='t'>HTML <em>heading</em></h2>", "p.md", "HTML heading"),
        ("Setext Title\n============\n\ntext", "p.md", "Setext Title"),
        ("---\ntitle: ''\n---\nno heading here", "2020-06-13-Is Hong Kong about to Get Its Own Foreign NGO Law .md",
         "Is Hong Kong about to Get Its Own Foreign NGO Law"),
        ('---\ntitle: ""\n---\n> quote only', "-202205262391921712.md", "202205262391921712"),
    ],
)
def test_title(text: str, source: str, title: str) -> None:
    assert parse(text, source).title == title


@pytest.mark.parametrize(
    ("front", "author", "summary"),
    [
        ("author: Qiheng Chen, Michelle Mengsu Chang &#38; more", "Qiheng Chen, Michelle Mengsu Chang & more", ""),
        ("authors: [Ann, Bob]\ndescription: '<p>A <b>bold</b>&nbsp;claim</p>'", "Ann, Bob", "A bold claim"),
        ("author: {name: Ann}\nexcerpt: first line\n  folded line", "Ann", "first line folded line"),
        ("summary: '  spaced\n\n  out  '", "", "spaced out"),
    ],
)
def test_author_and_explicit_summary(front: str, author: str, summary: str) -> None:
    a = parse(f"---\n{front}\n---\nThe body is never the summary.")
    assert (a.author, a.summary) == (author, summary)


# --- lead image ---------------------------------------------------------------------------------

SEED_IMAGE = "https://cors.zfour.workers.dev/?http://static.1sapp.com/qupost/img/2021/12/20/ef0f5ca7da7dbe56277473dc7c2ff1f4.jpeg"


@pytest.mark.parametrize(
    ("front", "body", "image"),
    [
        (f"headimg: '{SEED_IMAGE}'", "", SEED_IMAGE),
        ("cover: /img/a.png", "", "https://news.example.org/img/a.png"),
        ("image: //cdn.example.com/a b.png", "", "https://cdn.example.com/a%20b.png"),
        ("image: {path: /img/p.png}", "", "https://news.example.org/img/p.png"),
        ("image: data:image/png;base64,AAAA\nthumbnail: https://x.example/t.jpg", "", "https://x.example/t.jpg"),
        ("image: javascript:alert(1)", "", None),
        ("", '<p><img src="data:image/gif;base64,R0l" data-src="https://x.example/lazy.jpg"></p>',
         "https://x.example/lazy.jpg"),
        ("", "<img src='images/a.png' alt=x>", "https://news.example.org/2024/03/01/post/images/a.png"),
        ("", '<img alt="x" src="//img.example.com/b.jpg?x=1&amp;y=2">', "https://img.example.com/b.jpg?x=1&y=2"),
        ("", "text ![图](https://img.example.com/图.png) more", "https://img.example.com/%E5%9B%BE.png"),
        ("", '<img src="ftp://x/a.png"><img src="https://ok.example/b.png">', "https://ok.example/b.png"),
        ("", "no images", None),
    ],
)
def test_lead_image(front: str, body: str, image: str | None) -> None:
    assert parse(f"---\n{front}\n---\n{body}").image_url == image


def test_image_keys_are_configurable() -> None:
    text = "---\nimage: https://x.example/a.jpg\nposter: https://x.example/p.jpg\n---\n"
    assert parse(text, image_keys=["poster", "image"]).image_url == "https://x.example/p.jpg"


# --- links --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("front", "source", "overrides", "url"),
    [
        ("permalink: /archives/17-jia/", "17-jia.md", {}, "https://news.example.org/archives/17-jia/"),
        ("url: /plugins/cache/", "plugins/cache.md", {}, "https://news.example.org/plugins/cache/"),
        ("permalink: https://other.example/p", "p.md", {}, "https://other.example/p"),
        ("slug: my-slug\ndate: 2022-02-17 19:34:59 +0800", "p.md", {}, "https://news.example.org/2022/02/17/my-slug/"),
        ("date: 2022-02-17 19:34:59 +0800", "LeetCode/1092.md", {}, "https://news.example.org/2022/02/17/LeetCode/1092/"),
        # Jekyll preset: categories lower-cased, pretty slug of the file name (spaces -> -)
        ("date: 2020-06-13 10:00:00\ncategories: [News, World]", "2020-06-13-Is Hong Kong about .md", {"permalink": "jekyll"},
         "https://news.example.org/news/world/2020/06/13/Is-Hong-Kong-about.html"),
        # dates in the URL are in the site zone (Jekyll's Time#localtime)
        ("date: 2019-07-01T16:00:17Z", "p.md", {}, "https://news.example.org/2019/07/02/p/"),
        # a base path on the site URL is kept
        ("date: 2022-01-01", "p.md", {"site_url": "https://x.github.io/blog"}, "https://x.github.io/blog/2022/01/01/p/"),
        # non-ASCII, spaces, % and ? are encoded once; existing escapes (even double ones) are kept
        ("date: 2022-01-01", "新闻 100%?.md", {}, "https://news.example.org/2022/01/01/%E6%96%B0%E9%97%BB%20100%25%3F/"),
        ("permalink: /a/%25E6%2595/", "p.md", {}, "https://news.example.org/a/%25E6%2595/"),
        ("permalink: /a/%E6%96%B0 b/", "p.md", {}, "https://news.example.org/a/%E6%96%B0%20b/"),
        ("date: 2022-01-01", "p.md", {"permalink": "/:categories/:i_month/:name.html"}, "https://news.example.org/1/p.html"),
    ],
)
def test_url(front: str, source: str, overrides: dict[str, Any], url: str) -> None:
    assert parse(f"---\n{front}\n---\n", source, **overrides).url == url


def test_a_non_http_permalink_is_bad_input() -> None:
    assert "permalink" in bad_reason("---\npermalink: 'javascript:alert(1)'\n---\n")


# --- ids, drafts, body ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("front", "source", "draft"),
    [
        ("published: false", "p.md", True),
        ("published: 'no'", "p.md", True),
        ("draft: true", "p.md", True),
        ("draft: false\npublished: true", "p.md", False),
        ("title: x", "_drafts/p.md", True),
        ("title: x", "p.md", False),
    ],
)
def test_drafts(front: str, source: str, draft: bool) -> None:
    assert parse(f"---\n{front}\n---\n", source).is_draft is draft


@pytest.mark.parametrize(("front", "uid"), [("id: 313", "313"), ("uuid: ab-cd", "ab-cd"), ("abbrlink: 4a17b156", "4a17b156"),
                                             ("title: x", "")])
def test_uid(front: str, uid: str) -> None:
    assert parse(f"---\n{front}\n---\n").uid == uid


def test_body_format_and_raw_body() -> None:
    assert parse("<p>x</p>", "page.html").body_format == "html"
    assert parse("---\ntitle: x\n---\n<p>x</p>", "page.HTM").body_format == "html"
    assert parse("text", "p.md").body_format == "markdown"
    data = "\ufeff\n---\r\ntitle: x\r\n---\r\n<div>   \r\n<p>正文</p>".encode()
    assert read_body(data) == "<div>   \n<p>正文</p>"


@pytest.mark.parametrize("text", [
    "---\ntitle: x\n---\nbody", "\n\n---\ntitle: x\n...\nbody\n", "+++\ntitle = 'x'\n+++\n# h\n",
    "---\n---\nbody", "no front matter\n---\n", "---  \ntitle: x\n---\t\n\nbody", "---\ntitle: x\n---"])
def test_read_body_finds_the_same_body_as_the_full_parse(text: str) -> None:
    assert read_body(text.encode()) == split_front_matter(text)[1]


def test_read_body_does_not_parse_the_front_matter() -> None:
    """Feeds re-read bodies of files the scan already parsed; only the fences matter."""
    assert read_body(b"---\ntitle: [broken\n---\n<p>x</p>") == "<p>x</p>"
    with pytest.raises(ArticleError, match="never closed"):
        read_body(b"---\ntitle: x\n<p>x</p>")


def test_article_keeps_no_body_and_the_hash_it_was_given() -> None:
    a = parse("---\ntitle: x\n---\nSECRET BODY TEXT")
    assert "SECRET" not in repr(a)
    assert a.content_hash == "hash" and a.id == ""


@pytest.mark.parametrize(
    "front",
    [
        # "billion laughs": aliases that expand to 10**9 names from a few lines
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "categories: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\ntags: *f\nauthor: *f",
        "categories: &loop [a, *loop]",  # a list that contains itself
    ],
)
def test_yaml_alias_bombs_are_bad_input_not_a_hang(front: str) -> None:
    assert "categories" in bad_reason(f"---\n{front}\n---\n", "2021-01-01-p.md", category_style="hexo")
    assert "categories" in bad_reason(f"---\n{front}\n---\n", "2021-01-01-p.md", category_style="jekyll")


# --- category style from the site layout (appended) ---------------------------------------------

@pytest.mark.parametrize(
    ("source", "articles_dir", "categories", "tags"),
    [
        ("2021-12-20-x.md", "/blog/source/_posts", (("新媒体", "趣头条"),), ("a b",)),
        ("source/_posts/2021-12-20-x.md", "/blog", (("新媒体", "趣头条"),), ("a b",)),
        ("news/_posts/x.md", "/blog", (("news",), ("新媒体",), ("趣头条",)), ("a", "b")),
        ("2021-12-20-x.md", "/blog/_posts", (("新媒体",), ("趣头条",)), ("a", "b")),
    ],
)
def test_site_layout_picks_the_category_style(source: str, articles_dir: str,
                                              categories: tuple[tuple[str, ...], ...], tags: tuple[str, ...]) -> None:
    from pathlib import Path

    a = parse("---\ncategories: [新媒体, 趣头条]\ntags: a b\n---\n", source, articles_dir=Path(articles_dir))
    assert (a.categories, a.tags) == (categories, tags)


# --- lead image on a site served under a sub-path (appended) ------------------------------------

@pytest.mark.parametrize(
    ("front", "body", "image"),
    [
        # front-matter paths are site paths: Hexo's url_for / Jekyll's relative_url put them under /blog/
        ("cover: /img/a.png", "", "https://ex.github.io/blog/img/a.png"),
        ("cover: img/a.png", "", "https://ex.github.io/blog/img/a.png"),
        ("image: {path: /img/p.png}", "", "https://ex.github.io/blog/img/p.png"),
        ("cover: //cdn.example.com/a.png", "", "https://cdn.example.com/a.png"),
        ("cover: https://other.example/a.png", "", "https://other.example/a.png"),
        # body images resolve the way the browser does, against the article URL
        ("", "<img src='/img/b.png'>", "https://ex.github.io/img/b.png"),
        ("", "![x](pics/b.png)", "https://ex.github.io/blog/2024/03/01/post/pics/b.png"),
        # CommonMark <angle-bracket> destinations may hold spaces
        ("", "![x](<../up/a b.png>)", "https://ex.github.io/blog/2024/03/01/up/a%20b.png"),
        ("", '![x](<https://img.example.com/图 1.png> "title")', "https://img.example.com/%E5%9B%BE%201.png"),
        ("", "![x](https://img.example.com/c.png \"title\")", "https://img.example.com/c.png"),
    ],
)
def test_lead_image_on_a_sub_path_site(front: str, body: str, image: str | None) -> None:
    for site_url in ("https://ex.github.io/blog/", "https://ex.github.io/blog"):
        assert parse(f"---\n{front}\n---\n{body}", site_url=site_url).image_url == image


# --- Hugo sections in permalinks (appended) -----------------------------------------------------

@pytest.mark.parametrize(
    ("source", "front", "pattern", "url"),
    [
        # :section is the first folder; a top-level file leaves no "//" behind
        ("blog/dnstap.md", "", "/:section/:title/", "https://news.example.org/blog/dnstap/"),
        ("plugins/dnstap.md", "", "/:section/:title/", "https://news.example.org/plugins/dnstap/"),
        ("about.md", "", "/:section/:title/", "https://news.example.org/about/"),
        ("blog/2017/x.md", "", "/:section/:title/", "https://news.example.org/blog/2017/x/"),
        ("blog/x.md", "slug: my-slug", "/:section/:title/", "https://news.example.org/blog/my-slug/"),
        ("blog/x.md", "date: 2022-01-01", "/:section/:year/:name/", "https://news.example.org/blog/2022/x/"),
        ("x.md", "date: 2022-01-01", "/:section/:year/:name/", "https://news.example.org/2022/x/"),
    ],
)
def test_section_placeholder(source: str, front: str, pattern: str, url: str) -> None:
    assert parse(f"---\n{front}\n---\n", source, permalink=pattern).url == url


@pytest.mark.parametrize(
    ("source", "front", "url"),
    [
        ("blog/dnstap.md", "", "https://news.example.org/blog/dnstap/"),
        ("blog/Release Notes.md", "", "https://news.example.org/blog/release-notes/"),  # Hugo lower-cases paths
        ("blog/2017/x.md", "", "https://news.example.org/blog/2017/x/"),  # the content path, folders kept
        ("blog/my-post/index.md", "", "https://news.example.org/blog/my-post/"),  # a page bundle
        ("blog/my-post/index.md", 'slug = "Other"', "https://news.example.org/blog/my-post/other/"),
        ("about.md", "", "https://news.example.org/about/"),
    ],
)
def test_hugo_preset_follows_hugos_default_urls(source: str, front: str, url: str) -> None:
    assert parse(f"+++\n{front}\n+++\n", source, permalink="hugo").url == url
