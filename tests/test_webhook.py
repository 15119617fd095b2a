"""Telegram webhook on the web-mode port: real server, real PTB Application and Update."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from telegram import Update
from telegram.ext import ApplicationBuilder

from bot.config import Settings
from bot.health import HealthInfo
from bot.web import start_http
from bot.webhook import (
    SECRET_HEADER,
    webhook_routes,
    webhook_public_url,
    webhook_secret,
)

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "123456:" + "A" * 35
UPDATE = {"update_id": 7, "message": {"message_id": 1, "date": 1732096800, "text": "/status",
                                      "chat": {"id": 42, "type": "private"},
                                      "from": {"id": 42, "is_bot": False, "first_name": "A"}}}


async def test_updates_reach_the_application_and_strangers_are_refused(tmp_path: Path) -> None:
    application = ApplicationBuilder().token(TOKEN).updater(None).build()
    secret = webhook_secret(TOKEN)
    settings = Settings(feeds_dir=tmp_path, state_dir=tmp_path / "state", http="127.0.0.1:0")
    health = lambda: HealthInfo(None, 300, NOW, NOW)
    web = await start_http(settings, health, extra_routes=webhook_routes(application, secret))
    try:
        async with httpx.AsyncClient(base_url=web.url) as c:
            ok = await c.post("/telegram", json=UPDATE, headers={SECRET_HEADER: secret})
            assert ok.status_code == 200
            update = await asyncio.wait_for(application.update_queue.get(), 5)
            assert isinstance(update, Update) and update.update_id == 7
            assert update.message is not None and update.message.text == "/status"
            for headers in ({SECRET_HEADER: "wrong"}, {SECRET_HEADER: secret[:-1]}, {}):
                assert (await c.post("/telegram", json=UPDATE, headers=headers)).status_code == 403
            garbage = await c.post("/telegram", content=b"not json",
                                   headers={SECRET_HEADER: secret, "Content-Type": "application/json"})
            assert garbage.status_code == 400
            form = await c.post("/telegram", data={"a": "b"}, headers={SECRET_HEADER: secret})
            assert form.status_code == 415
            assert (await c.get("/telegram")).status_code == 405
        await asyncio.sleep(0.05)
        assert application.update_queue.empty()
    finally:
        await web.stop()


def test_secret_is_stable_and_hides_the_token() -> None:
    secret = webhook_secret(TOKEN)
    assert secret == webhook_secret(TOKEN) != webhook_secret(TOKEN + "B")
    assert "123456" not in secret and "AAAA" not in secret
    assert 1 <= len(secret) <= 256 and secret.isalnum()  # Telegram allows A-Z a-z 0-9 _ -


async def test_a_secret_is_required() -> None:
    application = ApplicationBuilder().token(TOKEN).updater(None).build()
    with pytest.raises(ValueError, match="secret"):
        webhook_routes(application, "")


@pytest.mark.parametrize(("url", "expected"), [("https://bot.example.com", "https://bot.example.com/telegram"),
                                               ("https://bot.example.com/", "https://bot.example.com/telegram"),
                                               ("https://x.io/nb/telegram", "https://x.io/nb/telegram")])
def test_public_url(url: str, expected: str) -> None:
    assert webhook_public_url(Settings(webhook_url=url)) == expected



async def test_hostile_webhook_calls_get_4xx_never_a_server_error(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    application = ApplicationBuilder().token(TOKEN).updater(None).build()
    secret = webhook_secret(TOKEN)
    settings = Settings(feeds_dir=tmp_path, state_dir=tmp_path / "state", http="127.0.0.1:0")
    web = await start_http(settings, lambda: HealthInfo(None, 300, NOW, NOW),
                           extra_routes=webhook_routes(application, secret))
    try:
        async def post(headers: bytes, body: bytes) -> int:
            reader, writer = await asyncio.open_connection("127.0.0.1", web.port)
            writer.write(b"POST /telegram HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                         + headers + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
            answer = await reader.read()
            writer.close()
            return int(answer.split()[1])

        token = f"{SECRET_HEADER}: {secret}\r\n".encode()
        assert await post(SECRET_HEADER.encode() + b": \xff\xfe\r\n", b"{}") == 403
        assert await post(token, b"[" * 100_000) == 400
        date = b'{"update_id":1,"message":{"message_id":1,"date":1e300,"chat":{"id":1,"type":"private"}}}'
        assert await post(token, date) == 400
    finally:
        await web.stop()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
