"""The engine end to end on a real folder: scan, feeds, plan, drain, without Telegram."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.publisher import PreviewPublisher
from bot.service import Engine
from bot.state import State, StateStore

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def article(title: str, day: int, image: str = "") -> str:
    cover = f"cover: {image}\n" if image else ""
    return (f"---\ntitle: {title}\ndate: 2026-11-{day:02d} 10:00:00 +0800\ncategories: [新闻]\n{cover}---\n"
            f"<p>{title} 的正文第一句。第二句。</p>\n")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    site = tmp_path / "site"
    site.mkdir()
    for n, day in enumerate((17, 18, 19)):
        (site / f"a{n}.md").write_text(article(f"文章{n}", day, "https://img.example.com/a.jpg" if n else ""),
                                       encoding="utf-8")
    settings = Settings(articles_dir=site, feeds_dir=tmp_path / "feeds", state_dir=tmp_path / "state",
                        site_url="https://news.example.org/", settle_s=0, max_age_days=30, posts_per_minute=6000)
    return Engine(settings, StateStore(settings.state_dir), State())


def drain(engine: Engine) -> list[str]:
    shown: list[str] = []

    async def no_alert(kind: str, text: str) -> None:
        shown.append(f"ALERT {kind}: {text}")

    async def no_sleep(seconds: float) -> None:
        return None

    asyncio.run(engine.drain(PreviewPublisher(shown.append), alert=no_alert, sleep=no_sleep))
    return shown


def test_a_queued_article_whose_file_broke_is_still_posted_and_the_queue_goes_on(engine: Engine) -> None:
    cycle = engine.scan_and_build(NOW)
    assert sorted(engine.plan(cycle.scan, NOW, backfill=3)) == sorted(a.id for a in engine.catalog.articles)
    newest = engine.catalog.articles[0]
    (engine.settings.articles_dir / newest.source).write_bytes(b"")  # an editor truncated it, not yet rescanned
    shown = drain(engine)
    posts = [s for s in shown if not s.startswith("ALERT")]
    assert len(posts) == 3
    assert any(newest.title in p for p in posts)  # made from what the scan recorded
    assert not engine.state.queue


def test_the_post_text_comes_from_the_rendered_body(engine: Engine) -> None:
    engine.scan_and_build(NOW)
    a = engine.catalog.articles[0]
    post = engine.render(a.id)
    assert post is not None
    assert "的正文第一句。" in post.html and "<p>" not in post.html
    assert engine.render("tag:nowhere,2020-01-01:none") is None
