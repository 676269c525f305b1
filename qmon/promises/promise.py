"""The runtime form of a promise, built from the validated YAML spec (see `qmon.config`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from qmon.promises.calendar import Clock


class Role(IntEnum):
    """The part an event type plays in a promise. The value is the order at equal instants."""

    START = 0
    PAUSE = 1
    RESUME = 2
    STOP = 3


@dataclass(frozen=True, slots=True)
class Promise:
    """A commitment: from a start event to a stop event within a time, on a clock.

    Attributes:
        id: unique id in the registry, e.g. `quote-24h`.
        title: human title shown in reports.
        phase: the journey phase it belongs to.
        roles: event type -> role; a type plays at most one role.
        within_us: the allowed elapsed time, in microseconds of the clock.
        clock: wall clock or a business calendar.
        calendar_name: name of the calendar in the config, or None for round the clock.
        objective: target compliance in [0, 1], or None.
        warn_at: share of `within` from which an open instance is at risk, or None.
    """

    id: str
    title: str
    phase: str
    roles: dict[str, Role]
    within_us: int
    clock: Clock
    calendar_name: str | None = None
    objective: float | None = None
    warn_at: float | None = None

    def types(self, role: Role | None = None) -> tuple[str, ...]:
        """The event types playing `role` (all roles when None), sorted for stable queries."""
        return tuple(sorted(t for t, r in self.roles.items() if role is None or r == role))
