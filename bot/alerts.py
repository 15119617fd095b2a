"""Alerts to admins: a direct message to each admin, at most one per kind per interval.

Why rate-limited: a broken channel or a folder of bad files would otherwise produce one DM per
scan or per post. Suppressed alerts are counted and mentioned in the next one of that kind.
Alerts never raise: a failure to alert is logged, and the work that triggered it goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from telegram import Bot
from telegram.constants import MessageLimit, ParseMode
from telegram.error import TelegramError

from bot.replies import escape_fit

logger = logging.getLogger(__name__)

# Kinds used across the service, so tests and admins can rely on the names.
PAUSED = "paused"
BAD_FILES = "bad_files"
RECOVERED = "recovered"
IN_FLIGHT = "in_flight"
ERROR = "error"


class Alerts:
    """Send ``(kind, text)`` alerts to admins; ``bot=None`` only logs them (preview mode)."""

    def __init__(self, bot: Bot | None, admin_ids: Sequence[int], interval_s: float,
                 *, clock: Callable[[], float] = time.monotonic, redact: Callable[[str], str] = str) -> None:
        self.bot = bot
        self.admin_ids = tuple(admin_ids)
        self.interval_s = interval_s
        self._clock = clock
        self._redact = redact
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.sent: list[tuple[str, str]] = []  # (kind, text) actually delivered or logged, newest last

    def _allowed(self, kind: str) -> bool:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval_s:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return False
        self._last[kind] = now
        return True

    async def __call__(self, kind: str, text: str) -> None:
        """Alert admins; matches the ``alert`` callback the post queue expects."""
        text = self._redact(text)
        logger.warning("Alert (%s): %s", kind, text)
        if not self._allowed(kind):
            logger.debug("Alert %s suppressed (rate limit)", kind)
            return
        suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            text += f"\n({suppressed} similar alert{'s' if suppressed != 1 else ''} not sent in the last while)"
        self.sent.append((kind, text))
        if self.bot is None:
            return
        body = "⚠️ " + escape_fit(text, MessageLimit.MAX_TEXT_LENGTH - 3)
        for admin in self.admin_ids:
            try:
                await self.bot.send_message(admin, body, parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                logger.warning("Could not alert admin %s: %s", admin, exc.message)
