"""Feed documents read back by feedparser (as readers would) field by field, and JSON Feed
checked against the 1.1 spec's fields."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import feedparser
import pytest

from bot.feeds import (
    EMPTY_FEED_UPDATED,
    Enclosure,
    Entry,
    FeedSpec,
    build_atom,
    build_rss,
    entry_id,
    make_entry,
)
from bot.jsonfeed import JSON_FEED_VERSION, build_json
from bot.markup import render_body
from bot.models import Article

CST = timezone(timedelta(hours=8))
SITE = "https://news.example.org/"

SPEC = FeedSpec(
    title="电网要闻", subtitle="电网与能源新闻", self_url=SITE + "feeds/atom.xml",
    alternate_url=SITE, language="zh-CN", author="编辑部",
    icon_url=SITE + "icon.png", logo_url=SITE + "logo.png", stylesheet_href="feed.xsl")


def article(n: int, **changes: Any) -> Article:
    base = Article(
        source=f"post-{n}.md", id=f"tag:news.example.org,2024:post-{n}", title=f"第{n}篇 新闻",
        url=f"{SITE}2024/11/{n:02d}/新闻-{n}/",
        published_at=datetime(2024, 11, n, 8, 0, tzinfo=CST),
        updated_at=datetime(2024, 11, n, 8, 0, tzinfo=CST),
        categories=(("新媒体", "趣头条"),), tags=("电网", "储能"), author="趣头条",
        image_url=f"https://img.example.com/{n}.jpg", content_hash=f"h{n}")
    return dataclasses.replace(base, **changes)


def entry(a: Article, body: str = "<p>正文 <a href=\"../x.html\">链接</a></p>") -> Entry:
    return make_entry(a, render_body(body, "html", a.url))


ENTRIES = [entry(article(3)), entry(article(5, updated_at=datetime(2024, 11, 9, 12, 0, tzinfo=CST))),
           entry(article(4, image_url=None, author=""))]


def spec_for(fmt: str) -> FeedSpec:
    name = {"atom": "atom.xml", "rss": "rss.xml", "json": "feed.json"}[fmt]
    return dataclasses.replace(SPEC, self_url=SITE + "feeds/" + name)


def parse(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def test_atom_round_trips_field_by_field() -> None:
    d = parse(build_atom(spec_for("atom"), ENTRIES))
    assert d.version == "atom10"
    assert d.feed.title == "电网要闻" and d.feed.subtitle == "电网与能源新闻"
    assert d.feed.links[0] == {"href": SITE + "feeds/atom.xml", "rel": "self", "type": "application/atom+xml"}
    assert d.feed.link == SITE
    assert d.feed.language == "zh-CN"
    assert d.feed.updated == "2024-11-09T12:00:00+08:00"  # newest entry update, not build time
    assert d.feed.author == "编辑部" and d.feed.generator == "newsbot"
    assert d.feed.icon == SITE + "icon.png" and d.feed.logo == SITE + "logo.png"
    assert [e.id for e in d.entries] == [f"tag:news.example.org,2024:post-{n}" for n in (5, 4, 3)]
    first = d.entries[0]
    assert first.title == "第5篇 新闻"
    assert first.link == SITE + "2024/11/05/%E6%96%B0%E9%97%BB-5/"
    assert first.published == "2024-11-05T08:00:00+08:00"
    assert first.updated == "2024-11-09T12:00:00+08:00"
    assert first.author == "趣头条"
    assert [t.term for t in first.tags] == ["新媒体/趣头条", "电网", "储能"]
    assert first.summary == "正文 链接"
    assert first.content[0].type == "text/html"
    assert 'href="https://news.example.org/2024/11/05/x.html"' in first.content[0].value
    assert first.media_thumbnail == [{"url": "https://img.example.com/5.jpg"}]
    assert d.entries[1].author == "编辑部"  # the feed's author when the article names none (P11)
    assert "media_thumbnail" not in d.entries[1]


def test_rss_round_trips_field_by_field() -> None:
    d = parse(build_rss(spec_for("rss"), ENTRIES))
    assert d.version == "rss20"
    assert d.feed.title == "电网要闻" and d.feed.subtitle == "电网与能源新闻"
    assert d.feed.link == SITE  # P5: the channel link is the site, not the feed
    assert {"href": SITE + "feeds/rss.xml", "rel": "self", "type": "application/rss+xml"} in d.feed.links
    assert d.feed.language == "zh-CN"
    assert d.feed.updated == "Sat, 09 Nov 2024 12:00:00 +0800"
    assert d.feed.image.href == SITE + "logo.png" and d.feed.image.link == SITE
    first = d.entries[0]
    assert first.id == "tag:news.example.org,2024:post-5" and first.guidislink is False
    assert first.link == SITE + "2024/11/05/%E6%96%B0%E9%97%BB-5/"
    assert first.published == "Tue, 05 Nov 2024 08:00:00 +0800"
    assert [t.term for t in first.tags] == ["新媒体/趣头条", "电网", "储能"]
    assert first.summary == "正文 链接"
    assert 'href="https://news.example.org/2024/11/05/x.html"' in first.content[0].value
    assert first.media_thumbnail == [{"url": "https://img.example.com/5.jpg"}]
    assert [e.id for e in d.entries] == [f"tag:news.example.org,2024:post-{n}" for n in (5, 4, 3)]


def test_json_feed_has_the_1_1_fields() -> None:
    doc = json.loads(build_json(spec_for("json"), ENTRIES))
    assert doc["version"] == JSON_FEED_VERSION
    assert doc["title"] == "电网要闻" and doc["description"] == "电网与能源新闻"
    assert doc["home_page_url"] == SITE and doc["feed_url"] == SITE + "feeds/feed.json"
    assert doc["language"] == "zh-CN" and doc["authors"] == [{"name": "编辑部"}]
    assert doc["icon"] == SITE + "icon.png"
    items = doc["items"]
    assert [i["id"] for i in items] == [f"tag:news.example.org,2024:post-{n}" for n in (5, 4, 3)]
    first = items[0]
    assert first["url"] == SITE + "2024/11/05/%E6%96%B0%E9%97%BB-5/"
    assert first["title"] == "第5篇 新闻"
    assert datetime.fromisoformat(first["date_published"]) == datetime(2024, 11, 5, 8, tzinfo=CST)
    assert datetime.fromisoformat(first["date_modified"]) == datetime(2024, 11, 9, 12, tzinfo=CST)
    assert first["summary"] == "正文 链接"
    assert "https://news.example.org/2024/11/05/x.html" in first["content_html"]
    assert first["image"] == "https://img.example.com/5.jpg"
    assert first["authors"] == [{"name": "趣头条"}]
    assert first["tags"] == ["新媒体/趣头条", "电网", "储能"]
    assert "image" not in items[1] and "authors" not in items[1]
    assert all(isinstance(i["id"], str) for i in items)
    assert "null" not in json.dumps(doc)


@pytest.mark.parametrize("build", [build_atom, build_rss, build_json])
def test_same_inputs_give_the_same_bytes_whatever_the_order(build: Any) -> None:
    first = build(SPEC, ENTRIES)
    assert build(SPEC, list(reversed(ENTRIES))) == first  # order comes from the dates
    assert build(SPEC, ENTRIES[1:] + ENTRIES[:1]) == first


def test_feed_dates_come_from_entries_never_from_the_clock() -> None:
    """P3: feedgen stamps build time unless told otherwise; every date here is an entry's."""
    today = datetime.now(UTC)
    for data in (build_atom(SPEC, ENTRIES), build_rss(SPEC, ENTRIES)):
        text = data.decode()
        assert today.strftime("%Y-%m-%d") not in text and today.strftime("%d %b %Y") not in text
    rss = parse(build_rss(SPEC, ENTRIES))
    assert rss.feed.updated == "Sat, 09 Nov 2024 12:00:00 +0800"  # lastBuildDate = newest update


