"""Logging set-up, called only by the CLI.

httpx logs every request URL at INFO, and Bot API URLs carry the token, so httpx and
httpcore are held at WARNING. Redaction is the second guard, applied twice: when a record is
created (a log record factory, so every handler and every capture sees clean records, even ones
added later by libraries or tests) and again in the handler. Any ``<digits>:<secret>`` and the
configured token itself are masked, in the message and in exception text.
"""

from __future__ import annotations

import logging
import re
import sys

_TOKEN_RE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
REDACTED = "<redacted>"


class RedactingFilter(logging.Filter):
    """Mask bot tokens in the formatted message and in exception text."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Format once, redact, and cache: handlers then print the cached text.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_base_factory = logging.getLogRecordFactory()


def _install_record_factory(redactor: RedactingFilter) -> None:
    """Redact every record as it is made; replaces a factory installed by an earlier call."""

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = _base_factory(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)


def configure_logging(level: str = "INFO", *, secrets: tuple[str, ...] = (), stream: object = None) -> None:
    """One line per event on stderr (or ``stream``), token-safe."""
    redactor = RedactingFilter(secrets)
    _install_record_factory(redactor)
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
