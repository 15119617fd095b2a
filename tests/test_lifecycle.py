"""``newsbot run`` as admins run it: a real process, real signals, the standalone fake Bot API."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.state import StateStore
from tests.fakebotapi import RemoteFake
from tests.servicekit import ADMIN, CHANNEL, SAMPLE_SITE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from gen_corpus import generate  # bench/ is not a package

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:AAFsecretPART-never_in_logs_0123456789"
SECRET = TOKEN.split(":", 1)[1]


@pytest.fixture
def fake() -> Iterator[RemoteFake]:
    with RemoteFake.spawn() as server:
        yield server


class Newsbot:
    """One ``python -m bot run`` process; its stderr and stdout go to files (no pipe can fill up)."""

    def __init__(self, tmp_path: Path, fake: RemoteFake, *args: str, token: str = TOKEN, name: str = "bot",
                 level: str = "INFO") -> None:
        site = tmp_path / "site"
        if not site.exists():
            shutil.copytree(SAMPLE_SITE, site)
        self.state_dir, self.feeds_dir = tmp_path / "state", tmp_path / "feeds"
        self.err_path, self.out_path = tmp_path / f"{name}.err", tmp_path / f"{name}.out"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT),
               "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": fake.base_url, "TELEGRAM_ADMIN_IDS": str(ADMIN),
               "TELEGRAM_CHANNEL_ID": CHANNEL, "NEWSBOT_SETTLE_S": "0", "NEWSBOT_POSTS_PER_MINUTE": "600"}
        cmd = [sys.executable, "-m", "bot", "run", "--log-level", level, "--articles", str(site),
               "--feeds", str(self.feeds_dir), "--state", str(self.state_dir), "--site-url", "https://news.example.org/",
               "--timezone", "Asia/Shanghai", *args]
        with open(self.err_path, "w") as err, open(self.out_path, "w") as out:
            self.proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=err)

    @property
    def log(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(f"newsbot exited with {self.proc.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; log so far:\n{self.log}")
            time.sleep(0.05)

    def terminate(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"newsbot ignored SIGTERM for 15 s:\n{self.log}") from None
        return code, time.monotonic() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def newsbots() -> Iterator[list[Newsbot]]:
    started: list[Newsbot] = []
    yield started
    for bot in started:
        bot.stop()


def ready(bot: Newsbot, fake: RemoteFake) -> Callable[[], bool]:
    return lambda: "Scan done" in bot.log and bool(fake.calls("getUpdates"))


def test_sigterm_stops_it_cleanly_within_10_s_with_state_saved(tmp_path: Path, fake: RemoteFake,
                                                                newsbots: list[Newsbot]) -> None:
    bot = Newsbot(tmp_path, fake)
    newsbots.append(bot)
    bot.wait_for(ready(bot, fake))
    code, seconds = bot.terminate()
    assert code == 0 and seconds < 10, bot.log
    state = StateStore(bot.state_dir).load()
    assert state.is_initialized and state.meta.get("last_scan_at")
    assert StateStore(bot.state_dir).lock_owner() is None  # lock released
    assert "Traceback" not in bot.log


def test_sigterm_during_a_slow_send_records_it_as_unknown(tmp_path: Path, fake: RemoteFake,
                                                          newsbots: list[Newsbot]) -> None:
    fake.fail("sendMessage", 200, match={"chat_id": int(CHANNEL)}, delay_s=30, deliver=True)
    fake.fail("sendPhoto", 200, match={"chat_id": int(CHANNEL)}, delay_s=30, deliver=True)
    bot = Newsbot(tmp_path, fake, "--backfill", "1")
    newsbots.append(bot)
    bot.wait_for(lambda: any(str(c["params"].get("chat_id")) == CHANNEL
                             for c in fake.calls("sendMessage") + fake.calls("sendPhoto")))
    code, seconds = bot.terminate()
    assert code == 0 and seconds < 10, bot.log
    statuses = [rec["status"] for rec in StateStore(bot.state_dir).load().posts.values() if rec["status"] != "seen"]
    assert statuses == ["unknown"]


def test_a_second_instance_on_the_same_state_exits_at_once(tmp_path: Path, fake: RemoteFake,
                                                           newsbots: list[Newsbot]) -> None:
    first = Newsbot(tmp_path, fake)
    newsbots.append(first)
    first.wait_for(ready(first, fake))
    other_token = "654321:BBFanother-token_for_the_second_one"
    second = Newsbot(tmp_path, fake, token=other_token, name="second")
    newsbots.append(second)
    started = time.monotonic()
    code = second.proc.wait(10)
    assert code == 1 and time.monotonic() - started < 5
    assert "another newsbot" in second.log and str(first.proc.pid) in second.log
    assert len(second.log.strip().splitlines()) == 1  # one clear line, no traceback
    assert not [c for c in fake.calls() if c["bot_id"] == "654321"]  # it never reached Telegram
    assert first.proc.poll() is None  # the first one is unharmed
    assert first.terminate()[0] == 0


def test_the_token_appears_in_no_output_and_no_file(tmp_path: Path, fake: RemoteFake,
                                                    newsbots: list[Newsbot]) -> None:
    fake.fail("sendMessage", 502, match={"chat_id": int(CHANNEL)})  # an error path logs too
    bot = Newsbot(tmp_path, fake, "--backfill", "2", level="DEBUG")
    newsbots.append(bot)
    bot.wait_for(ready(bot, fake))
    fake.push_message(ADMIN, "/status")
    fake.push_message(ADMIN, "/scan")
    bot.wait_for(lambda: len([m for m in fake.sent_messages(ADMIN) if "Scan done" in (m.get("text") or "")]) == 1)
    assert bot.terminate()[0] == 0
    output = bot.log + bot.out_path.read_text(encoding="utf-8")
    assert "Bot API" in output  # DEBUG really was on: PTB logs its URLs there
    assert SECRET not in output and TOKEN not in output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET.encode() not in StateStore(bot.state_dir).load().to_json_bytes()


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough articles that the first scan takes seconds, not milliseconds."""
    site = tmp_path_factory.mktemp("big") / "site"
    generate(site, 3000)
    return site