def test_empty_feed_is_valid_with_a_fixed_date() -> None:
    d = parse(build_atom(SPEC, []))
    assert d.entries == [] and d.feed.updated == EMPTY_FEED_UPDATED.isoformat()
    assert json.loads(build_json(SPEC, []))["items"] == []


def test_control_characters_never_cost_the_feed() -> None:
    dirty = article(6, title="趣头条\x08标题\x1b", author="作者\x00", summary="摘要\x0c\ufffd",
                    tags=("标签\x07", ""), categories=(("新\x01媒体",), ("",)))
    entries = [make_entry(dirty, "<p>正文\x08</p>"), ENTRIES[0]]
    for build in (build_atom, build_rss):
        d = parse(build(SPEC, entries))
        e = next(x for x in d.entries if x.id.endswith("post-6"))
        assert e.title == "趣头条标题" and e.summary == "摘要"
        assert [t.term for t in e.tags] == ["新媒体", "标签"]  # empty terms dropped (P12)
        assert len(d.entries) == 2
    item = json.loads(build_json(SPEC, entries))["items"][0]
    assert item["title"] == "趣头条标题" and item["content_html"] == "<p>正文</p>"


def test_hostile_html_is_sanitised_in_every_format() -> None:
    hostile = entry(article(7), '<p onclick="x()">ok<script>alert(1)</script>'
                                '<a href="javascript:alert(2)">j</a><img src="a.jpg" onerror="y()"></p>')
    for data in (build_atom(SPEC, [hostile]), build_rss(SPEC, [hostile])):
        content = parse(data).entries[0].content[0].value
        assert "script" not in content and "onclick" not in content and "javascript" not in content
        assert "onerror" not in content
        assert 'src="https://news.example.org/2024/11/07/%E6%96%B0%E9%97%BB-7/a.jpg"' in content


