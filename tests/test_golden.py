"""The feeds of the bundled sample site, byte for byte.

Built with a fixed clock and fixed settings, so the output only changes when the code does.
Accept a deliberate change with ``pytest tests/test_golden.py --update-golden`` and review the
diff of tests/golden/examples_site/ before committing it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser

from bot.config import Settings, load_settings, read_toml
from bot.feedwriter import FeedReport, write_feeds
from bot.reader import read_body
from bot.scanner import current_articles, scan
from bot.state import State

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "site"
NOW = datetime(2026, 11, 1, tzinfo=UTC)  # after every sample post but the 2099 one


def sample_settings(tmp_path: Path) -> Settings:
    """examples/newsbot.toml as shipped (site_url https://news.example.org/, Asia/Shanghai, zh-CN)."""
    toml = read_toml(REPO / "examples" / "newsbot.toml")
    overrides = {"articles_dir": str(EXAMPLES), "feeds_dir": str(tmp_path / "feeds"),
                 "state_dir": str(tmp_path / "state")}
    return load_settings(toml, {}, overrides)


def build(settings: Settings, state: State) -> FeedReport:
    scan(settings, state, NOW)
    return write_feeds(settings, current_articles(state), state, NOW,
                       lambda a: read_body((EXAMPLES / a.source).read_bytes(), a.source))


def test_sample_site_feeds_match_the_golden_files(tmp_path: Path, golden) -> None:  # type: ignore[no-untyped-def]
    settings = sample_settings(tmp_path)
    report = build(settings, State())
    assert report.skipped == []
    golden.check_tree("examples_site", settings.feeds_dir)


def test_sample_site_feeds_parse_back_and_rebuild_to_nothing(tmp_path: Path) -> None:
    settings = sample_settings(tmp_path)
    state = State()
    first = build(settings, state)
    feeds = [p for p in settings.feeds_dir.rglob("*") if p.suffix in {".xml", ".json"}]
    assert len(feeds) == len([p for p in first.written if p.endswith((".xml", ".json"))])
    site_ids = None
    for path in feeds:
        if path.suffix == ".json":
            doc = json.loads(path.read_bytes())
            ids = [item["id"] for item in doc["items"]]
        else:
            parsed = feedparser.parse(path.read_bytes())
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            ids = [e.id for e in parsed.entries]
            for e in parsed.entries:
                assert e.link.startswith("https://news.example.org/") and e.title
        assert ids and len(ids) == len(set(ids)), path
        assert not any("grid-centennial-plan" in i for i in ids)  # dated 2099: held
        assert not any("pumped-storage-draft" in i for i in ids)  # a draft
        if path.relative_to(settings.feeds_dir).as_posix() == "atom.xml":
            site_ids = ids
    assert site_ids is not None and len(site_ids) == 13 - 1
    second = build(settings, state)
    assert second.written == [] and second.removed == []
