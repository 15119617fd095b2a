"""The bot token never reaches a log line: httpx is held at WARNING and a redaction filter guards the rest."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import REDACTED, configure_logging
from tests.fakebotapi import FakeBotAPI
from tests.servicekit import (
    ADMIN,
    CHANNEL,
    make_settings,
    running_bot,
    wait_until,
    write_article,
)

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ-test_token"
SECRET = TOKEN.split(":", 1)[1]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """``configure_logging`` at DEBUG into a buffer, as the CLI does; the previous set-up restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler", "aiohttp.access")})
    buffer = io.StringIO()
    configure_logging("DEBUG", secrets=(TOKEN,), stream=buffer)
    yield buffer
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
    logging.setLogRecordFactory(logging.LogRecord)


def test_token_in_message_arguments_and_tracebacks_is_redacted(log_output: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.info("calling %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    log.warning(f"inline {TOKEN}")
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/sendMessage failed")
    except RuntimeError:
        log.exception("send failed")
    text = log_output.getvalue()
    assert SECRET not in text
    assert text.count(REDACTED) == 3
    assert "send failed" in text and "RuntimeError" in text  # the event is still there, only the secret is gone


def test_a_token_shaped_secret_is_masked_even_if_not_configured(log_output: io.StringIO) -> None:
    other = "987654321:AAH-some-other-bot-token_xyz12345"
    logging.getLogger("bot.test").error("leaked %s", other)
    assert other.split(":")[1] not in log_output.getvalue()


def test_records_are_clean_for_every_handler_not_only_ours(log_output: io.StringIO) -> None:
    """A library logger with its own handler never passes through ours: the record must be clean at birth."""
    seen: list[logging.LogRecord] = []
    own = logging.Handler()
    own.emit = seen.append  # type: ignore[method-assign]
    lib = logging.getLogger("somelib.transport")
    lib.addHandler(own)
    lib.propagate = False
    try:
        try:
            raise ValueError(f"bad answer from /bot{TOKEN}/getUpdates")
        except ValueError:
            lib.error("polling %s", f"/bot{TOKEN}/getUpdates", exc_info=True)
    finally:
        lib.removeHandler(own)
        lib.propagate = True
    (record,) = seen
    assert SECRET not in record.getMessage() and REDACTED in record.getMessage()
    assert SECRET not in (record.exc_text or "") and "ValueError" in (record.exc_text or "")


def test_httpx_request_lines_are_not_logged(log_output: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN)
    logging.getLogger("httpcore.http11").debug("send_request_headers.started request=<Request [b'POST']>")
    assert log_output.getvalue() == ""


@pytest.mark.integration
async def test_a_running_bot_logs_no_token_even_at_debug(tmp_path: Path, log_output: io.StringIO) -> None:
    with FakeBotAPI.running() as fake:
        fake.fail_match("sendMessage", lambda p: str(p.get("chat_id")) == CHANNEL, 502)  # error paths log too
        async with running_bot(make_settings(tmp_path, fake, token=TOKEN), fake) as bot:
            await bot.send(ADMIN, "/status")
            await bot.send(ADMIN, "/nonsense")
            write_article(bot.site, "a.md", "Article A")
            await bot.service.scan()
            await wait_until(lambda: "retrying at" in log_output.getvalue())
    text = log_output.getvalue()
    assert "Bot API" in text  # DEBUG reached PTB, whose lines carry request URLs
    assert SECRET not in text
