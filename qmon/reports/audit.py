"""The audit: compliance per promise, per phase and per breakdown, as of an instant.

`run_audit` evaluates promises against the store and counts; rendering lives in
`qmon.reports.audit_format`. The same result feeds `qmon audit`, `qmon demo` and the
what-if comparison, so their numbers cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from qmon.config import QmonConfig
from qmon.promises.compliance import Tally
from qmon.promises.conditions import normalise
from qmon.promises.engine import Instance, evaluate
from qmon.promises.promise import Promise
from qmon.store import Store
from qmon.timeutil import from_us

#: The breakdowns by name; any other `by` is an attribute, read at each instance's decision
#: instant (README "Promise semantics").
BREAKDOWNS: tuple[str, ...] = ("week", "owner", "channel", "account", "target")
Breakdown = str


@dataclass(frozen=True)
class AuditQuery:
    """What to audit. `from_us`/`to_us` select instances by their start: [from, to)."""

    as_of_us: int
    from_us: int | None = None
    to_us: int | None = None
    promise_ids: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    by: Breakdown | None = None
    keep_instances: bool = False


@dataclass
class AuditResult:
    """Counts per promise (config order), per phase and per breakdown key."""

    as_of_us: int
    promises: list[tuple[Promise, Tally]]
    phases: list[tuple[str, Tally]]
    by: Breakdown | None = None
    #: (promise id or None for all audited promises, key) -> tally, in first-seen order.
    breakdown: dict[tuple[str | None, str | int | None], Tally] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)

    def tally(self, promise_id: str) -> Tally | None:
        return next((t for p, t in self.promises if p.id == promise_id), None)


def select_promises(config: QmonConfig, query: AuditQuery) -> list[Promise]:
    """The promises the query asks for, in config order."""
    return [
        p
        for p in config.promises
        if (not query.promise_ids or p.id in query.promise_ids)
        and (not query.phases or p.phase in query.phases)
    ]


def breakdown_key(inst: Instance, by: Breakdown, tz: ZoneInfo) -> str | int | None:
    """The breakdown value of an instance: weeks are ISO weeks of its start in `tz`; a
    target its index in the promise's `targets`; an attribute its value at the decision
    instant, trimmed and case-folded (so "Urgent" and " urgent" are one row)."""
    if by == "week":
        year, week, _ = from_us(inst.started_us).astimezone(tz).isocalendar()
        return f"{year}-W{week:02d}"
    if by in BREAKDOWNS:
        return getattr(inst, by)
    value = (inst.values or {}).get(by)
    return None if value is None else normalise(value)  # as `when` compares them


def extra_attributes(by: Breakdown | None) -> tuple[str, ...]:
    """The attributes a breakdown reads besides those the promises read."""
    return (by,) if by is not None and by not in BREAKDOWNS else ()


def run_audit(config: QmonConfig, store: Store, query: AuditQuery) -> AuditResult:
    """Evaluate the selected promises over the store as of `query.as_of_us`."""
    promises = select_promises(config, query)
    result = AuditResult(as_of_us=query.as_of_us, promises=[], phases=[], by=query.by)
    # Owner, channel and account are read only when something shows them.
    context = query.keep_instances or query.by in ("owner", "channel", "account")
    for promise in promises:
        extra = extra_attributes(query.by)
        rows = store.promise_events(promise, query.as_of_us, context=context, extra=extra)
        instances = evaluate(promise, rows, query.as_of_us, extra=extra)
        tally = Tally()
        _count(result, promise, instances, tally, query, config)
        result.promises.append((promise, tally))
    result.phases = phase_tallies(result.promises)
    return result


def phase_tallies(promises: Iterable[tuple[Promise, Tally]]) -> list[tuple[str, Tally]]:
    """Sum promise tallies per phase, phases in the order their first promise appears."""
    by_phase: dict[str, Tally] = {}
    for promise, tally in promises:
        by_phase.setdefault(promise.phase, Tally()).merge(tally)
    return list(by_phase.items())


def _count(
    result: AuditResult,
    promise: Promise,
    instances: Iterable[Instance],
    tally: Tally,
    query: AuditQuery,
    config: QmonConfig,
) -> None:
    lo, hi, by = query.from_us, query.to_us, query.by
    for inst in instances:
        if (lo is not None and inst.started_us < lo) or (hi is not None and inst.started_us >= hi):
            continue
        tally.add(inst)
        if by is not None:
            key = breakdown_key(inst, by, config.timezone)
            if by != "target":  # target numbers mean something only within their promise
                result.breakdown.setdefault((None, key), Tally()).add(inst)
            result.breakdown.setdefault((promise.id, key), Tally()).add(inst)
        if query.keep_instances:
            result.instances.append(inst)
