"""Instants as integer microseconds since the Unix epoch (UTC).

The store and the engine work on integers: exact, fast to compare and to subtract, and the
same on SQLite and PostgreSQL. Conversion to and from aware datetimes happens only here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

US_PER_SECOND = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(instant: datetime) -> int:
    """An aware datetime as microseconds since the epoch; naive datetimes are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset")
    return (instant - _EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=us)


#: The instants qmon stores: events, action days and purge dates from 1900-01-01 up to the
#: end of 2999, in UTC. Far wider than any CRM's history, and narrow enough that an instant
#: plus the longest duration (`MAX_DURATION_US`) still is a date in every time zone.
FIRST_YEAR, LAST_YEAR = 1900, 2999
FIRST_US = (datetime(FIRST_YEAR, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US
END_US = (datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_US
SUPPORTED_RANGE = f"{FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31, UTC"
#: The longest duration a promise may give (`within`, a target): 100 years of 365 days.
MAX_DURATION_US = 36_500 * 86_400 * US_PER_SECOND


def instant_problem(us: int, written: str | None = None) -> str:
    """What is wrong with an instant that is to be stored, or "" when it is in range;
    `written` is how the input gave it, quoted in the message."""
    if FIRST_US <= us < END_US:
        return ""
    shown = repr(written) if written is not None else _shown(us)
    return f"{shown} is outside the instants qmon stores ({SUPPORTED_RANGE})"


def day_problem(day: date) -> str:
    """What is wrong with a day that is to be stored (an action's, a purge date), or ""."""
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return ""
    return f"{day.isoformat()} is outside the dates qmon stores ({SUPPORTED_RANGE})"


def duration_problem(us: int) -> str:
    """What is wrong with a promise's duration, or "" when it is at most `MAX_DURATION_US`."""
    if us <= MAX_DURATION_US:
        return ""
    return "is longer than qmon supports (at most 36500d, 100 years)"


def _shown(us: int) -> str:
    try:
        return iso_z(us)
    except OverflowError:
        return f"{us} microseconds since 1970"


def iso_z(us: int) -> str:
    """An instant as ISO-8601 in UTC with a `Z`, without fractional seconds when they are zero."""
    text = from_us(us).isoformat()
    return text.replace("+00:00", "Z")


def parse_instant(text: str, assume_tz: ZoneInfo | None = None) -> int:
    """Parse an ISO-8601 timestamp with an offset into microseconds since the epoch.

    Accepts `Z` or a numeric offset. A timestamp without an offset is an error unless
    `assume_tz` names the zone it was written in.

    Raises:
        ValueError: with a message fit for the user.
    """
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}") from None
    if parsed.tzinfo is None:
        if assume_tz is None:
            raise ValueError(
                f"timestamp {text!r} has no UTC offset (add Z or +01:00, or use --assume-timezone)"
            )
        parsed = parsed.replace(tzinfo=assume_tz)
    return to_us(parsed)


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name, with a clear error for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Amsterdam)"
        ) from None


def local_midnight_us(day: date, tz: ZoneInfo) -> int:
    """The instant at which `day` starts in `tz` (the first valid wall time on that date)."""
    return to_us(datetime.combine(day, time(0), tzinfo=tz))


def local_date(us: int, tz: ZoneInfo) -> date:
    """The calendar date in `tz` at an instant."""
    return from_us(us).astimezone(tz).date()


def now_us() -> int:
    """The current instant in microseconds since the epoch."""
    return to_us(datetime.now(UTC))
