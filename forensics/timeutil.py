"""Time helpers: everything inside is tz-aware UTC; people also see IST beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")


def parse_iso_utc(text: str) -> datetime | None:
    """Parse an ISO-8601 time; naive values are taken as UTC. None when it does not parse."""
    s = text.strip()
    if not s:
        return None
    if s.endswith(" UTC"):
        s = s[:-4]
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def from_epoch(seconds: float) -> datetime:
    """A POSIX time in seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def iso_utc(dt: datetime) -> str:
    """``2022-11-22T15:32:00.000000Z`` — fixed width, sortable."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_ist(dt: datetime) -> str:
    """The same instant in IST, ``2022-11-22T21:02:00.000000+05:30``."""
    return dt.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S.%f+05:30")


def now_utc() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)
