"""Sharded state documents: change tracking for post records and the frame layout on disk.

Why: a channel post saves the posts document twice, and the articles of a 100,000-file site
change a few at a time. Re-encoding everything on each save cost ~2 s; here each big
section (``posts`` in the posts document, ``articles`` in the scan document) is split into
``SHARDS`` shards by a stable hash of the key, and each shard is one zstd frame, cached
between saves. A save re-encodes only the shards that changed, plus a small head.

File layout (all frames concatenated decode to one JSON object; each frame carries its own
XXH64 checksum, and a file cut at a frame boundary is not valid JSON, so damage is caught):

    frame 0        {"version":2,"kind":K,"shards":64,<small sections>,"<big>":[
    frames 1..64   {shard 0}  ,{shard 1}  ...  ,{shard 63}
    frame 65       ]}

``Posts`` is a dict whose values are ``Record`` dicts; both mark the shard they touch as
changed, so finding what changed costs nothing. Records stored into it are copied (adopted):
mutate them through ``state.posts[id]``, not through a dict kept from before the store.
"""

from __future__ import annotations

import gc
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self

import orjson

from bot.errors import StateError

try:  # Python 3.14+ ships zstd; older ones use the backport of that very module
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

SHARDS = 64
_MISSING = object()
_ZSTD_OPTIONS = {zstd.CompressionParameter.compression_level: 1, zstd.CompressionParameter.checksum_flag: 1}


def shard_of(key: str) -> int:
    """Stable across processes (``hash()`` is not), so a loaded file's frames stay valid."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) & (SHARDS - 1)


def compress(data: bytes) -> bytes:
    return bytes(zstd.compress(data, options=_ZSTD_OPTIONS))


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise StateError(f"state holds a value JSON cannot store: {exc}") from None


class Record(dict[str, Any]):
    """A post record that marks its shard changed on every write."""

    __slots__ = ("_changed", "_shard")
    _changed: set[int]
    _shard: int

    def _touch(self) -> None:
        self._changed.add(self._shard)

    def __setitem__(self, key: str, value: Any) -> None:
        old = dict.get(self, key, _MISSING)
        dict.__setitem__(self, key, value)
        if old is _MISSING or old != value or isinstance(value, (list, dict)):  # the planner re-sets equal values
            self._touch()

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self._touch()

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._touch()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._touch()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def clear(self) -> None:
        dict.clear(self)
        self._touch()

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self


class Posts(dict[str, dict[str, Any]]):
    """``state.posts``: article id -> record (a ``Record``), with per-shard change tracking (see module doc)."""

    __slots__ = ("changed", "frames", "members")

    def __init__(self, records: Mapping[str, Mapping[str, Any]] | Iterable[tuple[str, Any]] = ()) -> None:
        super().__init__()
        self.changed: set[int] = set()
        self.members: list[set[str]] = [set() for _ in range(SHARDS)]
        self.frames: list[bytes | None] = [None] * SHARDS  # encoded shard cache, None = encode again
        for key, rec in dict(records).items():
            self[key] = rec

    @classmethod
    def from_shards(cls, shards: list[dict[str, Any]], frames: list[bytes] | None) -> Posts:
        """From a file's shard list; ``frames`` (that file's shard frames) prime the cache."""
        posts = cls()
        for i, shard in enumerate(shards):
            posts.members[i] = set(shard)
            # One subclass per shard holds ``_changed`` and ``_shard`` as class attributes, so
            # the records are built in C (``map``): ~40% faster than setting them one by one.
            loaded = type("LoadedRecord", (Record,), {"__slots__": (), "_changed": posts.changed, "_shard": i})
            dict.update(posts, zip(shard, map(loaded, shard.values())))
        if frames is not None:
            posts.frames = list(frames)
        return posts

    def _adopt(self, key: str, value: Mapping[str, Any]) -> Record:
        old = dict.get(self, key)
        shard = old._shard if isinstance(old, Record) else shard_of(key)
        rec = value if type(value) is Record and value._changed is self.changed else Record(value)
        rec._changed, rec._shard = self.changed, shard
        self.members[shard].add(key)
        self.changed.add(shard)
        return rec

    def __setitem__(self, key: str, value: Mapping[str, Any]) -> None:
        dict.__setitem__(self, key, self._adopt(key, value))

    def __delitem__(self, key: str) -> None:
        rec = dict.__getitem__(self, key)
        dict.__delitem__(self, key)
        shard = rec._shard if isinstance(rec, Record) else shard_of(key)
        self.members[shard].discard(key)
        self.changed.add(shard)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            rec = dict.__getitem__(self, key)
            del self[key]
            return rec
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[str, dict[str, Any]]:
        key = next(reversed(self))
        return key, self.pop(key)

    def setdefault(self, key: str, default: Any = None) -> dict[str, Any]:
        if key not in self:
            self[key] = default if default is not None else {}
        return dict.__getitem__(self, key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def shard(self, i: int) -> dict[str, dict[str, Any]]:
        return {key: dict.__getitem__(self, key) for key in self.members[i]}


@contextmanager
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """No garbage collection inside: a load makes ~10^6 objects, none of them garbage, and each
    few hundred allocations would trigger a collection (a few of them full ones).

    ``freeze`` moves everything alive afterwards to the permanent generation (``gc.freeze``):
    the state lives as long as the process, and otherwise every full collection would walk
    its ~10^6 objects again (~0.7 s each at 100,000 articles, on the event loop). Frozen
    records are still freed by reference counting when replaced.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()


