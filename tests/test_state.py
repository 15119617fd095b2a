"""The state store on real folders: two documents, atomic saves, saves that write only what changed,
recovery, refusal, validation, migrations, crash orders, the lock."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from bot import stateschema
from bot.errors import StateError, StateLockedError
from bot.state import LEGACY_FILE, SCAN_FILE, STATE_FILE, State, StateStore

ROOT = Path(__file__).resolve().parents[1]


def sample_state(n: int = 3) -> State:
    state = State(meta={"initialized_at": "2026-01-01T00:00:00+00:00"})
    for i in range(n):
        source = f"_posts/2026-01-0{i + 1}-新闻-{i}.md"
        article_id = f"tag:news.example.org,2026-01-0{i + 1}:/a/{i}/"
        state.articles[source] = {
            "mtime_ns": 1_767_225_600_000_000_000 + i, "size": 4000 + i, "hash": f"{i:032x}", "id": article_id,
            "article": {"id": article_id, "title": f"标题 {i}", "url": f"https://news.example.org/a/{i}/",
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
    assert names == ["lock", SCAN_FILE, STATE_FILE, STATE_FILE + ".bak"]  # the articles did not change
    assert store.backup_path.read_bytes() == first
    assert StateStore(store.state_dir).load().queue == ["x"]


def stamps(store: StateStore) -> list[tuple[int, int]]:
    return [(p.stat().st_mtime_ns, p.stat().st_ino) for p in (store.path, store.scan_path)]


def test_unchanged_state_is_not_written(store: StateStore) -> None:
    state = sample_state()
    store = saved(store, state)
    loaded = store.load()
    before = stamps(store)
    time.sleep(0.01)
    assert store.save(loaded) is False
    loaded.articles = {k: dict(v) for k, v in loaded.articles.items()}  # a scan's copy, swapped in: equal
    loaded.meta["last_scan_at"] = "2026-02-01T00:00:00+00:00"  # every scan sets it: not a change by itself
    assert store.save(loaded) is False
    assert stamps(store) == before
    assert not store.backup_path.exists() and not store.files["scan"].backup.exists()
    loaded.meta["paused"] = True
    assert store.save(loaded) is True
    assert StateStore(store.state_dir).load().meta["last_scan_at"] == "2026-02-01T00:00:00+00:00"  # saved with it


def test_a_posts_save_never_touches_the_articles(store: StateStore) -> None:
    state = sample_state()
    store.save(state)
    scan_before = stamps(store)[1]
    state.articles["_posts/2026-01-01-新闻-0.md"]["size"] = 1  # changed in place, and not announced yet
    state.posts["tag:news.example.org,2026-01-01:/a/0/"]["message_id"] = 7
    time.sleep(0.01)
    assert store.save(state, parts=("posts",)) is True
    assert stamps(store)[1] == scan_before
    assert store.save(state) is False  # in-place article changes must be announced ...
    state.mark_scan_changed()
    assert store.save(state) is True  # ... and then they are written
    store.release()
    again = StateStore(store.state_dir).load()
    assert again == state and again.articles["_posts/2026-01-01-新闻-0.md"]["size"] == 1


@pytest.mark.parametrize("change", [
    lambda p: p["tag:a"].update(status="sent", message_id=5),
    lambda p: p["tag:a"].__setitem__("error", "x"),
    lambda p: p["tag:a"].pop("source"),
    lambda p: p["tag:a"].setdefault("attempts", 3),
    lambda p: p.__delitem__("tag:a"),
    lambda p: p.pop("tag:a"),
    lambda p: p.__setitem__("tag:b", {"status": "pending"}),
    lambda p: p.setdefault("tag:c", {"status": "seen"}),
    lambda p: p.update({"tag:d": {"status": "failed"}}),
], ids=["update", "setitem", "pop", "setdefault", "del", "pop record", "new", "setdefault new", "update new"])
def test_every_way_of_changing_a_post_record_is_saved(store: StateStore, change) -> None:
    state = State(posts={"tag:a": {"status": "pending", "source": "a.md"}, **{f"tag:{i}": {"status": "seen"} for i in range(200)}})
    store.save(state)
    store.release()
    store = StateStore(store.state_dir)
    loaded = store.load()
    change(loaded.posts)
    assert store.save(loaded, parts=("posts",)) is True
    store.release()
    assert StateStore(store.state_dir).load().posts == loaded.posts


def test_a_record_put_into_posts_is_adopted(store: StateStore) -> None:
    state = State()
    record = {"status": "pending"}
    state.posts["tag:a"] = record
    state.posts["tag:a"]["status"] = "sent"  # changes go through state.posts (the dict put in is copied)
    store.save(state)
    assert StateStore(store.state_dir).load().posts["tag:a"]["status"] == "sent"


def test_the_files_are_compressed_json_without_article_bodies(store: StateStore) -> None:
    store.save(sample_state())
    posts = json.loads(stateschema.unpack(store.path.read_bytes()))
    scan = json.loads(stateschema.unpack(store.scan_path.read_bytes()))
    assert store.path.read_bytes().startswith(stateschema.ZSTD_MAGIC)
    assert (posts["version"], posts["kind"], scan["version"], scan["kind"]) == (2, "posts", 2, "scan")
    assert set(posts) == {"version", "kind", "shards", "meta", "queue", "posts"}
    assert set(scan) == {"version", "kind", "shards", "meta", "articles", "bad", "feeds"}
    assert sum(len(shard) for shard in scan["articles"]) == 3 and "body" not in store.scan_path.read_bytes().decode("latin-1")


def test_an_invalid_state_is_never_written(store: StateStore) -> None:
    state = sample_state()
    state.posts["tag:x"] = {"status": "posted"}
    with pytest.raises(StateError, match="posts.tag:x.status: unknown value 'posted'"):
        store.save(state)
    assert not store.path.exists()
    state.posts["tag:x"]["status"] = "sent"
    state.articles["b.md"] = {"mtime_ns": 1, "size": 1, "hash": "h", "id": "i", "article": {"title": "t"}}
    with pytest.raises(StateError, match="articles.b.md.article.url: missing"):
        store.save(state)
    assert not store.scan_path.exists()


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
    doc.pop("posts", None) or doc.pop("articles")
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


def path_of(store: StateStore, doc: str, backup: bool = False) -> Path:
    part = store.files[doc]
    return part.backup if backup else part.path


@pytest.mark.parametrize("doc", ["posts", "scan"])
@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_document_is_recovered_from_its_previous_copy(store: StateStore, damage, doc: str, caplog) -> None:
    old, new = two_saves(store)
    damage(path_of(store, doc))
    fresh = StateStore(store.state_dir)
    with caplog.at_level(logging.WARNING, logger="bot.state"):
        loaded = fresh.load()
    recovered, intact = (old, new) if doc == "posts" else (new, old)
    assert (loaded.posts, loaded.queue, loaded.meta) == (recovered.posts, recovered.queue, recovered.meta)
    assert loaded.articles == intact.articles if doc == "posts" else loaded.articles == old.articles
    assert fresh.recovered_from_backup and fresh.recovery_reason.startswith(path_of(store, doc).name)
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
    assert third.load().posts == old.posts and not third.recovered_from_backup


@pytest.mark.parametrize("doc", ["posts", "scan"])
def test_missing_main_file_with_a_backup_recovers_instead_of_starting_empty(store: StateStore, doc: str) -> None:
    old, _ = two_saves(store)
    path_of(store, doc).unlink()
    fresh = StateStore(store.state_dir)
    loaded = fresh.load()
    assert (loaded.posts if doc == "posts" else loaded.articles) == (old.posts if doc == "posts" else old.articles)
    assert fresh.recovered_from_backup and "missing" in fresh.recovery_reason


@pytest.mark.parametrize("backup", ["damaged", "absent"])
def test_no_good_copy_of_the_posts_refuses_to_start_and_says_how_to_proceed(store: StateStore, backup: str) -> None:
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


def test_a_posts_document_lost_with_its_backup_is_not_replaced_by_an_empty_one(store: StateStore) -> None:
    """Starting empty would forget what was sent (message ids for edits, pending posts)."""
    two_saves(store)
    store.path.unlink()
    store.backup_path.unlink()
    with pytest.raises(StateError, match="state.json.zst .* is missing .* but scan.json.zst is there") as err:
        StateStore(store.state_dir).load()
    assert "newsbot state reset --baseline" in str(err.value)


@pytest.mark.parametrize("backup", ["damaged", "absent"])
def test_no_good_copy_of_the_scan_means_a_rescan_not_a_refusal(store: StateStore, backup: str) -> None:
    _, new = two_saves(store)
    truncate(store.scan_path)
    if backup == "damaged":
        flip_a_byte(store.files["scan"].backup)
    else:
        store.files["scan"].backup.unlink()
    fresh = StateStore(store.state_dir)
    loaded = fresh.load()
    assert loaded.posts == new.posts and loaded.articles == {}  # the next scan reads every file again
    assert fresh.recovered_from_backup and "read again" in fresh.recovery_reason


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
    doc = stateschema.MIGRATIONS[0](json.loads(json.dumps(V0)))
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
    with caplog.at_level(logging.INFO, logger="bot.statefiles"):
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


# --- version 1 files, the split and crash orders ----------------------------------------------

V1 = {"version": 1, "meta": {"initialized_at": "2025-05-01T00:00:00+00:00", "feed_slugs": {"tags": {"x": "x"}}},
      "articles": {"a.md": {"mtime_ns": 1, "size": 2, "hash": "h1", "id": "tag:x,2025:/a/",
                            "article": {"source": "a.md", "id": "tag:x,2025:/a/", "content_hash": "h1", "title": "A",
                                        "url": "https://x/a/", "published_at": "2025-05-01T00:00:00+00:00"}}},
      "posts": {"tag:x,2025:/a/": {"status": "sent", "message_id": 5, "source": "a.md"}},
      "queue": [], "bad": {}, "feeds": {"atom.xml": "f1"}}


def test_a_version_1_single_file_is_split_into_two_documents_on_the_next_save(store: StateStore) -> None:
    store.state_dir.mkdir()
    store.path.write_bytes(stateschema.pack(orjson.dumps(V1)))
    state = store.load()
    assert state.articles["a.md"]["article"] == {"id": "tag:x,2025:/a/", "title": "A", "url": "https://x/a/",
                                                 "published_at": "2025-05-01T00:00:00+00:00"}  # no copies of key and hash
    assert state.posts["tag:x,2025:/a/"]["message_id"] == 5 and state.meta["feed_slugs"] == {"tags": {"x": "x"}}
    assert store.save(state) is True
    posts = json.loads(stateschema.unpack(store.path.read_bytes()))
    assert posts["kind"] == "posts" and "feed_slugs" not in posts["meta"]  # scan meta lives with the articles
    assert json.loads(stateschema.unpack(store.backup_path.read_bytes()))["version"] == 1  # the old file is kept
    store.release()
    again = StateStore(store.state_dir)
    assert again.load() == state and not again.recovered_from_backup
    assert again.save(again.load()) is False


def test_a_crash_between_a_version_1_conversion_and_its_posts_document_loses_nothing(store: StateStore) -> None:
    store.state_dir.mkdir()
    store.path.write_bytes(stateschema.pack(orjson.dumps(V1)))
    state = store.load()
    assert store.save(state, parts=("scan",))  # killed before the posts document replaced the old file
    store.release()
    assert StateStore(store.state_dir).load() == state


def real_site(tmp_path: Path):
    from tests.servicekit import make_settings

    return make_settings(tmp_path, None, max_age_days=100000.0)


def test_scan_saved_but_posts_not_the_next_plan_queues_what_was_missed(tmp_path: Path) -> None:
    """Crash between the scan document (with a new article) and the posts document."""
    from bot import postqueue, scanner
    from tests.servicekit import write_article

    settings = real_site(tmp_path)
    store, state, now = StateStore(settings.state_dir), State(), datetime.now(UTC)
    report = scanner.scan(settings, state, now)
    postqueue.plan_posts(state, scanner.current_articles(state), report, settings, now)
    store.save(state)
    write_article(settings.articles_dir, "late.md", "Late news", date="2026-01-01 10:00:00 +0800")
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert scanner.scan(settings, state, now).new == ("late.md",)
    state.mark_scan_changed()
    store.save(state, parts=("scan",))
    store.release()  # killed here: the posts document never heard of late.md
    again = StateStore(settings.state_dir).load()
    report = scanner.scan(settings, again, now)
    assert report.new == ()  # the scan document already knows the file...
    queued = postqueue.plan_posts(again, scanner.current_articles(again), report, settings, now)
    assert queued == [again.articles["late.md"]["id"]]  # ... and the planner still queues it


def test_a_lost_scan_document_is_rebuilt_by_a_rescan_with_the_same_ids(tmp_path: Path) -> None:
    from bot import postqueue, scanner

    settings = real_site(tmp_path)
    store, state, now = StateStore(settings.state_dir), State(), datetime.now(UTC)
    report = scanner.scan(settings, state, now)
    postqueue.plan_posts(state, scanner.current_articles(state), report, settings, now)
    store.save(state)
    store.release()
    store.scan_path.unlink()
    again = StateStore(settings.state_dir).load()
    assert again.articles == {} and again.posts == state.posts
    report = scanner.scan(settings, again, now)
    assert {r["id"] for r in again.articles.values()} == {r["id"] for r in state.articles.values()}
    assert postqueue.plan_posts(again, scanner.current_articles(again), report, settings, now) == []


def test_a_scan_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    from bot.service import open_engine

    settings = real_site(tmp_path)
    engine, store = open_engine(settings)
    engine.plan(engine.scan_and_build().scan)
    engine.save()
    before = stamps(store)
    time.sleep(0.01)
    cycle = engine.scan_and_build()
    engine.plan(cycle.scan)
    assert engine.save() is False and stamps(store) == before
    assert engine.state.meta["last_scan_at"]  # kept in memory for /status, saved with the next real change
    store.release()
