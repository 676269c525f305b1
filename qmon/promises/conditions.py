"""What a promise's `when`, `targets` and `deadline` read: a subject's attributes at an instant.

The rules (README "Promise semantics"): the value of attribute `a` for a subject at instant t
is the value on the latest event of that subject at or before t, of any event type, that
carries `a`; at equal instants the event whose id sorts last (by code point) wins. A
condition matches when every key matches; a missing attribute matches nothing, not even
`not`, because missing data is never assumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qmon.promises.duration import format_duration
from qmon.timeutil import to_us


def normalise(value: str) -> str:
    """A value as conditions compare it: trimmed and case-folded."""
    return value.strip().casefold()


@dataclass(frozen=True, slots=True)
class Match:
    """One key of a `when`: the attribute's value is (or, with `negate`, is not) one of
    `values` (already normalised)."""

    attribute: str
    values: frozenset[str]
    negate: bool = False

    def test(self, value: str | None) -> bool:
        if value is None:
            return False
        return (normalise(value) in self.values) != self.negate

    def describe(self) -> str:
        listed = ", ".join(sorted(self.values))
        return f"{self.attribute} {'not in' if self.negate else 'in'} [{listed}]"


@dataclass(frozen=True, slots=True)
class Condition:
    """A `when`: every match must hold (AND)."""

    matches: tuple[Match, ...]

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(m.attribute for m in self.matches)

    def test(self, values: Mapping[str, str]) -> bool:
        """Whether the subject's attributes (as of the decision instant) match. (`Match.test`
        inlined: this runs for every cycle of every subject on the audit's general path.)"""
        for m in self.matches:
            value = values.get(m.attribute)
            if value is None or (value.strip().casefold() in m.values) == m.negate:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Duration:
    """`within: 24h`: that many microseconds of the promise's clock."""

    us: int

    def describe(self) -> str:
        return format_duration(self.us)


@dataclass(frozen=True, slots=True)
class BusinessDays:
    """`within: N business days`: to the last closing time of the N-th open day after day 0."""

    days: int

    def describe(self) -> str:
        return f"{self.days} business day{'' if self.days == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class DeadlineAttribute:
    """`deadline: {attribute: a}`: the promised instant is the attribute's value."""

    attribute: str

    def describe(self) -> str:
        return f"by its {self.attribute}"


Allowance = Duration | BusinessDays | DeadlineAttribute


@dataclass(frozen=True, slots=True)
class Target:
    """One entry of `targets`: its `when` (None for the default) and its allowance."""

    when: Condition | None
    within: Duration | BusinessDays


# [0-9], not \d: that would take any Unicode digit ("٢٠٢٦"), which int() reads as a number.
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_promised(text: str, tz: ZoneInfo) -> int | None:
    """A promised date or date-time as an instant, or None when it is not one of the forms.

    `YYYY-MM-DD` is the end of that date in `tz` (the next local midnight); a date-time must
    end in `Z` or `±HH:MM`. Anything else (no offset, `±HHMM`, `2026/06/01`, an impossible
    date) is unparseable.
    """
    value = text.strip()
    try:
        if (m := _DATE.fullmatch(value)) is not None:
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return to_us(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
        if (m := _DATETIME.fullmatch(value)) is not None:
            iso = value.replace(" ", "T", 1).replace("Z", "+00:00")
            return to_us(datetime.fromisoformat(iso))
    except (ValueError, OverflowError):
        return None
    return None


__all__ = [
    "Allowance",
    "BusinessDays",
    "Condition",
    "DeadlineAttribute",
    "Duration",
    "Match",
    "Target",
    "normalise",
    "parse_promised",
]
