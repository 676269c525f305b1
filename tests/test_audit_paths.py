"""`run_audit` over the store against the engine replaying each subject on its own, in memory.

The audit reads each promise's events from the database already ordered by subject, time and
role, with role codes computed in SQL, and without owner, channel and account unless a
breakdown by them or the instance listing needs them. Whatever it reads, every count, every
breakdown row and every instance must be what `evaluate_subject` gives on the raw events, on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import random
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest

from qmon.events import Event
from qmon.promises.calendar import WALL_CLOCK, BusinessCalendar
from qmon.promises.compliance import Tally
from qmon.promises.engine import Instance, evaluate_subject
from qmon.promises.promise import Promise, Role
from qmon.reports.audit import BREAKDOWNS, AuditQuery, breakdown_key, run_audit
from qmon.store import Store

H = 3_600_000_000
T0 = 1_780_000_000_000_000  # 2026-05-28T20:26:40Z
AMS = ZoneInfo("Europe/Amsterdam")
OFFICE = BusinessCalendar(
    "office", AMS, {d: [(9 * 3600, 12 * 3600 + 1800), (13 * 3600, 17 * 3600)] for d in range(5)}
)
PROMISES = (
    Promise(
        "quote-24h", "Quote", "sales",
        {"quote.requested": Role.START, "quote.rerequested": Role.START, "quote.sent": Role.STOP},
        24 * H, WALL_CLOCK, warn_at=0.5,
    ),
    Promise(
        "reply-4bh", "Reply", "after-sales",
        {"case.opened": Role.START, "case.waiting": Role.PAUSE, "case.replied": Role.RESUME,
         "case.answered": Role.STOP},
        4 * H, OFFICE, calendar_name="office", warn_at=0.75,
    ),
)
TYPES = [t for p in PROMISES for t in p.roles] + ["note.added"]


class _Config:
    """Just what run_audit reads."""

    promises = PROMISES
    timezone = AMS


def random_events(seed: int, n_subjects: int = 150) -> list[Event]:
    """Coarse times (so instants tie across roles), owners and channels on some events only,
    two subject types sharing ids. No subject has two events of one role at one instant,
    whose order (and so whose owner wins) nothing defines."""
    rng = random.Random(seed)
    out, seen = [], set()
    for s in range(n_subjects):
        subject_type, subject_id = rng.choice(["deal", "case"]), f"S-{s % 120}"
        t = T0 + rng.randrange(0, 400) * H
        for k in range(rng.randrange(1, 10)):
            t += rng.choice([0, 0, 1, 2, 3, 5, 12, 24, 30]) * H
            etype = rng.choice(TYPES)
            key = (subject_type, subject_id, t, etype.split(".")[0], _role(etype))
            if key in seen:
                continue
            seen.add(key)
            out.append(Event(
                "file", f"{s}-{k}", t, etype, subject_type, subject_id,
                owner=rng.choice([None, "anna", "bram"]),
                channel=rng.choice([None, "web", "phone"]),
                account=rng.choice([None, "acme"]),
            ))
    rng.shuffle(out)
    return out


def _role(etype: str) -> Role | None:
    return next((p.roles[etype] for p in PROMISES if etype in p.roles), None)


def reference(events: list[Event], as_of: int) -> dict[str, list[Instance]]:
    """Each promise's instances, subject by subject, in memory."""
    subjects: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        subjects[(e.subject_type, e.subject_id)].append(e)
    out: dict[str, list[Instance]] = {}
    for p in PROMISES:
        out[p.id] = [
            inst
            for (subject_type, subject_id), evs in sorted(subjects.items())
            for inst in evaluate_subject(
                p, subject_type, subject_id,
                [(e.occurred_us, e.type, e.owner, e.channel, e.account) for e in evs], as_of,
            )
        ]
    return out


def _key(inst: Instance) -> tuple:
    return (inst.promise_id, inst.subject_type, inst.subject_id, inst.cycle)


@pytest.mark.parametrize("seed", [1, 2])
def test_audit_equals_the_engine_subject_by_subject(database_url, seed):
    events = random_events(seed)
    store = Store.open(database_url)
    store.ingest(events)
    as_of = T0 + 420 * H
    ref = reference(events, as_of)
    assert sum(i.status == "open" for insts in ref.values() for i in insts) > 5
    assert sum(i.owner is None for insts in ref.values() for i in insts) > 5
    periods = [(None, None), (T0 + 100 * H, T0 + 300 * H)]
    try:
        for lo, hi in periods:
            chosen = {
                pid: [i for i in insts if (lo is None or i.started_us >= lo)
                      and (hi is None or i.started_us < hi)]
                for pid, insts in ref.items()
            }
            # (by target: tests/test_explain_promise_language.py; plain promises have none)
            for by in (None, *(b for b in BREAKDOWNS if b != "target")):
                for keep in (False, True):
                    query = AuditQuery(as_of_us=as_of, from_us=lo, to_us=hi, by=by,  # type: ignore[arg-type]
                                       keep_instances=keep)
                    got = run_audit(_Config(), store, query)  # type: ignore[arg-type]
                    _check(got, chosen, by, keep)
    finally:
        store.close()


def _check(got, chosen: dict[str, list[Instance]], by, keep: bool) -> None:
    for promise, tally in got.promises:
        assert tally == _tally(chosen[promise.id]), (promise.id, by, keep)
    want: dict[tuple[str | None, str | None], Tally] = defaultdict(Tally)
    if by is not None:
        for pid, insts in chosen.items():
            for inst in insts:
                key = breakdown_key(inst, by, AMS)
                want[(None, key)].add(inst)
                want[(pid, key)].add(inst)
    assert got.breakdown == dict(want), (by, keep)
    if keep:
        expected = sorted((i for insts in chosen.values() for i in insts), key=_key)
        assert sorted(got.instances, key=_key) == expected
    else:
        assert got.instances == []


def _tally(insts: list[Instance]) -> Tally:
    tally = Tally()
    for inst in insts:
        tally.add(inst)
    return tally
