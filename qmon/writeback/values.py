"""What qmon writes onto a CRM record: a pure function of the record's instances.

For one subject (a deal, a case...) and the instances of every promise about it, as of an
instant:

- `status`: the worst state over its open instances and those decided within `recent`
  (`writeback.<source>.recent`, 7 days by default), worst first: `breached` (broken: still
  open past its deadline, or stopped late within `recent`), `at_risk`, `on_track` (open),
  `paused` (open, clock paused), `met` (kept within `recent`). None when there is none of
  those: a record whose instances are all older says nothing rather than something stale.
  A `not_evaluated` instance (its deadline attribute missing) decides nothing: missing
  data is never "kept".
- `next_due`: the earliest deadline of its open (not stopped) instances, past deadlines
  included (they are overdue); None when none is open or every open clock is paused.
- `breaches`: how many of its instances broke (their deadline passed unmet) within
  `breaches_over` (90 days) before the instant.
- `promise`: the id of the promise of the instance that decides `status` (the writer shows
  its title); at equal states the one due first, then the promise's file order.
- `link`: the record's page in qmon's dashboard, when `serve.public_url` is set.

`wake_us` is the next instant at which these values change by time alone, besides an open
clock reaching its warn threshold or deadline (the check's own wake-ups): a decided instance
leaving `recent`, a breach leaving `breaches_over`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from urllib.parse import quote

from qmon.promises.instance import Instance

#: Worst first; `status` is the first of these that any counted instance has.
STATES: tuple[str, ...] = ("breached", "at_risk", "on_track", "paused", "met")
FIELDS: tuple[str, ...] = ("status", "next_due", "breaches", "promise", "link")


@dataclass(frozen=True)
class RecordValues:
    """The values of one record's qmon fields; all None: nothing to say (fields emptied)."""

    status: str | None = None
    next_due_us: int | None = None
    breaches: int | None = None
    promise: str | None = None
    link: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> RecordValues:
        return cls(**json.loads(text)) if text else EMPTY


EMPTY = RecordValues()
EMPTY_JSON = EMPTY.to_json()


def state_of(instance: Instance, as_of_us: int, recent_us: int) -> str | None:
    """The state an instance contributes to its record's status, or None (too old, or not
    evaluated)."""
    if instance.status == "not_evaluated":
        return None
    if instance.stopped_us is None:
        if instance.status == "breached":
            return "breached"
        if instance.at_risk:
            return "at_risk"
        return "paused" if instance.paused else "on_track"
    if instance.stopped_us < as_of_us - recent_us:
        return None
    return "breached" if instance.status == "breached" else "met"


def record_values(
    instances: Iterable[Instance],
    as_of_us: int,
    *,
    recent_us: int,
    breaches_over_us: int,
    order: dict[str, int],
    link: str | None = None,
) -> tuple[RecordValues, int | None]:
    """The values of one subject's record, and when they next change by time alone.

    `order` ranks promise ids (their file order) to break ties between equal states."""
    best: tuple[int, int, int, str] | None = None
    next_due: int | None = None
    breaches = 0
    wakes: list[int] = []
    for i in instances:
        state = state_of(i, as_of_us, recent_us)
        if i.status == "breached" and i.deadline_us is not None:
            if i.deadline_us >= as_of_us - breaches_over_us:
                breaches += 1
                wakes.append(i.deadline_us + breaches_over_us + 1)
        if i.stopped_us is not None and i.stopped_us >= as_of_us - recent_us:
            wakes.append(i.stopped_us + recent_us + 1)
        if i.stopped_us is None and i.deadline_us is not None and state is not None:
            next_due = i.deadline_us if next_due is None else min(next_due, i.deadline_us)
        if state is None:
            continue
        due = i.deadline_us if i.deadline_us is not None else 2**62
        rank = (STATES.index(state), due, order.get(i.promise_id, len(order)), i.promise_id)
        if best is None or rank < best:
            best = rank
    future = [w for w in wakes if w > as_of_us]
    wake = min(future) if future else None
    if best is None and not breaches:
        return EMPTY, wake
    values = RecordValues(
        status=STATES[best[0]] if best else None,
        next_due_us=next_due,
        breaches=breaches,
        promise=best[3] if best else None,
        link=link,
    )
    return values, wake


def record_link(public_url: str | None, subject_type: str, subject_id: str) -> str | None:
    """The record's page in qmon's dashboard: `{public_url}/record/{type}/{id}`."""
    if not public_url:
        return None
    return f"{public_url}/record/{quote(subject_type, safe='')}/{quote(subject_id, safe='')}"
