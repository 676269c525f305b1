"""The configuration file as written: strict pydantic models, one per kind of mapping.

Each model forbids unknown keys, so a typo is an error instead of a silently ignored setting.
Values that have a small syntax of their own (durations, percentages, day keys, opening
windows, holiday codes) are parsed here, so their messages say exactly what is wrong with the
one value. Checks that need more than one value (a phase that must exist, a day covered twice,
a type in two roles) live in `qmon.config.loader`, which also locates every problem.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from qmon.config.model import DEFAULT_DATABASE, DEFAULT_PHASES
from qmon.promises.conditions import (
    BusinessDays,
    Condition,
    DeadlineAttribute,
    Match,
    normalise,
)
from qmon.promises.conditions import Duration as ClockDuration
from qmon.promises.duration import parse_duration
from qmon.timeutil import duration_problem, zone
from qmon.urls import outbound_url

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Europe/Amsterdam"
EXTRA_SECTIONS: tuple[str, ...] = ("notify", "schedule", "language", "imports")
"""Top-level sections read by later parts of qmon; they reach them as `QmonConfig.extra`."""

_PROMISE_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
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


class CalendarSpec(Strict):
    """`calendars.<name>`: when the clock runs for promises on this calendar."""

    timezone: TimeZoneName | None = None  # None: the file's `timezone`
    hours: dict[DayKey, Windows]
    holidays: list[Annotated[str, AfterValidator(_holiday_code)]] = []
    closed: list[Annotated[date, BeforeValidator(_closed_date)]] = []


_BUSINESS_DAYS = re.compile(r"(\d+)\s+business\s+days?", re.IGNORECASE)


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

_SCALAR = str | int | float


def _when_values(attribute: str, value: Any) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"when: '{attribute}' lists no values")
    out = []
    for item in values:
        if isinstance(item, bool):
            item = "true" if item else "false"
        if not isinstance(item, _SCALAR) or isinstance(item, dict | list):
            raise ValueError(
                f"when: '{attribute}' must be a value, a list of values or {{not: ...}}, "
                f"not {type(item).__name__}"
            )
        out.append(normalise(str(item)))
    return frozenset(out)


def _when(value: Any) -> Condition:
    """`when: {priority: urgent, channel: [email, web], tier: {not: lost}}` as a Condition."""
    if not isinstance(value, dict) or not value:
        raise ValueError(
            "when must be a mapping of attribute to value(s), like {priority: urgent}"
        )
    matches = []
    for attribute, expected in value.items():
        if not isinstance(attribute, str) or not attribute.strip():
            raise ValueError("when: an attribute name must be text")
        if isinstance(expected, dict):
            if set(expected) != {"not"}:
                other = next((str(k) for k in expected if k != "not"), "")
                raise ValueError(
                    f"when: '{attribute}' takes a value, a list, or {{not: value(s)}}; "
                    + (f"unknown key '{other}'{did_you_mean(other, ['not'])}" if other
                       else "'not' has no value")
                )
            matches.append(Match(attribute, _when_values(attribute, expected["not"]), True))
        else:
            matches.append(Match(attribute, _when_values(attribute, expected)))
    return Condition(tuple(matches))


When = Annotated[Condition, BeforeValidator(_when)]


class TargetSpec(Strict):
    """One entry of `targets`: the first whose `when` matches applies; none: the default."""

    when: When | None = None
    within: Within


class DeadlineSpec(Strict):
    """`deadline: {attribute: promised_date}`: the promised instant comes from the record."""

    attribute: Annotated[str, _non_blank("attribute")]

    def allowance(self) -> DeadlineAttribute:
        return DeadlineAttribute(self.attribute.strip())


class PromiseSpec(Strict):
    """One entry of `promises`; durations are already in microseconds.

    Exactly one of `within`, `targets` and `deadline` (checked, with lines, by the loader).
    """

    id: Annotated[str, AfterValidator(_promise_id)]
    title: Annotated[str, _non_blank("title")] | None = None  # None: the id
    phase: str
    start: EventTypes
    stop: EventTypes
    pause: EventTypes | None = None
    resume: EventTypes | None = None
    until: EventTypes | None = None
    within: Within | None = None
    targets: Annotated[list[TargetSpec], AfterValidator(lambda v: v or None)] | None = None
    deadline: DeadlineSpec | None = None
    when: When | None = None
    retarget: bool = False
    repeat: bool = False
    calendar: str | None = None  # None: round the clock
    objective: Share | None = None
    warn_at: Share | None = None


# --- The agent: where alerts and reports go, and when it acts ---------------------------------

_WEEKLY = re.compile(r"([a-z]{3})\s+(\d{1,2}):(\d{2})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _weekly_time(value: str) -> tuple[int, int, int]:
    """`"mon 08:00"` as (weekday, hour, minute); Monday is 0."""
    match = _WEEKLY.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"weekly_report {value!r} is not like 'mon 08:00' (day HH:MM)")
    day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
    if day not in WEEKDAYS:
        raise ValueError(f"unknown day '{day}'{did_you_mean(day, WEEKDAYS)}")
    if hour > 23 or minute > 59:
        raise ValueError(f"weekly_report '{value}' has a time that does not exist")
    return WEEKDAYS.index(day), hour, minute


def _address(value: str) -> str:
    if not _EMAIL.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.strip()


Address = Annotated[str, AfterValidator(_address)]


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be more than zero")
    return value


class SlackRoute(Strict):
    """`notify.slack.routes[]`: alerts of a phase and/or promise go to another channel."""

    phase: str | None = None
    promise: str | None = None
    channel: str

    @model_validator(mode="after")
    def _selects_something(self) -> SlackRoute:
        if self.phase is None and self.promise is None:
            raise ValueError("a route needs 'phase' or 'promise' (or both) besides 'channel'")
        return self


def _slack_base_url(value: str) -> str:
    outbound_url(value, "base_url", "https://slack.com/api/")
    return value.strip()


def _webhook_url(value: SecretStr) -> SecretStr:
    outbound_url(value.get_secret_value(), "the webhook url", "https://example.com/h", show=False)
    return value


class SlackSpec(Strict):
    """`notify.slack`: a bot token with chat:write, and where alerts go."""

    token: SecretStr | None = None
    token_file: str | None = None
    channel: str
    base_url: Annotated[str, AfterValidator(_slack_base_url)] = "https://slack.com/api/"
    routes: list[SlackRoute] = []
    quiet_hours: str | None = None  # a calendar name
    digest_over: Annotated[int, AfterValidator(_positive)] = 10

    @model_validator(mode="after")
    def _one_token(self) -> SlackSpec:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("slack needs exactly one of 'token' or 'token_file'")
        return self


class SmtpSpec(Strict):
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    timeout: Duration = 30_000_000


class EmailSpec(Strict):
    """`notify.email`: the weekly report by SMTP."""

    smtp: SmtpSpec
    sender: Address = Field(alias="from")
    to: Annotated[list[Address], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class WebhookSpec(Strict):
    """`notify.webhook`: a generic JSON webhook (e.g. Microsoft Teams); the URL is a secret."""

    url: Annotated[SecretStr, AfterValidator(_webhook_url)]


class NotifySpec(Strict):
    slack: SlackSpec | None = None
    email: EmailSpec | None = None
    webhook: WebhookSpec | None = None


class ScheduleSpec(Strict):
    """`schedule`: how often the agent syncs and checks, and when the weekly report goes."""

    sync: Duration = 15 * 60_000_000
    check: Duration = 5 * 60_000_000
    weekly_report: Annotated[tuple[int, int, int], BeforeValidator(_weekly_time)] = (0, 8, 0)


class ImportsSpec(Strict):
    """`imports`: what `qmon import` keeps of a file's columns besides the core ones.

    By default only the attributes qmon itself reads (`qmon.events.USED_ATTRIBUTES`); a
    column named here is kept too. Anything else (a note, a message body) is dropped as the
    file is read and never stored.
    """

    attributes: list[Annotated[str, StringConstraints(min_length=1)]] = []


class QmonSpec(Strict):
    """The whole file.

    A section left empty (`promises:` with every entry commented out) counts as absent.
    """

    version: Annotated[int, BeforeValidator(_version)]
    database: Annotated[str, AfterValidator(_database)] = DEFAULT_DATABASE
    timezone: TimeZoneName = DEFAULT_TIMEZONE
    phases: Phases = list(DEFAULT_PHASES)
    calendars: Annotated[
        dict[str, CalendarSpec], BeforeValidator(lambda v: {} if v is None else v)
    ] = {}
    promises: Annotated[list[PromiseSpec], BeforeValidator(lambda v: [] if v is None else v)] = []
    language: Literal["nl", "en"] | None = None
    sources: dict[str, Any] | None = None  # each entry validated by its kind's model
    mappings: dict[str, Any] | None = None
    notify: NotifySpec | None = None
    schedule: ScheduleSpec | None = None
    imports: ImportsSpec | None = None

    def extra(self) -> dict[str, Any]:
        """The sections for later parts of qmon that the file sets."""
        return {name: getattr(self, name) for name in EXTRA_SECTIONS if getattr(self, name)}
