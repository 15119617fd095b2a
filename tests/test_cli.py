"""The CLI contract, end to end through ``bot.cli.run`` on real folders."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from bot.cli import build_parser, run
from tests.fakebotapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
SITE = ROOT / "examples" / "site"
TOKEN = "987654321:AAH-very-secret-token-for-tests-only"


def cli(tmp_path: Path, *argv: str, env: dict[str, str] | None = None) -> int:
    return run(list(argv), environ={"HOME": str(tmp_path), **(env or {})})


def folders(tmp_path: Path) -> list[str]:
    return ["--feeds", str(tmp_path / "feeds"), "--state", str(tmp_path / "state")]


def test_help_lists_every_verb() -> None:
    out = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0
    for verb in ("build", "scan", "run", "status", "resume", "retry", "done", "check-config", "state"):
        assert verb in out.stdout


@pytest.mark.parametrize("verb", ["build", "scan", "run", "status", "check-config"])
def test_each_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([verb, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--articles", "--feeds", "--state", "--site-url", "--include"):
        assert flag in out


def test_build_on_the_seeds_writes_a_feed_with_both(tmp_path: Path) -> None:
    code = cli(tmp_path, "build", "--articles", str(SEEDS), "--include", "*.txt", *folders(tmp_path),
               "--site-url", "https://news.example.org")
    assert code == 0
    feed = feedparser.parse((tmp_path / "feeds" / "atom.xml").read_bytes())
    assert not feed.bozo
    titles = {e.title for e in feed.entries}
    assert titles == {"炎陵县与国网株洲供电公司签订智慧绿色能源互联网工作推进协议",
                      "天津电力发布2022年“助产业 惠民生 促双碳”电力服务三十条举措"}


def test_second_build_rewrites_nothing(tmp_path: Path) -> None:
    args = ["build", "--articles", str(SITE), *folders(tmp_path), "--site-url", "https://news.example.org/"]
    assert cli(tmp_path, *args) == 0
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "feeds").rglob("*") if p.is_file()}
    assert len(before) > 10
    assert cli(tmp_path, *args) == 0
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "feeds").rglob("*") if p.is_file()}
    assert after == before


def test_bad_settings_exit_2_with_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "newsbot.toml"
    cfg.write_text('feed_limit = "lots"\ncolour = "blue"\n', encoding="utf-8")
    code = cli(tmp_path, "build", "--config", str(cfg), "--articles", str(tmp_path / "missing"), *folders(tmp_path),
               env={"NEWSBOT_SCAN_INTERVAL": "often"})
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4
    assert any("articles_dir" in line for line in lines)
    assert any("feed_limit" in line for line in lines)
    assert any("colour" in line for line in lines)
    assert any("NEWSBOT_SCAN_INTERVAL" in line for line in lines)


def test_broken_config_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "newsbot.toml"
    cfg.write_text("site_url = \n", encoding="utf-8")
    assert cli(tmp_path, "check-config", "--config", str(cfg)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not valid TOML" in err[0]


def test_check_config_redacts_the_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "check-config", "--articles", str(SITE), env={"TELEGRAM_BOT_TOKEN": TOKEN}) == 0
    out = capsys.readouterr().out
    assert TOKEN not in out and TOKEN.split(":")[1] not in out
    assert "TELEGRAM_BOT_TOKEN" in out and "<redacted>" in out


def test_scan_dry_run_previews_without_posting_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["scan", "--dry-run", "--articles", str(SITE), *folders(tmp_path), "--site-url", "https://news.example.org/"]
    assert cli(tmp_path, *base) == 0
    first = capsys.readouterr().out
    assert "0 queued" in first  # first run: a baseline, nothing old is posted
    (tmp_path / "state").rename(tmp_path / "state-old")
    assert cli(tmp_path, *base, "--backfill", "2") == 0
    out = capsys.readouterr().out
    assert "2 queued" in out
    assert "重庆" in out  # the newest sample article is among the previewed posts


def test_status_reports_what_the_state_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "build", "--articles", str(SITE), *folders(tmp_path)) == 0
    capsys.readouterr()
    assert cli(tmp_path, "status", "--articles", str(SITE), *folders(tmp_path)) == 0
    out = capsys.readouterr().out.lower()
    assert "articles" in out and "queue" in out and "bad" in out


def test_python_dash_m_and_console_script_agree(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0 and out.stdout.startswith("newsbot ")


def test_run_once_without_a_token_previews_one_cycle_and_exits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(tmp_path, "run", "--once", "--articles", str(SITE), *folders(tmp_path),
               "--site-url", "https://news.example.org/", "--backfill", "1")
    assert code == 0
    out = capsys.readouterr().out
    assert "preview mode" in out and "1 queued" in out
    assert feedparser.parse((tmp_path / "feeds" / "atom.xml").read_bytes()).entries
    assert "阅读全文" in out  # the post is shown with its button


# --- cron users: `newsbot scan` against the fake Bot API ---------------------------------------
CHANNEL = "-1001234567890"
FRESH = """---
title: {title}
date: {date}
categories: [测试]
---
Body of {title}. 正文。
"""


def fresh_article(site: Path, name: str, title: str) -> None:
    date = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S +0000")
    (site / name).write_text(FRESH.format(title=title, date=date), encoding="utf-8")


def cron_env(api_url: str) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api_url, "TELEGRAM_CHANNEL_ID": CHANNEL,
            "NEWSBOT_SETTLE_S": "0", "NEWSBOT_LOG_LEVEL": "WARNING"}


def cron_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--articles", str(tmp_path / "site"), *folders(tmp_path), "--site-url", "https://news.example.org/", *extra]


def queue_one(tmp_path: Path, env: dict[str, str]) -> None:
    """A baseline run (nothing posted), then one new article, so the next `scan` has one post to send."""
    (tmp_path / "site").mkdir()
    fresh_article(tmp_path / "site", "old.md", "Old 旧")
    assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 0
    fresh_article(tmp_path / "site", "new.md", "New 新")


def test_a_refusing_channel_fails_the_cron_run_until_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeBotAPI.running() as fake:
        env = cron_env(fake.base_url)
        queue_one(tmp_path, env)
        fake.fail("sendMessage", 403)  # the bot was removed from the channel
        capsys.readouterr()
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 1
        out, err = capsys.readouterr()
        assert "posted 0; 1 still queued" in out and "[" not in out.splitlines()[-1]  # a count, not a list of ids
        assert "posting is paused (" in err and "newsbot resume" in err
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 1  # still paused: still failing
        assert "posting is paused" in capsys.readouterr().err
        assert cli(tmp_path, "resume", *folders(tmp_path), env=env) == 0
        assert "posting resumed (it was paused since " in capsys.readouterr().out
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 0
        assert "posted 1; 0 still queued" in capsys.readouterr().out
        sent = [m for m in fake.sent_messages(CHANNEL) if "New 新" in (m.get("text") or "")]
        assert len(sent) == 1
        assert cli(tmp_path, "resume", *folders(tmp_path), env=env) == 0
        assert "posting was not paused" in capsys.readouterr().out


def test_a_refused_post_fails_the_cron_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeBotAPI.running() as fake:
        env = cron_env(fake.base_url)
        queue_one(tmp_path, env)
        fake.fail("sendMessage", 400, "Bad Request: message must be non-empty")
        capsys.readouterr()
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 1
        out, err = capsys.readouterr()
        assert "posted 0, 1 refused; 0 still queued" in out
        assert "newsbot: Telegram refused New 新" in err and "Message must be non-empty" in err


def run_cli(tmp_path: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True, text=True, cwd=tmp_path,
                          env=full, timeout=60, check=False)


def test_unreachable_telegram_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with FakeBotAPI.running() as fake:
        queue_one(tmp_path, cron_env(fake.base_url))
    env = cron_env("http://127.0.0.1:1/bot")  # nothing listens there
    done = run_cli(tmp_path, "scan", *cron_args(tmp_path), env=env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and TOKEN.split(":")[1] not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("newsbot: cannot reach Telegram at http://127.0.0.1:1/bot") and "stay queued" in line


def test_a_cron_run_with_nothing_to_post_does_not_connect(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    fresh_article(tmp_path / "site", "old.md", "Old 旧")
    env = cron_env("http://127.0.0.1:1/bot")
    for _ in range(2):  # the baseline run, then a run with nothing new
        done = run_cli(tmp_path, "scan", *cron_args(tmp_path), env=env)
        assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_rejected_token_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeBotAPI.running() as fake:
        env = cron_env(fake.base_url)
        queue_one(tmp_path, env)
        fake.fail("getMe", 401, times=5)
        capsys.readouterr()
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 1
        err = capsys.readouterr().err
        assert err.strip() == "newsbot: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather"


# --- status, check-config and the small print ---------------------------------------------------
def test_status_with_no_state_in_the_folder_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "status", "--state", str(tmp_path / "typo")) == 1
    err = capsys.readouterr().err
    assert f"there is no newsbot state in {tmp_path / 'typo'}" in err
    assert not (tmp_path / "typo").exists()  # looking created nothing


def test_status_lists_every_bad_file_with_its_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for n in range(15):
        (site / f"broken{n:02}.md").write_text("---\ntitle: [never closed\n---\nbody\n", encoding="utf-8")
    assert cli(tmp_path, "build", "--articles", str(site), *folders(tmp_path), env={"NEWSBOT_SETTLE_S": "0"}) == 0
    capsys.readouterr()
    assert cli(tmp_path, "status", *folders(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "bad files: 15" in out and "see /errors" not in out
    listed = [line for line in out.splitlines() if line.startswith("  broken")]
    assert len(listed) == 15 and all(": " in line and line.split(": ", 1)[1] for line in listed)
    assert "next scan: " in out


def test_status_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    assert cli(tmp_path, "build", "--articles", str(SITE), *folders(tmp_path)) == 0
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "status", *folders(tmp_path)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head -1` once it has its line: the reader is gone before newsbot writes
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(30) == 1
    assert err == ""


def test_check_config_validates_the_articles_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "check-config", "--articles", str(tmp_path / "missing")) == 2
    assert "articles_dir" in capsys.readouterr().err


def test_check_config_shows_the_port_rule_run_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(tmp_path, "check-config", "--articles", str(SITE), env={"PORT": "8123"}) == 0
    [http] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("http ")]
    assert http.split() == ["http", "0.0.0.0:8123"]
    assert cli(tmp_path, "check-config", "--articles", str(SITE), env={"PORT": "eighty"}) == 2
    [err] = capsys.readouterr().err.strip().splitlines()
    assert err.startswith("newsbot: config error: PORT: 'eighty'")
    assert cli(tmp_path, "run", "--articles", str(SITE), *folders(tmp_path), env={"PORT": "99999"}) == 2
    assert "PORT: '99999'" in capsys.readouterr().err


def test_check_config_redacts_a_token_pasted_into_another_setting(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    proxy = f"https://tg-proxy.example.org/bot{TOKEN}/"
    assert cli(tmp_path, "check-config", "--articles", str(SITE), env={"TELEGRAM_API_URL": proxy}) == 0
    out = capsys.readouterr().out
    assert TOKEN.split(":")[1] not in out and "https://tg-proxy.example.org/bot<redacted>/" in out


def test_an_empty_include_pattern_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli(tmp_path, "build", "--articles", str(SITE), *folders(tmp_path), "--include", "")
    assert exit_.value.code == 2 and "--include" in capsys.readouterr().err
    assert not (tmp_path / "feeds").exists()


def test_ctrl_c_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import commands_cli

    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands_cli, "build", interrupted)
    assert cli(tmp_path, "build", "--articles", str(SITE), *folders(tmp_path)) == 130
    assert capsys.readouterr().err.strip() == "newsbot: interrupted"


def test_a_deliberate_pause_holds_posts_without_failing_cron(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.state import StateStore

    with FakeBotAPI.running() as fake:
        env = cron_env(fake.base_url)
        queue_one(tmp_path, env)
        store = StateStore(tmp_path / "state")
        state = store.load()
        state.meta.update(paused=True, pause_reason="paused by admin 42")
        store.save(state)
        store.release()
        capsys.readouterr()
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 0
        assert "posting is paused (paused by admin 42); 1 post(s) wait" in capsys.readouterr().out
        assert not [m for m in fake.sent_messages(CHANNEL) if "New 新" in (m.get("text") or "")]


def test_a_build_right_after_a_checkout_waits_for_the_files_to_settle(tmp_path: Path) -> None:
    import shutil

    site = tmp_path / "fresh-checkout"
    shutil.copytree(SITE, site)  # every file modified just now, as after `git clone`
    for path in site.iterdir():
        os.utime(path)
    assert cli(tmp_path, "build", "--articles", str(site), *folders(tmp_path), "--site-url", "https://news.example.org/",
               env={"NEWSBOT_SETTLE_S": "1"}) == 0
    feed = feedparser.parse((tmp_path / "feeds" / "atom.xml").read_bytes())
    assert len(feed.entries) == 12  # 14 files: no draft, no future post


def test_cron_users_decide_about_refused_posts_with_retry_and_done(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """No admin chat: `newsbot retry` lists, `retry ID` posts again at the next scan, `done ID` keeps it as is."""
    with FakeBotAPI.running() as fake:
        env = cron_env(fake.base_url)
        queue_one(tmp_path, env)
        fake.fail("sendMessage", 400, "Bad Request: message must be non-empty")
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 1
        assert "newsbot retry " in capsys.readouterr().err  # the cron mail says what to run
        assert cli(tmp_path, "retry", *folders(tmp_path), env=env) == 0
        listed = capsys.readouterr().out
        assert "1 post(s) need a decision" in listed and "refused: New 新" in listed
        assert cli(tmp_path, "done", "nope.md", *folders(tmp_path), env=env) == 1
        assert "not a refused or unconfirmed post" in capsys.readouterr().err
        fake.clear()  # the cause is fixed
        assert cli(tmp_path, "retry", "new.md", *folders(tmp_path), env=env) == 0  # by source path
        assert "queued first: New 新" in capsys.readouterr().out
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 0
        assert len([m for m in fake.sent_messages(CHANNEL) if "New 新" in (m.get("text") or "")]) == 1
        assert cli(tmp_path, "retry", *folders(tmp_path), env=env) == 0
        assert "no refused or unconfirmed posts" in capsys.readouterr().out

        fresh_article(tmp_path / "site", "third.md", "Third 三")
        fake.fail("sendMessage", 400, "Bad Request: message must be non-empty")
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 1
        capsys.readouterr()
        assert cli(tmp_path, "done", "third.md", *folders(tmp_path), env=env) == 0
        assert "marked done: Third 三" in capsys.readouterr().out
        fake.clear()
        assert cli(tmp_path, "scan", *cron_args(tmp_path), env=env) == 0  # nothing left to decide
        assert not [m for m in fake.sent_messages(CHANNEL) if "Third 三" in (m.get("text") or "")]
        assert cli(tmp_path, "done", "third.md", *folders(tmp_path), env=env) == 1  # already handled


def test_retry_and_done_leave_a_running_newsbot_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.state import StateStore

    assert cli(tmp_path, "build", "--articles", str(SITE), *folders(tmp_path)) == 0
    holder = StateStore(tmp_path / "state")
    holder.acquire()  # as `newsbot run` does
    try:
        for argv, command in ((["retry", "x.md"], "/retry"), (["done", "x.md"], "/done"), (["resume"], "/resume")):
            assert cli(tmp_path, *argv, *folders(tmp_path)) == 1
            assert f"send {command} to the bot instead" in capsys.readouterr().err
    finally:
        holder.release()
