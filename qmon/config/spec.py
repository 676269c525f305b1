"""The configuration file as written: strict pydantic models, one per kind of mapping.

Each model forbids unknown keys, so a typo is an error instead of a silently ignored setting.
Values that have a small syntax of their own (durations, percentages, day keys, opening
windows, holiday codes) are parsed here, so their messages say exactly what is wrong with the
one value. Checks that need more than one value (a phase that must exist, a day covered twice,
a type in two roles) live in `qmon.config.loader`, which also locates every problem.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator

from qmon.config.fields import (  # re-exported: the names other modules know spec by
    DEFAULT_TIMEZONE,
    WEEKDAYS,
    DayKey,
    Duration,
    EventTypes,
    Phases,
    Share,
    Strict,
    TimeZoneName,
    Windows,
    Within,
    _closed_date,
    _database,
    _holiday_code,
    _non_blank,
    _promise_id,
    _version,
    did_you_mean,
    parse_days,
    parse_window,
)
from qmon.config.model import DEFAULT_DATABASE, DEFAULT_PHASES
from qmon.config.sections import (
    EmailSpec,
    ImportsSpec,
    NotifySpec,
    ScheduleSpec,
    SlackSpec,
    WebhookSpec,
)
from qmon.config.serve_spec import ServeSpec
from qmon.config.writeback_spec import WritebackSpec
from qmon.promises.conditions import (
    Condition,
    DeadlineAttribute,
    Match,
    normalise,
)

EXTRA_SECTIONS: tuple[str, ...] = (
    "notify",
    "schedule",
    "language",
    "imports",
    "writeback",
    "serve",
)
"""Top-level sections read by later parts of qmon; they reach them as `QmonConfig.extra`."""

__all__ = [
    "WEEKDAYS",
    "Duration",
    "EmailSpec",
    "NotifySpec",
    "ScheduleSpec",
    "Share",
    "SlackSpec",
    "Strict",
    "WebhookSpec",
    "did_you_mean",
    "parse_days",
    "parse_window",
]


class CalendarSpec(Strict):
    """`calendars.<name>`: when the clock runs for promises on this calendar."""

    timezone: TimeZoneName | None = None  # None: the file's `timezone`
    hours: dict[DayKey, Windows]
    holidays: list[Annotated[str, AfterValidator(_holiday_code)]] = []
    closed: list[Annotated[date, BeforeValidator(_closed_date)]] = []


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
        raise ValueError("when must be a mapping of attribute to value(s), like {priority: urgent}")
    matches = []
    for attribute, expected in value.items():
        if not isinstance(attribute, str) or not attribute.strip():
            raise ValueError("when: an attribute name must be text")
        if isinstance(expected, dict):
            if set(expected) != {"not"}:
                other = next((str(k) for k in expected if k != "not"), "")
                raise ValueError(
                    f"when: '{attribute}' takes a value, a list, or {{not: value(s)}}; "
                    + (
                        f"unknown key '{other}'{did_you_mean(other, ['not'])}"
                        if other
                        else "'not' has no value"
                    )
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
    writeback: WritebackSpec | None = None
    serve: ServeSpec | None = None

    def extra(self) -> dict[str, Any]:
        """The sections for later parts of qmon that the file sets."""
        return {name: getattr(self, name) for name in EXTRA_SECTIONS if getattr(self, name)}
