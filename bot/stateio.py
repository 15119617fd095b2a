"""Reading and writing the two state documents (see ``bot.state`` for the rules).

What was last read or written is remembered in ``Saved``, so a save finds what changed
without encoding anything unchanged: post records mark their shard themselves
(``bot.stateparts``), and the articles a scan swapped in are compared with the ones saved,
record by record, in C (``==`` on dicts), never serialised to find they are equal.
Validation covers what changed on save (the rest was validated when it came in, or built by
our own code since). A file in our layout has an XXH64 checksum per frame, so it holds what a
validated save wrote: on load only its small sections are checked (~0.2 s less at 100,000
articles); plain JSON, older versions, imports and ``state check`` check every record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import compress
from operator import ne
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import stateschema
from bot.errors import StateError
from bot.statefiles import write_atomic
from bot.stateparts import (
    SHARDS,
    Posts,
    build_file,
    collector_paused,
    dumps,
    encode_shard,
    merge,
    merge_shards,
    parse_frames,
    reshard,
    shard_of,
    split_frames,
)

if TYPE_CHECKING:
    from bot.state import State

SCAN_META_KEYS = frozenset({"scan_settings", "scan_skipped", "scan_vanished", "feed_slugs", "feed_dates"})  # written by the scanner and feed writer
VOLATILE_META_KEYS = frozenset({"last_scan_at"})  # saved along with a real change, never alone
_MISSING = object()


@dataclass
class Loaded:
    """One document as read: a version 2 part (``doc``) or a whole older state (``whole``)."""

    doc: dict[str, Any] | None = None
    big: dict[str, Any] = field(default_factory=dict)  # posts or articles, merged
    shards: list[dict[str, Any]] | None = None
    frames: list[bytes] | None = None
    whole: dict[str, Any] | None = None
    from_backup: bool = False


@dataclass
class Saved:
    """What the files hold, as far as this store knows (None: unknown, write next time)."""

    posts: Posts | None = None
    posts_head: bytes | None = None
    posts_whole: bool = False  # the posts file still holds a version 0/1 whole state
    articles: dict[str, Any] | None = None
    members: list[set[str]] = field(default_factory=list)
    frames: list[bytes | None] = field(default_factory=list)
    scan_head: bytes | None = None
    scan_version: int | None = None


class PartFile:
    """One document file and its previous good copy."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.backup = path.with_name(path.name + ".bak")
        self.main_good = False  # may the current file become the backup?

    def read(self, problems: list[str], *, optional: bool = False) -> Loaded | None:
        """The document, from the backup if the file is damaged; None if neither exists."""
        from bot.state import HOW_TO_PROCEED

        if self.path.exists():
            try:
                return self._read(self.path, main=True)
            except stateschema.NewerVersionError:
                raise
            except StateError as exc:
                problem = f"{self.path.name}: {exc}"
        elif self.backup.exists():
            problem = f"{self.path.name} is missing but {self.backup.name} exists"
        else:
            return None
        folder = self.path.parent
        if not self.backup.exists():
            if optional:
                problems.append(f"{problem}; no previous copy, so every article file is read again")
                return None
            raise StateError(f"the state in {folder} cannot be loaded ({problem}) and there is no backup. "
                             f"{HOW_TO_PROCEED}")
        try:
            loaded = self._read(self.backup, main=False)
        except stateschema.NewerVersionError:
            raise
        except StateError as exc:
            if optional:
                problems.append(f"{problem}; {self.backup.name}: {exc}; every article file is read again")
                return None
            raise StateError(f"the state in {folder} cannot be loaded ({problem}; {self.backup.name}: {exc}). "
                             f"{HOW_TO_PROCEED} The damaged files are left in place for inspection.") from None
        problems.append(f"{problem}; recovered the previous copy from {self.backup.name}")
        return loaded

    def read_file(self, path: Path) -> Loaded:
        """One file as it is, without recovery (for ``state check``)."""
        main_good = self.main_good
        try:
            return self._read(path, main=True, full=True)
        finally:
            self.main_good = main_good

    def _read(self, path: Path, *, main: bool, full: bool = False) -> Loaded:
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise StateError(f"cannot read: {exc.strerror}") from None
        frames = split_frames(blob)
        doc, shards = parse_frames(frames) if frames is not None else (stateschema.parse(stateschema.unpack(blob)), None)
        version = doc.get("version", 0)
        if "kind" not in doc and self.kind == "posts":  # a whole state from newsbot <= version 1
            whole = stateschema.migrate(doc)
            _raise_problems(stateschema.validate(whole))
            self.main_good = main
            return Loaded(whole=whole, from_backup=not main)
        if version != stateschema.STATE_VERSION:
            stateschema.migrate(doc)  # raises NewerVersionError for a newer one
            raise StateError(f"version {version!r} is not a {self.kind} document")
        if doc.get("kind") != self.kind:
            raise StateError(f"holds a {doc.get('kind')!r} document, not a {self.kind} one")
        name = "posts" if self.kind == "posts" else "articles"
        if shards is None:  # not our checksummed layout: check every record
            (big, shards), full = merge_shards(doc.get(name), name), True
        else:
            big = merge(shards)
        empty: dict[str, Any] = {"meta": {}, "articles": {}, "posts": {}, "queue": [], "bad": {}, "feeds": {}}
        _raise_problems(stateschema.validate({**empty, **doc, name: big if full else {}}))
        self.main_good = main
        shard_frames = frames[1:-1] if frames is not None and shards is not None else None
        return Loaded(doc=doc, big=big, shards=shards, frames=shard_frames, from_backup=not main)

    def write(self, blob: list[bytes]) -> None:
        write_atomic(self.path, blob, backup=self.backup, damaged=not self.main_good)
        self.main_good = True


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise StateError("invalid: " + "; ".join(problems))


