"""What web mode may serve and how it labels it: the rules as tables, the cache on real files."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from bot.config import Settings
from bot.webfiles import (
    FileFacts,
    feed_globs,
    is_hidden_path,
    mount_path,
    sniff_content_type,
)

GLOBS = feed_globs(Settings())
CUSTOM = feed_globs(Settings(feed_all_atom="all.atom.xml", category_feed_atom="{slug}.atom.xml",
                             category_feed_rss="{slug}.rss.xml", tag_feed_atom="tag/{slug}.xml"))


@pytest.mark.parametrize(("rel", "head", "globs", "expected"), [
    ("atom.xml", b"", GLOBS, "application/atom+xml; charset=utf-8"),
    ("rss.xml", b"", GLOBS, "application/rss+xml; charset=utf-8"),
    ("feed.json", b"", GLOBS, "application/feed+json; charset=utf-8"),
    ("categories/科技/atom.xml", b"", GLOBS, "application/atom+xml; charset=utf-8"),
    ("tags/a/b/rss.xml", b"", GLOBS, "application/rss+xml; charset=utf-8"),
    ("tags/x/feed.json", b"", GLOBS, "application/feed+json; charset=utf-8"),
    ("all.atom.xml", b"", CUSTOM, "application/atom+xml; charset=utf-8"),
    ("tech.rss.xml", b"", CUSTOM, "application/rss+xml; charset=utf-8"),
    ("tag/python.xml", b"<rss", CUSTOM, "application/atom+xml; charset=utf-8"),  # the setting wins
    ("old/feed.xml", b'<?xml version="1.0"?><feed xmlns=', GLOBS, "application/atom+xml; charset=utf-8"),
    ("old/feed.xml", b'<?xml version="1.0"?><rss version="2.0">', GLOBS, "application/rss+xml; charset=utf-8"),
    ("sitemap.xml", b"<urlset>", GLOBS, "application/xml; charset=utf-8"),
    ("old.json", b'{"version": "https://jsonfeed.org/version/1"}', GLOBS, "application/feed+json; charset=utf-8"),
    ("data.json", b"{}", GLOBS, "application/json; charset=utf-8"),
    ("index.opml", b"", GLOBS, "text/x-opml; charset=utf-8"),
    ("index.html", b"", GLOBS, "text/html; charset=utf-8"),
    ("feed.xsl", b"", GLOBS, "application/xml; charset=utf-8"),
    ("logo.png", b"", GLOBS, "image/png"),
    ("noext", b"", GLOBS, "application/octet-stream"),
])
def test_content_type(rel: str, head: bytes, globs: list[tuple[str, str]], expected: str) -> None:
    assert sniff_content_type(rel, head, globs) == expected


@pytest.mark.parametrize(("rel", "hidden"), [
    ("", False), ("atom.xml", False), ("categories/科技/atom.xml", False), ("a..b.xml", False),
    ("..", True), ("../state/state.json", True), ("a/../b", True), (".git/config", True), (".env", True),
    ("categories/.atom.xml.k2j3.tmp", True), ("atom.xml.tmp", True), ("atom.xml~", True),
    ("/etc/passwd", True), ("categories//x/atom.xml", True), ("categories/x/", False), ("..\\state.json", True), ("a\\b", True), ("a\x00.xml", True),
])
def test_hidden_paths(rel: str, hidden: bool) -> None:
    assert is_hidden_path(rel) is hidden


@pytest.mark.parametrize(("settings", "expected"), [
    (Settings(), "/feeds/"),
    (Settings(site_url="https://blog.example.com/news/"), "/news/feeds/"),
    (Settings(feeds_url="https://bot.example.com"), "/"),
    (Settings(feeds_url="https://bot.example.com/订阅/"), "/订阅/"),
    (Settings(feeds_url="https://bot.example.com/%E8%AE%A2%E9%98%85"), "/订阅/"),
])
def test_mount_path_follows_feeds_url(settings: Settings, expected: str) -> None:
    assert mount_path(settings) == expected


@pytest.fixture
def facts(tmp_path: Path) -> FileFacts:
    (tmp_path / "feeds").mkdir()
    return FileFacts(Settings(feeds_dir=tmp_path / "feeds", state_dir=tmp_path / "state"))


def _gz(facts: FileFacts, path: Path) -> bytes:
    with path.open("rb") as fh:
        return facts.gzipped(str(path), os.fstat(fh.fileno()), fh)


def test_hash_and_gzip_follow_each_version(facts: FileFacts) -> None:
    path = Path(facts.root) / "atom.xml"
    path.write_bytes(b"<feed>one</feed>" * 100)
    first = facts.describe(str(path), path.stat())
    digest1 = first.digest
    assert first.content_type.startswith("application/atom+xml") and first.compressible
    assert first.last_modified.endswith(" GMT")
    assert gzip.decompress(_gz(facts, path)) == b"<feed>one</feed>" * 100
    assert facts.describe(str(path), path.stat()).digest == digest1  # cached: same version, same answer
    tmp = path.with_name(".atom.xml.tmp")
    tmp.write_bytes(b"<feed>two</feed>" * 100)
    os.replace(tmp, path)
    assert facts.describe(str(path), path.stat()).digest != digest1
    assert gzip.decompress(_gz(facts, path)) == b"<feed>two</feed>" * 100


def test_same_bytes_same_hash(facts: FileFacts) -> None:
    one, two = Path(facts.root) / "a.xml", Path(facts.root) / "b.xml"
    one.write_bytes(b"<rss/>")
    two.write_bytes(b"<rss/>")
    assert facts.describe(str(one), one.stat()).digest == facts.describe(str(two), two.stat()).digest


def test_gzip_is_deterministic(facts: FileFacts) -> None:
    path = Path(facts.root) / "rss.xml"
    path.write_bytes(b"<rss>x</rss>" * 50)
    first = _gz(facts, path)
    facts._gzipped.clear()
    assert _gz(facts, path) == first  # no timestamp inside


def test_resolve_refuses_what_is_not_ours(facts: FileFacts, tmp_path: Path) -> None:
    root = Path(facts.root)
    (root / "ok.xml").write_text("x")
    (tmp_path / "secret.txt").write_text("s")
    (root / "out.xml").symlink_to(tmp_path / "secret.txt")
    (root / "in.xml").symlink_to(root / "ok.xml")
    assert facts.resolve(str(root / "ok.xml")) == str(root / "ok.xml")
    assert facts.resolve(str(root / "in.xml")) == str(root / "ok.xml")
    assert facts.resolve(str(root / "out.xml")) is None
    assert facts.resolve(str(root / ".." / "secret.txt")) is None
    assert facts.resolve(str(root)) == str(root)
