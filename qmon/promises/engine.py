"""The compliance engine: a pure function of (promise, a subject's events, as-of instant).

No database, no clock reading, no I/O: the store feeds it rows, reports consume the
instances it yields. See README "Promise semantics" for the rules in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
#: One event as the replay reads it (and `Store.role_events(promise.roles, ...)` yields it):
#: subject_type, subject_id, occurred_us, role, owner, channel, account.
RoleEvent = tuple[str, str, int, int, str | None, str | None, str | None]
_BY_TIME_THEN_ROLE = itemgetter(2, 3)
_START, _PAUSE, _RESUME = int(Role.START), int(Role.PAUSE), int(Role.RESUME)


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
        (subject_type, subject_id, e[0], roles[e[1]], e[2], e[3], e[4])
        for e in events
        if e[1] in roles and e[0] <= as_of_us
    ]
    timeline.sort(key=_BY_TIME_THEN_ROLE)
    return list(_replay(promise, timeline, as_of_us, detail))


def evaluate(promise: Promise, rows: Iterable[RoleEvent], as_of_us: int) -> Iterator[Instance]:
    """Evaluate a promise over rows as `Store.role_events(promise.roles, as_of_us)` yields
    them: only the promise's types, none after `as_of_us`, each subject's rows together and
    in time order, and at equal instants in role order (start, pause, resume, stop)."""
    return _replay(promise, rows, as_of_us, False)


def _replay(
    promise: Promise, rows: Iterable[RoleEvent], as_of_us: int, detail: bool
) -> Iterator[Instance]:
    """The state machine of README "Promise semantics", over subjects' timelines in a row.

    This is the audit's hot loop: one flat loop with local state over the whole stream, no
    per-subject calls and no per-event objects. A new subject shows as a new (subject_type,
    subject_id); the instance left open by the previous one is then finished as of as-of.
    """
    clock = promise.clock
    within = promise.within_us
    pid, phase = promise.id, promise.phase
    cur_type = cur_id = None
    cycle = 0
    is_open = paused = False
    started = since = elapsed = 0
    deadline: int | None = None
    owner = channel = account = None
    runs: list[ClockRun] | None = None

    for subject_type, subject_id, occurred, role, ev_owner, ev_channel, ev_account in rows:
        if subject_id != cur_id or subject_type != cur_type:
            if is_open:
                yield _still_open(promise, cur_type, cur_id, cycle + 1, started, since, elapsed,
                                  deadline, paused, owner, channel, account, runs, as_of_us)
                is_open = False
            cur_type, cur_id, cycle = subject_type, subject_id, 0
        if not is_open:
            if role != _START:
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
        if role == _START:
            continue
        if role == _RESUME:
            if paused:
                if runs is not None and occurred > since:
                    runs.append(ClockRun(since, occurred, False))
                paused, since = False, occurred
            continue
        if role == _PAUSE and paused:
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
        if role == _PAUSE:
            paused, since = True, occurred
            continue
        if deadline is None and not paused:
            deadline = clock.advance(occurred, within - elapsed)
        cycle += 1
        yield Instance(pid, phase, subject_type, subject_id, cycle, started, occurred, elapsed,
                       "breached" if elapsed > within else "met", False, False, deadline,
                       owner, channel, account, runs or [])
        is_open = False

    if is_open:
        yield _still_open(promise, cur_type, cur_id, cycle + 1, started, since, elapsed,
                          deadline, paused, owner, channel, account, runs, as_of_us)


def _still_open(
    promise: Promise,
    subject_type: str,
    subject_id: str,
    cycle: int,
    started: int,
    since: int,
    elapsed: int,
    deadline: int | None,
    paused: bool,
    owner: str | None,
    channel: str | None,
    account: str | None,
    runs: list[ClockRun] | None,
    as_of_us: int,
) -> Instance:
    """The instance still open at the end of its subject's timeline, as of `as_of_us`."""
    clock = promise.clock
    within = promise.within_us
    warn_at = promise.warn_at
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
    return Instance(promise.id, promise.phase, subject_type, subject_id, cycle, started, None,
                    elapsed, "breached" if over else "open", at_risk, paused, deadline,
                    owner, channel, account, runs or [])