# --- the frame layout -----------------------------------------------------------------------

def encode_shard(i: int, shard: Mapping[str, Any]) -> bytes:
    return compress((b"," if i else b"") + dumps(shard))


def build_file(kind: str, small: dict[str, Any], big: str, frames: list[bytes]) -> list[bytes]:
    """The file's frames in order (written one after another, never joined into one copy)."""
    head = dumps({"version": 2, "kind": kind, "shards": SHARDS, **small})[:-1] + b',"' + big.encode() + b'":['
    return [compress(head), *frames, compress(b"]}")]


def split_frames(blob: bytes) -> list[bytes] | None:
    """The frames of a file in our layout (head, shards, tail), or None if it has another shape."""
    frames: list[bytes] = []
    view, at = memoryview(blob), 0
    try:
        while at < len(blob) and len(frames) <= SHARDS + 2:
            size = zstd.get_frame_size(view[at:])
            frames.append(blob[at:at + size])
            at += size
    except zstd.ZstdError:
        return None
    return frames if len(frames) == SHARDS + 2 and at == len(blob) else None


def decompress_frames(frames: list[bytes]) -> bytes:
    """Frame by frame: twice as fast as one multi-frame ``decompress`` call. Checksums verified."""
    try:
        return b"".join([zstd.decompress(frame) for frame in frames])
    except zstd.ZstdError as exc:
        raise StateError(f"damaged ({exc})") from None


def parse_frames(frames: list[bytes]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A file in our layout as (its head document, with the big section empty; the shards).

    Each frame is decompressed (checksum verified) and parsed on its own: ~1 MB at a time stays
    in the CPU cache and no 70 MB buffer is built, which saves ~10% of a 100,000-article load.
    """
    loads = orjson.loads
    try:
        head = loads(zstd.decompress(frames[0]) + zstd.decompress(frames[-1]))
        shards = []
        for i, frame in enumerate(frames[1:-1]):
            data = zstd.decompress(frame)
            if i and data[:1] != b",":
                raise StateError(f"damaged (shard {i} is not in sequence)")
            shards.append(loads(memoryview(data)[1:] if i else data))
    except zstd.ZstdError as exc:
        raise StateError(f"damaged ({exc})") from None
    except orjson.JSONDecodeError as exc:
        raise StateError(f"not valid JSON ({exc})") from None
    if not isinstance(head, dict) or not all(type(s) is dict for s in shards):
        raise StateError(f"damaged (expected a JSON object and {SHARDS} shard objects)")
    return head, shards


def merge(shards: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for shard in shards:
        merged.update(shard)
    return merged


def merge_shards(value: Any, name: str) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """A big section as one dict, and its shards if the file had our layout."""
    if isinstance(value, dict):
        return value, None
    if not isinstance(value, list) or len(value) != SHARDS or not all(isinstance(s, dict) for s in value):
        raise StateError(f"{name}: expected {SHARDS} shard objects")
    return merge(value), value


def reshard(section: Mapping[str, Any]) -> list[set[str]]:
    members: list[set[str]] = [set() for _ in range(SHARDS)]
    for key in section:
        members[shard_of(key)].add(key)
    return members
