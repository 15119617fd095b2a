"""``newsbot state check|export|import|reset``: inspect, move and rebuild the state store.

CLI-facing: these print for the person at the terminal and return an exit code
(0 ok, 1 the state is damaged or the action failed).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bot import __version__, stateschema
from bot.config import Settings
from bot.errors import StateError
from bot.state import State, StateStore
from bot.stateio import PartFile

EXIT_OK, EXIT_FAILURE = 0, 1


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


def _file_report(path: Path, kind: str) -> tuple[bool, str]:
    try:
        loaded = PartFile(path, kind).read_file(path)
    except (StateError, OSError) as exc:
        return False, f"{path.name}: DAMAGED: {exc}"
    saved_at = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if loaded.whole is not None:
        doc = loaded.whole
        what = f"{len(doc['articles'])} articles, {len(doc['posts'])} post records (older format, converted on save)"
    else:
        what = f"{len(loaded.big)} {'post records' if kind == 'posts' else 'articles'}"
    return True, f"{path.name}: ok, {_mb(path)}, saved {saved_at}, {what}"


def summary_lines(state: State) -> list[str]:
    """What the state holds, in a few lines."""
    statuses = Counter(rec.get("status") for rec in state.posts.values())
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items(), key=lambda kv: str(kv[0]))) or "none"
    return [
        f"articles: {len(state.articles)} scanned, {len(state.bad)} bad files",
        f"posts: {by_status}",
        f"queue: {len(state.queue)} waiting",
        f"initialized: {state.meta.get('initialized_at') or 'no (the first run records a baseline)'}",
    ]


def state_check(settings: Settings, args: argparse.Namespace) -> int:
    """Validate every file in the state folder and report; exit 1 if the main file is damaged."""
    store = StateStore(settings.state_dir)
    print(f"state folder: {store.state_dir}")
    healthy = True
    for kind, part in (("posts", store.files["posts"]), ("scan", store.files["scan"])):
        for path in (part.path, part.backup):
            if path.exists():
                ok, line = _file_report(path, kind)
                healthy = healthy and (ok or path != part.path)
                print(line)
            elif path == part.path:
                print(f"{path.name}: missing")
    if store.legacy_path.exists():
        print(f"{store.legacy_path.name}: from newsbot 0.x, converted on the next save")
    owner = store.lock_owner()
    print(f"lock: {'held by ' + owner if owner else 'free'}")
    try:
        state = store.load()
    except StateError as exc:
        print(f"PROBLEM: {exc}")
        return EXIT_FAILURE
    if store.recovered_from_backup:
        healthy = False
        print(f"PROBLEM: {store.recovery_reason}; the next start does the same and alerts the admins")
    elif not store.path.exists() and not store.legacy_path.exists():
        print("no state yet: the first run records every existing article as seen")
    for line in summary_lines(state):
        print(line)
    for note in stateschema.consistency(state.to_document()):
        print(f"warning: {note}")
    print("state is healthy" if healthy else "state needs attention (see PROBLEM above)")
    return EXIT_OK if healthy else EXIT_FAILURE


def _load_for_reading(store: StateStore) -> State:
    state = store.load()
    if store.recovered_from_backup:
        print(f"warning: {store.recovery_reason}; using the previous copy", file=sys.stderr)
    return state


def state_export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the state as portable, pretty JSON (for backups and moving hosts)."""
    store = StateStore(settings.state_dir)
    try:
        state = _load_for_reading(store)
    except StateError as exc:
        print(f"newsbot: cannot export: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    doc: dict[str, Any] = state.to_document()
    doc["exported"] = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "by": f"newsbot {__version__}",
                       "from": str(store.state_dir)}
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    output = getattr(args, "output", None)
    if not output or output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    out_path = Path(output)
    tmp = out_path.with_name(out_path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        print(f"newsbot: cannot write {out_path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"exported {len(state.articles)} articles and {len(state.posts)} post records to {out_path} "
          f"({len(data) / 1e6:.2f} MB)", file=sys.stderr)
    return EXIT_OK


def _replace_state(store: StateStore, new: State, keep_as: str) -> Path | None:
    """Under the lock: keep the current file as ``keep_as``, then save ``new`` over it."""
    try:
        store.load()  # only to learn whether the current file is good enough to become .bak
    except StateError:
        pass  # replacing a damaged state is exactly what import and reset are for
    kept = store.keep_copy(keep_as)
    store.save(new)
    return kept


def state_import(settings: Settings, args: argparse.Namespace) -> int:
    """Replace the state with an exported file, after validating (and migrating) it."""
    source = Path(args.file)
    try:
        new = State.from_json_bytes(source.read_bytes())
    except OSError as exc:
        print(f"newsbot: cannot read {source}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    except StateError as exc:
        print(f"newsbot: cannot import {source}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    with StateStore(settings.state_dir) as store:
        kept = _replace_state(store, new, "before-import")
    print(f"imported {source} into {store.state_dir}")
    for line in summary_lines(new):
        print(line)
    if kept:
        print(f"the previous state is kept as {kept}")
    return EXIT_OK


_KEPT_SCAN_META = ("feed_slugs", "feed_dates", "scan_settings", "scan_skipped")


def baseline_state(settings: Settings, now: datetime, previous: State | None = None) -> State:
    """A fresh state in which every article published by ``now`` counts as already posted.

    What subscribers rely on survives a reset when the old state is readable: each article's
    entry id (readers would show the back catalogue again under new ids) and each feed's slug
    (a tag feed's URL must keep its content). Only the posting state starts again.
    """
    # imported here: the scanner pulls in the readers, and `state check` should stay light
    from bot import postqueue, scanner

    state = State()
    if previous is not None:
        state.articles, state.bad, state.feeds = dict(previous.articles), dict(previous.bad), dict(previous.feeds)
        state.meta.update({k: previous.meta[k] for k in _KEPT_SCAN_META if k in previous.meta})
    report = scanner.scan(settings, state, now)
    no_backfill = dataclasses.replace(settings, backfill=0)
    postqueue.plan_posts(state, scanner.current_articles(state), report, no_backfill, now, backfill=0)
    return state


def state_reset(settings: Settings, args: argparse.Namespace) -> int:
    """Start again from the articles on disk, recording each as seen so nothing old is posted."""
    if not getattr(args, "baseline", False):
        print("newsbot: state reset needs --baseline (every current article is recorded as seen)", file=sys.stderr)
        return 2
    with StateStore(settings.state_dir) as store:
        try:
            previous: State | None = store.load()
        except StateError:
            previous = None  # nothing readable to keep: ids are derived afresh
        new = baseline_state(settings, datetime.now(UTC), previous)
        kept = _replace_state(store, new, "before-reset")
    seen = sum(1 for rec in new.posts.values() if rec.get("status") == "seen")
    print(f"reset {store.state_dir}: {seen} articles recorded as seen; nothing existing will be posted")
    held = len(new.articles) - len(new.posts)
    if held:
        print(f"{held} future-dated article(s) will be posted on their dates")
    if new.bad:
        print(f"{len(new.bad)} file(s) could not be read; `newsbot status` lists them")
    if kept:
        print(f"the previous state is kept as {kept}")
    return EXIT_OK
