"""The runtime form of a promise, built from the validated YAML spec (see `qmon.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from zoneinfo import ZoneInfo

from qmon.promises.calendar import Clock
from qmon.promises.conditions import (
    Allowance,
    BusinessDays,
    Condition,
    DeadlineAttribute,
    Duration,
    Target,
)


class Role(IntEnum):
    """The part an event type plays in a promise. The value is the order at equal instants;
    `UNTIL` (a repeating promise's `until`) ranks like `STOP`."""

    START = 0
    PAUSE = 1
    RESUME = 2
    STOP = 3
    UNTIL = 4

    @property
    def rank(self) -> int:
        return min(int(self), int(Role.STOP))


_UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Promise:
    """A commitment: from a start event to a stop event within an allowance, on a clock.

    Attributes:
        id: unique id in the registry, e.g. `quote-24h`.
        title: human title shown in reports.
        phase: the journey phase it belongs to.
        roles: event type -> role; a type plays at most one role.
        within_us: the allowed time in microseconds of the clock when the promise has one
            plain duration (`within: 24h`, no `targets`), else None: read an instance's
            own `allowed_us` instead.
        clock: wall clock or a business calendar.
        calendar_name: name of the calendar in the config, or None for round the clock.
        objective: target compliance in [0, 1], or None.
        warn_at: share of the allowance from which an open instance is at risk, or None.
        allowance: `within` (a duration or business days) or `deadline`; None with targets.
        targets: the `targets` entries in order (empty without them).
        when: the promise-level condition, or None.
        retarget: read `when`, the target and the deadline attribute at the cycle's stop
            (or as-of) instead of its start.
        repeat: a stop also opens the next instance; `until` types close without opening.
        timezone: the zone in which a promised date (`YYYY-MM-DD`) ends: the calendar's, or
            the config's.
    """

    id: str
    title: str
    phase: str
    roles: dict[str, Role]
    within_us: int | None
    clock: Clock
    calendar_name: str | None = None
    objective: float | None = None
    warn_at: float | None = None
    allowance: Allowance | None = None
    targets: tuple[Target, ...] = ()
    when: Condition | None = None
    retarget: bool = False
    repeat: bool = False
    timezone: ZoneInfo = field(default=_UTC)

    def __post_init__(self) -> None:
        if self.allowance is None and not self.targets:
            if self.within_us is None:
                raise ValueError(f"promise {self.id!r} needs within, targets or deadline")
            object.__setattr__(self, "allowance", Duration(self.within_us))

    def types(self, role: Role | None = None) -> tuple[str, ...]:
        """The event types playing `role` (all roles when None), sorted for stable queries."""
        return tuple(sorted(t for t, r in self.roles.items() if role is None or r == role))

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attributes its `when`, targets and deadline read, sorted."""
        names: set[str] = set(self.when.attributes if self.when else ())
        for target in self.targets:
            names.update(target.when.attributes if target.when else ())
        if isinstance(self.allowance, DeadlineAttribute):
            names.add(self.allowance.attribute)
        return tuple(sorted(names))

    @property
    def plain(self) -> bool:
        """One duration for every cycle, nothing to read but the start and stop events: the
        engine's fast path."""
        return self.within_us is not None and self.when is None and not self.repeat

    def describe_allowance(self) -> str:
        """`within 24h 00m`, `within 2 business days`, `by its promised_date`, or the
        targets in a row (`within 1h 00m / 4h 00m / 8h 00m`)."""
        if self.targets:
            return "within " + " / ".join(t.within.describe() for t in self.targets)
        assert self.allowance is not None
        if isinstance(self.allowance, DeadlineAttribute):
            return self.allowance.describe()
        return "within " + self.allowance.describe()

    def fingerprint(self) -> list[object]:
        """Everything that decides its instances, for "have the promises changed?"."""
        return [
            self.id, self.phase, sorted((t, int(r)) for t, r in self.roles.items()),
            repr(self.allowance), repr(self.targets), repr(self.when), self.retarget,
            self.repeat, self.calendar_name, self.warn_at, self.timezone.key,
        ]  # fmt: skip


__all__ = ["BusinessDays", "DeadlineAttribute", "Duration", "Promise", "Role", "Target"]
