"""Is the bot alive? The answer /healthz gives platforms and uptime monitors (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class HealthInfo:
    """What the verdict needs, gathered by the caller at request time."""

    last_scan_at: datetime | None
    scan_interval_s: float
    started_at: datetime
    now: datetime


def health_status(info: HealthInfo) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body): 503 once no scan has finished for three intervals.

    A process that has never scanned is "starting" (200) for those three intervals, then stale,
    so a bot stuck at start-up is restarted too.
    """
    limit_s = STALE_AFTER_INTERVALS * info.scan_interval_s
    since = info.last_scan_at or info.started_at
    age_s = max(0.0, (info.now - since).total_seconds())
    if age_s > limit_s:
        status = "stale"
    else:
        status = "ok" if info.last_scan_at else "starting"
    body = {
        "status": status,
        "last_scan_at": info.last_scan_at.isoformat() if info.last_scan_at else None,
        "seconds_since_scan": round(age_s, 1) if info.last_scan_at else None,
        "stale_after_s": limit_s,
        "uptime_s": round(max(0.0, (info.now - info.started_at).total_seconds()), 1),
    }
    return (503 if status == "stale" else 200), body
