"""The dashboard's figures (`qmon.figures`) equal `qmon audit` for the same period and as-of.

The demo company (every form of promise: targets, business days, promised dates, repeats)
is checked once in full, then again incrementally after new events; after each check every
tally (per promise, per period, per breakdown), every time to fulfil and the list of breaches
read from `instance_facts` equals what `run_audit` counts as of the same instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from qmon.alerts.check import run_check
from qmon.config import load_config
from qmon.demo.generator import write_demo
from qmon.events import Event
from qmon.figures import facts, query
from qmon.ingest import import_files
from qmon.promises.compliance import Tally
from qmon.promises.promise import Role
from qmon.reports.audit import AuditQuery, run_audit
from qmon.reports.weekly.figures import _breaches, _fulfilment
from qmon.store import Store
from qmon.timeutil import to_us

END = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("demo")
    files = write_demo(folder, end=END, months=3, seed=3)
    text = files.config_path.read_text()
    if "\nserve:" not in text:
        files.config_path.write_text(text + "\nserve: {}\n")
    config = load_config(files.config_path)
    store = Store.open(config.database_url)
    import_files(store, [files.events_path], source="demo", attributes=config.kept_attributes)
    yield config, store
    store.close()


def periods(config, as_of_us: int) -> list[query.Period]:
    day = query.day_of(as_of_us, config.timezone)
    week = query.period_of("week", day)
    custom = query.period_of("custom", day, day - timedelta(days=40), day - timedelta(days=3))
    return [week, week.shift(-1), week.shift(-5), query.period_of("month", day),
            query.period_of("quarter", day).shift(-1), custom]  # fmt: skip


def same(a: Tally, b: Tally) -> bool:
    return astuple(a) == astuple(b)


def assert_figures_equal_the_audit(config, store, as_of_us: int) -> None:
    assert facts.as_of(store) == as_of_us
    ids = [p.id for p in config.promises]
    for period in periods(config, as_of_us):
        lo, hi = period.bounds(config.timezone)
        counted = query.tallies(store, ids, [lo, hi])
        audit = run_audit(config, store, AuditQuery(as_of_us=as_of_us, from_us=lo, to_us=hi,
                                                    keep_instances=True))  # fmt: skip
        for promise, tally in audit.promises:
            assert same(counted[(promise.id, 0)], tally), (period, promise.id)
            mine = [i for i in audit.instances if i.promise_id == promise.id]
            assert query.fulfilment(store, promise.id, (lo, hi)) == query.Fulfilment(
                *astuple(_fulfilment(mine))), (period, promise.id)  # fmt: skip
            for n in range(len(promise.targets)):
                got = query.fulfilment(store, promise.id, (lo, hi), target=n)
                want = _fulfilment([i for i in mine if i.target == n])
                assert got == query.Fulfilment(*astuple(want)), (period, promise.id, n)
        expected = [(b.instance.promise_id, b.instance.subject_id, b.instance.started_us,
                     b.overdue_us) for b in _breaches(config, audit.instances)]  # fmt: skip
        got = [(b.promise_id, b.subject_id, b.started_us, b.overdue_us)
               for b in query.breaches(store, config.promises, (lo, hi), as_of_us)]  # fmt: skip
        assert got == expected, period
        for by in query.BREAKDOWNS:
            audit_by = run_audit(config, store, AuditQuery(as_of_us=as_of_us, from_us=lo,
                                                           to_us=hi, by=by))  # fmt: skip
            for promise in config.promises:
                want = {key: t for (pid, key), t in audit_by.breakdown.items()
                        if pid == promise.id}  # fmt: skip
                have = dict(query.breakdown(store, promise.id, (lo, hi), by))
                assert {k: astuple(t) for k, t in have.items()} == {
                    k: astuple(t) for k, t in want.items()}, (period, promise.id, by)  # fmt: skip


def test_figures_equal_the_audit_after_a_full_and_an_incremental_check(demo) -> None:
    config, store = demo
    as_of = to_us(END)
    run_check(config, store, as_of)
    assert_figures_equal_the_audit(config, store, as_of)

    # New events on existing and new subjects, then a check ten minutes later: incremental.
    later = as_of + 10 * 60_000_000
    with store.engine.connect() as conn:
        open_ones = conn.exec_driver_sql(
            "SELECT promise_id, subject_type, subject_id FROM instance_facts"
            " WHERE status = 'open' ORDER BY 1, 2, 3 LIMIT 20").all()  # fmt: skip
    promises = {p.id: p for p in config.promises}
    new = []
    for n, (promise_id, subject_type, subject_id) in enumerate(open_ones):
        stops = sorted(promises[promise_id].types(Role.STOP))
        new.append(Event("demo", f"new-{n}", as_of + n * 1_000_000, stops[0], subject_type,
                         subject_id))  # fmt: skip
    first = config.promises[0]
    new.append(Event("demo", "new-start", as_of, sorted(first.types(Role.START))[0], "deal",
                     "D-NEW"))  # fmt: skip
    store.ingest(new)
    run_check(config, store, later)
    assert_figures_equal_the_audit(config, store, later)


def test_a_period_shifts_by_its_own_kind() -> None:
    day = date(2026, 11, 25)
    week = query.period_of("week", day)
    assert (week.first.isoformat(), week.last.isoformat(), week.label) == (
        "2026-11-23", "2026-11-29", "2026-W48")  # fmt: skip
    assert week.shift(-1).label == "2026-W47"
    quarter = query.period_of("quarter", day)
    assert (quarter.label, quarter.shift(-1).label, quarter.shift(1).label) == (
        "2026-Q4", "2026-Q3", "2027-Q1")  # fmt: skip
    month = query.period_of("month", date(2026, 3, 31))
    assert (month.shift(-1).first.isoformat(), month.shift(-1).last.isoformat()) == (
        "2026-02-01", "2026-02-28")  # fmt: skip
    custom = query.period_of("custom", day, day - timedelta(days=9), day)
    assert custom.shift(-1).last == day - timedelta(days=10)


def test_without_serve_the_check_keeps_no_figures(tmp_path: Path) -> None:
    files = write_demo(tmp_path, end=END, months=1, seed=1)
    config = load_config(files.config_path)
    store = Store.open(config.database_url)
    try:
        import_files(store, [files.events_path], source="demo",
                     attributes=config.kept_attributes)  # fmt: skip
        run_check(config, store, to_us(END))
        assert facts.as_of(store) is None
    finally:
        store.close()
