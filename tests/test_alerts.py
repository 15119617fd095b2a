"""Alerts reach every admin, at most once per kind per interval, and never raise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from telegram import Bot

from bot.alerts import Alerts
from tests.fakebotapi import FakeBotAPI

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ-alerts"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI.running() as server:
        yield server


@pytest.mark.integration
async def test_alerts_go_to_each_admin_once_per_interval(fake: FakeBotAPI) -> None:
    clock = Clock()
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        alerts = Alerts(bot, [1, 2], 600, clock=clock)
        await alerts("paused", "Posting is paused: <Forbidden>")
        await alerts("paused", "again")
        await alerts("bad_files", "2 new bad files")  # another kind is not held back
        clock.now += 601
        await alerts("paused", "later")
    texts = [(c.params["chat_id"], c.params["text"]) for c in fake.calls_for("sendMessage")]
    assert [t for chat, t in texts if chat == 1] == [t for chat, t in texts if chat == 2]
    first, bad, later = [t for chat, t in texts if chat == 1]
    assert "&lt;Forbidden&gt;" in first and "2 new bad files" in bad
    assert later.startswith("⚠️ later") and "1 similar alert" in later


@pytest.mark.integration
async def test_an_alert_that_cannot_be_delivered_does_not_raise(fake: FakeBotAPI) -> None:
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        alerts = Alerts(bot, [1, 2], 600)
        await alerts("error", "boom")
    assert len(fake.calls_for("sendMessage")) == 2


async def test_without_a_bot_alerts_are_only_logged_and_redacted(caplog: pytest.LogCaptureFixture) -> None:
    alerts = Alerts(None, [1], 600, redact=lambda s: s.replace("secret", "<redacted>"))
    await alerts("error", "the secret is out")
    assert alerts.sent == [("error", "the <redacted> is out")]
    assert "the <redacted> is out" in caplog.text and "secret" not in caplog.text


@pytest.mark.integration
async def test_a_huge_alert_is_cut_to_fit(fake: FakeBotAPI) -> None:
    async with Bot(TOKEN, base_url=fake.base_url) as bot:
        await Alerts(bot, [1], 600)("error", "<&>" * 5000)
    [call] = fake.calls_for("sendMessage")
    assert len(call.params["text"]) <= 4096 and call.params["text"].endswith("…")
