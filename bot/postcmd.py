"""``newsbot retry`` and ``newsbot done``: the bot's /retry and /done for cron users.

A post Telegram refused, or one whose send may or may not have arrived, is never resent on
its own; ``newsbot scan`` names it and exits 1. Someone who runs newsbot from cron, with no
admin chat, decides here. The state is locked meanwhile, so a running ``newsbot run`` is
told apart (its admins use the bot's commands instead).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bot import postqueue
from bot.config import Settings
from bot.errors import StateLockedError
from bot.state import State, StateStore

__all__ = ["done", "find_post", "locked_state", "problem", "retry"]

EXIT_OK, EXIT_FAILURE = 0, 1
_PROBLEMS = {"failed", "unknown"}


def problem(text: str) -> None:
    """One line on stderr, as every verb reports what went wrong."""
    print(f"newsbot: {text}", file=sys.stderr)


@contextmanager
def locked_state(settings: Settings, command: str) -> Iterator[tuple[StateStore, State] | None]:
    """The state under its lock, or None (said why) while ``newsbot run`` holds it."""
    store = StateStore(settings.state_dir)
    try:
        store.acquire()
    except StateLockedError as exc:
        problem(f"{exc}. If that is `newsbot run`, send /{command} to the bot instead")
        yield None
        return
    try:
        yield store, store.load()
    finally:
        store.release()


def find_post(state: State, key: str) -> str | None:
    """The article id an admin meant: an id (of an article or of a post record), a source path or a URL."""
    key = key.strip()
    if key in state.posts:
        return key
    for rel, rec in state.articles.items():
        if key in (rec["id"], rel, rec["article"]["url"]):
            return str(rec["id"])
    return None


def _title(state: State, article_id: str) -> str:
    title = state.posts.get(article_id, {}).get("title")
    if not title:
        title = next((r["article"]["title"] for r in state.articles.values() if r["id"] == article_id), "")
    return str(title or article_id)


def _list(settings: Settings) -> int:
    store = StateStore(settings.state_dir)
    state = store.load() if store.state_dir.is_dir() else State()
    rows = postqueue.problems(state)
    if not rows:
        print("no refused or unconfirmed posts")
        return EXIT_OK
    print(f"{len(rows)} post(s) need a decision: `newsbot retry ID` sends again, `newsbot done ID` keeps "
          "what is in the channel")
    for row in rows:
        why = row.get("error") or row.get("reason") or ""
        status = "refused" if row["status"] == "failed" else "unconfirmed"
        print(f"  {status}: {row.get('title') or '(no title)'}{' (' + str(why) + ')' if why else ''}\n    {row['id']}")
    return EXIT_OK


def retry(settings: Settings, args: argparse.Namespace) -> int:
    """No ID: list the posts that need a decision. With one: queue that article first."""
    if not args.key:
        return _list(settings)
    with locked_state(settings, "retry") as held:
        if held is None:
            return EXIT_FAILURE
        store, state = held
        article_id = find_post(state, args.key)
        if article_id is None:
            problem(f"no article or post {args.key!r}: give its id, source path or URL (`newsbot retry` "
                     "lists refused and unconfirmed posts)")
            return EXIT_FAILURE
        postqueue.requeue(state, article_id, front=True)
        store.save(state)
    paused = " Posting is paused: `newsbot resume` first." if state.meta.get("paused") else ""
    print(f"queued first: {_title(state, article_id)}; the next `newsbot scan` posts it.{paused}")
    return EXIT_OK


def done(settings: Settings, args: argparse.Namespace) -> int:
    """Mark a refused or unconfirmed post as handled: it stays as it is in the channel."""
    with locked_state(settings, "done") as held:
        if held is None:
            return EXIT_FAILURE
        store, state = held
        article_id = find_post(state, args.key)
        if article_id is None or state.posts.get(article_id, {}).get("status") not in _PROBLEMS:
            problem(f"{args.key!r} is not a refused or unconfirmed post (`newsbot retry` lists those)")
            return EXIT_FAILURE
        postqueue.mark_done(state, article_id)
        store.save(state)
    print(f"marked done: {_title(state, article_id)}")
    return EXIT_OK
