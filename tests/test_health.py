"""/healthz verdicts: what a platform's health check or an uptime monitor is told."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.health import HealthInfo, health_status

NOW = datetime(2024, 11, 20, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=1)


def test_recent_scan_is_ok_with_its_time() -> None:
    code, body = health_status(HealthInfo(NOW - timedelta(minutes=5), 300, LONG_AGO, NOW))
    assert code == 200
    assert body["status"] == "ok"
    assert body["last_scan_at"] == "2024-11-20T11:55:00+00:00"
    assert body["seconds_since_scan"] == 300.0
    assert json.loads(json.dumps(body)) == body


def test_boundary_is_three_intervals() -> None:
    assert health_status(HealthInfo(NOW - timedelta(seconds=900), 300, LONG_AGO, NOW))[0] == 200
    code, body = health_status(HealthInfo(NOW - timedelta(seconds=901), 300, LONG_AGO, NOW))
    assert (code, body["status"], body["stale_after_s"]) == (503, "stale", 900)


@pytest.mark.parametrize(("started_ago", "code", "status"), [(timedelta(minutes=2), 200, "starting"),
                                                             (timedelta(minutes=20), 503, "stale")])
def test_without_any_scan(started_ago: timedelta, code: int, status: str) -> None:
    got_code, body = health_status(HealthInfo(None, 300, NOW - started_ago, NOW))
    assert (got_code, body["status"], body["last_scan_at"], body["seconds_since_scan"]) == (code, status, None, None)


@pytest.mark.parametrize(("started_ago", "code", "status"), [(timedelta(minutes=2), 200, "starting"),
                                                             (timedelta(minutes=16), 503, "stale")])
def test_a_restart_after_long_downtime_is_starting_until_its_own_first_scan(
        started_ago: timedelta, code: int, status: str) -> None:
    """The saved last scan is a day old (the bot was down); this process started recently."""
    got_code, body = health_status(HealthInfo(LONG_AGO, 300, NOW - started_ago, NOW))
    assert (got_code, body["status"]) == (code, status)
    assert body["last_scan_at"] == LONG_AGO.isoformat() and body["seconds_since_scan"] == 86400.0


def test_after_its_own_first_scan_the_scan_age_counts() -> None:
    started = NOW - timedelta(hours=2)
    code, body = health_status(HealthInfo(started + timedelta(seconds=30), 300, started, NOW))
    assert (code, body["status"]) == (503, "stale")  # scanned once, then nothing for 2 h