def read_legacy(path: Path, how: str) -> dict[str, Any]:
    """A plain ``state.json`` of newsbot 0.x, migrated."""
    try:
        return stateschema.decode(path.read_bytes())
    except OSError as exc:
        raise StateError(f"the state in {path} cannot be read ({exc.strerror}). {how}") from None
    except stateschema.NewerVersionError:
        raise
    except StateError as exc:
        raise StateError(f"the state in {path} cannot be loaded ({exc}). {how}") from None


def decode_parts(posts: Loaded, scan: Loaded | None, saved: Saved) -> dict[str, Any]:
    """The whole document from the two parts, and ``saved`` describing the files."""
    with collector_paused():
        return _decode_parts(posts, scan, saved)


def _decode_parts(posts: Loaded, scan: Loaded | None, saved: Saved) -> dict[str, Any]:
    if posts.whole is not None:
        pdoc: dict[str, Any] = posts.whole
        post_map = Posts(pdoc["posts"])
        saved.posts_whole = True
    else:
        assert posts.doc is not None
        pdoc = posts.doc
        post_map = Posts.from_shards(posts.shards, posts.frames) if posts.shards else Posts(posts.big)
        saved.posts = None if posts.from_backup else post_map
        saved.posts_head = _posts_head(pdoc["meta"], pdoc["queue"])
    meta = {k: v for k, v in pdoc["meta"].items() if k not in SCAN_META_KEYS}
    doc: dict[str, Any] = {"version": stateschema.STATE_VERSION, "meta": meta, "posts": post_map,
                           "queue": pdoc["queue"], "articles": {}, "bad": {}, "feeds": {}}
    if scan is None:
        return doc
    sdoc = scan.whole if scan.whole is not None else scan.doc
    assert sdoc is not None
    doc["meta"].update((k, v) for k, v in sdoc["meta"].items() if k in SCAN_META_KEYS)
    doc.update(articles=scan.big if scan.doc is not None else sdoc["articles"], bad=sdoc["bad"], feeds=sdoc["feeds"])
    if scan.doc is not None and not scan.from_backup:
        saved.articles = doc["articles"]
        saved.members = [set(s) for s in scan.shards] if scan.shards else reshard(doc["articles"])
        saved.frames = list(scan.frames) if scan.frames else [None] * SHARDS
        saved.scan_head = _scan_head(sdoc["meta"], sdoc["bad"], sdoc["feeds"])
    return doc


def _posts_head(meta: dict[str, Any], queue: list[str]) -> bytes:
    return dumps([{k: v for k, v in meta.items() if k not in VOLATILE_META_KEYS and k not in SCAN_META_KEYS}, queue])


