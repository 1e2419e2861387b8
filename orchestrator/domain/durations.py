"""WAIT task times: Conductor's ``duration`` and ``until`` formats (DateTimeUtils).

``duration``: days, hours, minutes, seconds, each optional but in that order, e.g.
"2 days 3 hours 10 minutes 5 seconds", "1d 2h 30m 5s", "90 mins", "1 hr 5 secs"; units are
case-insensitive (day/days/d, hour/hours/hr/hrs/h, minute/minutes/min/mins/m,
second/seconds/sec/secs/s).

``until``: "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm z" (a zone: UTC, GMT+05:30, +0530, an IANA
name such as Europe/Paris, or a common abbreviation such as PST) or "yyyy-MM-dd". Without a
zone the time is UTC (Conductor uses the server's zone; ours is fixed so replay is stable).
Pure: no clock is read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(
    r"\s*(?:(\d+)\s*(?:days?|d))?"
    r"\s*(?:(\d+)\s*(?:hours?|hrs?|h))?"
    r"\s*(?:(\d+)\s*(?:minutes?|mins?|m))?"
    r"\s*(?:(\d+)\s*(?:seconds?|secs?|s))?\s*",
    re.IGNORECASE,
)
_UNTIL = re.compile(r"\s*(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}:\d{2})(?:\s+(\S+))?)?\s*")
_OFFSET = re.compile(r"(?:GMT|UTC)?([+-])(\d{1,2}):?(\d{2})?")
# Java's SimpleDateFormat knows these abbreviations; the US ones follow daylight saving time.
_ABBREVIATIONS = {
    "UTC": "UTC",
    "GMT": "UTC",
    "Z": "UTC",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
}


def parse_duration_ms(text: str) -> int:
    """Milliseconds in a Conductor duration such as "1d 2h 30m 5s"."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("duration is empty: expected e.g. '2 days 3 hours 10 minutes 5 seconds'")
    m = _DURATION.fullmatch(text)
    if m is None or not any(m.groups()):
        raise ValueError(
            f"not a valid duration: {text!r}: expected days, hours, minutes, seconds in that "
            "order, e.g. '2 days 3 hours 10 minutes 5 seconds' or '1d 2h 30m 5s'"
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000


def parse_until_ms(text: str) -> int:
    """Epoch milliseconds of a Conductor ``until`` date such as "2026-11-21 14:30 CET"."""
    m = _UNTIL.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(
            f"not a valid date: {text!r}: expected 'yyyy-MM-dd HH:mm', "
            "'yyyy-MM-dd HH:mm z' (z a zone such as UTC or GMT+02:00) or 'yyyy-MM-dd'"
        )
    day, clock, zone = m.groups()
    try:
        local = datetime.strptime(f"{day} {clock or '00:00'}", "%Y-%m-%d %H:%M")
    except ValueError as e:
        raise ValueError(f"not a valid date: {text!r}: {e}") from None
    aware = local.replace(tzinfo=_zone(zone) if zone else UTC)
    return int(aware.timestamp() * 1000)


def _zone(name: str) -> tzinfo:
    offset = _OFFSET.fullmatch(name)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            raise ValueError(f"not a valid time zone offset: {name!r}")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(_ABBREVIATIONS.get(name.upper(), name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {name!r}") from None
