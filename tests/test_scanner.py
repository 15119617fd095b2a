"""Incremental scans of real temp folders: what is new, changed, gone, renamed, held or bad."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.errors import ScanError
from bot.models import ScanReport
from bot.scanner import article_from_record, article_to_record, current_articles, scan
from bot.state import State

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OLD_S = NOW.timestamp() - 3600  # an hour before NOW: settled


def post(title: str = "Hello", date: str = "2022-02-17 19:34:59 +0800", extra: str = "", body: str = "<p>body</p>") -> str:
    return f"---\ntitle: {title}\ndate: {date}\n{extra}\n---\n{body}\n"


def write(root: Path, rel: str, content: str | bytes, mtime: float = OLD_S) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (mtime, mtime))
    return path


class Site:
    def __init__(self, root: Path, **overrides: Any) -> None:
        self.root = root
        self.state = State()
        base: dict[str, Any] = {"articles_dir": root, "site_url": "https://news.example.org/", "timezone": "Asia/Shanghai"}
        self.settings = Settings(**(base | overrides))

    def scan(self, now: datetime = NOW, **overrides: Any) -> ScanReport:
        if overrides:
            self.settings = Settings(**({f: getattr(self.settings, f) for f in self.settings.__dataclass_fields__} | overrides))
        return scan(self.settings, self.state, now)

    def record(self, rel: str) -> dict[str, Any]:
        return self.state.articles[rel]

    def bad(self, report: ScanReport) -> dict[str, str]:
        return {b.source: b.reason for b in report.bad}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "_posts")


def test_new_changed_deleted(site: Site) -> None:
    write(site.root, "a.md", post("A"))
    write(site.root, "sub/b.md", post("B"))
    report = site.scan()
    assert report.new == ("a.md", "sub/b.md")
    assert site.record("sub/b.md")["article"]["title"] == "B"

    assert site.scan().is_noop

    write(site.root, "a.md", post("A edited"), OLD_S + 10)
    (site.root / "sub/b.md").unlink()
    report = site.scan()
    assert (report.new, report.changed, report.deleted) == ((), ("a.md",), ("sub/b.md",))
    assert set(site.state.articles) == {"a.md"}
    assert site.record("a.md")["article"]["title"] == "A edited"


def test_unchanged_files_are_recognised_by_stat_without_reading(site: Site) -> None:
    path = write(site.root, "a.md", post("Alpha"))
    site.scan()
    # same size, same mtime, other bytes: a stat-only rescan cannot see it, so it did not read
    path.write_bytes(post("Omega").encode())
    os.utime(path, (OLD_S, OLD_S))
    report = site.scan()
    assert report.is_noop and report.unchanged == 1
    assert site.record("a.md")["article"]["title"] == "Alpha"


def test_a_touched_file_with_the_same_bytes_is_not_changed(site: Site) -> None:
    path = write(site.root, "a.md", post())
    site.scan()
    os.utime(path, (OLD_S + 50, OLD_S + 50))
    report = site.scan()
    assert report.is_noop
    assert site.record("a.md")["mtime_ns"] == path.stat().st_mtime_ns


def test_ids_stay_across_edits_title_and_permalink_changes_and_https(site: Site) -> None:
    write(site.root, "a.md", post("First", extra="slug: first"))
    site.scan()
    first_id = site.record("a.md")["id"]
    assert first_id == "tag:news.example.org,2022-02-17:/2022/02/17/first/"
    write(site.root, "a.md", post("Renamed title", extra="slug: second\ncategories: [x]"), OLD_S + 5)
    report = site.scan(site_url="http://news.example.org/")
    assert report.changed == ("a.md",)
    assert site.record("a.md")["id"] == first_id
    assert site.record("a.md")["article"]["url"] == "http://news.example.org/2022/02/17/second/"


def test_uid_makes_the_id_and_ids_are_unique(site: Site) -> None:
    write(site.root, "a.md", post("A", extra="id: 313"))
    write(site.root, "b.md", post("B", extra="id: 313"))  # copy-pasted id
    site.scan()
    assert site.record("a.md")["id"] == "tag:news.example.org,2022-02-17:313"
    assert site.record("b.md")["id"] == "tag:news.example.org,2022-02-17:/2022/02/17/b/"


@pytest.mark.parametrize(
    ("old_text", "new_text"),
    [
        (post("Same"), post("Same")),  # same bytes
        (post("T", extra="abbrlink: 4a17b156"), post("T edited", extra="abbrlink: 4a17b156")),  # same uid
        (post("T", extra="permalink: /fixed/"), post("T edited", extra="permalink: /fixed/")),  # same URL
        (post("Same title", body="<p>typo</p>"), post("Same title", body="<p>fixed</p>")),  # new slug + an edit
    ],
)
def test_renames_keep_the_id(site: Site, old_text: str, new_text: str) -> None:
    write(site.root, "old-name.md", old_text)
    site.scan()
    old_id = site.record("old-name.md")["id"]
    (site.root / "old-name.md").unlink()
    write(site.root, "folder/new-name.md", new_text)
    report = site.scan()
    assert report.renamed == (("old-name.md", "folder/new-name.md"),)
    assert (report.new, report.deleted) == ((), ())
    assert site.record("folder/new-name.md")["id"] == old_id


def test_held_future_posts_become_due(site: Site) -> None:
    write(site.root, "soon.md", post(date="2026-11-23 08:00:00 +0800"))
    write(site.root, "past.md", post(date="2026-11-01 08:00:00 +0800"))
    report = site.scan()
    assert report.new == ("past.md", "soon.md") and report.held == ("soon.md",)
    assert site.scan().held == ("soon.md",)  # reported at every scan
    assert [a.source for a in current_articles(site.state, NOW)] == ["past.md"]
    later = datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)
    assert site.scan(later).held == ()
    assert [a.source for a in current_articles(site.state, later)] == ["soon.md", "past.md"]


def test_files_being_written_are_retried_next_scan(site: Site) -> None:
    write(site.root, "fresh.md", post(), NOW.timestamp() - 0.5)
    assert site.scan().new == ()
    assert site.scan(NOW + timedelta(seconds=5)).new == ("fresh.md",)


def test_a_known_file_being_rewritten_is_not_deleted(site: Site) -> None:
    write(site.root, "a.md", post())
    site.scan()
    write(site.root, "a.md", post("half"), NOW.timestamp() - 0.1)
    report = site.scan()
    assert report.is_noop and "a.md" in site.state.articles


def test_skipped_files(site: Site) -> None:
    for rel in [".hidden.md", ".git/x.md", "a.md~", "#a.md#", ".a.md.swp", "a.md.bak", "a.md.swp", "notes.txt",
                "_drafts/d.md", "excluded/x.md", "image.png", "_index.md", "_site/2021-01-01-x.md",
                "_layouts/post.html"]:
        write(site.root, rel, post())
    write(site.root, "kept.MD", post())
    write(site.root, "page.html", post())
    report = site.scan(exclude=["excluded/*"])
    assert report.new == ("kept.MD", "page.html")
    assert site.record("page.html")["article"]["body_format"] == "html"


def test_include_patterns_are_configurable(site: Site) -> None:
    write(site.root, "000_seed.txt", post())
    assert site.scan(include=["*.txt"]).new == ("000_seed.txt",)


def test_drafts(site: Site) -> None:
    write(site.root, "d.md", post(extra="published: false"))
    write(site.root, "_drafts/e.md", post("E"))
    write(site.root, "p.md", post("P"))
    assert site.scan().new == ("p.md",)
    assert site.scan().is_noop  # the draft is remembered by stat, not re-read
    write(site.root, "p.md", post("P", extra="draft: true"), OLD_S + 5)
    report = site.scan()
    assert report.deleted == ("p.md",) and not site.state.articles
    write(site.root, "d.md", post(extra="published: true"), OLD_S + 5)
    assert site.scan().new == ("d.md",)
    assert set(site.scan(drafts=True).new) == {"_drafts/e.md", "p.md"}
    assert article_from_record(site.record("p.md")["article"], "p.md", id=site.record("p.md")["id"]).is_draft


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (post(extra="bad: [unclosed"), "broken YAML"),
        ("---\n- a list\n---\nbody", "not a mapping"),
        (b"", "empty file"),
        (b"\x00\x01\x02binary\x00" * 10, "binary file"),
        (post(extra="categories: ../../etc"), "unsafe category name"),
        (post(date="not a date"), "unreadable date"),
        (b"title: \x80 \xff\xff", "cannot decode"),
    ],
)
def test_bad_files_are_reported_and_the_scan_goes_on(site: Site, content: str | bytes, reason: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    write(site.root, "bad.md", content)
    write(site.root, "good.md", post())
    report = site.scan()
    assert report.new == ("good.md",)
    assert reason in site.bad(report)["bad.md"]
    assert any("bad.md" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert site.bad(site.scan())["bad.md"]  # still reported, not re-read
    write(site.root, "bad.md", post("Fixed"), OLD_S + 5)
    report = site.scan()
    assert report.new == ("bad.md",) and report.bad == ()


def test_encodings_in_a_scan(site: Site) -> None:
    write(site.root, "gb.md", post("国网新闻").encode("gb18030"))
    write(site.root, "bom.md", b"\xef\xbb\xbf" + post("BOM").encode())
    write(site.root, "crlf.md", post("CRLF").replace("\n", "\r\n"))
    site.scan()
    assert {r: site.record(r)["article"]["title"] for r in site.state.articles} == {
        "gb.md": "国网新闻", "bom.md": "BOM", "crlf.md": "CRLF"}


def test_huge_files_are_bad_without_being_read(site: Site) -> None:
    write(site.root, "huge.md", post(body="x" * 2000))
    assert "max_file_bytes" in site.bad(site.scan(max_file_bytes=1000))["huge.md"]


def test_a_broken_edit_keeps_the_last_good_version(site: Site) -> None:
    write(site.root, "a.md", post("Good"))
    site.scan()
    write(site.root, "a.md", post("Good", extra="oops: [x"), OLD_S + 5)
    report = site.scan()
    assert "broken YAML" in site.bad(report)["a.md"] and not report.deleted
    assert site.record("a.md")["article"]["title"] == "Good"


def test_duplicate_permalinks_are_reported_never_merged(site: Site) -> None:
    write(site.root, "a.md", post("A", extra="permalink: /same/"))
    write(site.root, "b.md", post("B", extra="permalink: /same/"))
    report = site.scan()
    assert report.new == ("a.md",)
    assert site.bad(report)["b.md"] == "same permalink https://news.example.org/same/ as a.md"
    # the known article keeps it, even against a file that sorts first
    write(site.root, "0.md", post("Zero", extra="permalink: /same/"))
    assert "as a.md" in site.bad(site.scan())["0.md"]
    # when the owner goes, the next claimant is read again and takes the URL, and with it the
    # id (same URL in the same scan = a rename), so the channel does not get the link twice
    a_id = site.record("a.md")["id"]
    (site.root / "a.md").unlink()
    report = site.scan()
    assert report.renamed == (("a.md", "0.md"),) and (report.new, report.deleted) == ((), ())
    assert site.record("0.md")["id"] == a_id
    assert "as 0.md" in site.bad(report)["b.md"]


def test_deleted_bad_files_leave_the_report(site: Site) -> None:
    write(site.root, "bad.md", b"")
    assert site.scan().bad
    (site.root / "bad.md").unlink()
    assert site.scan().bad == ()


def test_jekyll_folder_categories(tmp_path: Path) -> None:
    site = Site(tmp_path)
    write(tmp_path, "news/_posts/2021-01-01-x.md", post(extra="categories: world"))
    site.scan()
    assert site.record("news/_posts/2021-01-01-x.md")["article"]["categories"] == [["news"], ["world"]]


def test_a_settings_change_rereads_everything_and_keeps_ids(site: Site) -> None:
    write(site.root, "a.md", post(date="2022-02-17 10:00:00"))
    site.scan()
    before = site.record("a.md")
    report = site.scan(timezone="UTC")
    assert report.changed == ("a.md",)
    assert site.record("a.md")["id"] == before["id"]
    assert site.record("a.md")["article"]["published_at"] == "2022-02-17T10:00:00+00:00"


def test_state_holds_no_bodies_and_round_trips_json(site: Site) -> None:
    write(site.root, "a.md", post(body="UNIQUE-BODY-MARKER " * 50))
    site.scan()
    blob = site.state.to_json_bytes()
    assert b"UNIQUE-BODY-MARKER" not in blob
    restored = State.from_json_bytes(blob)
    assert current_articles(restored) == current_articles(site.state)
    assert json.loads(json.dumps(site.record("a.md")))  # plain JSON


def test_records_round_trip() -> None:
    from bot.reader import parse_article
    text = post("T", extra="categories: [[A, B], [C]]\ntags: [x]\nupdated: 2023-01-01\nimage: /i.png\nid: 9")
    a = parse_article(text.encode(), "p.md", OLD_S, Settings(site_url="https://e.org/"), "h")
    record = article_to_record(a)
    assert "source" not in record and "content_hash" not in record  # the outer record holds them
    assert article_from_record(record, a.source, id=a.id, content_hash=a.content_hash) == a


def test_progress_is_reported(site: Site) -> None:
    for i in range(3):
        write(site.root, f"{i}.md", post(str(i)))
    seen: list[tuple[int, int]] = []
    scan(site.settings, site.state, NOW, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3, 3)


def test_symlink_loops_and_unreadable_names_do_not_break_the_scan(site: Site) -> None:
    write(site.root, "a.md", post())
    (site.root / "loop").symlink_to(site.root)
    odd = os.fsencode(str(site.root)) + b"/\xff\xfe-odd.md"
    with open(odd, "wb") as fh:
        fh.write(post("Odd").encode())
    os.utime(odd, (OLD_S, OLD_S))
    report = site.scan()
    assert len(report.new) == 2 and report.bad == ()
    site.state.to_json_bytes()  # the odd name is stored in a form JSON can hold


def test_worker_processes_give_the_same_result_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from bot import sourcefiles

    for i in range(12):
        write(tmp_path / "p", f"{i:02d}.md", post(f"T{i}", extra=f"categories: [c{i % 3}]"))
    write(tmp_path / "p", "gb.md", post("国网新闻").encode("gb18030"))
    write(tmp_path / "p", "bad.md", post(extra="x: [y"))
    serial = Site(tmp_path / "p")
    expected = serial.scan()
    monkeypatch.setattr(sourcefiles, "POOL_MIN_FILES", 2)
    monkeypatch.setattr(sourcefiles, "CHUNK_FILES", 3)
    pooled = Site(tmp_path / "p")
    caplog.clear()
    assert pooled.scan() == expected
    assert pooled.state.articles == serial.state.articles
    messages = [r.getMessage() for r in caplog.records]
    assert any("gb.md" in m and "GB18030" in m for m in messages)  # replayed from the worker
    assert any("bad.md" in m and "broken YAML" in m for m in messages)


def test_an_edit_cannot_take_the_url_of_an_article_edited_in_the_same_scan(site: Site) -> None:
    write(site.root, "a.md", post("A", extra="permalink: /a/"))
    write(site.root, "b.md", post("B", extra="permalink: /b/"))
    site.scan()
    write(site.root, "a.md", post("A takes b", extra="permalink: /b/"), OLD_S + 5)  # sorts first
    write(site.root, "b.md", post("B edited", extra="permalink: /b/"), OLD_S + 5)
    report = site.scan()
    assert report.changed == ("b.md",)
    assert site.bad(report)["a.md"] == "same permalink https://news.example.org/b/ as b.md"
    assert site.record("a.md")["article"]["url"] == "https://news.example.org/a/"  # last good version kept


def test_an_emptied_or_missing_articles_folder_deletes_nothing(site: Site) -> None:
    write(site.root, "a.md", post("A"))
    write(site.root, "b.md", post("B"))
    site.scan()
    before = dict(site.state.articles)
    for path in site.root.iterdir():  # an unmounted disk looks like an empty folder
        path.unlink()
    with pytest.raises(ScanError, match="empty; refusing to treat 2 known articles as deleted"):
        site.scan()
    site.root.rmdir()
    with pytest.raises(ScanError, match="does not exist"):
        site.scan()
    assert site.state.articles == before


def test_a_folder_whose_files_match_no_pattern_says_so(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    write(site.root, "000_de8b665ec1d7f1dc.txt", post("A"))  # a scraper's .txt files, default patterns
    report = site.scan()
    assert report.new == ()
    assert "none matches the article patterns" in caplog.text and "000_de8b665ec1d7f1dc.txt" in caplog.text


def test_a_file_renamed_and_broken_in_one_save_keeps_its_id_once_fixed(site: Site) -> None:
    """Renamed (new slug, so a new URL) and saved with broken YAML: while unreadable it cannot be
    matched; once fixed it must be the same article, not a new one for the channel."""
    write(site.root, "old-name.md", post("Same title"))
    site.scan()
    old_id = site.record("old-name.md")["id"]
    (site.root / "old-name.md").unlink()
    write(site.root, "new-name.md", "---\ntitle: Same title\ndate: [2022-02-17\n---\n<p>body</p>\n", OLD_S + 5)
    report = site.scan()
    assert report.deleted == ("old-name.md",) and "new-name.md" in site.bad(report)
    write(site.root, "other.md", post("Unrelated", date="2022-03-01 10:00:00 +0800"), OLD_S + 6)
    assert site.scan().new == ("other.md",)  # scans in between change nothing
    write(site.root, "new-name.md", post("Same title", body="<p>fixed</p>"), OLD_S + 10)
    report = site.scan()
    assert report.renamed == (("old-name.md", "new-name.md"),) and report.new == ()
    assert site.record("new-name.md")["id"] == old_id
    assert site.record("new-name.md")["article"]["url"].endswith("/new-name/")
    assert "scan_vanished" not in site.state.meta  # nothing is unreadable now: nothing kept aside


def test_deleted_records_are_kept_aside_only_while_an_unknown_file_is_unreadable(site: Site) -> None:
    write(site.root, "a.md", post("A"))
    write(site.root, "b.md", post("B"))
    site.scan()
    (site.root / "a.md").unlink()
    site.scan()
    assert "scan_vanished" not in site.state.meta  # a plain deletion
    write(site.root, "b.md", "---\ntitle: [B\n---\n", OLD_S + 5)  # a known article's bad edit
    (site.root / "b.md").touch()
    assert site.scan().bad and "scan_vanished" not in site.state.meta
    write(site.root, "broken.md", "---\ntitle: [\n---\n", OLD_S + 5)
    write(site.root, "c.md", post("C"))
    site.scan()
    (site.root / "c.md").unlink()
    site.scan()
    assert list(site.state.meta["scan_vanished"]) == ["c.md"]
    (site.root / "broken.md").unlink()
    site.scan()
    assert "scan_vanished" not in site.state.meta


def test_a_record_kept_aside_is_only_for_the_files_unreadable_when_it_went(site: Site) -> None:
    """A stray broken file must not let a later, different article take a deleted one's id."""
    write(site.root, "notes.md", "---\ntitle: [draft\n---\n")
    write(site.root, "deals.md", post("Deals", extra="permalink: /deals/"))
    site.scan()
    old_id = site.record("deals.md")["id"]
    (site.root / "deals.md").unlink()
    site.scan()
    assert site.state.meta["scan_vanished"]["deals.md"]["for"] == ["notes.md"]
    write(site.root, "deals-december.md", post("December deals", date="2022-12-01 10:00:00 +0800",
                                                  extra="permalink: /deals/"))
    report = site.scan()
    assert report.new == ("deals-december.md",) and report.renamed == ()
    assert site.record("deals-december.md")["id"] != old_id
