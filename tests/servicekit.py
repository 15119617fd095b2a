"""A running newsbot Application against the fake Bot API, on a temp copy of the sample site.

Shared by tests/test_handlers.py and tests/test_app.py. Updates go through the real PTB
Application (``process_update`` on the exact JSON the fake would hand to getUpdates); every
reply and post crosses real HTTP to the fake, where the tests read it back.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.app import build_application, on_startup
from bot.imagefetch import image_client
from bot.config import Settings, load_settings
from bot.handlers import SERVICE_KEY
from bot.jobs import Service
from bot.service import Engine, open_engine
from bot.state import StateStore
from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SITE = ROOT / "examples" / "site"
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ-test_token"
ADMIN = 42
STRANGER = 777
CHANNEL = "-1001234567890"

ARTICLE = """---
title: {title}
date: {date}
categories: [测试]
tags: [t1]
---
Body of {title}. 正文。
"""
BROKEN = "---\ntitle: [never closed\ndate: 2026-01-01\n---\nbody\n"


def make_settings(tmp_path: Path, fake: FakeBotAPI | None, *, admins: str = str(ADMIN), token: str = TOKEN,
                  copy_site: bool = True, **overrides: Any) -> Settings:
    site = tmp_path / "site"
    if copy_site and not site.exists():
        shutil.copytree(SAMPLE_SITE, site)
    site.mkdir(exist_ok=True)
    env = {"TELEGRAM_ADMIN_IDS": admins, "TELEGRAM_CHANNEL_ID": CHANNEL}
    if fake is not None and token:
        env |= {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": fake.base_url}
    toml = {"site_url": "https://news.example.org/", "timezone": "Asia/Shanghai", "settle_s": 0.0,
            "articles_dir": str(site), "feeds_dir": str(tmp_path / "feeds"), "state_dir": str(tmp_path / "state"),
            "alert_interval_s": 600.0, "posts_per_minute": 600, **overrides}
    return load_settings(toml, env)


def write_article(site: Path, name: str, title: str, date: str = "2026-11-20 10:00:00 +0800") -> Path:
    path = site / name
    path.write_text(ARTICLE.format(title=title, date=date), encoding="utf-8")
    return path


@dataclass
class Bot:
    """One running Application; ``send`` delivers a message as a user and returns the bot's replies."""

    fake: FakeBotAPI
    app: Application[Any, Any, Any, Any, Any, Any]
    settings: Settings

    @property
    def service(self) -> Service:
        service: Service = self.app.bot_data[SERVICE_KEY]
        return service

    @property
    def engine(self) -> Engine:
        return self.service.engine

    @property
    def site(self) -> Path:
        return self.settings.articles_dir

    async def deliver(self, update: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def send(self, user_id: int, text: str, *, chat_type: str = "private", chat_id: int | None = None) -> list[str]:
        """Texts the bot sent to that chat in answer (HTML as sent, not as shown)."""
        before = len(self.fake.calls)
        await self.deliver(self.fake.push_message(user_id, text, chat_id=chat_id, chat_type=chat_type))
        target = str(user_id if chat_id is None else chat_id)
        return [str(c.params.get("text") or c.params.get("caption")) for c in self.fake.calls[before:]
                if c.method in ("sendMessage", "sendPhoto") and str(c.params.get("chat_id")) == target]

    async def press(self, user_id: int, data: str, message_id: int) -> list[Any]:
        before = len(self.fake.calls)
        await self.deliver(self.fake.push_callback_query(user_id, data, message_id))
        return self.fake.calls[before:]

    def channel_calls(self) -> list[Any]:
        return [c for c in self.fake.calls if c.method.startswith("send") and str(c.params.get("chat_id")) == CHANNEL]


def open_with(settings: Settings, engine_class: type[Engine] = Engine) -> tuple[Engine, StateStore]:
    """Like ``open_engine``, with a test subclass of Engine if asked."""
    if engine_class is Engine:
        return open_engine(settings)
    store = StateStore(settings.state_dir)
    store.acquire()
    return engine_class(settings, store, store.load()), store


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, fake: FakeBotAPI, *, first_scan: bool = True, startup: bool = False,
                      engine_class: type[Engine] = Engine) -> AsyncIterator[Bot]:
    """The Application initialised (getMe) with its Service; the first scan records the baseline."""
    engine, store = open_with(settings, engine_class)
    try:
        async with image_client(settings) as http:
            app = build_application(settings, engine, http=http, store=store)
            async with app:
                bot = Bot(fake, app, settings)
                if startup:
                    await on_startup(app, store)
                if first_scan:
                    assert await bot.service.scan() is not None
                yield bot
                await bot.service.close()
    finally:
        store.release()


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    """Poll ``predicate`` while the loop keeps running the bot's tasks."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
