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


#: One event as callers give it: occurred_us, type, owner, channel, account.
SubjectEvent = tuple[int, str, str | None, str | None, str | None]
#: One event on the replay timeline: occurred_us, role, owner, channel, account.
_Step = tuple[int, Role, str | None, str | None, str | None]
_BY_TIME_THEN_ROLE = itemgetter(0, 1)


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
    timeline = [
        (e[0], roles[e[1]], e[2], e[3], e[4])
        for e in events
        if e[1] in roles and e[0] <= as_of_us
    ]
    return _replay(promise, subject_type, subject_id, timeline, as_of_us, detail)


def evaluate(
    promise: Promise,
    rows: Iterable[tuple[str, str, int, str, str | None, str | None, str | None]],
    as_of_us: int,
) -> Iterator[Instance]:
    """Evaluate a promise over rows grouped by subject (as `Store.role_events` yields them:
    only the promise's types, none after `as_of_us`)."""
    roles = promise.roles
    for (subject_type, subject_id), group in groupby(rows, key=_SUBJECT):
        timeline = [(r[2], roles[r[3]], r[4], r[5], r[6]) for r in group]
        yield from _replay(promise, subject_type, subject_id, timeline, as_of_us, False)


_SUBJECT = itemgetter(0, 1)


def _replay(
    promise: Promise,
    subject_type: str,
    subject_id: str,
    timeline: list[_Step],
    as_of_us: int,
    detail: bool,
) -> list[Instance]:
    """The state machine of README "Promise semantics", over one subject's timeline.

    This is the audit's hot loop: one flat function with local state, no per-event objects.
    """
    if len(timeline) > 1:
        timeline.sort(key=_BY_TIME_THEN_ROLE)
    clock = promise.clock
    within = promise.within_us
    warn_at = promise.warn_at
    out: list[Instance] = []
    is_open = paused = False
    started = since = elapsed = 0
    deadline: int | None = None
    owner = channel = account = None
    runs: list[ClockRun] | None = None

    for occurred, role, ev_owner, ev_channel, ev_account in timeline:
        if not is_open:
            if role != Role.START:
                continue
            is_open, paused = True, False
            started = since = occurred
            elapsed, deadline = 0, None
            owner, channel, account = ev_owner, ev_channel, ev_account
            runs = [] if detail else None
            continue
        owner = owner if owner is not None else ev_owner
        channel = channel if channel is not None else ev_channel
        account = account if account is not None else ev_account
        if role == Role.START:
            continue
        if role == Role.RESUME:
            if paused:
                if runs is not None and occurred > since:
                    runs.append(ClockRun(since, occurred, False))
                paused, since = False, occurred
            continue
        if role == Role.PAUSE and paused:
            continue
        # PAUSE of a running clock, or STOP: the clock ran (unless paused) until now.
        if paused:
            if runs is not None and occurred > since:
                runs.append(ClockRun(since, occurred, False))
        else:
            gained = clock.open_between(since, occurred)
            if deadline is None and elapsed + gained >= within:
                deadline = clock.advance(since, within - elapsed)
            elapsed += gained
            if runs is not None and occurred > since:
                runs.append(ClockRun(since, occurred, True))
        if role == Role.PAUSE:
            paused, since = True, occurred
            continue
        if deadline is None and not paused:
            deadline = clock.advance(occurred, within - elapsed)
        out.append(
            Instance(promise.id, promise.phase, subject_type, subject_id, len(out) + 1, started,
                     occurred, elapsed, "breached" if elapsed > within else "met", False, False,
                     deadline, owner, channel, account, runs or [])
        )
        is_open = False

    if is_open:
        if paused:
            if runs is not None and as_of_us > since:
                runs.append(ClockRun(since, as_of_us, False))
        else:
            gained = clock.open_between(since, as_of_us)
            if deadline is None and elapsed + gained >= within:
                deadline = clock.advance(since, within - elapsed)
            elapsed += gained
            if runs is not None and as_of_us > since:
                runs.append(ClockRun(since, as_of_us, True))
            if deadline is None:
                deadline = clock.advance(as_of_us, within - elapsed)
        over = elapsed > within
        at_risk = not over and warn_at is not None and elapsed >= warn_at * within
        out.append(
            Instance(promise.id, promise.phase, subject_type, subject_id, len(out) + 1, started,
                     None, elapsed, "breached" if over else "open", at_risk, paused, deadline,
                     owner, channel, account, runs or [])
        )
    return out
