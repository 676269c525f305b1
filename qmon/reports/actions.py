"""Improvement actions and their effect: compliance in the weeks before and after each one.

An action is dated by the day it took effect (config time zone). Its effect compares the
promise's compliance over instances started in the `EFFECT_WEEKS` weeks before that day with
those started from that day on (up to as many weeks, and not past now), both evaluated as of
now, exactly as `qmon audit --from --to` would count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text

from qmon.config import QmonConfig
from qmon.reports.audit import AuditQuery, run_audit
from qmon.store import Store
from qmon.timeutil import day_problem, to_us

EFFECT_WEEKS = 4
KINDS = ("corrective", "recovery")


@dataclass(frozen=True)
class Action:
    id: int
    promise_id: str
    kind: str
    description: str
    day: date
    before: float | None = None  # compliance in the weeks before (corrective only)
    after: float | None = None


def add(store: Store, promise_id: str, kind: str, description: str, day: date, now_us: int) -> int:
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO actions (promise_id, kind, description, day, created_us)"
                " VALUES (:p, :k, :d, :day, :now)"
            ),
            {"p": promise_id, "k": kind, "d": description, "day": day.isoformat(), "now": now_us},
        )
        return int(conn.execute(text("SELECT max(id) FROM actions")).scalar_one())


def remove(store: Store, action_id: int) -> bool:
    """Remove an action; False if there is none with that id."""
    with store.engine.begin() as conn:
        gone = conn.execute(text("DELETE FROM actions WHERE id = :i"), {"i": action_id})
        return bool(gone.rowcount)


def out_of_range(store: Store) -> list[tuple[int, str]]:
    """(id, day) of the actions dated outside the dates qmon stores (logged by a qmon that
    did not check), which `list_actions` leaves out."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, day FROM actions ORDER BY id")).all()
    return [(rid, day) for rid, day in rows if _day(day) is None]


def _day(text_: str) -> date | None:
    try:
        day = date.fromisoformat(text_)
    except ValueError:
        return None
    return None if day_problem(day) else day


def list_actions(
    config: QmonConfig, store: Store, now_us: int, since: date | None = None
) -> list[Action]:
    """Every action (from `since` on), oldest day first, with the effect of the corrective
    ones (two audits each, so only for the actions asked for). Actions dated outside the
    dates qmon stores are left out (`out_of_range`)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, promise_id, kind, description, day FROM actions WHERE day >= :since"
                " ORDER BY day, id"
            ),
            {"since": (since or date.min).isoformat()},
        ).all()
    found = []
    for rid, promise_id, kind, description, day in rows:
        when = _day(day)
        if when is None:
            continue
        before = after = None
        if kind == "corrective" and config.promise(promise_id) is not None:
            span = timedelta(weeks=EFFECT_WEEKS)
            before = _compliance(config, store, promise_id, when - span, when, now_us)
            after = _compliance(config, store, promise_id, when, when + span, now_us)
        found.append(Action(rid, promise_id, kind, description, when, before, after))
    return found


def _compliance(
    config: QmonConfig, store: Store, promise_id: str, first: date, end: date, now_us: int
) -> float | None:
    def start_of(day: date) -> int:
        return to_us(datetime.combine(day, time(0), tzinfo=config.timezone))

    if start_of(first) >= now_us:
        return None
    query = AuditQuery(as_of_us=now_us, from_us=start_of(first), to_us=min(start_of(end), now_us),
                       promise_ids=(promise_id,))  # fmt: skip
    tally = run_audit(config, store, query).tally(promise_id)
    return None if tally is None else tally.compliance