def test_stable_id_survives_title_url_and_date_edits() -> None:
    before = parse(build_atom(SPEC, [entry(article(8))])).entries[0]
    edited = article(8, title="改过的标题", url=SITE + "moved/", updated_at=datetime(2024, 12, 1, tzinfo=CST))
    after = parse(build_atom(SPEC, [entry(edited)])).entries[0]
    assert after.id == before.id
    assert after.published == before.published  # published never moves
    assert after.updated != before.updated


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("tag:news.example.org,2024:post-1", "tag:news.example.org,2024:post-1"),
        ("tag:news.example.org,2024:新闻", "tag:news.example.org,2024:%E6%96%B0%E9%97%BB"),
        ("https://news.example.org/a b/", "https://news.example.org/a%20b/"),
    ],
)
def test_entry_ids_are_uris(raw: str, expected: str) -> None:
    assert entry_id(raw) == expected


def test_a_bare_key_becomes_a_stable_urn() -> None:
    assert entry_id("abbrlink-3f2a") == entry_id("abbrlink-3f2a")
    assert entry_id("abbrlink-3f2a").startswith("urn:uuid:")
    assert entry_id("abbrlink-3f2a") != entry_id("abbrlink-3f2b")


def test_enclosure_only_with_length_and_the_entry_link_stays_the_article() -> None:
    """P6 regression: feedgen 1.0.0 turned the enclosure into a second alternate link."""
    a = article(9)
    with_enclosure = dataclasses.replace(
        entry(a), enclosure=Enclosure("https://img.example.com/9.jpg", 12345, "image/jpeg"))
    d = parse(build_atom(SPEC, [with_enclosure]))
    e = d.entries[0]
    assert e.link == SITE + "2024/11/09/%E6%96%B0%E9%97%BB-9/"
    assert [link.rel for link in e.links] == ["alternate", "enclosure"]
    assert e.enclosures[0].href == "https://img.example.com/9.jpg" and e.enclosures[0].length == "12345"
    rss = parse(build_rss(SPEC, [with_enclosure])).entries[0]
    assert rss.link == SITE + "2024/11/09/%E6%96%B0%E9%97%BB-9/"
    assert rss.enclosures[0].type == "image/jpeg"
    assert b"<enclosure" not in build_rss(SPEC, [entry(a)])  # no length known: thumbnail only


def test_stylesheet_instruction_follows_the_declaration() -> None:
    for data in (build_atom(SPEC, ENTRIES), build_rss(SPEC, ENTRIES)):
        lines = data.split(b"\n")
        assert lines[0] == b"<?xml version='1.0' encoding='UTF-8'?>"
        assert lines[1] == b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>'
        parse(data)
    plain = build_atom(dataclasses.replace(SPEC, stylesheet_href=""), ENTRIES)
    assert b"xml-stylesheet" not in plain


def test_a_broken_entry_is_left_out_and_the_rest_stay() -> None:
    naive = article(10, published_at=datetime(2024, 11, 10, 8, 0))  # no zone: feedgen refuses it
    d = parse(build_atom(SPEC, [entry(naive), ENTRIES[0]]))
    assert [e.id for e in d.entries] == [ENTRIES[0].article.id]


def test_summary_prefers_the_article_summary_then_cuts_the_text() -> None:
    own = make_entry(article(11, summary="编辑写的摘要"), "<p>正文</p>")
    assert own.summary == "编辑写的摘要"
    long_text = "".join(f"第{i}句话说了一些事情。" for i in range(60))
    cut = make_entry(article(12), f"<p>{long_text}</p>")
    assert len(cut.summary) <= 200 and cut.summary.endswith("。")
    no_content = make_entry(article(13), "<p>正文</p>", full_content=False)
    assert no_content.content_html == "" and no_content.summary == "正文"
    assert "content" not in parse(build_atom(SPEC, [no_content])).entries[0]


def test_plain_text_that_looks_like_html_stays_text() -> None:
    """Readers treat RSS description as HTML: "Map<K, V>" must not become a tag."""
    a = article(14, title="Grid & Storage: <100 ms", summary="用 Map<K, V> & 泛型 <T>")
    e = make_entry(a, "<p>x</p>")
    rss = build_rss(SPEC, [e])
    assert b"<title>Grid &#x26; Storage: &#x3C;100 ms</title>" in rss
    for data in (rss, build_atom(SPEC, [e])):
        parsed = parse(data).entries[0]
        assert parsed.title == "Grid & Storage: <100 ms"
        assert parsed.summary == "用 Map&lt;K, V&gt; &amp; 泛型 &lt;T&gt;"  # escaped HTML = the plain text
    assert json.loads(build_json(SPEC, [e]))["items"][0]["summary"] == "用 Map<K, V> & 泛型 <T>"


def test_an_article_without_text_is_summarised_by_its_title() -> None:
    empty = make_entry(article(15), "")
    assert empty.summary == "第15篇 新闻"
    assert parse(build_atom(SPEC, [empty])).entries[0].summary == "第15篇 新闻"


def test_shared_entry_cache_gives_the_same_bytes() -> None:
    cache: dict[tuple[str, str, str], bytes] = {}
    for build in (build_atom, build_rss, build_json):
        assert build(SPEC, ENTRIES, cache) == build(SPEC, ENTRIES) == build(SPEC, ENTRIES, cache)
    assert json.loads(build_json(SPEC, ENTRIES, cache)) == json.loads(build_json(SPEC, ENTRIES))
