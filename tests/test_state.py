"""The state store on real folders: atomic saves, recovery, refusal, validation, migration, lock."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from bot import stateschema
from bot.errors import StateError, StateLockedError
from bot.state import LEGACY_FILE, State, StateStore

ROOT = Path(__file__).resolve().parents[1]


def sample_state(n: int = 3) -> State:
    state = State(meta={"initialized_at": "2026-01-01T00:00:00+00:00"})
    for i in range(n):
        source = f"_posts/2026-01-0{i + 1}-新闻-{i}.md"
        article_id = f"tag:news.example.org,2026-01-0{i + 1}:/a/{i}/"
        state.articles[source] = {
            "mtime_ns": 1_767_225_600_000_000_000 + i, "size": 4000 + i, "hash": f"{i:032x}", "id": article_id,
            "article": {"source": source, "id": article_id, "title": f"标题 {i}", "url": f"https://news.example.org/a/{i}/",
                        "published_at": f"2026-01-0{i + 1}T08:00:00+08:00", "categories": [["能源", "储能"]],
                        "tags": ["电网"], "is_draft": False}}
        state.posts[article_id] = {"status": "sent", "source": source, "message_id": 100 + i, "chat_id": -100123}
    return state


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state")


def saved(store: StateStore, state: State) -> StateStore:
    assert store.save(state)
    store.release()
    return StateStore(store.state_dir)


# --- saving ---------------------------------------------------------------------------------

def test_first_run_is_an_empty_state_and_round_trips(store: StateStore) -> None:
    fresh = store.load()
    assert fresh == State() and not fresh.is_initialized and not store.recovered_from_backup
    state = sample_state()
    again = saved(store, state).load()
    assert again == state and again.is_initialized


def test_save_leaves_no_temporary_files_and_keeps_the_previous_copy(store: StateStore) -> None:
    state = sample_state()
    store.save(state)
    first = store.path.read_bytes()
    state.queue.append("x")
    state.posts["x"] = {"status": "pending"}
    store.save(state)
    names = sorted(p.name for p in store.state_dir.iterdir())
    assert names == ["lock", "state.json.zst", "state.json.zst.bak"]
    assert store.backup_path.read_bytes() == first
    assert State.from_json_bytes(store.path.read_bytes()).queue == ["x"]


def test_unchanged_state_is_not_written(store: StateStore) -> None:
    state = sample_state()
    store = saved(store, state)
    loaded = store.load()
    before = store.path.stat().st_mtime_ns, store.path.stat().st_ino
    time.sleep(0.01)
    assert store.save(loaded) is False
    assert (store.path.stat().st_mtime_ns, store.path.stat().st_ino) == before
    assert not store.backup_path.exists()
    loaded.meta["paused"] = True
    assert store.save(loaded) is True


def test_the_file_is_compressed_json_without_article_bodies(store: StateStore) -> None:
    store.save(sample_state())
    blob = store.path.read_bytes()
    assert blob.startswith(stateschema.ZSTD_MAGIC)
    doc = json.loads(stateschema.unpack(blob))
    assert doc["version"] == stateschema.STATE_VERSION
    assert set(doc) == {"version", *stateschema.SECTIONS}


def test_an_invalid_state_is_never_written(store: StateStore) -> None:
    state = sample_state()
    state.posts["tag:x"] = {"status": "posted"}
    with pytest.raises(StateError, match="posts.tag:x.status: unknown value 'posted'"):
        store.save(state)
    assert not store.path.exists()


# --- damage and recovery --------------------------------------------------------------------

def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def torn_but_parseable(path: Path) -> None:
    """Valid JSON with a section missing: what a bad hand edit or a half-migrated file looks like."""
    doc = json.loads(stateschema.unpack(path.read_bytes()))
    del doc["posts"]
    path.write_bytes(stateschema.pack(json.dumps(doc).encode()))


DAMAGE = {"truncated": truncate, "bit flip": flip_a_byte, "empty": lambda p: p.write_bytes(b""),
          "garbage": lambda p: p.write_bytes(os.urandom(500)), "not json": lambda p: p.write_bytes(b"{\"version\": 1,"),
          "wrong shape": torn_but_parseable}


def two_saves(store: StateStore) -> tuple[State, State]:
    old = sample_state(2)
    store.save(old)
    new = sample_state(3)
    store.save(new)
    store.release()
    return old, new


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_file_is_recovered_from_the_previous_copy(store: StateStore, damage, caplog) -> None:
    old, _ = two_saves(store)
    damage(store.path)
    fresh = StateStore(store.state_dir)
    with caplog.at_level(logging.WARNING, logger="bot.state"):
        assert fresh.load() == old
    assert fresh.recovered_from_backup and fresh.recovery_reason.startswith("state.json.zst")
    assert "recovered the previous copy" in caplog.text


def test_after_recovery_the_damaged_file_is_kept_aside_and_the_backup_survives(store: StateStore) -> None:
    old, _ = two_saves(store)
    truncate(store.path)
    fresh = StateStore(store.state_dir)
    state = fresh.load()
    backup = store.backup_path.read_bytes()
    assert fresh.save(state) is True  # always written after a recovery, even unchanged
    assert store.backup_path.read_bytes() == backup  # the damaged file did not become the backup
    assert [p.name for p in store.state_dir.glob("state.json.zst.damaged-*")]
    third = StateStore(store.state_dir)
    assert third.load() == old and not third.recovered_from_backup


def test_missing_main_file_with_a_backup_recovers_instead_of_starting_empty(store: StateStore) -> None:
    old, _ = two_saves(store)
    store.path.unlink()
    fresh = StateStore(store.state_dir)
    assert fresh.load() == old
    assert fresh.recovered_from_backup and "missing" in fresh.recovery_reason


@pytest.mark.parametrize("backup", ["damaged", "absent"])
def test_no_good_copy_refuses_to_start_and_says_how_to_proceed(store: StateStore, backup: str) -> None:
    two_saves(store)
    truncate(store.path)
    if backup == "damaged":
        flip_a_byte(store.backup_path)
    else:
        store.backup_path.unlink()
    with pytest.raises(StateError) as err:
        StateStore(store.state_dir).load()
    message = str(err.value)
    assert "newsbot state import FILE" in message and "newsbot state reset --baseline" in message
    assert "will not start with empty state" in message


def test_a_newer_version_is_not_mistaken_for_damage(store: StateStore) -> None:
    two_saves(store)
    store.path.write_bytes(stateschema.pack(b'{"version": 99}'))
    with pytest.raises(StateError, match="newer newsbot"):
        StateStore(store.state_dir).load()


# --- validation and migrations --------------------------------------------------------------

@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["posts"]["p"].update(status="x"), "posts.p.status: unknown value 'x'"),
    (lambda d: d.update(queue={}), "queue: missing or not a JSON array"),
    (lambda d: d["queue"].append(7), "queue[0]: not a string: 7"),
    (lambda d: d["articles"]["a.md"].pop("id"), "articles.a.md.id: missing or empty"),
    (lambda d: d["articles"]["a.md"]["article"].update(url=None), "articles.a.md.article.url: missing or not a string"),
    (lambda d: d["articles"]["a.md"].update(size="1"), "articles.a.md: mtime_ns and size must be whole numbers"),
    (lambda d: d["bad"].update({"b.md": {}}), "bad.b.md.reason: missing or not a string"),
    (lambda d: d.update(version="1"), "version: expected a whole number"),
])
def test_validation_names_the_field_and_the_problem(mutate, message: str) -> None:
    doc = {"version": 1, "meta": {}, "queue": [], "bad": {}, "feeds": {}, "posts": {"p": {"status": "seen"}},
           "articles": {"a.md": {"mtime_ns": 1, "size": 2, "hash": "h", "id": "i",
                                 "article": {"url": "u", "title": "t", "published_at": "2026-01-01T00:00:00+00:00"}}}}
    assert stateschema.validate(doc) == []
    mutate(doc)
    with pytest.raises(StateError) as err:
        State.from_json_bytes(orjson.dumps(doc))
    assert message in str(err.value)


V0 = {
    "version": 0, "paused": True, "initialized_at": "2025-05-01T00:00:00+00:00",
    "articles": {"a.md": {"mtime_ns": 1, "size": 2, "hash": "h", "id": "tag:x,2025:/a/",
                          "article": {"url": "https://x/a/", "title": "A", "published_at": "2025-05-01T00:00:00+00:00"}}},
    "posts": [{"id": "tag:x,2025:/a/", "status": "sent", "message_id": 5, "source": "a.md"}],
    "queue": [], "bad": {},
}


def test_migration_0_to_1_keys_posts_by_id_and_moves_flags_into_meta() -> None:
    doc = stateschema.migrate(json.loads(json.dumps(V0)))
    assert doc["version"] == 1
    assert doc["posts"] == {"tag:x,2025:/a/": {"status": "sent", "message_id": 5, "source": "a.md"}}
    assert doc["meta"] == {"paused": True, "initialized_at": "2025-05-01T00:00:00+00:00"}
    assert doc["feeds"] == {} and stateschema.validate(doc) == []


def test_migration_0_rejects_a_post_without_id() -> None:
    with pytest.raises(StateError, match=r"posts\[0\]: a version 0 post record needs a string id"):
        stateschema.migrate({"version": 0, "posts": [{"status": "sent"}]})


def test_every_older_version_has_a_migration() -> None:
    assert sorted(stateschema.MIGRATIONS) == list(range(stateschema.STATE_VERSION))


def test_an_old_plain_state_json_is_upgraded_on_the_next_save(store: StateStore) -> None:
    store.state_dir.mkdir()
    (store.state_dir / LEGACY_FILE).write_text(json.dumps(V0), encoding="utf-8")
    state = store.load()
    assert state.posts["tag:x,2025:/a/"]["message_id"] == 5 and state.is_initialized
    assert store.save(state)
    assert not (store.state_dir / LEGACY_FILE).exists()
    assert (store.state_dir / (LEGACY_FILE + ".migrated")).exists()
    assert StateStore(store.state_dir).load() == state


# --- the lock -------------------------------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from bot.state import StateStore
store = StateStore(Path(sys.argv[1]))
store.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(state_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_dir)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def test_a_second_process_cannot_take_the_folder(store: StateStore) -> None:
    proc = hold_lock(store.state_dir)
    try:
        with pytest.raises(StateLockedError, match=rf"another newsbot \(pid {proc.pid} on .+\) is using"):
            store.acquire()
        with pytest.raises(StateLockedError):
            store.save(sample_state())  # saving takes the lock too
        assert not store.path.exists()
        assert store.lock_owner() is not None and str(proc.pid) in store.lock_owner()
    finally:
        stop(proc)


def test_a_lock_left_by_a_killed_process_is_taken_over(store: StateStore, caplog) -> None:
    proc = hold_lock(store.state_dir)
    os.kill(proc.pid, signal.SIGKILL)
    stop(proc)
    assert str(proc.pid) in (store.state_dir / "lock").read_text()  # it left its mark
    assert store.lock_owner() is None
    with caplog.at_level(logging.INFO, logger="bot.state"):
        store.acquire()
    assert "did not exit cleanly" in caplog.text
    assert store.save(sample_state())
    store.release()
    assert (store.state_dir / "lock").read_text() == ""  # a clean exit leaves it empty


def test_the_lock_as_a_context_manager(store: StateStore) -> None:
    with store.lock():
        assert store.is_locked
        with pytest.raises(StateLockedError):
            StateStore(store.state_dir).acquire()
    assert not store.is_locked
    with StateStore(store.state_dir) as other:
        assert other.is_locked


def test_stale_temporary_files_of_a_killed_writer_are_removed(store: StateStore) -> None:
    store.state_dir.mkdir()
    (store.state_dir / "state.json.zst.tmp-99999").write_bytes(b"half")
    store.acquire()
    assert not list(store.state_dir.glob("*.tmp-*"))
    store.release()
