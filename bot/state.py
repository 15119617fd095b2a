"""The JSON state store: everything newsbot knows, treated like a database.

Document shape (``version`` 1, see ``bot.stateschema`` for the file format and migrations):

    articles  source path -> {"mtime_ns", "size", "hash", "id", "article": {...Article fields}}
    posts     article id  -> {"status", "source", "message_id", "chat_id", "file_id",
                              "posted_hash", "attempts", "not_before", "error", "updated_at", ...}
              status is one of: pending, in_flight, sent, unknown, failed, skipped, seen
    queue     article ids waiting to be posted, oldest first
    bad       source path -> {"reason", "mtime_ns", "size"}
    feeds     feed path relative to feeds_dir -> fingerprint of its inputs
    meta      initialized_at, last_scan_at, paused, pause_reason, ...

No article bodies are ever stored.

Files: ``state.json.zst``, ``state.json.zst.bak`` (the previous good copy), ``lock``. Losing the state would re-post a site's history,
so a save is write-tmp + fsync + keep-previous + rename + fsync-folder, a damaged file is
recovered from the backup (``recovered_from_backup``; the caller alerts admins), and with no
good copy at all ``load`` refuses rather than start empty.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bot import stateschema
from bot.errors import StateError, StateLockedError
from bot.stateschema import POST_STATUSES, STATE_VERSION  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

STATE_FILE = "state.json.zst"
BACKUP_SUFFIX = ".bak"
LEGACY_FILE = "state.json"  # plain JSON written by newsbot 0.x; read once, then set aside
LOCK_FILE = "lock"
HOW_TO_PROCEED = (
    "newsbot will not start with empty state, because it would post the site's history again. "
    "To proceed, restore an export with `newsbot state import FILE`, or record every current "
    "article as already posted with `newsbot state reset --baseline`.")


@dataclass
class State:
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)
    bad: dict[str, dict[str, Any]] = field(default_factory=dict)
    feeds: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_initialized(self) -> bool:
        """False until the first scan has recorded a baseline of existing articles."""
        return bool(self.meta.get("initialized_at"))

    def to_document(self) -> dict[str, Any]:
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
    """Loads and saves ``State`` in ``state_dir``; ``acquire`` makes this process its only writer."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / STATE_FILE
        self.backup_path = self.path.with_name(STATE_FILE + BACKUP_SUFFIX)
        self.legacy_path = self.state_dir / LEGACY_FILE
        self.lock_path = self.state_dir / LOCK_FILE
        self.recovered_from_backup = False
        self.recovery_reason = ""  # what was wrong with the main file, for the admins' alert
        self._last_saved: bytes | None = None  # JSON last read or written: "unchanged" means equal bytes
        self._main_is_good = False  # may the current main file become the backup?
        self._lock_fd: int | None = None

    # --- loading ---------------------------------------------------------------------------
    def load(self) -> State:
        """The saved state; a fresh State only when the folder has never held one."""
        self.recovered_from_backup, self.recovery_reason = False, ""
        if self.path.exists():
            try:
                return self._read(self.path, main=True)
            except stateschema.NewerVersionError:
                raise
            except StateError as exc:
                problem = f"{self.path.name}: {exc}"
        elif self.backup_path.exists():
            problem = f"{self.path.name} is missing but {self.backup_path.name} exists"
        elif self.legacy_path.exists():
            return self._read_legacy()
        else:
            self._last_saved, self._main_is_good = None, False
            return State()
        return self._recover(problem)

    def _read(self, path: Path, *, main: bool) -> State:
        try:
            data = stateschema.unpack(path.read_bytes())
        except OSError as exc:
            raise StateError(f"cannot read: {exc.strerror}") from None
        doc = stateschema.decode_json(data)
        # Our own file reads back byte-identical, so an unchanged save writes nothing; a migrated
        # or foreign one is rewritten once; after a recovery the next save always writes.
        self._last_saved, self._main_is_good = (data if main else None), main
        return State.from_document(doc)

    def _recover(self, problem: str) -> State:
        if not self.backup_path.exists():
            raise StateError(f"the state in {self.state_dir} cannot be loaded ({problem}) and there is no "
                             f"backup. {HOW_TO_PROCEED}")
        try:
            state = self._read(self.backup_path, main=False)
        except StateError as exc:
            raise StateError(f"the state in {self.state_dir} cannot be loaded ({problem}; "
                             f"{self.backup_path.name}: {exc}). {HOW_TO_PROCEED} The damaged files "
                             "are left in place for inspection.") from None
        self.recovered_from_backup, self.recovery_reason = True, problem
        logger.warning("State file unusable (%s); recovered the previous copy from %s. Changes made since "
                       "that copy are lost; a post sent in that window may be sent again.",
                       problem, self.backup_path.name)
        return state

    def _read_legacy(self) -> State:
        try:
            state = self._read(self.legacy_path, main=False)
        except StateError as exc:
            if isinstance(exc, stateschema.NewerVersionError):
                raise
            raise StateError(f"the state in {self.legacy_path} cannot be loaded ({exc}). {HOW_TO_PROCEED}") from None
        logger.info("Read %s from an older newsbot; the next save converts it", self.legacy_path.name)
        return state

    # --- saving ----------------------------------------------------------------------------
    def save(self, state: State) -> bool:
        """Write only if the document changed; return whether anything was written.

        Takes the folder's lock if this store does not hold it yet, so a second process can
        never write over the first's state.
        """
        data = state.to_json_bytes()
        if data == self._last_saved:
            return False
        problems = stateschema.validate(state.to_document())
        if problems:  # never write what the next start could not read back
            raise StateError("refusing to save an invalid state: " + "; ".join(problems))
        self.acquire()
        self.write_file(self.path, stateschema.pack(data), keep_previous=True)
        self._last_saved, self._main_is_good = data, True
        if self.legacy_path.exists():
            os.replace(self.legacy_path, self.legacy_path.with_name(LEGACY_FILE + ".migrated"))
        return True

    def write_file(self, path: Path, blob: bytes, *, keep_previous: bool = False) -> None:
        """Atomically replace ``path``: tmp + fsync, previous good copy to ``.bak``, rename, fsync folder."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            if keep_previous and path.exists():
                self._set_aside(path)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StateError(f"cannot write {path}: {exc.strerror or exc}") from None
        _fsync_dir(self.state_dir)

    def _set_aside(self, path: Path) -> None:
        """Keep the current file as the backup, or, if it is damaged, out of the backup's way."""
        if not self._main_is_good:
            damaged = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(path, damaged)
            logger.warning("Kept the damaged state file as %s", damaged.name)
            return
        _copy(path, self.backup_path)

    def keep_copy(self, suffix: str) -> Path | None:
        """Keep the current file as ``state.json.zst.<suffix>`` (before an import or a reset)."""
        if not self.path.exists():
            return None
        target = self.path.with_name(f"{self.path.name}.{suffix}")
        try:
            _copy(self.path, target)
        except OSError as exc:
            raise StateError(f"cannot keep a copy as {target}: {exc.strerror or exc}") from None
        return target

    # --- the single-writer lock ------------------------------------------------------------
    @property
    def is_locked(self) -> bool:
        return self._lock_fd is not None

    def acquire(self) -> None:
        """Become the folder's only writer, or raise StateLockedError naming the owner.

        ``flock`` is released by the kernel when its process dies, however it dies, so a lock
        left by a killed newsbot is simply taken over.
        """
        if self._lock_fd is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_fd(fd) or "unknown pid"
            os.close(fd)
            raise StateLockedError(f"another newsbot ({owner}) is using {self.state_dir}/; stop it first, "
                                   "or give this one its own --state folder") from None
        previous = _read_fd(fd)
        if previous:
            logger.info("Taking over the state lock of a newsbot that did not exit cleanly (%s)", previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd
        for stale in self.state_dir.glob("*.tmp-*"):  # left by a writer killed mid-save
            stale.unlink(missing_ok=True)

    def lock_owner(self) -> str | None:
        """Who holds the lock ("pid N on HOST"), or None if nobody does. Takes nothing."""
        if self._lock_fd is not None:
            return _read_fd(self._lock_fd)
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_fd(fd) or "unknown pid"
        finally:
            os.close(fd)  # closing drops the probe's shared lock too
        return None

    def release(self) -> None:
        if self._lock_fd is None:
            return
        fd, self._lock_fd = self._lock_fd, None
        os.ftruncate(fd, 0)  # an empty lock file means "exited cleanly"
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def lock(self) -> Self:
        """``with store.lock():`` holds the lock for the block."""
        self.acquire()
        return self

    def __enter__(self) -> Self:
        return self.lock()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _copy(src: Path, dest: Path) -> None:
    """Atomically make ``dest`` a copy of ``src``; ``src`` stays in place the whole time."""
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # a filesystem without hard links
        tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dest)


def _read_fd(fd: int) -> str:
    return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable: without this a power cut can undo it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
