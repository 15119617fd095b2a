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


def test_status_without_a_scan_or_a_schedule(tmp_path: Path) -> None:
    settings = load_settings({"scan_cron": "*/10 * * * *"}, {}, need_articles=False)
    text = "\n".join(status_lines(settings, State(), now=NOW, version="1", articles=[]))
    assert "last scan: never" in text and "scan schedule: cron '*/10 * * * *'" in text
    assert "posting: active, to (no channel set)" in text
