"""The state folder's files: atomic replacement and the single-writer lock (edge: disk only).

A write is tmp + fsync + keep-previous + rename + fsync-folder, so a crash at any instant
leaves the old file or the new one, never a torn one, and the previous good copy survives.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from bot.errors import StateError, StateLockedError

logger = logging.getLogger(__name__)


def write_atomic(path: Path, blob: bytes | Sequence[bytes], *, backup: Path | None = None,
                 damaged: bool = False) -> None:
    """Replace ``path`` by ``blob`` (bytes, or chunks written in order); the current file becomes
    ``backup`` (or, if ``damaged``, is kept aside as ``<name>.damaged-<time>`` so it never
    becomes the backup)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            if isinstance(blob, bytes):
                fh.write(blob)
            else:
                fh.writelines(blob)
            fh.flush()
            os.fsync(fh.fileno())
        if backup is not None and path.exists():
            if damaged:
                aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
                os.replace(path, aside)
                logger.warning("Kept the damaged state file as %s", aside.name)
            else:
                copy_file(path, backup)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from None
    fsync_dir(path.parent)


def copy_file(src: Path, dest: Path) -> None:
    """Atomically make ``dest`` a copy of ``src``; ``src`` stays in place the whole time."""
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # a filesystem without hard links
        tmp.write_bytes(src.read_bytes())
    os.replace(tmp, dest)


def fsync_dir(folder: Path) -> None:
    """Make the rename itself durable: without this a power cut can undo it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FolderLock:
    """``flock`` on ``<folder>/lock``: released by the kernel however its process dies, so a
    lock left by a killed newsbot is simply taken over."""

    def __init__(self, folder: Path, name: str = "lock") -> None:
        self.folder, self.path = folder, folder / name
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_fd(fd) or "unknown pid"
            os.close(fd)
            raise StateLockedError(f"another newsbot ({owner}) is using {self.folder}/; stop it first, "
                                   "or give this one its own --state folder") from None
        previous = _read_fd(fd)
        if previous:
            logger.info("Taking over the state lock of a newsbot that did not exit cleanly (%s)", previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        for stale in self.folder.glob("*.tmp-*"):  # left by a writer killed mid-save
            stale.unlink(missing_ok=True)

    def owner(self) -> str | None:
        """Who holds the lock ("pid N on HOST"), or None if nobody does. Takes nothing."""
        if self._fd is not None:
            return _read_fd(self._fd)
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
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
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)  # an empty lock file means "exited cleanly"
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_fd(fd: int) -> str:
    return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
