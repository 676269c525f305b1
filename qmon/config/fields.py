"""The small syntaxes of config values, shared by every config model.

Durations, percentages, day keys, opening windows, holiday codes, time zones: each parsed
here, so its message says exactly what is wrong with the one value. `Strict` is the base of
every model: unknown keys are errors.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
)

from qmon.promises.conditions import BusinessDays
from qmon.promises.conditions import Duration as ClockDuration
from qmon.promises.duration import parse_duration
from qmon.timeutil import duration_problem, zone

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Europe/Amsterdam"
EXTRA_SECTIONS: tuple[str, ...] = ("notify", "schedule", "language", "imports")
"""Top-level sections read by later parts of qmon; they reach them as `QmonConfig.extra`."""

_PROMISE_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_WINDOW = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def did_you_mean(word: str, options: list[str] | tuple[str, ...] | dict[str, Any]) -> str:
    """A ` (did you mean 'x'?)` hint when one of `options` is close to `word`, else ""."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_days(key: str) -> tuple[int, ...]:
    """The weekdays (Monday = 0) named by a key like `mon-fri`, `sat` or `mon,wed,fri`.

    Raises:
        ValueError: for an unknown day, a range that wraps past Sunday, or a day named twice.
    """
    days: list[int] = []
    for part in key.lower().split(","):
        first, _, last = (end.strip() for end in part.partition("-"))
        for name in (first, last) if last else (first,):
            if name not in WEEKDAYS:
                where = f" in '{key}'" if name != key.strip().lower() else ""
                raise ValueError(
                    f"unknown day '{name}'{where}{did_you_mean(name, WEEKDAYS)}; "
                    f"days are {', '.join(WEEKDAYS)}"
                )
        start = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if last else start
        if end < start:
            rest = "mon" if end == 0 else f"mon-{last}"
            raise ValueError(
                f"day range '{part.strip()}' wraps past sunday; write '{first}-sun,{rest}'"
            )
        for day in range(start, end + 1):
            if day in days:
                raise ValueError(f"'{key}' names {WEEKDAYS[day]} twice")
            days.append(day)
    return tuple(days)


def parse_window(text: Any) -> tuple[int, int]:
    """An opening window "HH:MM-HH:MM" as seconds after local midnight; the end may be 24:00.

    Raises:
        ValueError: for another syntax, an impossible time, or a window that does not end
            after it starts (windows cannot cross midnight).
    """
    match = _WINDOW.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"window {text!r} is not like '09:00-17:00' (HH:MM-HH:MM)")
    sh, sm, eh, em = (int(group) for group in match.groups())
    start, end = (sh * 60 + sm) * 60, (eh * 60 + em) * 60
    if sh > 23 or sm > 59 or em > 59 or end > 86_400:
        raise ValueError(f"window '{text}' has a time that does not exist (the end may be 24:00)")
    if end <= start:
        raise ValueError(
            f"window '{text}' does not end after it starts; windows cannot cross midnight "
            "(split it at 24:00)"
        )
    return start, end


def _one_or_more(value: Any) -> Any:
    """Lets a single string stand for a list of one, as in `stop: quote.sent`."""
    return [value] if isinstance(value, str) else value


def _non_blank(what: str) -> AfterValidator:
    """A check that a string has more than white space; `what` names it in the message."""

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"{what} must not be empty")
        return value

    return AfterValidator(check)


def _day_key(key: str) -> str:
    parse_days(key)
    return key


def _at_least_one(value: list[str], info: ValidationInfo) -> list[str]:
    if not value:
        raise ValueError(f"'{info.field_name}' needs at least one event type")
    return value


def _duration(value: Any, info: ValidationInfo) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"'{info.field_name}' must be a duration like '24h' or '1h 30m'")
    return _bounded(parse_duration(str(value)), value)


def _bounded(us: int, value: Any) -> int:
    """A parsed duration, if it is one qmon can add to any instant it stores."""
    problem = duration_problem(us)
    if problem:
        raise ValueError(f"duration {str(value)!r} {problem}")
    return us