def _scan_head(meta: dict[str, Any], bad: Any, feeds: Any) -> bytes:
    return dumps([{k: v for k, v in meta.items() if k in SCAN_META_KEYS}, bad, feeds])


def encode_posts(state: State, saved: Saved) -> list[bytes] | None:
    """The posts document, or None if it holds nothing new (``last_scan_at`` alone is not new)."""
    posts = state.posts
    if not isinstance(posts, Posts):
        state.posts = posts = Posts(posts)
    head = _posts_head(state.meta, state.queue)
    if posts is saved.posts and not posts.changed and head == saved.posts_head:
        return None
    changed = set(posts.changed)
    posts.changed.difference_update(changed)  # a write from another thread from now on is kept for next time
    problems = list(_limit(stateschema.post_problems({k: v for i in changed for k, v in posts.shard(i).items()})))
    problems += [f"queue[{i}]: not a string: {key!r}" for i, key in enumerate(state.queue) if type(key) is not str]
    if problems:
        posts.changed.update(changed)
        raise StateError("refusing to save an invalid state: " + "; ".join(problems[:20]))
    for i in changed:
        posts.frames[i] = None
    for i, frame in enumerate(posts.frames):
        if frame is None:
            posts.frames[i] = encode_shard(i, posts.shard(i))
    meta = {k: v for k, v in state.meta.items() if k not in SCAN_META_KEYS}
    blob = build_file("posts", {"meta": meta, "queue": state.queue}, "posts", posts.frames)  # type: ignore[arg-type]
    saved.posts, saved.posts_head = posts, head
    return blob


def encode_scan(state: State, saved: Saved) -> list[bytes] | None:
    """The scan document, or None if articles, bad files, feeds and scan meta are as saved."""
    articles = state.articles
    head = _scan_head(state.meta, state.bad, state.feeds)
    same = articles is saved.articles
    if same and state.scan_version == saved.scan_version and head == saved.scan_head:
        return None
    if saved.articles is None or same:  # first save, or changed in place: everything
        saved.members, saved.frames = reshard(articles), [None] * SHARDS
        changed_keys: list[str] = list(articles)
        dirty = set(range(SHARDS))
    else:
        changed_keys, dirty = _diff(saved.articles, articles, saved.members)
    if not dirty and head == saved.scan_head:
        saved.articles, saved.scan_version = articles, state.scan_version
        return None
    check = {"meta": {}, "articles": {}, "posts": {}, "queue": [], "bad": state.bad, "feeds": state.feeds}
    problems = stateschema.validate(check) + list(_limit(stateschema.article_problems(
        {k: articles[k] for k in changed_keys})))
    if problems:
        saved.articles = None
        raise StateError("refusing to save an invalid state: " + "; ".join(problems[:20]))
    for i in dirty:
        saved.frames[i] = encode_shard(i, {k: articles[k] for k in saved.members[i] if k in articles})
    meta = {k: state.meta[k] for k in SCAN_META_KEYS if k in state.meta}
    blob = build_file("scan", {"meta": meta, "bad": state.bad, "feeds": state.feeds}, "articles",
                      saved.frames)  # type: ignore[arg-type]
    saved.articles, saved.scan_head, saved.scan_version = articles, head, state.scan_version
    return blob


def _diff(old: dict[str, Any], new: dict[str, Any], members: list[set[str]]) -> tuple[list[str], set[int]]:
    """Keys added or changed, and the shards to encode again (members updated in place)."""
    if len(old) == len(new) and list(old) == list(new):  # the usual scan: same files, same order
        changed = list(compress(new, map(ne, old.values(), new.values())))  # in C: ~30% faster
    else:
        changed = [k for k, v in new.items() if (o := old.get(k, _MISSING)) is not v and o != v]
    dirty: set[int] = set()
    for key in changed:
        shard = shard_of(key)
        members[shard].add(key)
        dirty.add(shard)
    for key in old.keys() - new.keys():
        shard = shard_of(key)
        members[shard].discard(key)
        dirty.add(shard)
    return changed, dirty


def _limit(problems: Iterator[str], n: int = 20) -> Iterator[str]:
    for i, problem in enumerate(problems):
        if i >= n:
            yield "... (more problems not listed)"
            return
        yield problem
