"""The state document: encoding, integrity, validation and migrations (pure).

The whole state is one JSON document (the shape of an export, and of the version 0 and 1
files). On disk since version 2 it is kept as two documents (see ``bot.state``), each
compressed with Zstandard: compression keeps a 100,000-article state under 40 MB, and every
zstd frame carries an XXH64 checksum, so a torn, truncated or bit-flipped file fails to
decode instead of loading half a state. Plain JSON (an export, or a file from an older
newsbot) is accepted too: the first byte tells them apart.

orjson, not the stdlib: on 100,000 articles it encodes ~10x and decodes ~3x faster, which
is the difference between a ~1 s and a ~4 s load + save.

Version history (``MIGRATIONS`` moves a document one version forward; each has a test):

    0  newsbot 0.x, plain JSON: ``posts`` a list of records carrying their ``id``;
       ``paused`` and ``initialized_at`` top-level; no ``feeds`` section.
    1  ``posts`` keyed by article id; flags live in ``meta``; zstd container.
    2  article records no longer repeat ``source`` (their key) and ``content_hash`` (their
       ``hash``) inside ``article``; on disk, split into a posts and a scan document.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from bot.errors import StateError

try:  # Python 3.14+ ships zstd; older ones use the backport of that very module
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

STATE_VERSION = 2
SECTIONS: dict[str, type] = {"meta": dict, "articles": dict, "posts": dict, "queue": list, "bad": dict, "feeds": dict}
POST_STATUSES = frozenset({"pending", "in_flight", "sent", "unknown", "failed", "skipped", "seen"})
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_OPTIONS = {zstd.CompressionParameter.compression_level: 1, zstd.CompressionParameter.checksum_flag: 1}
_MAX_PROBLEMS = 20


class NewerVersionError(StateError):
    """The document was written by a newer newsbot: not damage, so no backup recovery."""


def encode(doc: dict[str, Any]) -> bytes:
    """Compact JSON bytes. Deterministic for equal documents built the same way."""
    try:
        return orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise StateError(f"state holds a value JSON cannot store: {exc}") from None


def pack(data: bytes) -> bytes:
    """Wrap JSON bytes in a checksummed zstd frame."""
    return bytes(zstd.compress(data, options=_ZSTD_OPTIONS))


def unpack(blob: bytes) -> bytes:
    """JSON bytes from a zstd frame (checksum verified) or from plain JSON."""
    if blob.startswith(ZSTD_MAGIC):
        try:
            return bytes(zstd.decompress(blob))
        except zstd.ZstdError as exc:
            raise StateError(f"damaged or truncated ({exc})") from None
    if not blob.strip():
        raise StateError("the file is empty")
    if blob.lstrip()[:1] != b"{":
        raise StateError("not a newsbot state file (neither zstd nor JSON)")
    return blob


def parse(data: bytes) -> dict[str, Any]:
    """JSON bytes -> document dict. The collector is paused: millions of new objects would
    otherwise trigger dozens of pointless full collections (measured: 2-3x slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StateError(f"not valid JSON ({exc})") from None
    finally:
        if was_enabled:
            gc.enable()
    if not isinstance(doc, dict):
        raise StateError("the document is not a JSON object")
    return doc


def decode(blob: bytes) -> dict[str, Any]:
    """File bytes -> a valid document of the current version, or StateError saying why."""
    return decode_json(unpack(blob))


def decode_json(data: bytes) -> dict[str, Any]:
    doc = migrate(parse(data))
    problems = validate(doc)
    if problems:
        raise StateError("invalid: " + "; ".join(problems))
    return doc


# --- migrations ---------------------------------------------------------------------------

def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """Posts list -> dict by id; top-level flags move into meta; ``feeds`` appears."""
    posts: dict[str, Any] = {}
    for i, rec in enumerate(doc.get("posts") or []):
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise StateError(f"posts[{i}]: a version 0 post record needs a string id")
        rec = dict(rec)
        posts[rec.pop("id")] = rec
    meta = dict(doc.get("meta") or {})
    for key in ("paused", "initialized_at"):
        if key in doc:
            meta.setdefault(key, doc[key])
    return {"version": 1, "meta": meta, "articles": doc.get("articles") or {}, "posts": posts,
            "queue": doc.get("queue") or [], "bad": doc.get("bad") or {}, "feeds": {}}


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Article records lose the copies of their key and hash (~20% of the document)."""
    for rec in (doc.get("articles") or {}).values():
        art = rec.get("article") if isinstance(rec, dict) else None
        if isinstance(art, dict):
            art.pop("source", None)
            art.pop("content_hash", None)
    return {**doc, "version": 2}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1, 1: _v1_to_v2}


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring a document of any known version up to ``STATE_VERSION``."""
    version = doc.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise StateError(f"version: expected a whole number, got {version!r}")
    if version > STATE_VERSION:
        raise NewerVersionError(
            f"the state is version {version}, written by a newer newsbot (this one reads up to "
            f"{STATE_VERSION}); upgrade newsbot, or import an export made for this version")
    while version < STATE_VERSION:
        doc = MIGRATIONS[version](doc)
        version = doc["version"]
    return doc


# --- validation ---------------------------------------------------------------------------

def validate(doc: dict[str, Any]) -> list[str]:
    """Structural problems, each as ``section.key.field: what is wrong`` (at most 20)."""
    problems: list[str] = []
    for name, kind in SECTIONS.items():
        if not isinstance(doc.get(name), kind):
            problems.append(f"{name}: missing or not a JSON {'object' if kind is dict else 'array'}")
    if problems:
        return problems
    for problem in _iter_problems(doc):
        problems.append(problem)
        if len(problems) >= _MAX_PROBLEMS:
            problems.append("... (more problems not listed)")
            break
    return problems


def _iter_problems(doc: dict[str, Any]) -> Iterator[str]:
    # Fast pass first (one comprehension per section, ~20 ms per 100,000 records); the
    # detailed messages are built only for the records that failed it.
    articles, posts = doc["articles"], doc["posts"]
    yield from article_problems(articles)
    yield from post_problems(posts)
    for i, key in enumerate(doc["queue"]):
        if type(key) is not str:
            yield f"queue[{i}]: not a string: {key!r}"
    for key, rec in doc["bad"].items():
        if not isinstance(rec, dict) or not isinstance(rec.get("reason"), str):
            yield f"bad.{key}.reason: missing or not a string"
    for key, value in doc["feeds"].items():
        if not isinstance(value, str):
            yield f"feeds.{key}: not a string"


def post_problems(posts: dict[str, Any]) -> Iterator[str]:
    for key in [k for k, rec in posts.items() if not isinstance(rec, dict) or rec.get("status") not in POST_STATUSES]:
        rec = posts[key]
        yield (f"posts.{key}.status: unknown value {rec.get('status')!r}" if isinstance(rec, dict)
               else f"posts.{key}: not an object")


def _article_ok(rec: Any) -> bool:
    if type(rec) is not dict or type(rec.get("mtime_ns")) is not int or type(rec.get("size")) is not int:
        return False
    art = rec.get("article")
    return (type(art) is dict and type(rec.get("id")) is str and rec["id"] != "" and type(art.get("url")) is str
            and type(art.get("title")) is str and type(art.get("published_at")) is str)


def article_problems(articles: dict[str, Any]) -> Iterator[str]:
    """Problems of the given article records (all of them on load; the changed ones on save)."""
    return _article_problems({k: rec for k, rec in articles.items() if not _article_ok(rec)})


def _article_problems(articles: dict[str, Any]) -> Iterator[str]:
    for key, rec in articles.items():
        if not isinstance(rec, dict):
            yield f"articles.{key}: not an object"
            continue
        if type(rec.get("mtime_ns")) is not int or type(rec.get("size")) is not int:
            yield f"articles.{key}: mtime_ns and size must be whole numbers"
        if not isinstance(rec.get("id"), str) or not rec["id"]:
            yield f"articles.{key}.id: missing or empty"
        art = rec.get("article")
        if not isinstance(art, dict):
            yield f"articles.{key}.article: missing or not an object"
            continue
        for name in ("url", "title", "published_at"):
            if not isinstance(art.get(name), str):
                yield f"articles.{key}.article.{name}: missing or not a string"


def consistency(doc: dict[str, Any]) -> list[str]:
    """Cross-section oddities worth a warning (``state check``), not worth refusing to start."""
    notes: list[str] = []
    ids = {rec["id"] for rec in doc["articles"].values()}
    dangling = [key for key in doc["queue"] if key not in doc["posts"]]
    if dangling:
        notes.append(f"queue: {len(dangling)} id(s) without a post record, e.g. {dangling[0]}")
    dupes = len(doc["queue"]) - len(set(doc["queue"]))
    if dupes:
        notes.append(f"queue: {dupes} duplicate id(s)")
    by_id: dict[str, str] = {}
    for source, rec in doc["articles"].items():
        if rec["id"] in by_id:
            notes.append(f"articles: {source} and {by_id[rec['id']]} share the id {rec['id']}")
            break
        by_id[rec["id"]] = source
    orphans = sum(1 for key, rec in doc["posts"].items()
                  if key not in ids and rec.get("status") in {"pending", "in_flight"}
                  and rec.get("action", "send") == "send")
    if orphans:
        notes.append(f"posts: {orphans} queued send(s) whose article is no longer scanned")
    return notes