def _share(value: Any, info: ValidationInfo) -> float:
    """A share in (0, 1] from "95%" or 0.95; 95 is refused, as it is most likely 95%."""
    name = info.field_name
    if isinstance(value, str) and value.strip().endswith("%"):
        shown, hint = value.strip(), ""
        try:
            share = float(shown[:-1]) / 100
        except ValueError:
            raise ValueError(f"{name} '{value}' is not a percentage like '95%'") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        share, shown = float(value), f"{value:g}"
        hint = f" (did you mean {shown}%?)" if 1 < share <= 100 else ""
    else:
        given = f" {value!r}" if isinstance(value, str) else ""
        raise ValueError(f"{name}{given} must be a percentage like '95%' or a number like 0.95")
    if share > 1:
        raise ValueError(f"{name} {shown} is more than 100%{hint}")
    if not share > 0:  # also refuses nan
        raise ValueError(f"{name} {shown} must be more than 0%")
    return share


def _version(value: Any) -> int:
    if type(value) is int and value == 1:
        return 1
    if isinstance(value, str):
        raise ValueError(f"version must be the number 1, not the text {value!r}")
    raise ValueError(f"unsupported version {value!r}; this qmon reads files with 'version: 1'")


def _time_zone(name: str) -> str:
    zone(name)  # raises ValueError with a message that names the zone
    return name


def _database(url: str) -> str:
    if not _URL.match(url):  # never quoted: a URL may hold a password
        raise ValueError(
            "database must be a SQLAlchemy URL like sqlite:///qmon.db or "
            "postgresql+psycopg://user@host/qmon"
        )
    return url


def _promise_id(value: str) -> str:
    if not _PROMISE_ID.fullmatch(value):
        raise ValueError(
            f"promise id '{value}' must be lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return value


@cache
def _holiday_countries() -> tuple[str, ...]:
    """The `holidays` package's country codes, read from its registry: asking the package for
    its countries with their subdivisions imports every country's module (about 80 ms)."""
    from holidays.registry import EntityLoader

    return tuple(EntityLoader.get_country_codes())


def _subdivisions(country: str) -> list[str]:
    import holidays

    return list(getattr(holidays, country).subdivisions)


def _holiday_code(code: str) -> str:
    """A country code of the `holidays` package, with an optional subdivision ("DE-BY").

    Returns the code in the package's own spelling, as its subdivisions are case-sensitive.
    """
    countries = _holiday_countries()
    country, _, subdivision = (part.strip() for part in code.partition("-"))
    if country.upper() not in countries:
        raise ValueError(
            f"unknown holiday country '{country}'{did_you_mean(country.upper(), countries)}; "
            "use a country code of the holidays package, e.g. NL or DE-BY"
        )
    country = country.upper()
    if not subdivision:
        return country
    names = _subdivisions(country)
    known = {name.upper(): name for name in names}
    if subdivision.upper() not in known:
        listed = f"; {country} has {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}"
        hint = did_you_mean(subdivision, names) or (listed if names else "")
        raise ValueError(f"unknown subdivision '{subdivision}' of {country}{hint}")
    return f"{country}-{known[subdivision.upper()]}"


def _closed_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"closed date {value!r} is not a date like 2026-12-24 (YYYY-MM-DD)")


def _phases(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("phases must list at least one phase")
    return value


EventTypes = Annotated[
    list[Annotated[str, _non_blank("an event type")]],
    BeforeValidator(_one_or_more),
    AfterValidator(_at_least_one),
]
Phases = Annotated[list[Annotated[str, _non_blank("a phase")]], AfterValidator(_phases)]
Share = Annotated[float, BeforeValidator(_share)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
DayKey = Annotated[str, AfterValidator(_day_key)]
Windows = Annotated[
    list[Annotated[tuple[int, int], BeforeValidator(parse_window)]],
    BeforeValidator(_one_or_more),
]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Duration = Annotated[int, BeforeValidator(_duration)]
"""A duration like "24h" or "1h 30m", validated to microseconds."""


_BUSINESS_DAYS = re.compile(r"([0-9]+)\s+business\s+days?", re.IGNORECASE)


def _within(value: Any, info: ValidationInfo) -> ClockDuration | BusinessDays:
    """`within`: a duration ("24h") or a number of business days ("2 business days")."""
    if isinstance(value, str) and (match := _BUSINESS_DAYS.fullmatch(value.strip())):
        days = int(match.group(1))
        if days > 366:
            raise ValueError(f"'{info.field_name}' {value!r}: at most 366 business days")
        return BusinessDays(days)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(
            f"'{info.field_name}' must be a duration like '24h' or '1h 30m', "
            "or business days like '2 business days'"
        )
    return ClockDuration(_bounded(parse_duration(str(value)), value))


Within = Annotated[ClockDuration | BusinessDays, BeforeValidator(_within)]
"""`within`: a duration ("24h", "1h 30m") or "N business days"."""
