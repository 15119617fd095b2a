"""``newsbot state check|export|import|reset`` through the real CLI on real folders."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import run
from bot.state import State, StateStore
from tests.test_state import V0, flip_a_byte, hold_lock, stop, truncate

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "examples" / "site"


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    return {"state": tmp_path / "state", "feeds": tmp_path / "feeds", "home": tmp_path}


def cli(dirs: dict[str, Path], *argv: str) -> int:
    verb = list(argv)
    return run([*verb, "--articles", str(SITE), "--state", str(dirs["state"]), "--feeds", str(dirs["feeds"])],
               environ={"HOME": str(dirs["home"]), "NEWSBOT_LOG_LEVEL": "WARNING"})


def scanned(dirs: dict[str, Path]) -> State:
    """A real state: the sample site scanned once (a first run records a baseline), then saved
    once more with a change in both documents, so each has a previous copy."""
    assert cli(dirs, "scan") == 0
    with StateStore(dirs["state"]) as store:
        state = store.load()
        state.meta["note"] = "second save"
        state.feeds["extra.xml"] = "fingerprint"
        assert store.save(state)
    return StateStore(dirs["state"]).load()


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.iterdir() if p.name != "lock"}


def test_a_build_that_finds_nothing_new_leaves_the_state_files_untouched(dirs) -> None:
    assert cli(dirs, "build") == 0
    before = stamps(dirs["state"])
    assert set(before) == {"state.json.zst", "scan.json.zst"}
    time.sleep(0.01)
    assert cli(dirs, "build") == 0
    assert stamps(dirs["state"]) == before


def test_check_on_a_new_folder_says_first_run(dirs, capsys) -> None:
    assert cli(dirs, "state", "check") == 0
    assert "no state yet" in capsys.readouterr().out


def test_check_reports_a_healthy_state(dirs, capsys) -> None:
    state = scanned(dirs)
    capsys.readouterr()
    assert cli(dirs, "state", "check") == 0
    out = capsys.readouterr().out
    assert "scan.json.zst: ok" in out and f"{len(state.articles)} articles" in out and "state.json.zst: ok" in out
    assert f"{len(state.posts)} seen" in out and "lock: free" in out and "state is healthy" in out


def test_check_flags_a_damaged_file_and_names_the_way_out(dirs, capsys) -> None:
    scanned(dirs)
    store = StateStore(dirs["state"])
    truncate(store.path)
    capsys.readouterr()
    assert cli(dirs, "state", "check") == 1
    out = capsys.readouterr().out
    assert "state.json.zst: DAMAGED" in out and "recovered the previous copy" in out
    flip_a_byte(store.backup_path)
    assert cli(dirs, "state", "check") == 1
    assert "newsbot state reset --baseline" in capsys.readouterr().out


def test_check_does_not_repair_or_lock_anything(dirs) -> None:
    scanned(dirs)
    store = StateStore(dirs["state"])
    truncate(store.path)
    before = sorted(p.name for p in dirs["state"].iterdir()), store.path.read_bytes()
    cli(dirs, "state", "check")
    assert (sorted(p.name for p in dirs["state"].iterdir()), store.path.read_bytes()) == before


def test_export_then_import_on_another_host_gives_the_same_state(dirs, tmp_path: Path) -> None:
    state = scanned(dirs)
    exported = tmp_path / "export.json"
    assert cli(dirs, "state", "export", "--output", str(exported)) == 0
    doc = json.loads(exported.read_text(encoding="utf-8"))  # portable, plain JSON
    assert doc["version"] == 2 and len(doc["articles"]) == len(state.articles) and "exported" in doc
    other = {**dirs, "state": tmp_path / "new-host-state"}
    assert cli(other, "state", "import", str(exported)) == 0
    assert StateStore(other["state"]).load() == state


def test_export_to_stdout_is_json(dirs) -> None:
    state = scanned(dirs)
    out = subprocess.run([sys.executable, "-m", "bot", "state", "export", "--articles", str(SITE),
                          "--state", str(dirs["state"])], cwd=ROOT, capture_output=True, check=True)
    assert len(json.loads(out.stdout)["posts"]) == len(state.posts)


def test_import_keeps_the_previous_state_and_migrates_old_files(dirs, tmp_path: Path, capsys) -> None:
    before = scanned(dirs)
    old_file = tmp_path / "v0.json"
    old_file.write_text(json.dumps(V0), encoding="utf-8")
    assert cli(dirs, "state", "import", str(old_file)) == 0
    assert "state.json.zst.before-import" in capsys.readouterr().out
    assert StateStore(dirs["state"]).load().posts == {"tag:x,2025:/a/": {"status": "sent", "message_id": 5, "source": "a.md"}}
    restored = tmp_path / "restored"
    restored.mkdir()
    for name in ("state.json.zst", "scan.json.zst"):  # both documents were kept
        (restored / name).write_bytes((dirs["state"] / f"{name}.before-import").read_bytes())
    assert StateStore(restored).load() == before


@pytest.mark.parametrize("content", [b"{\"version\": 1, \"posts\": {}}", b"not json", b""])
def test_import_of_a_bad_file_changes_nothing(dirs, tmp_path: Path, content: bytes, capsys) -> None:
    scanned(dirs)
    store = StateStore(dirs["state"])
    before = store.path.read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert cli(dirs, "state", "import", str(bad)) == 1
    assert "cannot import" in capsys.readouterr().err
    assert store.path.read_bytes() == before and not (dirs["state"] / "state.json.zst.before-import").exists()


def test_import_waits_for_no_one_while_newsbot_runs(dirs, tmp_path: Path, capsys) -> None:
    scanned(dirs)
    exported = tmp_path / "e.json"
    cli(dirs, "state", "export", "-o", str(exported))
    proc = hold_lock(dirs["state"])
    try:
        assert cli(dirs, "state", "import", str(exported)) == 1
        assert f"another newsbot (pid {proc.pid}" in capsys.readouterr().err
    finally:
        stop(proc)


def test_reset_baseline_rebuilds_a_lost_state_without_posting_history(dirs, capsys) -> None:
    original = scanned(dirs)
    store = StateStore(dirs["state"])
    truncate(store.path)
    flip_a_byte(store.backup_path)
    assert cli(dirs, "scan") == 1  # refuses to start empty
    capsys.readouterr()
    assert cli(dirs, "state", "reset", "--baseline") == 0
    out = capsys.readouterr().out
    state = StateStore(dirs["state"]).load()
    assert state.is_initialized and state.queue == []
    assert {rec["id"] for rec in state.articles.values()} == {rec["id"] for rec in original.articles.values()}
    assert set(state.posts) == set(original.posts)  # every published article, same stable ids
    assert all(rec["status"] == "seen" for rec in state.posts.values())
    assert f"{len(state.posts)} articles recorded as seen" in out and "before-reset" in out
    assert (dirs["state"] / "state.json.zst.before-reset").exists()
    assert cli(dirs, "scan") == 0
    assert "nothing is due" in capsys.readouterr().out


def test_reset_baseline_keeps_entry_ids_and_feed_slugs_of_a_readable_state(dirs) -> None:
    def with_site(url: str, *argv: str) -> int:
        return run([*argv, "--articles", str(SITE), "--state", str(dirs["state"]), "--feeds", str(dirs["feeds"]),
                    "--site-url", url], environ={"HOME": str(dirs["home"]), "NEWSBOT_LOG_LEVEL": "WARNING"})

    assert with_site("https://ex.org/", "build") == 0
    before = StateStore(dirs["state"]).load()
    assert with_site("https://www.ex.org/blog/", "state", "reset", "--baseline") == 0  # the site moved since
    after = StateStore(dirs["state"]).load()
    ids = {rel: rec["id"] for rel, rec in before.articles.items()}
    assert ids and {rel: rec["id"] for rel, rec in after.articles.items()} == ids  # readers see no "new" entries
    assert all(i.startswith("tag:ex.org,") for i in ids.values())
    assert after.meta.get("feed_slugs") == before.meta.get("feed_slugs")  # feed URLs keep their content
