"""Is the bot alive? The answer /healthz gives platforms and uptime monitors (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class HealthInfo:
    """What the verdict needs, gathered by the caller at request time."""

    last_scan_at: datetime | None  # as saved in the state: possibly by an earlier process
    scan_interval_s: float
    started_at: datetime  # when this process started
    now: datetime


def health_status(info: HealthInfo) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body): 503 once no scan has finished for three intervals.

    Until this process has finished a scan of its own it is "starting" (200) for three
    intervals from its start, whatever an earlier process last did: a restart after a long
    downtime must not fail the platform's health check (and be restarted again) before its
    first scan. After that it is stale, so a bot stuck at start-up is restarted too.
    """
    limit_s = STALE_AFTER_INTERVALS * info.scan_interval_s
    scanned = info.last_scan_at is not None and info.last_scan_at >= info.started_at
    since = info.last_scan_at if scanned and info.last_scan_at is not None else info.started_at
    age_s = max(0.0, (info.now - since).total_seconds())
    if age_s > limit_s:
        status = "stale"
    else:
        status = "ok" if scanned else "starting"
    last_age = (info.now - info.last_scan_at).total_seconds() if info.last_scan_at else None
    body = {
        "status": status,
        "last_scan_at": info.last_scan_at.isoformat() if info.last_scan_at else None,
        "seconds_since_scan": round(max(0.0, last_age), 1) if last_age is not None else None,
        "stale_after_s": limit_s,
        "uptime_s": round(max(0.0, (info.now - info.started_at).total_seconds()), 1),
    }
    return (503 if status == "stale" else 200), body
