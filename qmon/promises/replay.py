"""The engine's general path: promises that read attributes, have targets, business days, a
deadline from the record, or repeat.

Per subject, the events of the promise's types form cycles exactly as for a plain promise
(README "Promise semantics"); then each cycle is decided at its decision instant: whether it
is an instance at all (the promise's `when`, a matching target), and its allowance. The clock
is then counted as for a plain promise with that allowance.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from qmon.events import CONTEXT_ATTRIBUTES, attribute_text
from qmon.promises.conditions import (
    BusinessDays,
    DeadlineAttribute,
    Duration,
    parse_promised,
)
from qmon.promises.instance import ClockRun, Decision, Instance
from qmon.promises.promise import Promise, Role

#: One event as the general path reads it (`Store.promise_events`): subject_type,
#: subject_id, occurred_us, type, event_id, owner, channel, account, attributes (JSON text).
SubjectRow = tuple[str, str, int, str, str, str | None, str | None, str | None, str | None]

_SUBJECT = itemgetter(0, 1)
_TYPE = itemgetter(3)
_OCCURRED = itemgetter(2)
_EVENT_ID = itemgetter(4)
#: A promised instant further than this from the start is taken as a data error.
PROMISED_HORIZON_US = 3_660 * 86_400 * 1_000_000
_CONTEXT_COLUMN = {name: 5 + i for i, name in enumerate(("owner", "channel", "account"))}
assert tuple(_CONTEXT_COLUMN) == tuple(sorted(CONTEXT_ATTRIBUTES, key=_CONTEXT_COLUMN.get))


def replay(
    promise: Promise,
    rows: Iterable[SubjectRow],
    as_of_us: int,
    *,
    detail: bool = False,
    extra: Sequence[str] = (),
) -> Iterator[Instance]:
    """Instances of `promise` from rows grouped by subject (each subject's rows together).

    `extra` names further attributes to read at each decision instant (for a breakdown by
    them), kept in `Instance.values`.
    """
    names = tuple(dict.fromkeys((*promise.attributes, *extra)))
    reading = _Reading(promise, names)
    starts = frozenset(promise.types(Role.START))
    for _subject_key, rows_of in groupby(rows, _SUBJECT):
        group = list(rows_of)
        if not starts.isdisjoint(map(_TYPE, group)):  # a subject without a start: no cycles
            yield from _subject(promise, group, as_of_us, reading, detail)


class _Reading:
    """What a replay reads: which attributes, from a core column or from the JSON attributes
    (with the quoted key to look for before parsing), and each event type's role."""

    def __init__(self, promise: Promise, names: tuple[str, ...]) -> None:
        self.names = names
        #: event type: (rank at equal instants, role)
        self.ranked = {t: (role.rank, role) for t, role in promise.roles.items()}
        self.context = [(n, _CONTEXT_COLUMN[n]) for n in names if n in _CONTEXT_COLUMN]
        self.others = [(n, f'"{n}"') for n in names if n not in _CONTEXT_COLUMN]
        self.keys = [key for _, key in self.others]
        #: the choice of `_choose` per distinct values of `names`
        self.choices: dict[tuple[str | None, ...], tuple[int | None, Any] | None] = {}

    def update(self, values: dict[str, str], row: SubjectRow) -> None:
        """Take the attributes `row` carries into `values` (the subject's, as of its instant)."""
        for name, column in self.context:
            value = row[column]
            if value:  # the core columns hold text: None and "" are not carried
                values[name] = value  # type: ignore[assignment]
        raw = row[8]
        if raw and self.keys:
            self.update_json(values, raw)

    def update_json(self, values: dict[str, str], raw: str) -> None:
        """Take the attributes the JSON `raw` carries (of those read) into `values`."""
        for key in self.keys:
            if key in raw:
                break
        else:
            return
        data = json.loads(raw)
        for name, _ in self.others:
            value = attribute_text(data.get(name))
            if value is not None:
                values[name] = value


class _Cycle:
    """One cycle of a subject as the replay forms it; `values` are the attributes at its
    decision instant (the start, or with `retarget` the stop or as-of)."""

    __slots__ = ("start", "stop", "runs", "paused", "owner", "channel", "account", "values")

    def __init__(self, start: int, row: SubjectRow) -> None:
        self.start = start
        self.stop: int | None = None
        self.runs: list[tuple[int, int, bool]] = []
        self.paused = False
        self.owner, self.channel, self.account = row[5], row[6], row[7]
        self.values: dict[str, str] = {}


_RANK = itemgetter(0)


def _cycles(
    promise: Promise, rows: list[SubjectRow], as_of_us: int, reading: _Reading
) -> list[_Cycle]:
    """The subject's cycles, exactly as README "Promise semantics" forms them, each with the
    attributes at its decision instant.

    One pass over the subject's rows in time order. The rows of one instant are taken
    together: first every attribute they carry (in id order, so the id sorting last wins),
    then their roles in role order and, within one, in id order.
    """
    ranked, context, keys = reading.ranked, reading.context, reading.keys
    retarget, repeat = promise.retarget, promise.repeat
    values: dict[str, str] = {}
    cycles: list[_Cycle] = []
    cur: _Cycle | None = None
    since = 0
    i, n = 0, len(rows)
    while i < n:
        occurred = rows[i][2]
        if occurred > as_of_us:
            break
        j = i + 1
        while j < n and rows[j][2] == occurred:
            j += 1
        if j - i == 1:  # the common case: one event at this instant
            row = rows[i]
            i = j
            for name, column in context:  # `reading.update`, inlined for this hot loop
                value = row[column]
                if value:
                    values[name] = value
            if keys and row[8]:
                reading.update_json(values, row[8])
            found = ranked.get(row[3])
            if found is None:
                continue
            happened = [(*found, row)]
        else:
            at_once = sorted(rows[i:j], key=_EVENT_ID)
            i = j
            for row in at_once:
                reading.update(values, row)
            happened = [(*ranked[r[3]], r) for r in at_once if r[3] in ranked]
            happened.sort(key=_RANK)  # stable: in id order within a rank, as `at_once`
        for _rank, role, row in happened:
            if cur is None:
                if role == Role.START:
                    cur, since = _Cycle(occurred, row), occurred
                    if not retarget:
                        cur.values = dict(values)
                continue
            cur.owner = cur.owner if cur.owner is not None else row[5]
            cur.channel = cur.channel if cur.channel is not None else row[6]
            cur.account = cur.account if cur.account is not None else row[7]
            if role == Role.START:
                continue
            if role == Role.RESUME:
                if cur.paused:
                    cur.runs.append((since, occurred, False))
                    cur.paused, since = False, occurred
                continue
            if role == Role.PAUSE:
                if not cur.paused:
                    cur.runs.append((since, occurred, True))
                    cur.paused, since = True, occurred
                continue
            cur.runs.append((since, occurred, not cur.paused))
            cur.stop = occurred
            if retarget:
                cur.values = dict(values)
            cycles.append(cur)
            cur = None
            if repeat and role == Role.STOP:
                cur, since = _Cycle(occurred, row), occurred
                if not retarget:
                    cur.values = dict(values)
    if cur is not None:
        cur.runs.append((since, as_of_us, not cur.paused))
        if retarget:
            cur.values = dict(values)
        cycles.append(cur)
    return cycles


def _subject(
    promise: Promise,
    rows: list[SubjectRow],
    as_of_us: int,
    reading: _Reading,
    detail: bool,
) -> Iterator[Instance]:
    rows.sort(key=_OCCURRED)  # already in time order from the store: a linear check
    names = reading.names
    subject_type, subject_id = rows[0][0], rows[0][1]
    for number, cycle in enumerate(_cycles(promise, rows, as_of_us, reading), start=1):
        inst = _decide(promise, cycle, as_of_us, names, detail, reading.choices)
        if inst is None:
            continue
        inst.subject_type, inst.subject_id, inst.cycle = subject_type, subject_id, number
        yield inst


def _decide(
    promise: Promise,
    cycle: _Cycle,
    as_of_us: int,
    names: tuple[str, ...],
    detail: bool,
    choices: dict[tuple[str | None, ...], tuple[int | None, Any] | None],
) -> Instance | None:
    """The cycle as an instance of the promise, or None when it is not one."""
    at = cycle.start if not promise.retarget else (cycle.stop if cycle.stop is not None
                                                    else as_of_us)  # fmt: skip
    view = cycle.values
    values = {name: view.get(name) for name in names}
    key = tuple(values.values())
    choice = choices.get(key, _UNKNOWN)
    if choice is _UNKNOWN:
        choice = _choose(promise, view)
        if len(choices) >= CHOICES_KEPT:
            choices.clear()
        choices[key] = choice
    if choice is None:
        return None
    target, form = choice  # type: ignore[misc]
    decision = Decision(at, values) if detail else None
    allowed: int | None = None
    reason: str | None = None
    clock = promise.clock
    if isinstance(form, Duration):
        allowed = form.us
    elif isinstance(form, BusinessDays):
        day0, nominal = clock.business_days(cycle.start, form.days)  # type: ignore[attr-defined]
        allowed = clock.open_between(cycle.start, nominal)
        if decision is not None:
            decision = Decision(at, values, day0=day0, nominal_us=nominal)
    elif isinstance(form, DeadlineAttribute):
        raw = view.get(form.attribute)
        promised = None if raw is None else parse_promised(raw, promise.timezone)
        if raw is None:
            reason = f"missing {form.attribute}"
        elif promised is None:
            reason = f"unparseable {form.attribute}: {raw.strip()!r}"
        elif abs(promised - cycle.start) > PROMISED_HORIZON_US:
            reason = f"{form.attribute} {raw.strip()!r} is more than ten years from the start"
        else:
            allowed = (clock.open_between(cycle.start, promised) if promised >= cycle.start
                       else -clock.open_between(promised, cycle.start))  # fmt: skip
            if decision is not None:
                decision = Decision(at, values, promised_us=promised)
    return _instance(promise, cycle, allowed, target, reason, values, decision, detail)


#: Distinct attribute values whose choice (`_choose`) a replay remembers; a CRM with more
#: distinct combinations just chooses again.
CHOICES_KEPT = 4096
_UNKNOWN = object()


def _choose(promise: Promise, view: dict[str, str]) -> tuple[int | None, Any] | None:
    """Whether a cycle with these attributes is an instance (`when`, a matching target),
    and which target and allowance apply: None when it is not one. It depends on the values
    alone, so a replay remembers it per distinct values (`_decide`)."""
    if promise.when is not None and not promise.when.test(view):
        return None
    if not promise.targets:
        return None, promise.allowance
    for index, entry in enumerate(promise.targets):
        if entry.when is None or entry.when.test(view):
            return index, entry.within
    return None


def _instance(
    promise: Promise,
    cycle: _Cycle,
    allowed: int | None,
    target: int | None,
    reason: str | None,
    values: dict[str, str | None],
    decision: Decision | None,
    detail: bool,
) -> Instance:
    clock = promise.clock
    elapsed = 0
    deadline: int | None = None
    if allowed is not None and allowed <= 0:  # promised at or before the start, on the clock
        deadline = clock.retreat(cycle.start, -allowed)
    for start, end, running in cycle.runs:
        if not running:
            continue
        gained = clock.open_between(start, end)
        if deadline is None and allowed is not None and elapsed + gained >= allowed:
            deadline = clock.advance(start, allowed - elapsed)
        elapsed += gained
    end_us = cycle.runs[-1][1]
    if deadline is None and allowed is not None and not cycle.paused:
        deadline = clock.advance(end_us, allowed - elapsed)
    runs = [ClockRun(a, b, r) for a, b, r in cycle.runs if b > a] if detail else []
    open_ = cycle.stop is None
    if allowed is None:
        status, at_risk, deadline = "not_evaluated", False, None
    else:
        over = elapsed > allowed
        if not open_:
            status = "breached" if over else "met"
            at_risk = False
        else:
            status = "breached" if over else "open"
            warn_at = promise.warn_at
            at_risk = not over and warn_at is not None and elapsed >= warn_at * allowed
        reason = None
    return Instance(promise.id, promise.phase, "", "", 0, cycle.start, cycle.stop, elapsed,
                    status, at_risk, open_ and cycle.paused, deadline,  # type: ignore[arg-type]
                    cycle.owner, cycle.channel, cycle.account, runs, allowed,
                    None if allowed is None else target,
                    decision=decision, values=values, reason=reason)  # fmt: skip
