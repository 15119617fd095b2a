"""Article dates, read the way Jekyll, Hexo and Hugo read them (pure).

Front matter gives dates as YAML/TOML datetime or date objects, or as strings PyYAML leaves
alone: ``2022-02-17 19:34:59 +0800`` (no colon in the offset), ``2016-5-9 10:00:00``,
``2023-02-22 +0800`` (date and zone, no time), ``2021-01-11T23:17:55.8775581`` (7 fraction
digits), ISO 8601 with ``Z``, and RFC 822 (``Mon, 20 Dec 2021 05:10:31 GMT``).

Two rules hold throughout:

* A value without an offset is wall-clock time in the *site's* time zone (Jekyll and Hexo
  ``timezone``), never the machine's.
* An explicit offset is kept as written. Hexo shifts such dates by the site zone; that is a
  Hexo bug (the post would come out hours early), so we do not copy it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

_ISO_RE = re.compile(
    r"""(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})
        (?:[T\s]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d+))?)?)?
        \s*(?P<z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?""",
    re.VERBOSE | re.IGNORECASE,
)
_RFC822_RE = re.compile(r"(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s")
_FILENAME_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})-")


def parse_date(value: object, zone: ZoneInfo) -> datetime:
    """Return an aware datetime for a front-matter date, or raise ValueError saying why.

    Dates without a time are midnight in ``zone``, as Jekyll and Hexo read them.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a date, got {value!r}")
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone)
    if isinstance(value, (int, float)):
        raise ValueError(f"expected a date, got the number {value!r}")
    if not isinstance(value, str):
        raise ValueError(f"expected a date, got a {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValueError("the date is empty")
    match = _ISO_RE.fullmatch(text)
    if match:
        return _from_iso_match(match, zone, text)
    if _RFC822_RE.match(text):
        return _from_rfc822(text, zone)
    raise ValueError(f"cannot read {text!r} as a date")


def _from_iso_match(m: re.Match[str], zone: ZoneInfo, text: str) -> datetime:
    fraction = (m["f"] or "")[:6].ljust(6, "0")
    try:
        naive = datetime(
            int(m["y"]), int(m["m"]), int(m["d"]),
            int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0), int(fraction),
        )
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date ({exc})") from None
    tz = _zone_from_text(m["z"], text) if m["z"] else zone
    return naive.replace(tzinfo=tz)


def _zone_from_text(z: str, text: str) -> timezone | ZoneInfo:
    if z.upper() in {"Z", "UTC", "GMT"}:
        return timezone.utc
    digits = z[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} has an impossible time-zone offset {z}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if z[0] == "-" else offset)


def _from_rfc822(text: str, zone: ZoneInfo) -> datetime:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"cannot read {text!r} as an RFC 822 date") from None
    # parsedate_to_datetime returns a naive value for "-0000" (zone unknown): site zone.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def filename_date(name: str) -> date | None:
    """The Jekyll ``YYYY-MM-DD-slug`` date at the start of a file name, if it is a real date."""
    match = _FILENAME_DATE_RE.match(name)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
