"""The JSON state store: everything newsbot knows, treated like a database.

State shape (``version`` 2; ``bot.stateschema`` has the migrations, ``bot.stateparts`` the layout):

    articles  source path -> {"mtime_ns", "size", "hash", "id", "article": {...Article fields}}
    posts     article id  -> {"status", "source", "message_id", "chat_id", "file_id",
                              "posted_hash", "attempts", "not_before", "error", "updated_at", ...}
              status is one of: pending, in_flight, sent, unknown, failed, skipped, seen
    queue     article ids waiting to be posted, oldest first
    bad       source path -> {"reason", "mtime_ns", "size"}
    feeds     feed path relative to feeds_dir -> fingerprint of its inputs
    meta      initialized_at, last_scan_at, paused, pause_reason, ...

No article bodies are ever stored. On disk the state is two documents, each with its previous
good copy (``.bak``), so a channel post never re-encodes 100,000 articles:

    state.json.zst  the posts document: posts, queue, meta; saved around every channel post
    scan.json.zst   the scan document: articles, bad, feeds and ``SCAN_META_KEYS``; saved after
                    a scan that changed something (a no-change scan writes nothing)

Crash rule: the scan document is written before any posts document that refers to its
articles (``Engine`` saves it in the scan thread, before planning), and a posts document
exists whenever a scan document does. So after a crash between the two writes, the posts
document is older: articles it has no record for are planned again at the next scan (the
planner works from the full article list, not from what the scan reported new), and a post
queued for a deleted article is skipped when drained. A lost scan document (no good copy)
means one full rescan; ids are derived again from each file's uid, URL and date, so posts
keep matching (except a file renamed to a new URL, or two files sharing one id base).
A lost posts document is never replaced by an empty one: it holds what was sent and the
message ids, so ``load`` refuses and says how to proceed.

``meta["last_scan_at"]`` changes at every scan, so it alone never causes a write; it is
saved with the next real change.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bot import stateschema
from bot.errors import StateError
from bot.statefiles import FolderLock, copy_file
from bot.stateio import (  # noqa: F401
    SCAN_META_KEYS,
    VOLATILE_META_KEYS,
    collector_paused,
    PartFile,
    Saved,
    decode_parts,
    encode_posts,
    encode_scan,
    read_legacy,
)
from bot.stateparts import Posts
from bot.stateschema import POST_STATUSES, STATE_VERSION  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

STATE_FILE = "state.json.zst"  # the posts document (a version 0/1 whole state under this name is migrated)
SCAN_FILE = "scan.json.zst"
BACKUP_SUFFIX = ".bak"
LEGACY_FILE = "state.json"  # plain JSON written by newsbot 0.x; read once, then set aside
LOCK_FILE = "lock"
PARTS = ("scan", "posts")  # the write order
HOW_TO_PROCEED = (
    "newsbot will not start with empty state, because it would post the site's history again. "
    "To proceed, restore an export with `newsbot state import FILE`, or record every current "
    "article as already posted with `newsbot state reset --baseline`.")
_versions = itertools.count(1)


def _new_version() -> int:
    return next(_versions)


@dataclass
class State:
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: Posts = field(default_factory=Posts)
    queue: list[str] = field(default_factory=list)
    bad: dict[str, dict[str, Any]] = field(default_factory=dict)
    feeds: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    # Bumped by code that changes articles/bad/feeds in place; swapping in new dicts (as the
    # Engine's scans do) needs no bump: the store compares against what it saved.
    scan_version: int = field(default_factory=_new_version, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.posts, Posts):
            self.posts = Posts(self.posts)

    def mark_scan_changed(self) -> None:
        """Call after changing ``articles``, ``bad`` or ``feeds`` in place, so the next save writes them."""
        self.scan_version = _new_version()

    @property
    def is_initialized(self) -> bool:
        """False until the first scan has recorded a baseline of existing articles."""
        return bool(self.meta.get("initialized_at"))

    def to_document(self) -> dict[str, Any]:
        """The whole state as one document (the export format)."""
        return {"version": STATE_VERSION, "meta": self.meta, "articles": self.articles, "posts": self.posts,
                "queue": self.queue, "bad": self.bad, "feeds": self.feeds}

    def to_json_bytes(self) -> bytes:
        """Compact JSON of the whole document (uncompressed)."""
        return stateschema.encode(self.to_document())

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> State:
        return cls(articles=doc["articles"], posts=doc["posts"], queue=doc["queue"],
                   bad=doc["bad"], feeds=doc["feeds"], meta=doc["meta"])

    @classmethod
    def from_json_bytes(cls, data: bytes) -> State:
        """Plain or zstd JSON of any known version -> validated State, else StateError."""
        return cls.from_document(stateschema.decode(data))


class StateStore:
    """Loads and saves ``State`` in ``state_dir``; ``acquire`` makes this process its only writer.

    Thread-safe per document: the scan thread may save the scan document while the event
    loop saves the posts document.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.files = {"posts": PartFile(self.state_dir / STATE_FILE, "posts"),
                      "scan": PartFile(self.state_dir / SCAN_FILE, "scan")}
        self.path, self.backup_path = self.files["posts"].path, self.files["posts"].backup
        self.scan_path = self.files["scan"].path
        self.legacy_path = self.state_dir / LEGACY_FILE
        self.lock_path = self.state_dir / LOCK_FILE
        self.recovered_from_backup = False
        self.recovery_reason = ""  # what was wrong, for the admins' alert
        self._saved = Saved()
        self._locks = {name: threading.Lock() for name in PARTS}
        self._lock = FolderLock(self.state_dir, LOCK_FILE)

    # --- loading ---------------------------------------------------------------------------
    def load(self) -> State:
        """The saved state; a fresh State only when the folder has never held one."""
        with collector_paused(freeze=True):
            return self._load()

    def _load(self) -> State:
        problems: list[str] = []
        self.recovered_from_backup, self.recovery_reason = False, ""
        self._saved = Saved()
        posts = self.files["posts"].read(problems)
        scan = self.files["scan"].read(problems, optional=True)
        if posts is None:
            if scan is not None or self.files["scan"].backup.exists():
                raise StateError(f"{STATE_FILE} (posts, queue, what was sent) is missing from {self.state_dir} "
                                 f"but {SCAN_FILE} is there. {HOW_TO_PROCEED}")
            if not self.legacy_path.exists():
                return State()
            whole = read_legacy(self.legacy_path, HOW_TO_PROCEED)
            logger.info("Read %s from an older newsbot; the next save converts it", self.legacy_path.name)
            return State.from_document(whole)
        if scan is None and posts.whole is not None:  # a version 0/1 file: it has the scan part too
            scan = posts
        self.recovered_from_backup = bool(problems)
        self.recovery_reason = "; ".join(problems)
        state = State.from_document(decode_parts(posts, scan, self._saved))
        if self._saved.articles is not None:
            self._saved.scan_version = state.scan_version
        if problems:
            logger.warning("State recovered (%s). Changes made since the previous copy are lost; a post sent "
                           "in that window may be sent again.", self.recovery_reason)
        return state

    # --- saving ----------------------------------------------------------------------------
    def save(self, state: State, parts: tuple[str, ...] = PARTS) -> bool:
        """Write the documents among ``parts`` that changed; return whether anything was written.

        ``parts=("posts",)`` never looks at the articles (a channel post's save). Takes the
        folder's lock if this store does not hold it yet.
        """
        self.acquire()
        wrote = False
        if "scan" in parts:
            if not self.path.exists():  # a posts document exists whenever a scan one does
                wrote = self._save_posts(state)
            wrote = self._save_scan(state) or wrote
        if "posts" in parts:
            wrote = self._save_posts(state) or wrote
        if wrote and self.legacy_path.exists() and self.path.exists() and self.scan_path.exists():
            self.legacy_path.replace(self.legacy_path.with_name(LEGACY_FILE + ".migrated"))
        return wrote

    def _save_posts(self, state: State) -> bool:
        with self._locks["posts"]:
            blob = encode_posts(state, self._saved)
            if blob is None:
                return False
            try:
                self.files["posts"].write(blob)
            except BaseException:
                self._saved.posts = None  # the next save writes everything again
                raise
            self._saved.posts_whole = False
            return True

    def _save_scan(self, state: State) -> bool:
        with self._locks["scan"]:
            blob = encode_scan(state, self._saved)
            if blob is None:
                return False
            try:
                self.files["scan"].write(blob)
            except BaseException:
                self._saved.articles = None
                raise
            return True

    def keep_copy(self, suffix: str) -> Path | None:
        """Keep the current documents as ``<name>.<suffix>`` (before an import or a reset)."""
        kept = None
        for part in (self.files["scan"], self.files["posts"]):
            if part.path.exists():
                target = part.path.with_name(f"{part.path.name}.{suffix}")
                try:
                    copy_file(part.path, target)
                except OSError as exc:
                    raise StateError(f"cannot keep a copy as {target}: {exc.strerror or exc}") from None
                kept = target
        return kept

    # --- the single-writer lock ------------------------------------------------------------
    @property
    def is_locked(self) -> bool:
        return self._lock.held

    def acquire(self) -> None:
        """Become the folder's only writer, or raise StateLockedError naming the owner."""
        self._lock.acquire()

    def lock_owner(self) -> str | None:
        """Who holds the lock ("pid N on HOST"), or None if nobody does. Takes nothing."""
        return self._lock.owner()

    def release(self) -> None:
        self._lock.release()

    def lock(self) -> Self:
        """``with store.lock():`` holds the lock for the block."""
        self.acquire()
        return self

    def __enter__(self) -> Self:
        return self.lock()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
