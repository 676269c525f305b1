"""The incremental check: evaluate only the subjects whose alerts can have changed.

A check's alerts depend on a subject's instances as of now. Those change for two reasons
only, and the store keeps track of both, so a check costs time in proportion to what
happened since the last one, not to the size of the store:

- **New or changed events.** Every write of events marks their subjects in `check_dirty`,
  in the same transaction (`qmon.store`). The check claims the marks, evaluates those
  subjects with their whole history, and removes a mark only if it was not marked again
  meanwhile (`claimed = version`).
- **Time alone.** An open instance becomes at risk, then breaks, as its clock runs. After
  evaluating a subject the check writes, per open instance, the instant of its next such
  change (`check_watch.wake_us`: `Clock.advance` to the warn threshold, or to one microsecond
  past `within`); a paused clock changes only with an event. An event later than the
  check's instant (a planned call, another machine's clock) wakes its subject when it is due.

Burn-rate alerts need every instance decided in their windows (3 days): `check_decided`
keeps those, replaced per evaluated subject and pruned by age.

The state is valid for one set of promises (`fingerprint`) and moves forward in time: a
check finds no state, other promises, an earlier instant, more than `FULL_ABOVE` subjects to
evaluate, or a source gone stale (whose promises are not evaluated and must be alerted in
full once it is back), and then evaluates everything, as `qmon audit` does, and writes the
state anew. `qmon check --full` asks for that. Either way the alerts are the same; a test
checks it on random histories.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from qmon.alerts.burn import RULES, Decision, decided_at
from qmon.config import QmonConfig
from qmon.promises.engine import Instance
from qmon.promises.engine import evaluate as evaluate_rows
from qmon.promises.promise import Promise
from qmon.store import Store
from qmon.store.reads import subject_filters

#: Beyond this many subjects to evaluate, one pass over the store is the cheaper way.
FULL_ABOVE = 20_000
#: How long decided instances are kept: the longest burn-rate window.
DECIDED_FOR_US = max(long_us for _, long_us, _, _ in RULES)
#: `check_watch.promise_id` of a wake for an event after the check's instant.
ANY_PROMISE = "*"
#: `check_watch.promise_id` of a subject whose CRM record's values change by time alone.
WAKE_OTHER = "*writeback"


@dataclass
class Scope:
    """What a check evaluates: everything, or these subjects."""

    full: bool
    subjects: list[tuple[str, str]] = field(default_factory=list)
    #: subject -> its earliest event after the check's instant (filled by `evaluate`).
    upcoming: dict[tuple[str, str], int] = field(default_factory=dict)


def fingerprint(config: QmonConfig) -> str:
    """What the state depends on: every promise's definition and calendar."""
    calendars = {
        name: [str(c.tz), sorted(c.hours.items()), list(c.holidays), sorted(map(str, c.closed))]
        for name, c in config.calendars.items()
    }
    promises = [[*p.fingerprint(), p.objective] for p in config.promises]
    raw = json.dumps([promises, calendars], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def plan(config: QmonConfig, store: Store, as_of_us: int, *, full: bool = False) -> Scope:
    """Claim the changed subjects and decide what this check evaluates (everything if
    `full`)."""
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE check_dirty SET claimed = version"
                          " WHERE claimed IS NULL OR claimed <> version"))  # fmt: skip
        state = conn.execute(text("SELECT fingerprint, as_of_us FROM check_state")).first()
    if full or state is None or state.fingerprint != fingerprint(config):
        return Scope(full=True)
    if as_of_us < state.as_of_us:
        return Scope(full=True)
    limit = {"n": FULL_ABOVE + 1, "now": as_of_us}
    with store.engine.connect() as conn:
        dirty = conn.execute(text("SELECT subject_type, subject_id FROM check_dirty"
                                  " WHERE claimed IS NOT NULL LIMIT :n"), limit).all()  # fmt: skip
        woken = conn.execute(text("SELECT DISTINCT subject_type, subject_id FROM check_watch"
                                  " WHERE wake_us <= :now LIMIT :n"), limit).all()  # fmt: skip
    subjects = {tuple(row) for row in dirty} | {tuple(row) for row in woken}
    if len(subjects) > FULL_ABOVE:
        return Scope(full=True)
    return Scope(full=False, subjects=sorted(subjects))  # type: ignore[arg-type]


def evaluate(
    config: QmonConfig, store: Store, scope: Scope, as_of_us: int, *, keep_from_us: int,
    upcoming: bool, sink: Callable[[Instance], None] | None = None,
) -> list[Instance]:  # fmt: skip
    """The instances the check looks at, as of `as_of_us`.

    An incremental scope: every instance of its subjects, and (`upcoming`) their events after
    `as_of_us`. A full scope: every promise over the whole store, keeping only the instances a
    check can act on (open ones, and those decided from `keep_from_us` or within the burn
    windows on), so memory is bounded by those, not by the store (a year of 10M events holds
    1.5M instances of one promise); with `upcoming`, every subject's next event (a
    whole-table read, like the evaluation itself). A full scope hands every instance to
    `sink` too, as it comes (the dashboard's figures: `qmon.figures.facts`).
    """
    # A promise that reads attributes changes with an event of any type coming due.
    types: list[str] | None = sorted({t for p in config.promises for t in p.roles})
    if any(p.attributes for p in config.promises):
        types = None
    if not scope.full:
        instances: list[Instance] = []
        for promise in config.promises:
            rows = store.promise_events(promise, as_of_us, subjects=scope.subjects)
            instances.extend(evaluate_rows(promise, rows, as_of_us))
        if upcoming:
            scope.upcoming = store.next_events(types, as_of_us, scope.subjects)
        return instances
    keep_from = min(keep_from_us, as_of_us - DECIDED_FOR_US)
    kept: list[Instance] = []
    for promise in config.promises:
        for i in evaluate_rows(promise, store.promise_events(promise, as_of_us), as_of_us):
            if sink is not None:
                sink(i)
            if i.status == "open" or decided_at(i) >= keep_from:
                kept.append(i)
    if upcoming:
        scope.upcoming = store.next_events(types, as_of_us)
    return kept


