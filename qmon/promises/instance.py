"""What the engine yields: instances of a promise, with their clock and how they were decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Status = Literal["met", "breached", "open", "not_evaluated"]


@dataclass(frozen=True, slots=True)
class ClockRun:
    """A stretch of an instance's life: the clock `running` or `paused`."""

    start_us: int
    end_us: int
    running: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """How an instance's allowance was decided (for `qmon explain`).

    `at_us` is the decision instant (the start, or with `retarget` the stop or as-of);
    `values` the attributes the promise reads, as they were then (None: not carried).
    For business days, `day0` and the nominal deadline; for a deadline attribute, the
    promised instant.
    """

    at_us: int
    values: dict[str, str | None]
    day0: date | None = None
    nominal_us: int | None = None
    promised_us: int | None = None


@dataclass(slots=True)
class Instance:
    """One cycle of a promise for one subject: from its start event to its stop (or as-of).

    `cycle` counts the subject's cycles of this promise from 1, so (promise, subject, cycle)
    names an instance across evaluations. `allowed_us` is its allowance on the promise's
    clock (negative when a promised instant lies before the start); `deadline_us` the instant
    at which the clock reaches it given the pauses known so far (None while paused before
    reaching it). `target` is the index of the `targets` entry that applied (None without
    targets). A `not_evaluated` instance (its deadline attribute missing or unparseable) has
    no allowance, deadline or target, and a `reason`. Owner, channel and account come from
    the start event, or where it has none from the first later event of the cycle that has
    one.
    """

    promise_id: str
    phase: str
    subject_type: str
    subject_id: str
    cycle: int
    started_us: int
    stopped_us: int | None
    elapsed_us: int
    status: Status
    at_risk: bool
    paused: bool
    deadline_us: int | None
    owner: str | None = None
    channel: str | None = None
    account: str | None = None
    runs: list[ClockRun] = field(default_factory=list)
    allowed_us: int | None = None
    target: int | None = None
    reason: str | None = None
    decision: Decision | None = None
    #: the attributes the promise reads, at the decision instant (for breakdowns by them)
    values: dict[str, str | None] | None = None
