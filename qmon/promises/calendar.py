"""Clocks that promises run on: round the clock, or a business calendar.

A business calendar is kept as a running total of open time at each window boundary, so an
instance's elapsed business time is two lookups (C(stop) - C(start)) and a deadline is one
binary search, whatever the span.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from qmon.timeutil import iso_z, local_date, to_us

SegmentKind = Literal["open", "outside hours", "holiday", "closed"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time and whether the clock could run in it (for `qmon explain`)."""

    start_us: int
    end_us: int
    kind: SegmentKind
    label: str | None = None  # e.g. the holiday's name or "closed date"


class Clock(Protocol):
    """What the engine needs from a clock. All instants are microseconds since the epoch (UTC)."""

    def open_between(self, start_us: int, end_us: int) -> int:
        """Microseconds of open time in [start_us, end_us); 0 when end_us <= start_us."""
        ...

    def advance(self, start_us: int, amount_us: int) -> int:
        """The earliest instant t >= start_us with open_between(start_us, t) == amount_us."""
        ...

    def retreat(self, end_us: int, amount_us: int) -> int:
        """The earliest instant t <= end_us with open_between(t, end_us) == amount_us."""
        ...

    def segments(self, start_us: int, end_us: int) -> list[Segment]:
        """[start_us, end_us) cut into consecutive open and closed stretches, in order."""
        ...


class WallClock:
    """Round the clock: every microsecond counts."""

    name = None

    def open_between(self, start_us: int, end_us: int) -> int:
        return max(0, end_us - start_us)

    def advance(self, start_us: int, amount_us: int) -> int:
        return start_us + amount_us

    def retreat(self, end_us: int, amount_us: int) -> int:
        return end_us - amount_us

    def segments(self, start_us: int, end_us: int) -> list[Segment]:
        return [Segment(start_us, end_us, "open")] if end_us > start_us else []


WALL_CLOCK = WallClock()

#: Weekday numbers as in `date.weekday()`: Monday is 0.
#: weekday -> [(start_second, end_second)], end <= 86400
WeeklyHours = dict[int, list[tuple[int, int]]]


_SEARCH_YEARS = 10
#: Holiday names in one language everywhere: by default the `holidays` package follows the
#: process locale, so the same report would read differently from machine to machine.
HOLIDAY_LANGUAGE = "en_US"
_DAY = timedelta(days=1)


