"""The CLI contract, end to end through ``bot.cli.run`` on real folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

from bot.cli import build_parser, run

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
    for verb in ("build", "scan", "run", "status", "check-config", "state"):
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
