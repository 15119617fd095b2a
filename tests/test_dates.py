"""Dates read the way Jekyll/Hexo/Hugo read them: every shape met in the corpus and seeds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from zoneinfo import ZoneInfo

from bot.dates import filename_date, parse_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # seeds: RFC 822 with GMT, and an offset without a colon (PyYAML leaves both as strings)
        ("Mon, 20 Dec 2021 05:10:31 GMT", datetime(2021, 12, 20, 5, 10, 31, tzinfo=UTC)),
        ("2022-02-17 19:34:59 +0800", datetime(2022, 2, 17, 19, 34, 59, tzinfo=CST)),
        # houbb: single-digit month/day, and a date with a zone but no time
        ("2016-5-9 10:00:00", datetime(2016, 5, 9, 10, 0, tzinfo=SHANGHAI)),
        ("2016-5-9 10:00:00 +0800", datetime(2016, 5, 9, 10, 0, tzinfo=CST)),
        ("2023-02-22 +0800", datetime(2023, 2, 22, tzinfo=CST)),
        # coredns (TOML strings): Z, offsets, 7 fraction digits without a zone
        ("2017-07-23T21:28:13Z", datetime(2017, 7, 23, 21, 28, 13, tzinfo=UTC)),
        ("2018-10-24T20:40:29+01:00", datetime(2018, 10, 24, 20, 40, 29, tzinfo=timezone(timedelta(hours=1)))),
        ("2021-01-11T23:17:55.8775581", datetime(2021, 1, 11, 23, 17, 55, 877558, tzinfo=SHANGHAI)),
        # oped2
        ("2020-02-10T18:06:30.000Z", datetime(2020, 2, 10, 18, 6, 30, tzinfo=UTC)),
        ("2019-05-01", datetime(2019, 5, 1, tzinfo=SHANGHAI)),
        # other common shapes
        ("2024-11-19 08:00", datetime(2024, 11, 19, 8, 0, tzinfo=SHANGHAI)),
        ("2024/11/19 08:00:00", datetime(2024, 11, 19, 8, 0, tzinfo=SHANGHAI)),
        ("2024-11-19T08:00:00-05:00", datetime(2024, 11, 19, 8, 0, tzinfo=timezone(timedelta(hours=-5)))),
        ("2024-11-19 08:00:00 UTC", datetime(2024, 11, 19, 8, 0, tzinfo=UTC)),
        ("20 Dec 2021 05:10:31 +0800", datetime(2021, 12, 20, 5, 10, 31, tzinfo=CST)),
        ("  2019-05-01  ", datetime(2019, 5, 1, tzinfo=SHANGHAI)),
    ],
)
def test_parse_date_strings(value: str, expected: datetime) -> None:
    got = parse_date(value, SHANGHAI)
    assert got == expected
    assert got.utcoffset() == expected.utcoffset()  # the explicit offset is kept, not shifted


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("d: 2014-02-04T09:36:39+01:00", datetime(2014, 2, 4, 9, 36, 39, tzinfo=timezone(timedelta(hours=1)))),
        ("d: 2024-10-31 22:01:42", datetime(2024, 10, 31, 22, 1, 42, tzinfo=SHANGHAI)),  # naive: site zone
        ("d: 2019-05-01", datetime(2019, 5, 1, tzinfo=SHANGHAI)),  # a plain date object
    ],
)
def test_parse_date_yaml_objects(yaml_text: str, expected: datetime) -> None:
    value = yaml.safe_load(yaml_text)["d"]
    assert parse_date(value, SHANGHAI) == expected


def test_naive_time_is_in_the_site_zone_not_the_machines() -> None:
    got = parse_date("2024-01-01 12:00:00", ZoneInfo("America/New_York"))
    assert got.astimezone(UTC) == datetime(2024, 1, 1, 17, 0, tzinfo=UTC)
    assert parse_date(date(2024, 1, 1), ZoneInfo("Europe/Berlin")).utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (" +0800", "cannot read"),  # finews: empty date plus zone
        ("", "empty"),
        ("yesterday", "cannot read"),
        ("2021-02-30 10:00:00", "not a real date"),
        ("2021-13-01", "not a real date"),
        ("2021-01-01 10:00:00 +2500", "impossible time-zone offset"),
        (1639977031, "number"),
        (True, "expected a date"),
        (None, "expected a date"),
        (["2021-01-01"], "list"),
        ("Mon, 99 Foo 2021 05:10:31 GMT", "cannot read"),
    ],
)
def test_unreadable_dates_raise_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_date(value, SHANGHAI)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2021-12-08-202112082206735975.md", date(2021, 12, 8)),
        ("2020-06-13-Is Hong Kong about to Get Its Own Foreign NGO Law .md", date(2020, 6, 13)),
        ("-202205262391921712.md", None),
        ("17-jia-zhong-guo-chu-chuang-gong-si-de.md", None),
        ("2021-02-30-impossible.md", None),
        ("2021-12-08.md", None),  # Jekyll needs a slug after the date
    ],
)
def test_filename_date(name: str, expected: date | None) -> None:
    assert filename_date(name) == expected
