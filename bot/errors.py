"""The exception tree, in one place so callers know what to catch.

    NewsbotError
    ├── ConfigError       fatal at start-up; the CLI prints one line per problem, exits 2
    ├── ArticleError      one bad source file; logged with its path and skipped
    ├── ScanError         the articles folder itself is unusable; the scan changes nothing
    ├── StateError        the state store cannot be loaded, locked or saved safely
    │   └── StateLockedError   another process holds the state folder
    ├── PublishError      a channel post failed; ``transient`` says whether to retry
    │   ├── ChannelError       the channel itself is unusable (bot removed, no rights, chat not
    │   │                      found, bad token): the post queue pauses and admins are alerted
    │   ├── PostRejected       Telegram refused this one post (e.g. bad caption): it is marked
    │   │                      failed, admins are alerted, the queue goes on
    │   └── DeliveryUnknown    the request timed out after it was sent: the post may be in the
    │                          channel; it is never resent automatically, admins decide
    └── ImageFetchError   newsbot could not download a lead image itself (refused or failed)
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """One or more settings are invalid; ``problems`` lists each as ``key: reason``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class ArticleError(NewsbotError):
    """A source file cannot become an article. ``reason`` is shown to admins."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ScanError(NewsbotError):
    """The articles folder cannot be read as a whole (missing, unreadable, emptied)."""


class StateError(NewsbotError):
    """The state store is unusable; the message says how to proceed."""


class StateLockedError(StateError):
    """Another newsbot process owns the state folder."""


class PublishError(NewsbotError):
    """A post could not be delivered. Transient errors are retried, others pause posting."""

    def __init__(self, message: str, *, transient: bool, retry_after_s: float | None = None) -> None:
        self.transient = transient
        self.retry_after_s = retry_after_s
        super().__init__(message)


class ChannelError(PublishError):
    """The channel cannot be posted to at all; nothing will work until an admin fixes it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class PostRejected(PublishError):
    """Telegram rejected this post's content; other posts can still go out."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class DeliveryUnknown(PublishError):
    """A send timed out after the request left: it may or may not have been posted."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class ImageFetchError(NewsbotError):
    """A lead image could not be downloaded safely; the message says why (shown in logs)."""
