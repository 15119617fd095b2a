"""Article bodies become safe, self-contained HTML; HTML becomes readable plain text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bot.markup import (
    absolute_url,
    first_image,
    html_to_text,
    markdown_to_html,
    reading_text,
    render_body,
    truncate,
    xml_clean,
)
from bot.reader import read_body

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from gen_corpus import generate

REFERENCE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
BASE = "https://news.example.org/2024/11/20/%E6%96%B0%E9%97%BB/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("趣头条\x08新闻", "趣头条新闻"),
        ("a\x00b\x1fc\x7fd\x85e", "abcde"),
        ("tab\tnew\nline\rcr", "tab\tnew\nline\rcr"),
        ("emoji 🚀 nbsp\xa0ok", "emoji 🚀 nbsp\xa0ok"),
        ("bad decode \ufffd here", "bad decode  here"),
        ("lone \ud800 surrogate \uffff", "lone  surrogate "),
    ],
)
def test_xml_clean_removes_only_what_xml_forbids(raw: str, expected: str) -> None:
    assert xml_clean(raw) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("a.jpg", BASE + "a.jpg"),
        ("/img/b.png", "https://news.example.org/img/b.png"),
        ("//cdn.example.com/c.png", "https://cdn.example.com/c.png"),
        ("http://other.example/x y.png", "http://other.example/x%20y.png"),
        ("https://例子.example/新闻", "https://%E4%BE%8B%E5%AD%90.example/%E6%96%B0%E9%97%BB"),
        ("https://a.example/%E6%96%B0", "https://a.example/%E6%96%B0"),  # never double-encoded
        ("#note-1", BASE + "#note-1"),
        ("mailto:editor@example.org", "mailto:editor@example.org"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:image/png;base64,AAAA", None),
        ("vbscript:msgbox", None),
        ("   ", None),
        ("http://[broken", None),
    ],
)
def test_absolute_url(url: str, expected: str | None) -> None:
    assert absolute_url(url, BASE) == expected


def test_markdown_renders_commonmark_with_tables_strikethrough_and_raw_html() -> None:
    html = render_body(
        "# 标题\n\n段落 **粗** ~~删~~ <http://example.com/x>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "<figure><img src=\"p.jpg\"><figcaption>图</figcaption></figure>\n",
        "markdown", BASE)
    assert "<h1>标题</h1>" in html
    assert "<strong>粗</strong>" in html and "<s>删</s>" in html
    assert '<a href="http://example.com/x" rel="noopener noreferrer">http://example.com/x</a>' in html
    assert "<td>1</td>" in html
    assert f'<figure><img src="{BASE}p.jpg"><figcaption>图</figcaption></figure>' in html


def test_html_body_is_not_treated_as_markdown() -> None:
    html = render_body("<p>*not emphasis*</p>\n\n    not code", "html", BASE)
    assert html == "<p>*not emphasis*</p>\n\n    not code"


@pytest.mark.parametrize(
    "text",
    [
        "<div>   \n<p>一</p><p>二 *x*</p>  \n</div>\n            \n",
        "\n<section>\n<p>a</p>\n</section>",
        "<div>\n<p>a</p>\n\n*para*\n</div>",  # blank line ends the HTML block
        "<span>inline</span> *em*",  # not a block start: Markdown applies
        "    <div>indented code</div>",
        "<div>   \n<p>x</p>  \n</div>  ",
        "  \n\n<div>\ta\n</div>\n\n  \n",
        "<div>\r\n<p>crlf</p>\r\n</div>",
        "<div>\n<p>a</p>\n</div>\n\n<p>b</p>\n\n- list\n- items\n\n[ref]: http://x.example/\n",
        "<p>a</p>\n\n    indented code\n",
        "<p/x>not a block</p>\n\n*em*",
        "<div>a</div>\n\n```\n<div>in code</div>\n\n```\n",
        " <p>one space</p>\n   <p>three</p>\n\n\t<p>tab is code</p>",
    ],
)
def test_markdown_fast_path_matches_commonmark(text: str) -> None:
    assert markdown_to_html(text) == REFERENCE.render(text)


def test_markdown_fast_path_matches_commonmark_on_every_sample_body(tmp_path: Path) -> None:
    generate(tmp_path, 60, seed=3)
    files = sorted(tmp_path.iterdir()) + sorted((REPO / "examples" / "site").iterdir())
    for path in files:
        body = read_body(path.read_bytes(), path.name)
        assert markdown_to_html(body) == REFERENCE.render(body), path.name


@pytest.mark.parametrize(
    ("hostile", "forbidden"),
    [
        ("<script>alert(1)</script><p>ok</p>", "alert"),
        ("<p onclick=\"steal()\">ok</p>", "onclick"),
        ("<img src=x onerror=alert(1)><p>ok</p>", "onerror"),
        ("<a href=\"javascript:alert(1)\">ok</a>", "javascript:"),
        ("<a href=\" jav&#x09;ascript:alert(1)\">ok</a>", "ascript:alert"),
        ("<iframe src=\"https://evil.example/\"></iframe><p>ok</p>", "evil"),
        ("<style>body{display:none}</style><p>ok</p>", "display"),
        ("<p style=\"background:url(javascript:x)\">ok</p>", "style"),
        ("<svg><script>alert(1)</script></svg><p>ok</p>", "alert"),
        ("<object data=\"evil.swf\"></object><p>ok</p>", "evil"),
        ("<form action=\"https://evil.example\"><input name=q></form><p>ok</p>", "evil"),
        ("<img src=\"data:image/svg+xml;base64,PHN2Zz4=\"><p>ok</p>", "data:"),
    ],
)
def test_sanitiser_removes_hostile_html(hostile: str, forbidden: str) -> None:
    html = render_body(hostile, "html", BASE)
    assert forbidden not in html
    assert "ok" in html


def test_lazy_images_get_their_real_source_and_links_become_absolute() -> None:
    html = render_body(
        '<p><img src="data:image/gif;base64,R0lGOD" data-src="/up/1.jpg" alt="一">'
        '<img src="loading.gif" data-original="2.jpg">'
        '<img data-lazy-src="//cdn.example.com/3.jpg">'
        '<img src="4.jpg" data-src="other.jpg">'
        '<a href="../../x 中.html">相对</a><img></p>',
        "html", BASE)
    assert '<img src="https://news.example.org/up/1.jpg" alt="一">' in html
    assert f'<img src="{BASE}2.jpg">' in html
    assert '<img src="https://cdn.example.com/3.jpg">' in html
    assert f'<img src="{BASE}4.jpg">' in html  # a real src wins over data-src
    assert 'href="https://news.example.org/2024/11/x%20%E4%B8%AD.html"' in html
    assert "data-" not in html and "<img>" not in html


def test_control_characters_are_removed_from_rendered_html() -> None:
    html = render_body("标题\x08正文\x1b\ufffd", "markdown", BASE)
    assert html == "<p>标题正文</p>"


@pytest.mark.parametrize("raw", ["", "   \n  ", "\x00\x01"])
def test_empty_bodies_render_to_empty_html(raw: str) -> None:
    assert render_body(raw, "markdown", BASE) == ""


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello  <b>w</b>\n orld</p><p>二&nbsp;段</p>", "Hello w orld\n二 段"),
        ("<div>a<br>b</div><ul><li>x</li><li>y</li></ul>", "a\nb\nx\ny"),
        ("<p>keep</p><script>bad()</script><style>.x{}</style><!-- note -->tail", "keep\ntail"),
        ("<h2>标题</h2>\n\n<p>\u200b零宽\u200d字符\u3000全角空格</p>", "标题\n零宽字符 全角空格"),
        ("plain &amp; simple", "plain & simple"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("短。", 10, "短。"),
        ("第一句话很短。第二句话要长一些，长到超过限制的一半。第三句话再也装不下了。", 30,
         "第一句话很短。第二句话要长一些，长到超过限制的一半。"),
        ("one two three four five six seven eight nine ten", 20, "one two three four…"),
        ("Version 3.5 is out. It has many new features for everyone", 30, "Version 3.5 is out."),
        ("一二三四五六七八九十一二三四五六七八九十", 10, "一二三四五六七八九…"),
    ],
)
def test_truncate_cuts_at_sentence_then_word_boundaries(text: str, limit: int, expected: str) -> None:
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_first_image_returns_the_first_absolute_image() -> None:
    html = render_body('<p>x</p><img src="a.jpg"><img src="b.jpg">', "html", BASE)
    assert first_image(html) == BASE + "a.jpg"
    assert first_image("<p>no image</p>") is None


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<h2>标题</h2><p>第一段。</p><p>第二段<br>换行</p>", "标题\n第一段。\n第二段\n换行"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ('<p>see <a href="https://x.org/">the <b>docs</b></a> <img src="a.jpg" alt="pic"></p>', "see the docs"),
        ("<blockquote><p>quoted</p></blockquote><p>a&amp;b &lt;c&gt;</p>", "quoted\na&b <c>"),
        ("<p>zero\u200bwidth\x08 control</p>", "zerowidth control"),
        ("", ""),
    ],
)
def test_reading_text_keeps_layout_without_markdown_marks(html: str, expected: str) -> None:
    assert reading_text(html) == expected