def save(
    conn: Connection, config: QmonConfig, scope: Scope, instances: Iterable[Instance],
    as_of_us: int, wakes: Mapping[tuple[str, str], int] | None = None,
) -> None:  # fmt: skip
    """Write the state after a check, in the check's own transaction: its alerts and its
    state commit together or not at all. (Upserts: a `qmon check` by hand beside the agent's
    may write the same rows.) `wakes` are other instants at which a subject changes by time
    alone (its CRM record's values: `qmon.writeback`), under `WAKE_OTHER`."""
    promises = {p.id: p for p in config.promises}
    if scope.full:
        conn.execute(text("DELETE FROM check_watch"))
        conn.execute(text("DELETE FROM check_decided"))
    else:  # one statement per chunk of subjects, not one per subject
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for where, params in subject_filters(conn.dialect.name, scope.subjects):
            for table in ("check_watch", "check_decided"):
                cur.execute(f"DELETE FROM {table} WHERE {where}", params)
        cur.close()
    watch: dict[tuple[str, str, str], int] = {}
    decided: list[dict[str, object]] = []
    keep_from = as_of_us - DECIDED_FOR_US
    for i in instances:
        wake = wake_at(promises[i.promise_id], i, as_of_us)
        if wake is not None:
            watch[(i.promise_id, i.subject_type, i.subject_id)] = wake
        if i.status in ("met", "breached") and decided_at(i) >= keep_from:
            decided.append({"p": i.promise_id, "t": i.subject_type, "i": i.subject_id,
                            "s": i.started_us, "d": decided_at(i),
                            "b": i.status == "breached"})  # fmt: skip
    for (subject_type, subject_id), at in scope.upcoming.items():
        watch[(ANY_PROMISE, subject_type, subject_id)] = at
    for (subject_type, subject_id), at in (wakes or {}).items():
        watch[(WAKE_OTHER, subject_type, subject_id)] = at
    if watch:
        conn.execute(
            text("INSERT INTO check_watch (promise_id, subject_type, subject_id, wake_us)"
                 " VALUES (:p, :t, :i, :w) ON CONFLICT (promise_id, subject_type, subject_id)"
                 " DO UPDATE SET wake_us = excluded.wake_us"),
            [{"p": p, "t": t, "i": i, "w": w} for (p, t, i), w in watch.items()],
        )  # fmt: skip
    if decided:
        conn.execute(
            text("INSERT INTO check_decided (promise_id, subject_type, subject_id, started_us,"
                 " decided_us, breached) VALUES (:p, :t, :i, :s, :d, :b)"
                 " ON CONFLICT (promise_id, subject_type, subject_id, started_us)"
                 " DO UPDATE SET decided_us = excluded.decided_us, breached = excluded.breached"),
            decided,
        )  # fmt: skip
    conn.execute(text("DELETE FROM check_decided WHERE decided_us < :k"), {"k": keep_from})
    conn.execute(text("DELETE FROM check_dirty WHERE claimed = version"))
    conn.execute(text("DELETE FROM check_state"))
    conn.execute(text("INSERT INTO check_state (id, fingerprint, as_of_us) VALUES (1, :f, :t)"),
                 {"f": fingerprint(config), "t": as_of_us})  # fmt: skip


def forget(conn: Connection) -> None:
    """Drop the state: the next check evaluates everything."""
    conn.execute(text("DELETE FROM check_state"))


def decisions(conn: Connection, as_of_us: int) -> list[Decision]:
    """The decided instances of the burn-rate windows, from the state just saved."""
    rows = conn.execute(
        text("SELECT promise_id, decided_us, breached FROM check_decided WHERE decided_us >= :k"),
        {"k": as_of_us - DECIDED_FOR_US},
    )
    return [Decision(p, d, bool(b)) for p, d, b in rows]


def wake_at(promise: Promise, instance: Instance, as_of_us: int) -> int | None:
    """When an open instance next changes by time alone: it reaches the warn threshold
    (`at_risk` is elapsed >= warn_at x its allowance), or it breaks (elapsed > allowance).
    None when it is stopped, already broken, paused or not evaluated (only an event changes
    it then)."""
    allowed = instance.allowed_us
    if instance.stopped_us is not None or instance.paused or instance.status != "open":
        return None
    assert allowed is not None
    thresholds = [allowed + 1]
    if promise.warn_at is not None and not instance.at_risk:
        thresholds.append(math.ceil(promise.warn_at * allowed))
    return promise.clock.advance(as_of_us, max(0, min(thresholds) - instance.elapsed_us))
