"""The status lines shared by `newsbot status` and /status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.models import Article
from bot.state import State
from bot.statusinfo import human_duration, status_lines

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def article(n: int, days_ago: float, cats: tuple[tuple[str, ...], ...] = (("电网",),)) -> Article:
    at = NOW - timedelta(days=days_ago)
    return Article(source=f"{n}.md", id=f"id{n}", title=f"标题 {n}", url=f"https://x.org/{n}/", published_at=at,
                   updated_at=at, categories=cats, tags=("t",))


@pytest.mark.parametrize(("seconds", "text"), [(5, "5 s"), (59.6, "1 min"), (240, "4 min"), (3600, "1 h"),
                                               (7500, "2 h 5 min"), (90000, "1 d 1 h"), (-240, "4 min")])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_status_lines_cover_what_admins_ask(tmp_path: Path) -> None:
    settings = load_settings({"timezone": "Asia/Shanghai", "site_url": "https://x.org/"}, {"TELEGRAM_CHANNEL_ID": "@news"},
                             need_articles=False)
    state = State(meta={"last_scan_at": (NOW - timedelta(minutes=3)).isoformat(), "paused": True,
                        "pause_reason": "Forbidden: bot was kicked"},
                  bad={"b.md": {"reason": "broken YAML"}}, queue=["id1"],
                  posts={"id1": {"status": "pending"}, "id2": {"status": "failed"}})
    arts = [article(3, -1), article(1, 1), article(2, 2, (("电网", "调度"),))]  # newest first
    text = "\n".join(status_lines(settings, state, now=NOW, version="9.9", articles=arts,
                                  next_scan_at=NOW + timedelta(minutes=2)))
    for expected in ("newsbot 9.9", "articles: 3 in 2 categories, 1 tags", "newest: 2026-11-21 20:00 CST 标题 1",
                     "scheduled: 1 future-dated", "channel queue: 1 pending, 1 failed or unconfirmed",
                     "posting: PAUSED (Forbidden: bot was kicked)", "last scan: 2026-11-22 19:57 CST (3 min ago)",
                     "next scan: 2026-11-22 20:02 CST (in 2 min)", "bad files: 1", "feed: https://x.org/feeds/atom.xml"):
        assert expected in text


def test_status_without_a_scan_gives_the_crons_next_fire_time(tmp_path: Path) -> None:
    settings = load_settings({"scan_cron": "*/10 * * * *"}, {}, need_articles=False)
    text = "\n".join(status_lines(settings, State(), now=NOW + timedelta(minutes=3), version="1", articles=[]))
    assert "last scan: never" in text
    assert "next scan: 2026-11-22 12:10 UTC (in 7 min), cron '*/10 * * * *'" in text
    assert "posting: active, to (no channel set)" in text


def test_next_scan_is_last_scan_plus_the_interval_or_says_overdue(tmp_path: Path) -> None:
    settings = load_settings({"scan_interval": 600}, {}, need_articles=False)
    state = State(meta={"last_scan_at": (NOW - timedelta(minutes=4)).isoformat()})
    text = "\n".join(status_lines(settings, state, now=NOW, version="1", articles=[]))
    assert "next scan: 2026-11-22 12:06 UTC (in 6 min), every 10 min" in text
    late = "\n".join(status_lines(settings, state, now=NOW + timedelta(hours=2), version="1", articles=[]))
    assert "next scan: overdue, was due 2026-11-22 12:06 UTC (1 h 54 min ago)" in late
    assert "is `newsbot run` running?" in late
    never = "\n".join(status_lines(settings, State(), now=NOW, version="1", articles=[]))
    assert "scan schedule: every 10 min" in never  # no scan yet: nothing to count from


def test_bad_files_are_listed_with_path_and_reason_all_or_capped(tmp_path: Path) -> None:
    settings = load_settings({}, {}, need_articles=False)
    state = State(bad={f"posts/{n:02}.md": {"reason": f"broken YAML at line {n}"} for n in range(15)})
    every = status_lines(settings, state, now=NOW, version="1", articles=[])
    assert "bad files: 15" in every
    assert "  posts/00.md: broken YAML at line 0" in every and "  posts/14.md: broken YAML at line 14" in every
    capped = status_lines(settings, state, now=NOW, version="1", articles=[], bad_files_shown=10)
    assert "  posts/09.md: broken YAML at line 9" in capped and not any("posts/10.md" in x for x in capped)
    assert capped[-2] == "  … and 5 more: see /errors"
