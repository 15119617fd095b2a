"""Channel posts: what followers see, within Telegram's limits, for Chinese and English text.

Golden captions live in tests/golden/posts/; regenerate them deliberately with
``UPDATE_GOLDEN=1 pytest tests/test_messages.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from telegram.constants import MessageLimit

from bot.config import Settings
from bot.messages import (cut_text, hashtags, make_hashtag, post_hash, render_post, template_problems, utf16_len,
                          visible_length, visible_text)
from bot.models import Article

GOLDEN = Path(__file__).parent / "golden" / "posts"
WHEN = datetime(2024, 5, 6, 7, 8, tzinfo=timezone.utc)
ZH_BODY = ("12月17日，炎陵县与供电公司签订智慧能源互联网工作推进协议。县委书记出席签约仪式并致辞。"
           "他说，长期以来，市发改委对能源建设给予了大力支持，我们对此深表感谢！项目与发展理念高度契合，"
           "对推动电网全面升级具有重大意义；我们对此充满期待。") * 4
EN_BODY = ("The utility commissioned a floating solar array on the reservoir this spring. Engineers say the "
           "panels cut evaporation and keep the water cooler, which raises output on hot afternoons. "
           "The next phase doubles capacity and adds storage for the evening peak. ") * 4


def article(**kw: Any) -> Article:
    base: dict[str, Any] = dict(
        source="2024-05-06-post.md", id="a1", title="炎陵县签订智慧绿色能源互联网工作推进协议",
        url="https://news.example.com/2024/05/06/%E7%82%8E%E9%99%B5/", published_at=WHEN, updated_at=WHEN,
        categories=(("新媒体",), ("能源", "电网")), tags=("智慧能源", "2024"),
        image_url="https://img.example.com/lead.jpg")
    return Article(**(base | kw))


def settings(**kw: Any) -> Settings:
    return Settings(**kw)


class _TagCheck(HTMLParser):
    """Fails on any tag Telegram does not support or on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in {"b", "a"}, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def assert_valid_telegram_html(html: str, limit: int) -> None:
    checker = _TagCheck()
    checker.feed(html)
    checker.close()
    assert checker.stack == []
    assert "<" not in visible_text(html) or "&lt;" in html  # every visible < came from an escape
    assert visible_length(html) <= limit


