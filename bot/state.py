"""The JSON state store: everything newsbot knows, treated like a database.

Document shape (``version`` 1), all plain JSON:

    articles  source path -> {"mtime_ns", "size", "hash", "id", "article": {...Article fields}}
    posts     article id  -> {"status", "source", "message_id", "chat_id", "file_id",
                              "posted_hash", "attempts", "not_before", "error", "updated_at", ...}
              status is one of: pending, in_flight, sent, unknown, failed, skipped, seen
    queue     article ids waiting to be posted, oldest first
    bad       source path -> {"reason", "mtime_ns", "size"}
    feeds     feed path relative to feeds_dir -> fingerprint of its inputs
    meta      initialized_at, last_scan_at, paused, pause_reason, ...

No article bodies are ever stored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import StateError

STATE_VERSION = 1
STATE_FILE = "state.json"


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

    def to_json_bytes(self) -> bytes:
        doc = {
            "version": STATE_VERSION,
            "meta": self.meta,
            "articles": self.articles,
            "posts": self.posts,
            "queue": self.queue,
            "bad": self.bad,
            "feeds": self.feeds,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> State:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            raise StateError("state document has an unknown version")
        return cls(
            articles=doc["articles"], posts=doc["posts"], queue=doc["queue"],
            bad=doc["bad"], feeds=doc["feeds"], meta=doc["meta"],
        )


class StateStore:
    """Loads and saves ``State`` in ``state_dir`` atomically (tmp file, fsync, rename)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE
        self._last_saved: bytes | None = None
        self.recovered_from_backup = False

    def load(self) -> State:
        if not self.path.exists():
            return State()
        data = self.path.read_bytes()
        self._last_saved = data
        return State.from_json_bytes(data)

    def save(self, state: State) -> bool:
        """Write only if the document changed; return whether anything was written."""
        data = state.to_json_bytes()
        if data == self._last_saved:
            return False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._last_saved = data
        return True
