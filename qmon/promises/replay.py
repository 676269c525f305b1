"""The engine's general path: promises that read attributes, have targets, business days, a
deadline from the record, or repeat.

The events of the promise's types form cycles exactly as for a plain promise (README "Promise
semantics"); each cycle is then decided at its decision instant: whether it is an instance at
all (the promise's `when`, a matching target), and its allowance. The clock is then counted as
for a plain promise with that allowance.

The rows are the role events with the attributes already read at the instants that decide
(`DecidedRow`: `Store.promise_events` looks them up in SQL, `qmon.promises.carry` in memory),
so the replay is one flat loop over the stream, like the plain path's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from qmon.promises.conditions import (
    BusinessDays,
    DeadlineAttribute,
    Duration,
    parse_promised,
)
from qmon.promises.instance import ClockRun, Decision, Instance
from qmon.promises.promise import Promise, Role

#: One role event as the general path reads it: subject_type, subject_id, occurred_us, role
#: (`Role` as an int), owner, channel, account, then the values of the attributes read (in
#: `attribute_names` order) at the row's instant and (with `retarget`) at as-of, each as
#: `decided_key` packs them; None on rows that decide nothing (`decision_roles`). Each
#: subject's rows come together, in time order, at one instant in role order (until like
#: stop), then in id order.
DecidedRow = tuple[str, str, int, int, str | None, str | None, str | None, Any, Any]

#: A promised instant further than this from the start is taken as a data error.
PROMISED_HORIZON_US = 3_660 * 86_400 * 1_000_000
#: Distinct attribute values whose choice (`_choose`) a replay remembers; a CRM with more
#: distinct combinations just chooses again.
CHOICES_KEPT = 4096
_START, _PAUSE, _RESUME, _STOP = int(Role.START), int(Role.PAUSE), int(Role.RESUME), int(Role.STOP)


def attribute_names(promise: Promise, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The attributes a replay reads: the promise's, then `extra` (for a breakdown)."""
    return tuple(dict.fromkeys((*promise.attributes, *extra)))


def decided_key(values: Sequence[str | None]) -> str | None:
    """Attribute values (None: not carried) as one column: the value itself when there is
    one name, else a JSON array (so equal values give equal keys, which a replay remembers
    its choice by)."""
    if len(values) == 1:
        return values[0]
    return json.dumps(list(values), separators=(",", ":")) if values else None


def decision_roles(promise: Promise) -> tuple[frozenset[Role], frozenset[Role]]:
    """The roles of the rows that carry the values at their own instant, and of those that
    carry the values at as-of (none without `retarget`).

    Without `retarget` a cycle is decided at its start: on the start rows (with `repeat` a
    stop opens the next cycle, so on the stop rows too). With `retarget` it is decided at its
    stop (stop and until rows), or at as-of while open (on the row that opened it)."""
    opening = {Role.START, Role.STOP} if promise.repeat else {Role.START}
    if not promise.retarget:
        return frozenset(opening), frozenset()
    return frozenset({Role.STOP, Role.UNTIL}), frozenset(opening)