GOLDEN_CASES: dict[str, tuple[Article, str]] = {
    "chinese": (article(), ZH_BODY),
    "english": (article(title="Floating solar farm opens on the Riverside reservoir", categories=(("Energy",),),
                        tags=("solar power", "water"), url="https://news.example.com/2021/09/14/floating-solar/"),
                EN_BODY),
    "emoji": (article(title="🔋⚡ 储能新政 🚀 Grid storage goes live 🎉", tags=("储能", "🔋")), ZH_BODY),
    "long_title": (article(title="超长标题" * 375, summary="摘要。"), ZH_BODY),
    "hostile_html": (article(title='<script>alert("x")</script> Tom & Jerry <b>bold</b> &amp; more',
                             summary="Use <i>tags</i> & \"quotes\" freely; 1 < 2 > 0.",
                             tags=("<b>", "a&b", "C++")), ""),
    "no_image": (article(image_url=None), ZH_BODY * 8),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_posts(name: str) -> None:
    art, body = GOLDEN_CASES[name]
    post = render_post(art, body, settings())
    limit = MessageLimit.CAPTION_LENGTH if post.photo_url else MessageLimit.MAX_TEXT_LENGTH
    assert_valid_telegram_html(post.html, limit)
    path = GOLDEN / f"{name}.html"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(post.html + "\n", encoding="utf-8")
    assert post.html + "\n" == path.read_text(encoding="utf-8"), f"golden {path.name} differs"


def test_chinese_post_layout() -> None:
    post = render_post(article(), ZH_BODY, settings())
    lines = post.html.split("\n")
    assert lines[0] == "<b>炎陵县签订智慧绿色能源互联网工作推进协议</b>"
    assert lines[2].endswith("。…")  # cut after a Chinese sentence end, marked as cut
    assert lines[4] == "#新媒体 #能源 #电网 #智慧能源"  # every category level then tags; digits-only tag dropped
    assert lines[5].startswith('<a href="https://news.example.com/2024/05/06/%E7%82%8E%E9%99%B5/">')
    assert "news.example.com/2024/05/06/炎陵/" in lines[5]  # readable link text
    assert post.photo_url == "https://img.example.com/lead.jpg"
    assert post.button_text == "阅读全文"
    assert post.url == article().url


def test_hostile_title_is_escaped_not_interpreted() -> None:
    post = render_post(GOLDEN_CASES["hostile_html"][0], "", settings())
    assert "<script>" not in post.html and "&lt;script&gt;" in post.html
    assert "&amp;amp; more" in post.html  # a literal "&amp;" in the title shows as typed
    assert visible_text(post.html).startswith('<script>alert("x")</script> Tom & Jerry <b>bold</b>')


def test_without_image_it_is_a_text_post_with_the_larger_limit() -> None:
    post = render_post(article(image_url=None), ZH_BODY * 8, settings(summary_chars=3000))
    assert post.photo_url is None
    assert MessageLimit.CAPTION_LENGTH < visible_length(post.html) <= MessageLimit.MAX_TEXT_LENGTH


@pytest.mark.parametrize("title", ["😀" * 1500, "标" * 1500, "word " * 300, "𠀀" * 700 + "x"])
@pytest.mark.parametrize("image", ["https://img.example.com/a.jpg", None])
def test_any_title_fits(title: str, image: str | None) -> None:
    post = render_post(article(title=title, image_url=image), ZH_BODY * 30, settings(summary_chars=5000))
    limit = MessageLimit.CAPTION_LENGTH if image else MessageLimit.MAX_TEXT_LENGTH
    assert_valid_telegram_html(post.html, limit)
    first_line = visible_text(post.html).split("\n")[0]
    assert first_line.endswith("…") if image else first_line == " ".join(title.split())  # cut only if needed
    assert "</a>" in post.html  # the link always survives


def test_summary_shrinks_before_the_title() -> None:
    title = "A" * 600
    post = render_post(article(title=title), EN_BODY * 3, settings(summary_chars=900))
    text = visible_text(post.html)
    assert text.startswith(title)  # the title is whole...
    assert visible_length(post.html) <= MessageLimit.CAPTION_LENGTH  # ...because the summary gave way


def test_many_tags_are_capped_and_still_fit() -> None:
    tags = tuple(f"标签{i}" for i in range(300))
    post = render_post(article(tags=tags), ZH_BODY, settings(post_max_hashtags=10))
    assert visible_text(post.html).count("#") == 10
    capless = render_post(article(tags=tags), ZH_BODY, settings(post_max_hashtags=1000))
    assert_valid_telegram_html(capless.html, MessageLimit.CAPTION_LENGTH)


def test_template_can_leave_out_hashtags_and_blank_lines_collapse() -> None:
    post = render_post(article(), ZH_BODY, settings(post_template="{title}\n\n{summary}\n\n{hashtags}\n{link}"))
    assert "#" in visible_text(post.html)
    post = render_post(article(), ZH_BODY, settings(post_template="{title}\n\n{summary}\n\n{link}"))
    assert "#" not in visible_text(post.html)
    post = render_post(article(summary="", categories=(), tags=()), "", settings())
    assert "\n\n\n" not in post.html
    assert post.html.split("\n") == ["<b>炎陵县签订智慧绿色能源互联网工作推进协议</b>", "",
                                     post.html.split("\n")[-1]]


def test_template_author_and_date_in_site_zone() -> None:
    post = render_post(article(author="张三 <editor>"), "", settings(post_template="{title} · {author} · {date}",
                                                                    timezone="Asia/Shanghai"))
    assert post.html.endswith("张三 &lt;editor&gt; · 2024-05-06")
    assert template_problems("{title} {nope}") == [
        "post_template: unknown placeholder {nope} (known: title, summary, hashtags, link, author, date)"]
    assert template_problems("{title}\n{summary}") == []


def test_explicit_summary_wins_and_body_repeating_title_is_skipped() -> None:
    post = render_post(article(summary="编辑写的摘要。"), ZH_BODY, settings())
    assert "编辑写的摘要。" in post.html and "12月17日" not in post.html
    body = "炎陵县签订智慧绿色能源互联网工作推进协议\n正文第一句。"
    post = render_post(article(), body, settings())
    assert visible_text(post.html).split("\n")[2] == "正文第一句。"


def test_control_characters_and_lone_surrogates_are_dropped() -> None:
    post = render_post(article(title="bad\x00\x07 title\ud800", summary="ok\x1b."), "", settings())
    assert "<b>bad title</b>" in post.html and "\x1b" not in post.html


FAMILY = "👨\u200d👩\u200d👧\u200d👦"


@pytest.mark.parametrize(("text", "units", "expected"), [
    ("短句。", 10, "短句。"),
    ("第一句话说完了。第二句话还没有说完就被截断了", 18, "第一句话说完了。…"),
    ("他问：真的吗？她说是的！然后两人一起出发去了很远的地方", 14, "他问：真的吗？她说是的！…"),
    ("他说“今天很好。”然后走了很久很久很久", 12, "他说“今天很好。”…"),
    ("The quick brown fox jumps over the lazy dog. It was fun and everyone laughed", 60,
     "The quick brown fox jumps over the lazy dog.…"),
    ("The quick brown fox jumps over the lazy dog and everyone laughed loudly", 40,
     "The quick brown fox jumps over the lazy…"),
    ("Version 3.14 is out and it is faster than ever before in every way", 30, "Version 3.14 is out and it is…"),
    ("没有标点的中文长句子可以在任何两个字之间截断", 10, "没有标点的中文长句子"[:9] + "…"),
    ("https://example.com/a/very/long/path/without/spaces/at/all", 20, "https://example.com…"),
    ("a, b, c, d, e, f, g, h, i", 10, "a, b, c…"),
    ("😀😀😀😀😀😀", 5, "😀😀…"),
    # grapheme clusters stay whole: ZWJ families, flags, accents, VS16, skin tones, keycaps
    (FAMILY * 3, 15, FAMILY + "…"),
    (FAMILY * 3, 11, ""),  # not even one family fits: nothing, not half a family
    ("🇨🇳🇺🇸🇯🇵", 7, "🇨🇳…"),
    ("x🇨🇳🇺🇸🇯🇵", 7, "x🇨🇳…"),
    ("e\u0301e\u0301e\u0301e\u0301", 4, "e\u0301…"),
    ("Cafe\u0301s and more words", 7, "Cafe\u0301s…"),
    ("❤\ufe0f❤\ufe0f❤\ufe0f", 4, "❤\ufe0f…"),
    ("👍🏽👍🏽👍🏽", 6, "👍🏽…"),
    ("1\ufe0f\u20e32\ufe0f\u20e3", 5, "1\ufe0f\u20e3…"),
    ("a" + "\u0301" * 200 + "b", 101, "a" + "\u0301" * 99 + "…"),  # a runaway (Zalgo) cluster is cut anyway
])
def test_cut_text_table(text: str, units: int, expected: str) -> None:
    assert cut_text(text, units) == expected
    assert utf16_len(cut_text(text, units)) <= units


@pytest.mark.parametrize("unit", [FAMILY, "🇨🇳", "e\u0301", "❤\ufe0f", "👍🏽", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"])
def test_a_long_emoji_title_is_cut_between_graphemes(unit: str) -> None:
    title = (unit * 2000)[:2000] if len(unit) == 1 else unit * (2000 // len(unit))
    post = render_post(article(title=title), ZH_BODY, settings())
    assert_valid_telegram_html(post.html, MessageLimit.CAPTION_LENGTH)
    shown = post.extras["title"]
    assert shown.endswith("…") and shown[:-1] and shown[:-1] == unit * (len(shown[:-1]) // len(unit))


@pytest.mark.parametrize(("name", "tag"), [
    ("新媒体", "新媒体"), ("new media", "new_media"), ("C++", "Cpp"), ("c#", "csharp"), ("C#", "CSharp"), ("F#", "FSharp"),
    ("C++17", "Cpp17"), ("Notepad++", "Notepadpp"), ("a+b", "a_b"), ("1+1", ""), ("C/C++", "C_Cpp"), ("2024", ""), ("a-b c", "a_b_c"),
    ("#tag", "tag"), ("ＡＢＣ", "ABC"), ("   ", ""), ("中文 English", "中文_English"), ("新媒体！", "新媒体"),
    ("2024年", "2024年"), ("1_2", ""), ("Café", "Café"), ("🔋", ""), ("<b>", "b"),
])
def test_make_hashtag_table(name: str, tag: str) -> None:
    assert make_hashtag(name) == tag


@pytest.mark.parametrize(("categories", "tags", "limit", "expected"), [
    ((("新媒体", "趣头条", "分类"),), (), 10, ["#新媒体", "#趣头条", "#分类"]),  # seed 000: every level
    ((("Energy",), ("News", "energy")), ("ENERGY", "Grid", "grid"), 10, ["#Energy", "#News", "#Grid"]),
    ((("A", "B"), ("A", "C")), ("D",), 10, ["#A", "#B", "#C", "#D"]),  # a shared parent once
    ((("新媒体", "趣头条", "分类"),), ("x",), 2, ["#新媒体", "#趣头条"]),  # capped, parents first
    ((), ("C++", "C#", "c#", "C"), 10, ["#Cpp", "#CSharp", "#C"]),  # languages stay apart
    ((("2024", "新 闻"),), (), 10, ["#新_闻"]),
])
def test_hashtags_every_level_then_tags_deduplicated(categories: tuple[tuple[str, ...], ...], tags: tuple[str, ...],
                                                    limit: int, expected: list[str]) -> None:
    assert hashtags(article(categories=categories, tags=tags), limit) == expected


def test_seed_000_hierarchy_gives_one_hashtag_per_level() -> None:
    post = render_post(article(categories=(("新媒体", "趣头条", "分类"),), tags=()), ZH_BODY, settings())
    assert "#新媒体 #趣头条 #分类" in visible_text(post.html)


@pytest.mark.parametrize(("html", "length"), [
    ("<b>a&amp;b</b>", 3), ("😀", 2), ("&#x27;&#39;&quot;", 3), ('<a href="https://x.y/&amp;">link</a>', 4),
    ("中文", 2), ("𠀀", 2), ("&lt;b&gt;", 3),
])
def test_visible_length_counts_utf16_after_parsing(html: str, length: int) -> None:
    assert visible_length(html) == length


def test_post_hash_changes_with_what_the_channel_shows() -> None:
    a = render_post(article(), ZH_BODY, settings())
    b = render_post(article(title="新标题"), ZH_BODY, settings())
    c = render_post(article(image_url="https://img.example.com/other.jpg"), ZH_BODY, settings())
    assert len({post_hash(a), post_hash(b), post_hash(c)}) == 3
    assert post_hash(a) == post_hash(dataclasses.replace(a))