class BusinessCalendar:
    """Open windows per weekday in a time zone, minus public holidays and closed dates.

    A window on local date d becomes a UTC interval by reading its wall times in `tz` with
    zoneinfo (`datetime.combine(d, time, tzinfo=tz)`, fold=0); "24:00" is local midnight of
    d + 1. Open time therefore follows the real clock, as a customer waiting experiences it:
    "00:00-24:00" lasts 23 hours on a spring-forward day and 25 on a fall-back day in
    Europe/Amsterdam. A wall time in the spring-forward gap resolves as zoneinfo does with
    fold=0 (with the offset from before the change, so 02:30 in Amsterdam on 2026-03-29 is
    01:30 UTC, 03:30 local summer time); a window whose UTC end is then not after its UTC
    start is dropped, and windows that overlap once in UTC count once. A window only counts
    inside its own local date, so a day off is always a whole local day without open time.

    Dates that are public holidays of any of the `holidays` codes, or in `closed`, have no
    windows. Where a date is both, it is shown as the holiday.

    Open time is kept as sorted UTC window starts and ends with a running total of open time
    before each window, so any span or deadline is a binary search. The arrays cover whole
    local years; they are built on first use and rebuilt wider when an instant falls
    outside.

    Args:
        name: the calendar's name in the config.
        tz: the zone the windows are written in; windows follow its daylight-saving changes.
        hours: weekday -> sorted, non-overlapping windows as seconds after local midnight
            (end may be 86400 for "24:00").
        holidays: country codes of the `holidays` package, optionally with a subdivision
            ("NL", "US", "DE-BY").
        closed: extra dates on which the calendar is closed all day.

    Raises:
        ValueError: for a weekday outside 0-6, a window outside 0-86400 seconds or not
            ending after it starts, or a holiday code the `holidays` package does not know.
    """

    def __init__(
        self,
        name: str,
        tz: ZoneInfo,
        hours: WeeklyHours,
        holidays: list[str] | tuple[str, ...] = (),
        closed: set[date] | frozenset[date] = frozenset(),
    ) -> None:
        self.name = name
        self.tz = tz
        self.hours: WeeklyHours = {day: list(windows) for day, windows in hours.items()}
        self.holidays = tuple(holidays)
        self.closed = frozenset(closed)
        _check_hours(self.hours)
        self._regions = [_region(code) for code in self.holidays]
        self._holiday_names: dict[int, dict[date, str]] = {}
        self._years: tuple[int, int] | None = None
        self._span = (0, 0)
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._before: list[int] = [0]

    def open_between(self, start_us: int, end_us: int) -> int:
        """Microseconds of open time in [start_us, end_us); 0 when end_us <= start_us."""
        if end_us <= start_us:
            return 0
        self._cover(start_us, end_us)
        return self._open_until(end_us) - self._open_until(start_us)

    def advance(self, start_us: int, amount_us: int) -> int:
        """The earliest instant t >= start_us with open_between(start_us, t) == amount_us.

        The arrays are widened ten years at a time until they hold enough open time.

        Raises:
            ValueError: if `amount_us` is negative, or ten years pass without open time.
        """
        if amount_us < 0:
            raise ValueError(f"cannot advance by a negative amount ({amount_us} us)")
        if amount_us == 0:
            return start_us
        self._cover(start_us, start_us)
        while (target := self._open_until(start_us) + amount_us) > self._before[-1]:
            assert self._years is not None
            total, (first, last) = self._before[-1], self._years
            since = max(start_us, self._ends[-1]) if self._ends else start_us
            self._build(first, last + _SEARCH_YEARS)
            if self._before[-1] == total:
                raise ValueError(
                    f"calendar {self.name!r} has no open time between {iso_z(since)} and "
                    f"{iso_z(self._span[1])}, so no deadline {amount_us} us of open time "
                    f"after {iso_z(start_us)} can be found"
                )
        i = bisect_left(self._before, target) - 1
        return self._starts[i] + target - self._before[i]

    def retreat(self, end_us: int, amount_us: int) -> int:
        """The earliest instant t <= end_us with open_between(t, end_us) == amount_us: going
        back from `end_us`, the end of the window (or the moment inside one) where that much
        open time lies between; for 0, the last open moment at or before `end_us`. The
        arrays are widened ten years back at a time.

        Raises:
            ValueError: if `amount_us` is negative, or there is not that much open time before.
        """
        if amount_us < 0:
            raise ValueError(f"cannot retreat by a negative amount ({amount_us} us)")
        self._cover(end_us, end_us)
        while (target := self._open_until(end_us) - amount_us) <= 0:
            assert self._years is not None
            first, last = self._years
            total = self._open_until(end_us)
            if first <= 1:
                raise ValueError(f"calendar {self.name!r} has too little open time before "
                                 f"{iso_z(end_us)}")  # fmt: skip
            self._build(max(1, first - _SEARCH_YEARS), last)
            if self._open_until(end_us) == total:
                raise ValueError(f"calendar {self.name!r} has no open time in the ten years "
                                 f"before {iso_z(self._span[0])}")  # fmt: skip
        i = bisect_left(self._before, target) - 1
        return self._starts[i] + target - self._before[i]

    def business_days(self, start_us: int, days: int) -> tuple[date, int]:
        """Day 0 and the nominal deadline of `within: N business days` from `start_us`.

        An open day is a date that is neither a holiday nor a closed date and has at least
        one window. Day 0 is the start's local date if that is open and the start is
        strictly before its last closing time, else the next open day; the nominal deadline
        is the last closing time of the `days`-th open day after day 0.

        Raises:
            ValueError: when a year passes without an open day.
        """
        day = local_date(start_us, self.tz)
        last = self._last_closing(day)
        if last is None or start_us >= last:
            day = self._next_open_day(day)
        day0 = day
        for _ in range(days):
            day = self._next_open_day(day)
        closing = self._last_closing(day)
        assert closing is not None
        return day0, closing

    def _last_closing(self, day: date) -> int | None:
        """The end of the last window of an open day, or None when the day is not open."""
        if self._day_off(day) is not None:
            return None
        windows = self._windows_on(day, self._wall_us(day, 0), self._wall_us(day, 86_400))
        return max(end for _, end in windows) if windows else None

    def _next_open_day(self, day: date) -> date:
        for _ in range(366):
            day += _DAY
            if self._last_closing(day) is not None:
                return day
        raise ValueError(f"calendar {self.name!r} has no open day in the year after {day}")

    def segments(self, start_us: int, end_us: int) -> list[Segment]:
        """[start_us, end_us) cut into open, outside-hours, holiday and closed stretches.

        Consecutive stretches of the same kind and label are merged, so a holiday or closed
        date is one stretch from its local midnight to the next (clipped to the span).
        """
        if end_us <= start_us:
            return []
        self._cover(start_us, end_us)
        known = sorted(
            self._days_off(start_us, end_us) + self._open_stretches(start_us, end_us),
            key=lambda segment: segment.start_us,
        )
        out: list[Segment] = []
        cursor = start_us
        for segment in known:
            if segment.start_us > cursor:
                _append(out, Segment(cursor, segment.start_us, "outside hours"))
            _append(out, segment)
            cursor = segment.end_us
        if cursor < end_us:
            _append(out, Segment(cursor, end_us, "outside hours"))
        return out

    def _open_until(self, instant_us: int) -> int:
        """Open time from the first window in the arrays up to `instant_us` (C(t))."""
        i = bisect_right(self._starts, instant_us) - 1
        if i < 0:
            return 0
        return self._before[i] + min(instant_us, self._ends[i]) - self._starts[i]

    def _cover(self, first_us: int, last_us: int) -> None:
        """Make the arrays cover both instants, rebuilding them wider if needed."""
        if self._years is not None and self._span[0] <= first_us and last_us <= self._span[1]:
            return
        first = local_date(first_us, self.tz).year
        last = local_date(last_us, self.tz).year
        if self._years is not None:
            first, last = min(first, self._years[0]), max(last, self._years[1])
        self._build(first, last)

    def _build(self, first_year: int, last_year: int) -> None:
        """Rebuild the arrays for the local years first_year..last_year, merging overlaps."""
        windows: list[tuple[int, int]] = []
        day = date(first_year, 1, 1)
        day_start = self._wall_us(day, 0)
        while day.year <= last_year:
            day_end = self._wall_us(day, 86_400)
            if self._day_off(day) is None:
                windows.extend(self._windows_on(day, day_start, day_end))
            day, day_start = day + _DAY, day_end
        starts: list[int] = []
        ends: list[int] = []
        before = [0]
        for start, end in sorted(windows):
            if ends and start <= ends[-1]:
                before[-1] += max(0, end - ends[-1])
                ends[-1] = max(end, ends[-1])
                continue
            starts.append(start)
            ends.append(end)
            before.append(before[-1] + end - start)
        self._starts, self._ends, self._before = starts, ends, before
        self._years = (first_year, last_year)
        self._span = (self._wall_us(date(first_year, 1, 1), 0), day_start)

    def _windows_on(self, day: date, day_start: int, day_end: int) -> list[tuple[int, int]]:
        """The day's windows in UTC, kept within its local day; empty ones dropped."""
        out = []
        for start_s, end_s in self.hours.get(day.weekday(), ()):
            start = max(day_start, self._wall_us(day, start_s))
            end = min(day_end, self._wall_us(day, end_s))
            if end > start:
                out.append((start, end))
        return out

    def _wall_us(self, day: date, second: int) -> int:
        """The instant of a wall time on `day`, as zoneinfo reads it (fold=0); 86400 = 24:00."""
        days, second = divmod(second, 86_400)
        wall = time(second // 3600, second // 60 % 60, second % 60)
        return to_us(datetime.combine(day + timedelta(days=days), wall, tzinfo=self.tz))

    def _day_off(self, day: date) -> tuple[SegmentKind, str] | None:
        """Why `day` has no windows (kind and label), or None for an ordinary day."""
        name = self._holidays_of(day.year).get(day)
        if name is not None:
            return "holiday", name
        if day in self.closed:
            return "closed", "closed date"
        return None

    def _holidays_of(self, year: int) -> dict[date, str]:
        """Holiday names of all codes in a year, cached as the package is slow to ask."""
        if year not in self._holiday_names:
            from holidays import country_holidays

            names: dict[date, list[str]] = {}
            for country, subdiv in self._regions:
                for day, name in country_holidays(
                    country, subdiv=subdiv, years=year, language=HOLIDAY_LANGUAGE
                ).items():
                    names.setdefault(day, []).append(name)
            self._holiday_names[year] = {
                day: "; ".join(dict.fromkeys(found)) for day, found in names.items()
            }
        return self._holiday_names[year]

    def _days_off(self, start_us: int, end_us: int) -> list[Segment]:
        """Holiday and closed stretches, one per local date, clipped to [start_us, end_us)."""
        out = []
        day = local_date(start_us, self.tz)
        day_start = self._wall_us(day, 0)
        while day_start < end_us:
            day_end = self._wall_us(day, 86_400)
            off = self._day_off(day)
            if off is not None:
                kind, label = off
                out.append(Segment(max(start_us, day_start), min(end_us, day_end), kind, label))
            day, day_start = day + _DAY, day_end
        return out

    def _open_stretches(self, start_us: int, end_us: int) -> list[Segment]:
        """The merged windows clipped to [start_us, end_us); the arrays must cover both."""
        out = []
        i = bisect_right(self._ends, start_us)
        while i < len(self._starts) and self._starts[i] < end_us:
            out.append(Segment(max(start_us, self._starts[i]), min(end_us, self._ends[i]), "open"))
            i += 1
        return out


def _append(out: list[Segment], segment: Segment) -> None:
    """Add a stretch, merging it into the previous one when kind and label are the same."""
    if out:
        last = out[-1]
        if (last.end_us, last.kind, last.label) == (segment.start_us, segment.kind, segment.label):
            out[-1] = Segment(last.start_us, segment.end_us, last.kind, last.label)
            return
    out.append(segment)


def _check_hours(hours: WeeklyHours) -> None:
    for day, windows in hours.items():
        if day not in range(7):
            raise ValueError(f"weekday {day!r} is not 0 (Monday) to 6 (Sunday)")
        for start, end in windows:
            if not 0 <= start < end <= 86_400:
                raise ValueError(
                    f"window ({start}, {end}) on weekday {day} is not within 0-86400 seconds "
                    "with its end after its start"
                )


def _region(code: str) -> tuple[str, str | None]:
    """A holiday code ("NL", "DE-BY") as country and subdivision, checked with the package
    (a country alone by its registry, which does not import every country's module)."""
    from holidays import country_holidays
    from holidays.registry import EntityLoader

    country, _, subdiv = code.partition("-")
    if not subdiv and country in EntityLoader.get_country_codes():
        return country, None
    try:
        country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError as error:
        raise ValueError(f"unknown holiday code {code!r}: {error}") from None
    return country, subdiv or None