def replay(
    promise: Promise,
    rows: Iterable[DecidedRow],
    as_of_us: int,
    *,
    detail: bool = False,
    extra: Sequence[str] = (),
) -> Iterator[Instance]:
    """Instances of `promise` from decided rows, each subject's together.

    `extra` names further attributes read at each decision instant (for a breakdown by them),
    kept in `Instance.values`. With `detail=True` each instance also records its clock runs
    and how it was decided (for `qmon explain`).
    """
    names = attribute_names(promise, extra)
    retarget, repeat = promise.retarget, promise.repeat
    finish = _Finisher(promise, names, as_of_us, detail)
    choices, choose = finish.choices, finish.choose
    pid, phase, clock = promise.id, promise.phase, promise.clock
    cur_type = cur_id = None
    number = 0
    is_open = paused = False
    started = since = 0
    runs: list[tuple[int, int, bool]] | None = None
    decided: Any = None
    owner = channel = account = None
    #: without retarget, what the open cycle's start decided: (choice, values, allowance
    #: when it is a plain positive duration, else None)
    entry: tuple[Any, dict, int | None] = (None, {}, None)

    for subject_type, subject_id, occurred, role, ev_owner, ev_channel, ev_account, at_key, \
            as_of_key in rows:
        if subject_id != cur_id or subject_type != cur_type:
            if is_open:
                inst = finish(cur_type, cur_id, number + 1, started, None, as_of_us, runs,
                              since, paused, decided, owner, channel, account)  # fmt: skip
                if inst is not None:
                    yield inst
                is_open = False
            cur_type, cur_id, number = subject_type, subject_id, 0
        if not is_open:
            if role != _START:
                continue
            is_open, paused, started, since, runs = True, False, occurred, occurred, None
            owner, channel, account = ev_owner, ev_channel, ev_account
            if retarget:
                decided = as_of_key
            else:
                decided = at_key
                entry = choices.get(decided) or choose(decided)
            continue
        if owner is None:
            owner = ev_owner
        if channel is None:
            channel = ev_channel
        if account is None:
            account = ev_account
        if role == _START:
            continue
        if role == _RESUME:
            if paused:
                runs.append((since, occurred, False))  # type: ignore[union-attr]
                paused, since = False, occurred
            continue
        if role == _PAUSE:
            if not paused:
                if runs is None:
                    runs = []
                runs.append((since, occurred, True))
                paused, since = True, occurred
            continue
        # a stop (or an until): the cycle ends here
        number += 1
        allowed = entry[2]
        if retarget:
            decided = at_key
            inst = finish(subject_type, subject_id, number, started, occurred, occurred, runs,
                          since, paused, decided, owner, channel, account)  # fmt: skip
        elif runs is None and allowed is not None:  # `_Finisher`'s common case, inlined
            elapsed = clock.open_between(started, occurred)
            inst = Instance(pid, phase, subject_type, subject_id, number, started, occurred,
                            elapsed, "breached" if elapsed > allowed else "met", False, False,
                            clock.advance(started, allowed) if elapsed >= allowed
                            else clock.advance(occurred, allowed - elapsed),
                            owner, channel, account, [], allowed, entry[0][0], None, None,
                            entry[1])  # fmt: skip
        elif entry[0] is None:
            inst = None
        else:
            inst = finish(subject_type, subject_id, number, started, occurred, occurred, runs,
                          since, paused, decided, owner, channel, account)  # fmt: skip
        if inst is not None:
            yield inst
        is_open = False
        if repeat and role == _STOP:  # ...and opens the next one, its clock running
            is_open, paused, started, since, runs = True, False, occurred, occurred, None
            owner, channel, account = ev_owner, ev_channel, ev_account
            if retarget:
                decided = as_of_key
            else:
                decided = at_key
                entry = choices.get(decided) or choose(decided)

    if is_open:
        inst = finish(cur_type, cur_id, number + 1, started, None, as_of_us, runs, since,
                      paused, decided, owner, channel, account)  # fmt: skip
        if inst is not None:
            yield inst


