"""Validators and ranges for feed files: the 304/206/416/200 decisions, table by table."""

from __future__ import annotations

import calendar

import pytest

from bot.webcond import UNSATISFIABLE, accepts_gzip, byte_range, if_range_holds, not_modified

TAG = '"0123abcd"'
WEAK = "W/" + TAG
MODIFIED = "Wed, 20 Nov 2024 12:00:00 GMT"
MTIME = calendar.timegm((2024, 11, 20, 12, 0, 0))


@pytest.mark.parametrize(("inm", "ims", "etag", "expected"), [
    (TAG, None, TAG, True),
    (WEAK, None, TAG, True),  # weak comparison both ways: gzip and identity share a version
    (TAG, None, WEAK, True),
    (f'"other", {WEAK}, "more"', None, TAG, True),
    ("*", None, TAG, True),
    ('"other"', None, TAG, False),
    ('W/""', None, TAG, False),
    ("garbage", None, TAG, False),
    ('"other"', MODIFIED, TAG, False),  # If-None-Match wins over the date
    (None, MODIFIED, TAG, True),
    (None, "Tue, 01 Jan 2030 00:00:00 GMT", TAG, True),
    (None, "Wed, 20 Nov 2024 11:59:59 GMT", TAG, False),
    (None, "Mon, 01 Jan 2001 00:00:00 GMT", TAG, False),
    (None, "not a date", TAG, False),
    (None, "Mon, 01 Jan 0001 00:00:00 +2359", TAG, False),  # before the epoch's range: ignored, no crash
    (None, "Fri, 31 Dec 9999 23:59:59 GMT", TAG, True),
    (None, "Wed, 20 Nov 2024 12:00:00", TAG, True),  # no zone: read as GMT
    (None, None, TAG, False),
    ("", MODIFIED, TAG, True),  # an empty If-None-Match is no If-None-Match
])
def test_not_modified(inm: str | None, ims: str | None, etag: str, expected: bool) -> None:
    assert not_modified(inm, ims, etag, MTIME) is expected


@pytest.mark.parametrize(("header", "size", "expected"), [
    ("bytes=0-9", 100, (0, 10)),
    ("bytes=90-", 100, (90, 100)),
    ("bytes=90-500", 100, (90, 100)),  # clipped to the file
    ("bytes=-10", 100, (90, 100)),  # the last ten bytes
    ("bytes=-500", 100, (0, 100)),
    ("bytes=100-", 100, UNSATISFIABLE),
    ("bytes=-0", 100, UNSATISFIABLE),
    ("bytes=0-0", 0, UNSATISFIABLE),
    ("bytes=5-2", 100, None),  # invalid: the whole file
    ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
    ("items=0-9", 100, None),
    ("bytes=-", 100, None),
    ("", 100, None),
    (None, 100, None),
    ("bytes=" + "9" * 19 + "-", 100, None),  # no file is that big: ignored, never a crash
    ("bytes=\u0663-", 100, None),  # ARABIC-INDIC DIGIT THREE is not a digit here
])
def test_byte_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(("if_range", "expected"), [
    (None, True), (TAG, True), ('"older"', False), (WEAK, False),  # a weak tag never allows a range
    (MODIFIED, True), ("Tue, 19 Nov 2024 12:00:00 GMT", False),
])
def test_if_range(if_range: str | None, expected: bool) -> None:
    assert if_range_holds(if_range, TAG, MODIFIED) is expected


@pytest.mark.parametrize(("header", "expected"), [
    ("gzip", True), ("gzip, deflate, br", True), ("GZIP", True), ("gzip;q=0", False), ("gzip; q=0.000", False),
    ("br;q=1, gzip;q=0.1", True), ("*", True), ("*;q=0", False), ("identity", False), ("", False),
    ("gzip;q=abc", False), ("x-gzip", True), ("*, gzip;q=0", False),
])
def test_accepts_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected
