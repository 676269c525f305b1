"""Table-driven and property tests of business calendars.

Every instant in the tables is written with its UTC offset, so each expectation can be checked
by hand: Europe/Amsterdam is +01:00 until 2026-03-29 01:00Z and +02:00 until 2026-10-25 01:00Z;
America/New_York is -05:00 until 2026-03-08 07:00Z and -04:00 until 2026-11-01 06:00Z.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmon.promises.calendar import (
    WALL_CLOCK,
    BusinessCalendar,
    Segment,
    SegmentKind,
    WeeklyHours,
)
from qmon.timeutil import from_us, parse_instant, to_us

S = 1_000_000
M = 60 * S
H = 60 * M
DAY = 24 * H

AMS = ZoneInfo("Europe/Amsterdam")
NYC = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> int:
    """An instant written with its offset, e.g. "2026-03-09T09:00+01:00"."""
    return parse_instant(text)


def window(text: str) -> tuple[int, int]:
    """A window like "09:00-12:30" as seconds after local midnight; "24:00" is 86400."""
    start, end = (int(part[:2]) * 3600 + int(part[3:]) * 60 for part in text.split("-"))
    return start, end


def weekdays(*windows: str) -> WeeklyHours:
    return {day: [window(w) for w in windows] for day in range(5)}


def every_day(*windows: str) -> WeeklyHours:
    return {day: [window(w) for w in windows] for day in range(7)}


def sundays(*windows: str) -> WeeklyHours:
    return {6: [window(w) for w in windows]}


SPLIT = ("09:00-12:30", "13:00-17:00")  # 3.5 h + 4 h = 7.5 h a weekday
OFFICE = BusinessCalendar("office-nl", AMS, weekdays(*SPLIT), holidays=["NL"])
OFFICE_NO_HOLIDAYS = BusinessCalendar("office-plain", AMS, weekdays(*SPLIT))
SUPPORT_US = BusinessCalendar("support-us", NYC, weekdays("08:00-18:00"), holidays=["US"])
NIGHT_AMS = BusinessCalendar("night-ams", AMS, every_day("00:00-06:00", "22:00-24:00"))
NIGHT_NYC = BusinessCalendar("night-nyc", NYC, every_day("00:00-06:00", "22:00-24:00"))
ALWAYS_AMS = BusinessCalendar("always-ams", AMS, every_day("00:00-24:00"))
ALWAYS_NYC = BusinessCalendar("always-nyc", NYC, every_day("00:00-24:00"))
ALWAYS_UTC = BusinessCalendar("always-utc", UTC, every_day("00:00-24:00"))
MUNICH = BusinessCalendar("munich", BERLIN, weekdays("09:00-17:00"), holidays=["DE-BY"])
GERMANY = BusinessCalendar("germany", BERLIN, weekdays("09:00-17:00"), holidays=["DE"])
OFFICE_CLOSED = BusinessCalendar(
    "office-closed", AMS, weekdays(*SPLIT), holidays=["NL"], closed={date(2026, 3, 11)}
)
OFFICE_NL_US = BusinessCalendar("office-nl-us", AMS, weekdays(*SPLIT), holidays=["NL", "US"])
NEVER = BusinessCalendar("never", AMS, {})
# Samoa skipped 2011-12-30: 2011-12-29 24:00-10:00 was followed by 2011-12-31 00:00+14:00.
APIA = BusinessCalendar(
    "apia", ZoneInfo("Pacific/Apia"), every_day("09:00-17:00"), closed={date(2011, 12, 31)}
)


def gap_calendar(*windows: str) -> BusinessCalendar:
    return BusinessCalendar("gap", AMS, sundays(*windows))


SUNDAY_0329 = ("2026-03-29T00:00+01:00", "2026-03-30T00:00+02:00")
SUNDAY_1025 = ("2026-10-25T00:00+02:00", "2026-10-26T00:00+01:00")

# --- open_between ----------------------------------------------------------------------------

OPEN_CASES = [
    # Split windows, Monday 2026-03-09 to Friday 2026-03-13, all +01:00.
    ("before-opening: 09:00-10:00", OFFICE, "2026-03-09T08:00+01:00", "2026-03-09T10:00+01:00", H),
    ("during-lunch: 13:00-13:30", OFFICE, "2026-03-09T12:45+01:00", "2026-03-09T13:30+01:00",
     30 * M),
    ("over-lunch: 30m + 30m", OFFICE, "2026-03-09T12:00+01:00", "2026-03-09T13:30+01:00", H),
    ("lunch-exactly: 0", OFFICE, "2026-03-09T12:30+01:00", "2026-03-09T13:00+01:00", 0),
    ("opening-to-closing: 3.5h + 4h", OFFICE, "2026-03-09T09:00+01:00", "2026-03-09T17:00+01:00",
     7 * H + 30 * M),
    ("before-opening-to-lunch: 3.5h", OFFICE, "2026-03-09T08:00+01:00", "2026-03-09T12:45+01:00",
     3 * H + 30 * M),
    ("closing-to-opening: 0", OFFICE, "2026-03-09T17:00+01:00", "2026-03-10T09:00+01:00", 0),
    ("friday-evening-to-monday: 1h + 1h", OFFICE, "2026-03-13T16:00+01:00",
     "2026-03-16T10:00+01:00", 2 * H),
    ("friday-after-close-to-monday-opening: 0", OFFICE, "2026-03-13T18:00+01:00",
     "2026-03-16T09:00+01:00", 0),
    ("weekend: 0", OFFICE, "2026-03-14T00:00+01:00", "2026-03-16T00:00+01:00", 0),
    ("tue-11:00-to-thu-14:00: 5.5h + 7.5h + 4.5h", OFFICE, "2026-03-10T11:00+01:00",
     "2026-03-12T14:00+01:00", 17 * H + 30 * M),
    ("whole-week: 5 x 7.5h", OFFICE, "2026-03-09T00:00+01:00", "2026-03-16T00:00+01:00",
     37 * H + 30 * M),
    ("sub-second: 09:00:00.000001-09:00:00.5", OFFICE, "2026-03-09T09:00:00.000001+01:00",
     "2026-03-09T09:00:00.500000+01:00", 499_999),
    ("sub-second-over-lunch: 0.25s + 0.25s", OFFICE, "2026-03-09T12:29:59.750000+01:00",
     "2026-03-09T13:00:00.250000+01:00", S // 2),
    ("empty-span: 0", OFFICE, "2026-03-09T10:00+01:00", "2026-03-09T10:00+01:00", 0),
    ("reversed-span: 0", OFFICE, "2026-03-09T11:00+01:00", "2026-03-09T10:00+01:00", 0),
    # Business hours over the daylight-saving changes (no Sunday hours, only the offset changes).
    ("office-spring: fri 1h + mon 1h", OFFICE, "2026-03-27T16:00+01:00", "2026-03-30T10:00+02:00",
     2 * H),
    ("office-fall: fri 1h + mon 1h", OFFICE, "2026-10-23T16:00+02:00", "2026-10-26T10:00+01:00",
     2 * H),
    ("us-fall: fri 1h + mon 1h", SUPPORT_US, "2026-10-30T17:00-04:00", "2026-11-02T09:00-05:00",
     2 * H),
    # Overnight spans across the change, night desk 00:00-06:00 + 22:00-24:00 every day.
    ("night-ams-spring: 21:00Z-04:00Z = 2h + 5h", NIGHT_AMS, "2026-03-28T20:00+01:00",
     "2026-03-29T08:00+02:00", 7 * H),
    ("night-ams-fall: 20:00Z-05:00Z = 2h + 7h", NIGHT_AMS, "2026-10-24T20:00+02:00",
     "2026-10-25T08:00+01:00", 9 * H),
    ("night-nyc-spring: 03:00Z-10:00Z = 2h + 5h", NIGHT_NYC, "2026-03-07T20:00-05:00",
     "2026-03-08T08:00-04:00", 7 * H),
    ("night-nyc-fall: 02:00Z-11:00Z = 2h + 7h", NIGHT_NYC, "2026-10-31T20:00-04:00",
     "2026-11-01T08:00-05:00", 9 * H),
    # 24/7: a local day lasts 23 h on the spring-forward day and 25 h on the fall-back day.
    ("always-ams-0329: 23h", ALWAYS_AMS, "2026-03-29T00:00+01:00", "2026-03-30T00:00+02:00",
     23 * H),
    ("always-ams-1025: 25h", ALWAYS_AMS, "2026-10-25T00:00+02:00", "2026-10-26T00:00+01:00",
     25 * H),
    ("always-nyc-0308: 23h", ALWAYS_NYC, "2026-03-08T00:00-05:00", "2026-03-09T00:00-04:00",
     23 * H),
    ("always-nyc-1101: 25h", ALWAYS_NYC, "2026-11-01T00:00-04:00", "2026-11-02T00:00-05:00",
     25 * H),
    ("always-ams-week-over-spring: 7 x 24h - 1h", ALWAYS_AMS, "2026-03-23T00:00+01:00",
     "2026-03-30T00:00+02:00", 167 * H),
    # Wall times in the spring-forward gap (02:00-03:00 Amsterdam) read with fold=0, i.e. +01:00.
    ("gap-02:00-04:00-spring: 01:00Z-02:00Z", gap_calendar("02:00-04:00"), *SUNDAY_0329, H),
    ("gap-02:00-04:00-fall: 00:00Z-03:00Z", gap_calendar("02:00-04:00"), *SUNDAY_1025, 3 * H),
    ("gap-02:00-04:00-ordinary-sunday: 2h", gap_calendar("02:00-04:00"),
     "2026-03-22T00:00+01:00", "2026-03-23T00:00+01:00", 2 * H),
    ("gap-inside-gap-02:15-02:45: 01:15Z-01:45Z", gap_calendar("02:15-02:45"), *SUNDAY_0329,
     30 * M),
    ("gap-02:30-03:30: 01:30Z-01:30Z dropped", gap_calendar("02:30-03:30"), *SUNDAY_0329, 0),
    ("gap-02:30-03:00: 01:30Z-01:00Z dropped", gap_calendar("02:30-03:00"), *SUNDAY_0329, 0),
    ("gap-overlap-counted-once: [00:00Z,01:45Z) u [01:00Z,02:00Z)",
     gap_calendar("01:00-02:45", "03:00-04:00"), *SUNDAY_0329, 2 * H),
    ("gap-contained-window-counted-once: [00:00Z,01:45Z) holds [01:00Z,01:30Z)",
     gap_calendar("01:00-02:45", "03:00-03:30"), *SUNDAY_0329, H + 45 * M),
    # Dutch holidays.
    ("kings-day: fri 1h + mon 0 + tue 1h", OFFICE, "2026-04-24T16:00+02:00",
     "2026-04-28T10:00+02:00", 2 * H),
    ("kings-day-without-holidays: 1h + 7.5h + 1h", OFFICE_NO_HOLIDAYS, "2026-04-24T16:00+02:00",
     "2026-04-28T10:00+02:00", 9 * H + 30 * M),
    ("kings-day-whole-day: 0", OFFICE, "2026-04-27T00:00+02:00", "2026-04-28T00:00+02:00", 0),
    ("easter: thu 1h + good friday 0 + easter monday 0 + tue 1h", OFFICE,
     "2026-04-02T16:00+02:00", "2026-04-07T10:00+02:00", 2 * H),
    ("christmas-2025-thu-fri: wed 1h + 0 + 0 + mon 1h", OFFICE, "2025-12-24T16:00+01:00",
     "2025-12-29T10:00+01:00", 2 * H),
    ("christmas-2026-fri-sat: thu 1h + 0 + mon 1h", OFFICE, "2026-12-24T16:00+01:00",
     "2026-12-28T10:00+01:00", 2 * H),
    ("new-year-2027: thu 1h + mon 1h", OFFICE, "2026-12-31T16:00+01:00", "2027-01-04T10:00+01:00",
     2 * H),
    # US holidays, a second code, a subdivision, closed dates.
    ("thanksgiving: wed 1h + thu 0 + fri 1h", SUPPORT_US, "2026-11-25T17:00-05:00",
     "2026-11-27T09:00-05:00", 2 * H),
    ("kings-day-not-us: 08:00-18:00", SUPPORT_US, "2026-04-27T00:00-04:00",
     "2026-04-28T00:00-04:00", 10 * H),
    ("nl-us-thanksgiving: 0", OFFICE_NL_US, "2026-11-26T00:00+01:00", "2026-11-27T00:00+01:00", 0),
    ("nl-thanksgiving: 7.5h", OFFICE, "2026-11-26T00:00+01:00", "2026-11-27T00:00+01:00",
     7 * H + 30 * M),
    ("de-by-epiphany: 0", MUNICH, "2026-01-06T00:00+01:00", "2026-01-07T00:00+01:00", 0),
    ("de-epiphany: 8h", GERMANY, "2026-01-06T00:00+01:00", "2026-01-07T00:00+01:00", 8 * H),
    ("closed-wednesday: tue 1h + 0 + thu 1h", OFFICE_CLOSED, "2026-03-10T16:00+01:00",
     "2026-03-12T10:00+01:00", 2 * H),
    ("apia-skipped-day-has-no-open-time: dec 29 8h + dec 30 (zero long) + dec 31 closed", APIA,
     "2011-12-29T00:00-10:00", "2012-01-01T00:00+14:00", 8 * H),
    ("no-hours: 0", NEVER, "2026-01-01T00:00+01:00", "2027-01-01T00:00+01:00", 0),
]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in OPEN_CASES],
)
def test_open_between(calendar: BusinessCalendar, start: str, end: str, expected: int) -> None:
    assert calendar.open_between(at(start), at(end)) == expected


def test_answers_do_not_depend_on_which_years_were_asked_first() -> None:
    warmed = BusinessCalendar("warmed", AMS, weekdays(*SPLIT), holidays=["NL"])
    warmed.open_between(at("2029-06-01T00:00+02:00"), at("2029-06-02T00:00+02:00"))
    span = (at("2024-12-20T00:00+01:00"), at("2026-04-30T00:00+02:00"))
    fresh = BusinessCalendar("fresh", AMS, weekdays(*SPLIT), holidays=["NL"])

    assert warmed.open_between(*span) == fresh.open_between(*span)
    assert warmed.advance(span[0], 500 * H) == fresh.advance(span[0], 500 * H)


# --- advance ---------------------------------------------------------------------------------

ADVANCE_CASES = [
    ("4bh-friday-15:00: fri 2h + mon 2h", OFFICE, "2026-03-13T15:00+01:00", 4 * H,
     "2026-03-16T11:00+01:00"),
    ("across-lunch: 1.5h + 0.5h", OFFICE, "2026-03-09T11:00+01:00", 2 * H,
     "2026-03-09T13:30+01:00"),
    ("reaches-at-lunch-not-after", OFFICE, "2026-03-09T12:00+01:00", 30 * M,
     "2026-03-09T12:30+01:00"),
    ("reaches-at-closing-not-next-day", OFFICE, "2026-03-09T09:00+01:00", 7 * H + 30 * M,
     "2026-03-09T17:00+01:00"),
    ("one-microsecond-before-opening", OFFICE, "2026-03-09T08:00+01:00", 1,
     "2026-03-09T09:00:00.000001+01:00"),
    ("start-in-lunch: 13:00 + 1h", OFFICE, "2026-03-09T12:45+01:00", H, "2026-03-09T14:00+01:00"),
    ("zero-on-saturday-is-start", OFFICE, "2026-03-14T10:00+01:00", 0, "2026-03-14T10:00+01:00"),
    ("whole-week: 5 x 7.5h", OFFICE, "2026-03-09T09:00+01:00", 37 * H + 30 * M,
     "2026-03-13T17:00+01:00"),
    ("kings-day: fri 2h + tue 2h", OFFICE, "2026-04-24T15:00+02:00", 4 * H,
     "2026-04-28T11:00+02:00"),
    ("easter: thu 2h + tue 2h", OFFICE, "2026-04-02T15:00+02:00", 4 * H, "2026-04-07T11:00+02:00"),
    ("new-year: thu 1h + mon 1h", OFFICE, "2026-12-31T16:00+01:00", 2 * H,
     "2027-01-04T10:00+01:00"),
    ("dst-spring: fri 2h + mon 2h", OFFICE, "2026-03-27T15:00+01:00", 4 * H,
     "2026-03-30T11:00+02:00"),
    ("dst-fall: fri 2h + mon 2h", OFFICE, "2026-10-23T15:00+02:00", 4 * H,
     "2026-10-26T11:00+01:00"),
    ("always-ams-spring: 11:00Z + 24h", ALWAYS_AMS, "2026-03-28T12:00+01:00", 24 * H,
     "2026-03-29T13:00+02:00"),
    ("always-ams-fall: 10:00Z + 24h", ALWAYS_AMS, "2026-10-24T12:00+02:00", 24 * H,
     "2026-10-25T11:00+01:00"),
    ("night-ams-spring: sat 2h + sun 5h", NIGHT_AMS, "2026-03-28T20:00+01:00", 7 * H,
     "2026-03-29T06:00+02:00"),
    ("thanksgiving: wed 1h + fri 1h", SUPPORT_US, "2026-11-25T17:00-05:00", 2 * H,
     "2026-11-27T09:00-05:00"),
    ("always-utc-ten-years-of-open-time", ALWAYS_UTC, "2026-06-01T00:00Z", 3650 * DAY,
     "2036-05-29T00:00Z"),
]


@pytest.mark.parametrize(
    ("calendar", "start", "amount", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ADVANCE_CASES],
)
def test_advance(calendar: BusinessCalendar, start: str, amount: int, expected: str) -> None:
    assert calendar.advance(at(start), amount) == at(expected)


def test_advance_without_open_time_is_an_error() -> None:
    with pytest.raises(ValueError, match="'never' has no open time between"):
        NEVER.advance(at("2026-03-09T09:00+01:00"), 1)


def days(first: date, last: date) -> frozenset[date]:
    return frozenset(first + timedelta(days=n) for n in range((last - first).days + 1))


def test_advance_with_no_open_time_for_ten_years_is_an_error() -> None:
    twelve_years = days(date(2026, 1, 1), date(2037, 12, 31))
    calendar = BusinessCalendar("c", AMS, weekdays("09:00-17:00"), closed=twelve_years)

    with pytest.raises(ValueError, match="'c' has no open time between 2026-03-02T08:00:00Z"):
        calendar.advance(at("2026-03-02T09:00+01:00"), H)


def test_advance_looks_past_nine_closed_years() -> None:
    nine_years = days(date(2026, 1, 1), date(2034, 12, 31))
    calendar = BusinessCalendar("c", AMS, weekdays("09:00-17:00"), closed=nine_years)

    # 2035-01-01 is a Monday, and this calendar has no holidays.
    assert calendar.advance(at("2026-03-02T09:00+01:00"), H) == at("2035-01-01T10:00+01:00")


def test_advance_by_a_negative_amount_is_an_error() -> None:
    with pytest.raises(ValueError, match="negative"):
        OFFICE.advance(at("2026-03-09T09:00+01:00"), -1)


@pytest.mark.parametrize(
    ("hours", "codes", "message"),
    [
        pytest.param({7: [(0, 3600)]}, (), "weekday 7", id="weekday-7"),
        pytest.param({0: [(3600, 3600)]}, (), "window", id="empty-window"),
        pytest.param({0: [(0, 86_401)]}, (), "window", id="past-24:00"),
        pytest.param({}, ("XX",), "unknown holiday code 'XX'", id="unknown-country"),
        pytest.param({}, ("DE-ZZ",), "unknown holiday code 'DE-ZZ'", id="unknown-subdivision"),
    ],
)
def test_constructor_refuses_bad_input(
    hours: WeeklyHours, codes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar("bad", AMS, hours, holidays=codes)


# --- segments --------------------------------------------------------------------------------

NL_NAMES = holidays.country_holidays("NL", years=range(2024, 2031), language="en_US")
KINGS_DAY = NL_NAMES[date(2026, 4, 27)]


def test_holiday_labels_come_from_the_package() -> None:
    assert KINGS_DAY == "King's Day"  # one language everywhere, whatever the locale


def seg(start: str, end: str, kind: SegmentKind, label: str | None = None) -> Segment:
    return Segment(at(start), at(end), kind, label)


SEGMENT_CASES = [
    (
        "weekend-kings-day-lunch",
        OFFICE,
        "2026-04-24T12:00+02:00",
        "2026-04-28T14:00+02:00",
        [
            seg("2026-04-24T12:00+02:00", "2026-04-24T12:30+02:00", "open"),
            seg("2026-04-24T12:30+02:00", "2026-04-24T13:00+02:00", "outside hours"),
            seg("2026-04-24T13:00+02:00", "2026-04-24T17:00+02:00", "open"),
            seg("2026-04-24T17:00+02:00", "2026-04-27T00:00+02:00", "outside hours"),
            seg("2026-04-27T00:00+02:00", "2026-04-28T00:00+02:00", "holiday", KINGS_DAY),
            seg("2026-04-28T00:00+02:00", "2026-04-28T09:00+02:00", "outside hours"),
            seg("2026-04-28T09:00+02:00", "2026-04-28T12:30+02:00", "open"),
            seg("2026-04-28T12:30+02:00", "2026-04-28T13:00+02:00", "outside hours"),
            seg("2026-04-28T13:00+02:00", "2026-04-28T14:00+02:00", "open"),
        ],
    ),
    (
        "easter-sunday-and-monday-are-separate-and-clipped",
        OFFICE,
        "2026-04-04T12:00+02:00",
        "2026-04-06T12:00+02:00",
        [
            seg("2026-04-04T12:00+02:00", "2026-04-05T00:00+02:00", "outside hours"),
            seg("2026-04-05T00:00+02:00", "2026-04-06T00:00+02:00", "holiday",
                NL_NAMES[date(2026, 4, 5)]),
            seg("2026-04-06T00:00+02:00", "2026-04-06T12:00+02:00", "holiday",
                NL_NAMES[date(2026, 4, 6)]),
        ],
    ),
    (
        "closed-date",
        OFFICE_CLOSED,
        "2026-03-10T16:00+01:00",
        "2026-03-12T10:00+01:00",
        [
            seg("2026-03-10T16:00+01:00", "2026-03-10T17:00+01:00", "open"),
            seg("2026-03-10T17:00+01:00", "2026-03-11T00:00+01:00", "outside hours"),
            seg("2026-03-11T00:00+01:00", "2026-03-12T00:00+01:00", "closed", "closed date"),
            seg("2026-03-12T00:00+01:00", "2026-03-12T09:00+01:00", "outside hours"),
            seg("2026-03-12T09:00+01:00", "2026-03-12T10:00+01:00", "open"),
        ],
    ),
    (
        "consecutive-closed-dates-merge",
        BusinessCalendar("c", AMS, weekdays(*SPLIT), closed={date(2026, 3, 11), date(2026, 3, 12)}),
        "2026-03-10T22:00+01:00",
        "2026-03-13T02:00+01:00",
        [
            seg("2026-03-10T22:00+01:00", "2026-03-11T00:00+01:00", "outside hours"),
            seg("2026-03-11T00:00+01:00", "2026-03-13T00:00+01:00", "closed", "closed date"),
            seg("2026-03-13T00:00+01:00", "2026-03-13T02:00+01:00", "outside hours"),
        ],
    ),
    (
        "holiday-wins-over-closed",
        BusinessCalendar("c", AMS, weekdays(*SPLIT), ["NL"], closed={date(2026, 4, 27)}),
        "2026-04-27T10:00+02:00",
        "2026-04-27T11:00+02:00",
        [seg("2026-04-27T10:00+02:00", "2026-04-27T11:00+02:00", "holiday", KINGS_DAY)],
    ),
    (
        "from-closing-time",
        OFFICE,
        "2026-03-09T12:30+01:00",
        "2026-03-09T13:30+01:00",
        [
            seg("2026-03-09T12:30+01:00", "2026-03-09T13:00+01:00", "outside hours"),
            seg("2026-03-09T13:00+01:00", "2026-03-09T13:30+01:00", "open"),
        ],
    ),
    (
        "apia-skipped-day: its gap-read window does not spill into the closed day",
        APIA,
        "2011-12-29T00:00-10:00",
        "2012-01-01T00:00+14:00",
        [
            seg("2011-12-29T00:00-10:00", "2011-12-29T09:00-10:00", "outside hours"),
            seg("2011-12-29T09:00-10:00", "2011-12-29T17:00-10:00", "open"),
            seg("2011-12-29T17:00-10:00", "2011-12-31T00:00+14:00", "outside hours"),
            seg("2011-12-31T00:00+14:00", "2012-01-01T00:00+14:00", "closed", "closed date"),
        ],
    ),
    (
        "inside-one-window",
        OFFICE,
        "2026-03-09T10:00+01:00",
        "2026-03-09T11:00+01:00",
        [seg("2026-03-09T10:00+01:00", "2026-03-09T11:00+01:00", "open")],
    ),
    (
        "always-ams-over-spring-forward-is-one-stretch",
        ALWAYS_AMS,
        "2026-03-28T12:00+01:00",
        "2026-03-30T12:00+02:00",
        [seg("2026-03-28T12:00+01:00", "2026-03-30T12:00+02:00", "open")],
    ),
    (
        "night-nyc-fall-back: 02:00Z-11:00Z open",
        NIGHT_NYC,
        "2026-10-31T20:00-04:00",
        "2026-11-01T08:00-05:00",
        [
            seg("2026-10-31T20:00-04:00", "2026-10-31T22:00-04:00", "outside hours"),
            seg("2026-10-31T22:00-04:00", "2026-11-01T06:00-05:00", "open"),
            seg("2026-11-01T06:00-05:00", "2026-11-01T08:00-05:00", "outside hours"),
        ],
    ),
    ("empty-span", OFFICE, "2026-03-09T10:00+01:00", "2026-03-09T10:00+01:00", []),
    ("reversed-span", OFFICE, "2026-03-09T11:00+01:00", "2026-03-09T10:00+01:00", []),
]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in SEGMENT_CASES],
)
def test_segments(
    calendar: BusinessCalendar, start: str, end: str, expected: list[Segment]
) -> None:
    assert calendar.segments(at(start), at(end)) == expected


def test_christmas_days_keep_their_own_names() -> None:
    got = OFFICE.segments(at("2025-12-25T00:00+01:00"), at("2025-12-27T00:00+01:00"))

    assert [(s.kind, s.label) for s in got] == [
        ("holiday", NL_NAMES[date(2025, 12, 25)]),
        ("holiday", NL_NAMES[date(2025, 12, 26)]),
    ]
    assert got[0].label != got[1].label


# --- properties ------------------------------------------------------------------------------

LOW, HIGH = at("2024-01-01T00:00Z"), at("2030-12-31T00:00Z")
ANCHORS = [
    at(text)
    for text in (
        "2026-03-29T01:00Z",  # Amsterdam springs forward
        "2026-10-25T01:00Z",  # Amsterdam falls back
        "2026-03-08T07:00Z",  # New York springs forward
        "2026-11-01T06:00Z",  # New York falls back
        "2026-04-27T00:00+02:00",  # King's Day
        "2026-11-26T00:00-05:00",  # Thanksgiving
        "2026-03-09T12:30+01:00",  # lunch
        "2026-12-31T23:00Z",  # a new year in Amsterdam
    )
]
instants = st.one_of(
    st.integers(LOW, HIGH),
    st.builds(int.__add__, st.sampled_from(ANCHORS), st.integers(-2 * DAY, 2 * DAY)),
    st.builds(int.__add__, st.sampled_from(ANCHORS), st.sampled_from([-1, 0, 1])),
)
CALENDARS = [OFFICE, SUPPORT_US, NIGHT_AMS, NIGHT_NYC, ALWAYS_AMS, MUNICH, OFFICE_CLOSED]
calendars = st.sampled_from([*CALENDARS, gap_calendar("01:00-02:45", "03:00-04:00")])
amounts = st.one_of(st.integers(0, 300 * H), st.sampled_from([0, 1, 30 * M, 7 * H + 30 * M]))
PROPERTY = settings(max_examples=150, deadline=None)


@PROPERTY
@given(calendars, instants, instants, instants)
def test_open_time_is_additive(calendar: BusinessCalendar, x: int, y: int, z: int) -> None:
    a, b, c = sorted((x, y, z))
    assert calendar.open_between(a, b) + calendar.open_between(b, c) == calendar.open_between(a, c)


@PROPERTY
@given(calendars, instants, instants)
def test_open_time_is_bounded_by_the_span(calendar: BusinessCalendar, a: int, b: int) -> None:
    assert 0 <= calendar.open_between(a, b) <= max(0, b - a)


@PROPERTY
@given(calendars, instants, instants, instants)
def test_open_time_grows_with_the_end(calendar: BusinessCalendar, a: int, x: int, y: int) -> None:
    b1, b2 = sorted((x, y))
    assert calendar.open_between(a, b1) <= calendar.open_between(a, b2)


@PROPERTY
@given(calendars, instants, amounts)
def test_advance_is_the_minimal_inverse(calendar: BusinessCalendar, a: int, x: int) -> None:
    t = calendar.advance(a, x)

    assert t >= a
    assert calendar.open_between(a, t) == x
    if x > 0:
        assert calendar.open_between(a, t - 1) < x


@PROPERTY
@given(calendars, instants, st.integers(0, 40 * DAY))
def test_segments_tile_the_span(calendar: BusinessCalendar, a: int, length: int) -> None:
    b = a + length
    got = calendar.segments(a, b)

    assert [s.start_us for s in got[:1]] == ([a] if b > a else [])
    assert [s.end_us for s in got[-1:]] == ([b] if b > a else [])
    assert all(s.start_us < s.end_us for s in got)
    assert all(p.end_us == n.start_us for p, n in zip(got, got[1:], strict=False))
    assert all((p.kind, p.label) != (n.kind, n.label) for p, n in zip(got, got[1:], strict=False))
    open_us = sum(s.end_us - s.start_us for s in got if s.kind == "open")
    assert open_us == calendar.open_between(a, b)


def naive_open_between(calendar: BusinessCalendar, a: int, b: int) -> int:
    """Day by day, window by window, without prefix sums (valid while no windows overlap)."""
    first = from_us(a).astimezone(calendar.tz).date() - timedelta(days=1)
    last = from_us(b).astimezone(calendar.tz).date()
    days_off = set(calendar.closed)
    for code in calendar.holidays:
        country, _, subdiv = code.partition("-")
        years = range(first.year, last.year + 1)
        days_off |= set(holidays.country_holidays(country, subdiv=subdiv or None, years=years))
    total = 0
    for day in (first + timedelta(days=n) for n in range((last - first).days + 1)):
        if day in days_off:
            continue
        for start, end in calendar.hours.get(day.weekday(), []):
            opens = wall_us(day, start, calendar.tz)
            closes = wall_us(day, end, calendar.tz)
            total += max(0, min(b, closes) - max(a, opens))
    return total


def wall_us(day: date, second: int, tz: ZoneInfo) -> int:
    """A wall time read as zoneinfo does (fold=0); 86400 is the next day's midnight."""
    if second == 86_400:
        day, second = day + timedelta(days=1), 0
    wall = time(second // 3600, second // 60 % 60, second % 60)
    return to_us(datetime.combine(day, wall, tzinfo=tz))


@PROPERTY
@given(st.sampled_from(CALENDARS), instants, st.integers(0, 20 * DAY))
def test_open_time_matches_a_day_by_day_count(
    calendar: BusinessCalendar, a: int, length: int
) -> None:
    assert calendar.open_between(a, a + length) == naive_open_between(calendar, a, a + length)


@PROPERTY
@given(st.sampled_from([ALWAYS_AMS, ALWAYS_UTC]), instants, instants, amounts)
def test_round_the_clock_calendars_are_the_wall_clock(
    calendar: BusinessCalendar, a: int, b: int, x: int
) -> None:
    assert calendar.open_between(a, b) == WALL_CLOCK.open_between(a, b)
    assert calendar.advance(a, x) == WALL_CLOCK.advance(a, x)
    if b - a <= 60 * DAY:
        assert calendar.segments(a, b) == WALL_CLOCK.segments(a, b)
