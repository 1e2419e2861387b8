"""WAIT durations and dates in Conductor's formats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.domain.durations import parse_duration_ms, parse_until_ms

S, M, H, D = 1000, 60_000, 3_600_000, 86_400_000


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2 days 3 hours 10 minutes 5 seconds", 2 * D + 3 * H + 10 * M + 5 * S),
        ("1d 2h 30m 5s", D + 2 * H + 30 * M + 5 * S),
        ("1d2h30m5s", D + 2 * H + 30 * M + 5 * S),
        ("1 day", D),
        ("3 hrs", 3 * H),
        ("1 hr", H),
        ("90 mins", 90 * M),
        ("1 min 30 secs", 90 * S),
        ("45 sec", 45 * S),
        ("10 seconds", 10 * S),
        ("5S", 5 * S),
        ("2 DAYS", 2 * D),
        ("  7m  ", 7 * M),
        ("0s", 0),
    ],
)
def test_parses_conductor_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize(
    "text",
    ["", "   ", "soon", "5", "5 weeks", "10 seconds 2 minutes", "1.5h", "-5s", "1d 1d"],
)
def test_rejects_what_conductor_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration_ms(text)


def _utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2026-11-21 14:30", _utc_ms(2026, 11, 21, 14, 30)),
        ("2026-11-21", _utc_ms(2026, 11, 21)),
        ("2026-11-21 14:30 UTC", _utc_ms(2026, 11, 21, 14, 30)),
        ("2026-11-21 14:30 GMT", _utc_ms(2026, 11, 21, 14, 30)),
        ("2026-11-21 14:30 GMT+02:00", _utc_ms(2026, 11, 21, 12, 30)),
        ("2026-11-21 14:30 -0500", _utc_ms(2026, 11, 21, 19, 30)),
        ("2026-11-21 14:30 CET", _utc_ms(2026, 11, 21, 13, 30)),
        ("2026-07-01 14:30 PST", _utc_ms(2026, 7, 1, 21, 30)),  # daylight time in July
        ("2026-11-21 14:30 Asia/Tokyo", _utc_ms(2026, 11, 21, 5, 30)),
    ],
)
def test_parses_until_dates_with_and_without_zone(text: str, ms: int) -> None:
    assert parse_until_ms(text) == ms


@pytest.mark.parametrize(
    "text",
    [
        "tomorrow",
        "2026-13-01",
        "2026-02-30 10:00",
        "2026-11-21 25:00",
        "2026-11-21 14:30 Mars/Olympus",
        "21/11/2026",
        "",
    ],
)
def test_rejects_invalid_until_dates(text: str) -> None:
    with pytest.raises(ValueError, match=r"date|time zone"):
        parse_until_ms(text)
