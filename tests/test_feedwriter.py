"""Writing feeds to a real folder: incremental, atomic, stable, and never outside feeds/."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
import pytest

from bot.config import Settings
from bot.feedwriter import FeedReport, safe_path, write_feeds, write_if_changed
from bot.models import Article
from bot.state import State

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SITE = "https://news.example.org/"


def make_article(n: int, **changes: Any) -> Article:
    base = Article(
        source=f"p{n}.md", id=f"tag:news.example.org,2024:p{n}", title=f"新闻 {n}",
        url=f"{SITE}2024/p{n}/", published_at=datetime(2024, 1, 1, tzinfo=CST) + timedelta(hours=n),
        updated_at=datetime(2024, 1, 1, tzinfo=CST) + timedelta(hours=n),
        categories=(("新媒体", "趣头条"),) if n % 2 else (("电网",),),
        tags=("储能",) if n % 3 == 0 else (), author="记者", content_hash=f"h{n}")
    return dataclasses.replace(base, **changes)


class Site:
    """Articles plus their bodies, and a loader that counts reads."""

    def __init__(self, tmp_path: Path, n: int = 8, **settings: Any) -> None:
        self.feeds_dir = tmp_path / "out" / "feeds"
        self.settings = Settings(site_url=SITE, feeds_dir=self.feeds_dir, site_title="电网要闻",
                                 language="zh-CN", timezone="Asia/Shanghai", **settings)
        self.articles = [make_article(i) for i in range(1, n + 1)]
        self.bodies = {a.id: f"<p>正文 {a.title} <img src=\"/i/{a.source}.jpg\"></p>" for a in self.articles}
        self.state = State()
        self.reads: list[str] = []

    def load_body(self, article: Article) -> str:
        self.reads.append(article.source)
        body = self.bodies[article.id]
        if body == "<unreadable>":
            raise OSError(5, "Input/output error")
        return body

    def run(self, now: datetime = NOW) -> FeedReport:
        self.reads.clear()
        return write_feeds(self.settings, self.articles, self.state, now, self.load_body)

    def replace(self, n: int, **changes: Any) -> None:
        self.articles = [dataclasses.replace(a, **changes) if a.source == f"p{n}.md" else a
                         for a in self.articles]

    def files(self) -> dict[str, int]:
        return {p.relative_to(self.feeds_dir).as_posix(): p.stat().st_mtime_ns
                for p in self.feeds_dir.rglob("*") if p.is_file()}

    def parse(self, rel: str) -> Any:
        parsed = feedparser.parse((self.feeds_dir / rel).read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        return parsed


FEEDS = {f"{prefix}{name}" for prefix in ("", "categories/新媒体/", "categories/新媒体-趣头条/",
                                           "categories/电网/", "tags/储能/")
         for name in ("atom.xml", "rss.xml", "feed.json")}
EXTRAS = {"index.html", "index.opml", "feed.xsl"}


def test_first_run_writes_every_feed_and_the_index_files(tmp_path: Path) -> None:
    site = Site(tmp_path)
    report = site.run()
    assert set(report.written) == FEEDS | EXTRAS
    assert set(site.files()) == FEEDS | EXTRAS
    assert report.removed == [] and report.skipped == []
    parent = site.parse("categories/新媒体/atom.xml")
    child = site.parse("categories/新媒体-趣头条/atom.xml")
    assert [e.id for e in parent.entries] == [e.id for e in child.entries]  # parent has its children's
    assert [e.id for e in parent.entries] == [f"tag:news.example.org,2024:p{n}" for n in (7, 5, 3, 1)]
    assert parent.feed.links[0].href == SITE + "feeds/categories/%E6%96%B0%E5%AA%92%E4%BD%93/atom.xml"
    assert parent.feed.link == SITE + "categories/%E6%96%B0%E5%AA%92%E4%BD%93/"
    # a nested category's page is where Hexo serves it: one folder per level, not the feed's dashed slug
    assert child.feed.link == SITE + "categories/%E6%96%B0%E5%AA%92%E4%BD%93/%E8%B6%A3%E5%A4%B4%E6%9D%A1/"
    assert site.parse("tags/储能/atom.xml").feed.link == SITE + "tags/%E5%82%A8%E8%83%BD/"
    body = site.parse("atom.xml").entries[0].content[0].value
    assert 'src="https://news.example.org/i/p8.md.jpg"' in body


def test_a_run_with_no_change_writes_nothing_and_keeps_mtimes(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run()
    before = site.files()
    report = site.run()
    assert report.written == [] and report.removed == []
    assert report.unchanged == len(FEEDS | EXTRAS)
    assert site.reads == []  # no feed was rebuilt, so no body was read
    assert site.files() == before


def test_one_changed_article_rewrites_only_the_feeds_that_show_it(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run()
    before = site.files()
    site.replace(2, title="新闻 2（更正）", content_hash="h2b",
                 updated_at=datetime(2024, 2, 1, tzinfo=CST))
    report = site.run()
    expected = {f"{p}{n}" for p in ("", "categories/电网/") for n in ("atom.xml", "rss.xml", "feed.json")}
    assert set(report.written) == expected
    assert {rel for rel, mtime in site.files().items() if before[rel] != mtime} == expected
    assert set(site.reads) == {f"p{n}.md" for n in (2, 4, 6, 8)} | {"p1.md", "p3.md", "p5.md", "p7.md"}
    entry = next(e for e in site.parse("categories/电网/atom.xml").entries if e.id.endswith(":p2"))
    assert entry.title == "新闻 2（更正）" and entry.updated.startswith("2024-02-01")


def test_each_body_is_read_once_per_run(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run()
    assert sorted(site.reads) == sorted(a.source for a in site.articles)


def test_a_vanished_category_loses_its_feeds_and_folder(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run()
    for n in (2, 4, 6, 8):
        site.replace(n, categories=(("城市",),), content_hash=f"moved{n}")
    report = site.run()
    gone = {f"categories/电网/{n}" for n in ("atom.xml", "rss.xml", "feed.json")}
    assert gone <= set(report.removed)
    assert not (site.feeds_dir / "categories" / "电网").exists()
    assert (site.feeds_dir / "categories" / "城市" / "atom.xml").is_file()
    assert not gone & set(site.state.feeds)
    for index in ("index.opml", "index.html"):
        text = (site.feeds_dir / index).read_text(encoding="utf-8")
        assert "categories/%E7%94%B5%E7%BD%91/" not in text and "categories/%E5%9F%8E%E5%B8%82/" in text


def test_hostile_names_never_leave_the_feeds_folder(tmp_path: Path) -> None:
    site = Site(tmp_path, n=6)
    hostile = ["../../escape", "..", "/etc/passwd", ".hidden", "CON", "a/../../b", "", "\x00"]
    for i, name in enumerate(hostile):
        site.articles.append(make_article(100 + i, categories=((name,), ("..", name)), tags=(name, "../" + name)))
        site.bodies[f"tag:news.example.org,2024:p{100 + i}"] = "<p>x</p>"
    before_outside = {p for p in tmp_path.rglob("*")}
    report = site.run()
    outside = {p for p in tmp_path.rglob("*") if not p.is_relative_to(site.feeds_dir)} - before_outside
    assert outside == {tmp_path / "out"}  # the parent of feeds/, and nothing else
    for rel in report.written:
        assert safe_path(site.feeds_dir, rel).is_relative_to(site.feeds_dir.resolve())
        assert ".." not in rel.split("/") and not any(part.startswith(".") for part in rel.split("/"))
    slugs = site.state.meta["feed_slugs"]
    assert len(set(slugs["categories"].values())) == len(slugs["categories"])  # no shared files


def test_a_pattern_that_leaves_the_folder_is_refused(tmp_path: Path) -> None:
    site = Site(tmp_path, n=2, category_feed_atom="../../{slug}.xml")
    report = site.run()
    assert not any(p.suffix == ".xml" for p in (tmp_path / "out").glob("*.xml"))
    assert not any(rel.startswith("..") for rel in report.written)
    assert "categories/电网/rss.xml" in report.written


def test_safe_path_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "feeds"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    for rel in ("../x.xml", "/etc/passwd", "link/x.xml", "a/../../x.xml", "."):
        with pytest.raises(ValueError):
            safe_path(root, rel)
    assert safe_path(root, "categories/新媒体/atom.xml") == root.resolve() / "categories/新媒体/atom.xml"


def test_write_if_changed_is_atomic_and_compares_bytes(tmp_path: Path) -> None:
    path = tmp_path / "feeds" / "atom.xml"
    assert write_if_changed(path, b"one") is True
    inode = path.stat().st_ino
    mtime = path.stat().st_mtime_ns
    assert write_if_changed(path, b"one") is False
    assert path.stat().st_mtime_ns == mtime
    assert write_if_changed(path, b"two") is True
    assert path.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert path.read_bytes() == b"two" and (path.stat().st_mode & 0o777) == 0o644
    with pytest.raises(TypeError):
        write_if_changed(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["atom.xml"]  # no temp file left behind


def test_drafts_and_future_articles_stay_out_until_due(tmp_path: Path) -> None:
    site = Site(tmp_path, n=3)
    site.replace(1, is_draft=True)
    site.replace(2, published_at=NOW + timedelta(days=1), updated_at=NOW + timedelta(days=1))
    site.run()
    assert [e.id for e in site.parse("atom.xml").entries] == ["tag:news.example.org,2024:p3"]
    report = site.run(NOW + timedelta(days=2))
    assert "atom.xml" in report.written
    ids = [e.id for e in site.parse("atom.xml").entries]
    assert ids == ["tag:news.example.org,2024:p2", "tag:news.example.org,2024:p3"]


def test_an_unreadable_article_is_left_out_then_retried(tmp_path: Path) -> None:
    site = Site(tmp_path, n=3)
    site.bodies["tag:news.example.org,2024:p3"] = "<unreadable>"
    report = site.run()
    assert report.skipped == [("p3.md", "Input/output error")]
    assert [e.id for e in site.parse("atom.xml").entries] == [
        "tag:news.example.org,2024:p2", "tag:news.example.org,2024:p1"]
    site.bodies["tag:news.example.org,2024:p3"] = "<p>fixed</p>"
    report = site.run()
    assert "atom.xml" in report.written and report.skipped == []
    assert site.parse("atom.xml").entries[0].id == "tag:news.example.org,2024:p3"


def test_feed_limit_keeps_the_newest(tmp_path: Path) -> None:
    site = Site(tmp_path, n=30, feed_limit=5)
    site.run()
    ids = [e.id for e in site.parse("atom.xml").entries]
    assert ids == [f"tag:news.example.org,2024:p{n}" for n in range(30, 25, -1)]
    items = json.loads((site.feeds_dir / "feed.json").read_bytes())["items"]
    assert [i["id"] for i in items] == ids


def test_slugs_stay_with_their_names_across_runs(tmp_path: Path) -> None:
    site = Site(tmp_path, n=2)
    site.replace(1, tags=("C++",))
    site.run()
    assert (site.feeds_dir / "tags" / "c" / "atom.xml").is_file()
    site.replace(2, tags=("C#",))  # sorts before C++ and wants the same slug
    site.run()
    assert site.state.meta["feed_slugs"]["tags"] == {"C++": "c", "C#": "c-2"}
    assert site.parse("tags/c/atom.xml").entries[0].id.endswith(":p1")


def test_formats_and_stylesheet_follow_settings(tmp_path: Path) -> None:
    site = Site(tmp_path, n=2)
    site.run()
    site.settings = dataclasses.replace(site.settings, feed_formats=["atom"], feed_stylesheet=False)
    report = site.run()
    assert "feed.xsl" in report.removed and "rss.xml" in report.removed
    assert not list(site.feeds_dir.rglob("*.json")) and not list(site.feeds_dir.rglob("rss.xml"))
    assert b"xml-stylesheet" not in (site.feeds_dir / "atom.xml").read_bytes()


def test_index_page_and_opml_list_every_feed(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run()
    opml = (site.feeds_dir / "index.opml").read_text(encoding="utf-8")
    html = (site.feeds_dir / "index.html").read_text(encoding="utf-8")
    for rel in FEEDS:
        encoded = quote(SITE + "feeds/" + rel, safe=":/")
        assert encoded in html
        if rel.endswith("atom.xml"):
            assert f'xmlUrl="{encoded}"' in opml
    assert opml.count("xmlUrl=") == 5  # each feed once: importing must not triple subscriptions
    assert '<html lang="zh-CN">' in html and "订阅" in html
    assert os.path.getsize(site.feeds_dir / "feed.xsl") > 0


def test_names_differing_only_in_case_or_width_are_one_feed(tmp_path: Path) -> None:
    site = Site(tmp_path, n=5)
    spellings = {1: ("energy", "AI"), 2: ("Energy", "ａｉ"), 3: ("ＥＮＥＲＧＹ", "ai"), 4: ("Energy", "ai"), 5: ("Energy", "AI")}
    for n, (category, tag) in spellings.items():
        site.replace(n, categories=((category, "Wind"),) if n == 1 else ((category,),), tags=(tag,))
    report = site.run()
    dirs = {rel.rsplit("/", 1)[0] for rel in report.written if "/" in rel}
    assert dirs == {"categories/energy", "categories/energy-wind", "tags/ai"}
    parsed = site.parse("categories/energy/atom.xml")
    assert parsed.feed.title == "电网要闻 · Energy"  # the most used spelling
    assert sorted(e.id.rsplit(":", 1)[1] for e in parsed.entries) == ["p1", "p2", "p3", "p4", "p5"]
    assert site.parse("categories/energy-wind/atom.xml").feed.title == "电网要闻 · Energy/Wind"  # parent as shown
    assert site.parse("tags/ai/atom.xml").feed.title == "电网要闻 · AI"  # AI 2, ai 2: first in sorted order
    slugs = site.state.meta["feed_slugs"]
    assert slugs["categories"] == {"Energy": "energy", "energy": "energy", "ＥＮＥＲＧＹ": "energy",
                                   "Energy/Wind": "energy-wind", "energy/Wind": "energy-wind"}
    assert set(slugs["tags"].values()) == {"ai"}


def test_merged_names_keep_a_url_subscribers_already_have(tmp_path: Path) -> None:
    site = Site(tmp_path, n=3)
    for n, name in ((1, "Energy"), (2, "Energy"), (3, "energy")):
        site.replace(n, categories=((name,),))
    site.state.meta["feed_slugs"] = {"categories": {"energy": "energy-2"}, "tags": {}}  # before the merge
    site.run()
    assert (site.feeds_dir / "categories" / "energy-2" / "atom.xml").is_file()
    assert not (site.feeds_dir / "categories" / "energy").exists()
    # Both spellings had feeds: the plain URL is kept, the numbered one goes.
    site.state.meta["feed_slugs"] = {"categories": {"Energy": "energy-2", "energy": "energy"}, "tags": {}}
    report = site.run()
    assert {"categories/energy-2/atom.xml", "categories/energy/atom.xml"} <= set(report.removed + report.written)
    assert len(site.parse("categories/energy/atom.xml").entries) == 3
    assert not (site.feeds_dir / "categories" / "energy-2").exists()


def test_temp_files_left_by_a_killed_build_are_removed(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.run()
    leftovers = [site.feeds_dir / ".atom.xml.k3j_9a2b.tmp",  # names as the staging step makes them
                 site.feeds_dir / "categories" / "电网" / ".rss.xml.0a1b2c3d.tmp"]
    keep = [site.feeds_dir / ".well-known", site.feeds_dir / "notes.tmp", site.feeds_dir / ".atom.xml.tmp"]
    for path in leftovers + keep:
        path.write_text("x", encoding="utf-8")
    before = {p: m for p, m in site.files().items() if not p.endswith(".tmp") and p != ".well-known"}
    report = site.run()  # the next build (or service start) sweeps them, and writes nothing else
    assert report.written == []
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in keep)
    assert {p: m for p, m in site.files().items() if not p.endswith(".tmp") and p != ".well-known"} == before


@pytest.mark.parametrize(("category_url", "expected"), [
    ("blog/category/{slug}.html", "blog/category/xmt-%E8%B6%A3%E5%A4%B4%E6%9D%A1.html"),
    ("categories/{path}/", "categories/xmt/%E8%B6%A3%E5%A4%B4%E6%9D%A1/"),
])
def test_category_pages_follow_the_setting_and_the_slug_map(tmp_path: Path, category_url: str, expected: str) -> None:
    site = Site(tmp_path, category_url=category_url, slug_map={"新媒体": "xmt"})
    site.run()
    assert site.parse("categories/xmt-趣头条/atom.xml").feed.link == SITE + expected


def test_a_wiped_feeds_folder_is_rebuilt_with_the_same_dates(tmp_path: Path) -> None:
    """An ephemeral disk: feeds/ is gone after a restart, state/ is not. Readers polling with
    If-Modified-Since (or nginx's mtime-based ETag) must not see every feed as new."""
    import shutil

    site = Site(tmp_path)
    site.run()
    first = site.files()
    shutil.rmtree(site.feeds_dir)
    site.run()
    rebuilt = site.files()
    assert rebuilt.keys() == first.keys()
    written_by_us = {rel for rel in first if site.state.meta["feed_dates"].get(rel)}
    assert written_by_us == set(first)
    assert rebuilt == first  # same bytes, same dates
    site.replace(2, title="新闻 2（更正）", content_hash="h2b")
    shutil.rmtree(site.feeds_dir)
    site.run()
    changed = {rel for rel, mtime in site.files().items() if mtime != first[rel]}
    assert changed == {f"{p}{n}" for p in ("", "categories/电网/") for n in ("atom.xml", "rss.xml", "feed.json")}
