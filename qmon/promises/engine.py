"""The compliance engine: a pure function of (promise, a subject's events, as-of instant).

No database, no clock reading, no I/O: the store feeds it rows, reports consume the
instances it yields. See README "Promise semantics" for the rules in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter

from qmon.promises.carry import decided_rows
from qmon.promises.instance import ClockRun, Decision, Instance, Status
from qmon.promises.promise import Promise, Role
from qmon.promises.replay import DecidedRow, attribute_names, replay

#: One event as callers give it: occurred_us, type, owner, channel, account.
SubjectEvent = tuple[int, str, str | None, str | None, str | None]
#: One event as the replay reads it (and `Store.role_events(promise.roles, ...)` yields it):
#: subject_type, subject_id, occurred_us, role, owner, channel, account.
RoleEvent = tuple[str, str, int, int, str | None, str | None, str | None]
_BY_TIME_THEN_ROLE = itemgetter(2, 3)
_START, _PAUSE, _RESUME = int(Role.START), int(Role.PAUSE), int(Role.RESUME)


def general(promise: Promise, extra: Sequence[str] = ()) -> bool:
    """Whether evaluating `promise` (reading `extra` attributes too) takes the general path,
    fed with `DecidedRow`s (`Store.promise_events` gives the rows each path needs)."""
    return not promise.plain or bool(extra)


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
    if general(promise):  # only owner, channel and account are given: no other attributes
        carried = [(e[0], e[1], "", e[2], e[3], e[4], None) for e in events]
        rows = decided_rows(promise, attribute_names(promise), subject_type, subject_id,
                            carried, as_of_us)  # fmt: skip
        return list(replay(promise, rows, as_of_us, detail=detail))
    roles = promise.roles
    timeline = [
        (subject_type, subject_id, e[0], roles[e[1]], e[2], e[3], e[4])
        for e in events
        if e[1] in roles and e[0] <= as_of_us
    ]
    timeline.sort(key=_BY_TIME_THEN_ROLE)
    return list(_replay(promise, timeline, as_of_us, detail))


def evaluate(
    promise: Promise,
    rows: Iterable[RoleEvent] | Iterable[DecidedRow],
    as_of_us: int,
    *,
    detail: bool = False,
    extra: Sequence[str] = (),
) -> Iterator[Instance]:
    """Evaluate a promise over rows as `Store.promise_events(promise, as_of_us, extra=...)`
    yields them, each subject's rows together.

    On the fast path (`general` is false) those are `RoleEvent`s: only the promise's types,
    none after `as_of_us`, in time order, and at equal instants in role order (start,
    pause, resume, stop). On the general path they are `DecidedRow`s, in the same order, with
    the attributes read at the instants that decide; `extra` attributes are read too, into
    `Instance.values`.
    """
    if general(promise, extra):
        return replay(promise, rows, as_of_us, detail=detail, extra=extra)  # type: ignore[arg-type]
    return _replay(promise, rows, as_of_us, detail)  # type: ignore[arg-type]


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
    assert within is not None
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
                       owner, channel, account, runs or [], within)
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
    assert within is not None
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
                    owner, channel, account, runs or [], within)


__all__ = ["ClockRun", "DecidedRow", "Decision", "Instance", "RoleEvent", "Status",
           "SubjectEvent", "evaluate", "evaluate_subject", "general"]  # fmt: skip