@pytest.mark.parametrize("token", [TOKEN, ""], ids=["token", "no-token"])
def test_sigterm_during_a_scan_logs_no_error(tmp_path: Path, fake: RemoteFake, newsbots: list[Newsbot],
                                             big_site: Path, token: str) -> None:
    shutil.copytree(big_site, tmp_path / "site")
    bot = Newsbot(tmp_path, fake, token=token, level="DEBUG")
    newsbots.append(bot)
    bot.wait_for(lambda: "Scan started" in bot.log, timeout=30)
    assert "Scan done" not in bot.log  # the signal lands in the middle of the scan
    code, seconds = bot.terminate()
    assert code == 0 and seconds < 10, bot.log
    assert "Traceback" not in bot.log, bot.log
    assert not [line for line in bot.log.splitlines() if " ERROR " in line or " CRITICAL " in line], bot.log


def test_web_mode_with_a_webhook_as_deployed(tmp_path: Path, fake: RemoteFake, newsbots: list[Newsbot]) -> None:
    """The Procfile's `web:` line with --webhook-url: feeds, /healthz and Telegram's updates on one port."""
    import re

    import httpx

    from bot.webhook import SECRET_HEADER

    bot = Newsbot(tmp_path, fake, "--http", "127.0.0.1:0", "--webhook-url", "https://bot.example.org/")
    newsbots.append(bot)
    bot.wait_for(lambda: "Scan done" in bot.log and bool(fake.calls("setWebhook")))
    serving = re.search(r"Serving \S+ at (http://127\.0\.0\.1:\d+)/feeds/", bot.log)
    assert serving, bot.log
    [hook] = fake.calls("setWebhook")
    assert hook["params"]["url"] == "https://bot.example.org/telegram"
    secret = hook["params"]["secret_token"]
    assert secret and SECRET not in secret
    assert not fake.calls("getUpdates")  # a webhook, not long polling
    with httpx.Client(base_url=serving.group(1), timeout=10) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        atom = client.get("/feeds/atom.xml")
        assert atom.status_code == 200 and atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert b"<feed" in atom.content
        assert client.get("/feeds/atom.xml", headers={"If-None-Match": atom.headers["etag"]}).status_code == 304
        update = fake.push_message(ADMIN, "/status")
        assert client.post("/telegram", json=update, headers={SECRET_HEADER: "forged"}).status_code == 403
        assert client.post("/telegram", json=update, headers={SECRET_HEADER: secret}).status_code == 200
    bot.wait_for(lambda: any("channel queue:" in (m.get("text") or "") for m in fake.sent_messages(ADMIN)))
    code, _ = bot.terminate()
    assert code == 0 and "Traceback" not in bot.log
    assert SECRET not in bot.log
