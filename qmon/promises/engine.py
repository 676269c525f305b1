"""The compliance engine: a pure function of (promise, a subject's events, as-of instant).

No database, no clock reading, no I/O: the store feeds it rows, reports consume the
instances it yields. See README "Promise semantics" for the rules in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Literal

from qmon.promises.promise import Promise, Role

Status = Literal["met", "breached", "open"]


@dataclass(frozen=True, slots=True)
class ClockRun:
    """A stretch of an instance's life: the clock `running` or `paused`."""

    start_us: int
    end_us: int
    running: bool


@dataclass(slots=True)
class Instance:
    """One cycle of a promise for one subject: from its start event to its stop (or as-of).

    `cycle` counts the subject's instances of this promise from 1, so (promise, subject, cycle)
    names an instance across evaluations. `deadline_us` is the instant at which the clock
    reaches `within` given the pauses known so far (None while paused before reaching it).
    Owner, channel and account come from the start event, or where it has none from the
    first later event of the cycle that has one.
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


#: One event as the engine sees it: occurred_us, type, owner, channel, account.
SubjectEvent = tuple[int, str, str | None, str | None, str | None]


class _Open:
    """The mutable state of an instance while its subject's events are replayed."""

    __slots__ = ("started", "since", "elapsed", "paused", "deadline", "ctx", "runs")

    def __init__(self, started: int, ctx: list[str | None]) -> None:
        self.started = started
        self.since = started
        self.elapsed = 0
        self.paused = False
        self.deadline: int | None = None
        self.ctx = ctx
        self.runs: list[ClockRun] | None = None


def evaluate_subject(
    promise: Promise,
    subject_type: str,
    subject_id: str,
    events: Iterable[SubjectEvent],
    as_of_us: int,
    *,
    detail: bool = False,
) -> list[Instance]:
    """Replay one subject's events and return its instances of `promise`, oldest first.

    Events of types the promise does not use, and events after `as_of_us`, are ignored.
    At equal instants, start comes before pause before resume before stop. With
    `detail=True` each instance also records its clock runs (for `qmon explain`).
    """
    roles = promise.roles
    clock = promise.clock
    within = promise.within_us
    ordered = sorted(
        (e for e in events if e[1] in roles and e[0] <= as_of_us),
        key=lambda e: (e[0], roles[e[1]]),
    )
    out: list[Instance] = []
    cur: _Open | None = None

    def run_until(state: _Open, end: int) -> None:
        """Let the clock run from `state.since` to `end`; note when it reaches `within`."""
        gained = clock.open_between(state.since, end)
        if state.deadline is None and state.elapsed + gained >= within:
            state.deadline = clock.advance(state.since, within - state.elapsed)
        state.elapsed += gained
        if state.runs is not None and end > state.since:
            state.runs.append(ClockRun(state.since, end, True))

    def close(state: _Open, stopped: int | None) -> None:
        end = as_of_us if stopped is None else stopped
        if not state.paused:
            run_until(state, end)
        elif state.runs is not None and end > state.since:
            state.runs.append(ClockRun(state.since, end, False))
        elapsed = state.elapsed
        deadline = state.deadline
        if deadline is None and not state.paused:
            deadline = clock.advance(end, within - elapsed)
        if elapsed > within:
            status: Status = "breached"
        elif stopped is not None:
            status = "met"
        else:
            status = "open"
        at_risk = (
            status == "open" and promise.warn_at is not None and elapsed >= promise.warn_at * within
        )
        out.append(
            Instance(
                promise_id=promise.id,
                phase=promise.phase,
                subject_type=subject_type,
                subject_id=subject_id,
                cycle=len(out) + 1,
                started_us=state.started,
                stopped_us=stopped,
                elapsed_us=elapsed,
                status=status,
                at_risk=at_risk,
                paused=state.paused and stopped is None,
                deadline_us=deadline,
                owner=state.ctx[0],
                channel=state.ctx[1],
                account=state.ctx[2],
                runs=state.runs or [],
            )
        )

    for occurred, etype, owner, channel, account in ordered:
        role = roles[etype]
        if cur is not None:
            for i, value in enumerate((owner, channel, account)):
                if value is not None and cur.ctx[i] is None:
                    cur.ctx[i] = value
        if role == Role.START:
            if cur is None:
                cur = _Open(occurred, [owner, channel, account])
                if detail:
                    cur.runs = []
        elif cur is None:
            continue
        elif role == Role.PAUSE:
            if not cur.paused:
                run_until(cur, occurred)
                cur.paused = True
                cur.since = occurred
        elif role == Role.RESUME:
            if cur.paused:
                if cur.runs is not None and occurred > cur.since:
                    cur.runs.append(ClockRun(cur.since, occurred, False))
                cur.paused = False
                cur.since = occurred
        else:  # STOP
            close(cur, occurred)
            cur = None
    if cur is not None:
        close(cur, None)
    return out


def evaluate(
    promise: Promise,
    rows: Iterable[tuple[str, str, int, str, str | None, str | None, str | None]],
    as_of_us: int,
) -> Iterator[Instance]:
    """Evaluate a promise over rows grouped by subject (as `Store.role_events` yields them)."""
    for (subject_type, subject_id), group in groupby(rows, key=itemgetter(0, 1)):
        events = [(r[2], r[3], r[4], r[5], r[6]) for r in group]
        yield from evaluate_subject(promise, subject_type, subject_id, events, as_of_us)