class _Finisher:
    """A cycle as an instance of the promise, or None when it is not one."""

    def __init__(self, promise: Promise, names: tuple[str, ...], as_of_us: int,
                 detail: bool) -> None:  # fmt: skip
        self.promise, self.names, self.as_of_us, self.detail = promise, names, as_of_us, detail
        self.clock = promise.clock
        #: the attribute values at a decision -> (`_choose`'s answer, the values as a dict,
        #: the allowance when it is a positive duration and `detail` is off, else None)
        self.choices: dict[Any, tuple[Any, dict, int | None]] = {}

    def choose(self, decided: Any) -> tuple[Any, dict, int | None]:
        """What cycles decided on these values (`decided_key`) are, remembered in `choices`."""
        names = self.names
        if len(names) == 1:
            values = {names[0]: decided}
        else:
            unpacked = json.loads(decided) if decided is not None else [None] * len(names)
            values = dict(zip(names, unpacked, strict=True))
        choice = _choose(self.promise, values)
        form = None if choice is None else choice[1]
        fast = form.us if type(form) is Duration and form.us > 0 and not self.detail else None
        if len(self.choices) >= CHOICES_KEPT:
            self.choices.clear()
        found = self.choices[decided] = (choice, values, fast)
        return found

    def __call__(
        self, subject_type: str, subject_id: str, number: int, started: int,
        stopped: int | None, end_us: int, runs: list[tuple[int, int, bool]] | None,
        since: int, paused: bool, decided: Any, owner: str | None,
        channel: str | None, account: str | None,
    ) -> Instance | None:  # fmt: skip
        choice, values, fast = self.choices.get(decided) or self.choose(decided)
        if choice is None:
            return None
        target, form = choice
        promise, clock = self.promise, self.clock
        if runs is None and fast is not None:
            # The common case: one stretch of running clock, a plain allowance.
            allowed = fast
            elapsed = clock.open_between(started, end_us)
            deadline = (clock.advance(started, allowed) if elapsed >= allowed
                        else clock.advance(end_us, allowed - elapsed))  # fmt: skip
            over = elapsed > allowed
            if stopped is not None:
                status, at_risk = ("breached" if over else "met"), False
            else:
                warn_at = promise.warn_at
                status = "breached" if over else "open"
                at_risk = not over and warn_at is not None and elapsed >= warn_at * allowed
            return Instance(promise.id, promise.phase, subject_type, subject_id, number,
                            started, stopped, elapsed, status, at_risk, False, deadline,
                            owner, channel, account, [], allowed, target, None, None,
                            values)  # type: ignore[arg-type]  # fmt: skip
        at = stopped if promise.retarget and stopped is not None else (
            self.as_of_us if promise.retarget else started)  # fmt: skip
        allowed, reason, decision = self._allowance(form, started, values, at)
        segments = [*(runs or ()), (since, end_us, not paused)]
        elapsed = 0
        deadline: int | None = None
        if allowed is not None and allowed <= 0:  # promised at or before the start
            deadline = clock.retreat(started, -allowed)
        for start, end, running in segments:
            if not running:
                continue
            gained = clock.open_between(start, end)
            if deadline is None and allowed is not None and elapsed + gained >= allowed:
                deadline = clock.advance(start, allowed - elapsed)
            elapsed += gained
        if deadline is None and allowed is not None and not paused:
            deadline = clock.advance(end_us, allowed - elapsed)
        shown = [ClockRun(a, b, r) for a, b, r in segments if b > a] if self.detail else []
        is_open = stopped is None
        if allowed is None:
            status, at_risk, deadline = "not_evaluated", False, None
        else:
            over = elapsed > allowed
            warn_at = promise.warn_at
            status = "breached" if over else ("open" if is_open else "met")
            at_risk = (is_open and not over and warn_at is not None
                       and elapsed >= warn_at * allowed)  # fmt: skip
            reason = None
        return Instance(promise.id, promise.phase, subject_type, subject_id, number, started,
                        stopped, elapsed, status, at_risk, is_open and paused,  # type: ignore[arg-type]
                        deadline, owner, channel, account, shown, allowed,
                        None if allowed is None else target, reason, decision,
                        values)  # fmt: skip

    def _allowance(
        self, form: Any, started: int, values: dict[str, str | None], at: int
    ) -> tuple[int | None, str | None, Decision | None]:
        """The cycle's allowance (None: not evaluated), the reason it has none, and (with
        `detail`) how it was decided."""
        decision = Decision(at, values) if self.detail else None
        clock = self.clock
        if isinstance(form, Duration):
            return form.us, None, decision
        if isinstance(form, BusinessDays):
            day0, nominal = clock.business_days(started, form.days)  # type: ignore[attr-defined]
            if decision is not None:
                decision = Decision(at, values, day0=day0, nominal_us=nominal)
            return clock.open_between(started, nominal), None, decision
        assert isinstance(form, DeadlineAttribute)
        raw = values.get(form.attribute)
        promised = None if raw is None else parse_promised(raw, self.promise.timezone)
        if raw is None:
            return None, f"missing {form.attribute}", decision
        if promised is None:
            return None, f"unparseable {form.attribute}: {raw.strip()!r}", decision
        if abs(promised - started) > PROMISED_HORIZON_US:
            return (None, f"{form.attribute} {raw.strip()!r} is more than ten years from the"
                    " start", decision)  # fmt: skip
        if decision is not None:
            decision = Decision(at, values, promised_us=promised)
        allowed = (clock.open_between(started, promised) if promised >= started
                   else -clock.open_between(promised, started))  # fmt: skip
        return allowed, None, decision


def _choose(promise: Promise, view: dict[str, Any]) -> tuple[int | None, Any] | None:
    """Whether a cycle with these attributes is an instance (`when`, a matching target),
    and which target and allowance apply: None when it is not one. It depends on the values
    alone, so a replay remembers it per distinct values (`_Finisher`)."""
    if promise.when is not None and not promise.when.test(view):
        return None
    if not promise.targets:
        return None, promise.allowance
    for index, entry in enumerate(promise.targets):
        if entry.when is None or entry.when.test(view):
            return index, entry.within
    return None
