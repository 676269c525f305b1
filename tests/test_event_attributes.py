"""The attributes events carry (`event_attributes`) follow the events through every write path
(import, `Store.ingest`, CRM pages replacing and deleting records, purge, migration 0010), on
SQLite and PostgreSQL, and so does each event's `settled` (set exactly where no other event of
its subject shares its instant; migration 0011); and the general path's decided rows read
from them in SQL equal those computed in memory (`qmon.promises.carry`) on random histories,
written in random batches, moved and written again."""

from __future__ import annotations

import json
import random
import string
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from qmon.connectors.base import RecordChange
from qmon.events import Event, event_to_row
from qmon.promises.calendar import WallClock
from qmon.promises.carry import decided_rows
from qmon.promises.conditions import Condition, Duration, Match, Target
from qmon.promises.promise import Promise, Role
from qmon.promises.replay import attribute_names
from qmon.store import Store, migrate
from qmon.store.carried import SETTLED_BYTES, attribute_rows
from qmon.timeutil import to_us

T0 = to_us(datetime(2026, 3, 27, 12, tzinfo=UTC))
H = 3_600_000_000


def stored(store: Store) -> set[tuple]:
    with store.engine.connect() as conn:
        return set(map(tuple, conn.execute(text(
            "SELECT source, event_id, name, subject_type, subject_id, occurred_us, value"
            " FROM event_attributes"))))  # fmt: skip


def derived(store: Store) -> set[tuple]:
    """What `event_attributes` must hold: the attributes of the stored events."""
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT source, event_id, occurred_us, type, subject_type, subject_id, account,"
            " owner, channel, link, attributes, record FROM events")).all()  # fmt: skip
    return set(attribute_rows([tuple(r) for r in rows]))


def check_settled(store: Store, *, exact: bool = True) -> None:
    """`settled` holds what the event carries wherever it is set, and is set on no event that
    shares its instant with another of its subject; with `exact`, it is set on every other
    event whose attributes fit (a removed event may leave a clear behind: not `exact`)."""
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT source, event_id, subject_type, subject_id, occurred_us, attributes,"
            " settled FROM events")).all()  # fmt: skip
    at: dict[tuple, int] = {}
    for r in rows:
        at[r[2:5]] = at.get(r[2:5], 0) + 1
    carried: dict[tuple, dict] = {}
    for a in attribute_rows([(r[0], r[1], r[4], "t", r[2], r[3], None, None, None, None, r[5],
                              None) for r in rows]):  # fmt: skip
        carried.setdefault(a[:2], {})[a[2]] = a[6]
    for r in rows:
        own = carried.get(r[:2], {})
        alone = at[r[2:5]] == 1
        if r[6] is not None:
            assert alone, r
            assert json.loads(r[6]) == own, r
        elif exact:
            assert not alone or len(json.dumps(own, ensure_ascii=False).encode()) > SETTLED_BYTES, r


def ev(id_: str, at: int, subject: str = "C-1", record: str | None = None, **attrs) -> Event:
    return Event("crm", id_, at, "case.updated", "case", subject, attributes=attrs,
                 record=record)


def test_every_write_path_keeps_the_attributes_of_the_stored_events(database_url, tmp_path):
    store = Store.open(database_url)
    store.ingest([ev("a", T0, priority="urgent", tier="key"), ev("b", T0 + H, priority=""),
                  ev("c", T0 + 2 * H, score=4.5, flag=True, nested={"b": 1, "a": [1, None]})])
    assert stored(store) == derived(store)
    assert ("crm", "a", "tier", "case", "C-1", T0, "key") in stored(store)
    assert ("crm", "c", "flag", "case", "C-1", T0 + 2 * H, "true") in stored(store)
    assert not any(r[1] == "b" for r in stored(store))  # "" is not carried
    check_settled(store)
    # Stored again with fewer attributes, another subject and instant: the old rows go.
    store.ingest([ev("a", T0 + 3 * H, subject="C-2", priority="low")])
    assert stored(store) == derived(store)
    assert {r[2] for r in stored(store) if r[1] == "a"} == {"priority"}
    # The same event twice in one writer: the last one's attributes stay.
    store.ingest([ev("d", T0, tier="a"), ev("e", T0), ev("d", T0, priority="high")],
                 batch_size=1)
    assert {r[2] for r in stored(store) if r[1] == "d"} == {"priority"}
    assert stored(store) == derived(store)
    check_settled(store)
    # A later write, another source, that shares an instant clears both; moving away does
    # not set the one left behind again (it is only looked up), and never wrongly.
    store.ingest([Event("file", "f", T0 + H, "note", "case", "C-1", attributes={"x": "1"})])
    check_settled(store)
    store.ingest([Event("file", "f", T0 + 5 * H, "note", "case", "C-1")])
    check_settled(store, exact=False)
    # Attributes too long for `settled` are looked up instead.
    store.ingest([ev("g", T0 + 9 * H, note="x" * SETTLED_BYTES)])
    check_settled(store, exact=False)
    # CRM pages: a record's events replaced as a set, then deleted.
    store.apply_page("crm", "Case", [RecordChange("Case/1", [
        ev("r1", T0, record="Case/1", priority="high"),
        ev("r2", T0 + H, record="Case/1", tier="gold")])], None)  # fmt: skip
    store.apply_page("crm", "Case", [RecordChange("Case/1", [
        ev("r1", T0, record="Case/1", priority="urgent")])], None)  # fmt: skip
    assert stored(store) == derived(store)
    check_settled(store, exact=False)
    store.apply_page("crm", "Case", [RecordChange("Case/2", [
        ev("s3", T0 + 7 * H, subject="C-3", record="Case/2", priority="high"),
        ev("s4", T0 + 7 * H, subject="C-3", record="Case/2")])], None)  # fmt: skip
    check_settled(store, exact=False)
    assert ("crm", "r1", "priority", "case", "C-1", T0, "urgent") in stored(store)
    store.apply_page("crm", "Case", [RecordChange("Case/1", [], deleted=True)], None)
    assert not any(r[1].startswith("r") for r in stored(store))
    assert stored(store) == derived(store)
    # Purge: what the purged events carried goes with them.
    store.purge_before(T0 + H)
    assert stored(store) == derived(store)
    check_settled(store, exact=False)
    assert min(r[5] for r in stored(store)) >= T0 + H
    store.close()


def test_an_import_into_a_store_with_events_replaces_what_they_carried(database_url, tmp_path,
                                                                        monkeypatch):
    from qmon import ingest
    from qmon.ingest import import_files

    store = Store.open(database_url)
    path = tmp_path / "events.jsonl"
    rows = [{"id": "x1", "occurred_at": "2026-03-27T12:00:00Z", "type": "case.opened",
             "subject_type": "case", "subject_id": "C-1", "priority": "urgent"}]
    # Into the empty store, in batches: events sharing an instant, in one batch and across
    # two, are cleared at commit; the others settled.
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({**rows[0], "id": f"m{n}", "subject_id": f"C-{n // 3}",
        "occurred_at": f"2026-03-27T12:00:0{n % 2}Z"}) + "\n" for n in range(9)))  # fmt: skip
    monkeypatch.setattr(ingest, "BATCH_ROWS", 2)
    import_files(store, [many], attributes={"priority"})
    monkeypatch.undo()
    check_settled(store)
    with store.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM events WHERE settled IS NULL")).scalar() == 6
        conn.execute(text("DELETE FROM events"))
        conn.execute(text("DELETE FROM event_attributes"))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_files(store, [path], attributes={"priority"})
    assert stored(store) == derived(store) != set()
    rows[0]["priority"] = None
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_files(store, [path], attributes={"priority"})
    assert stored(store) == derived(store) == set()
    store.close()


def test_migration_0010_fills_the_table_from_the_stored_events(database_url):
    engine = Store.open(database_url, check_schema=False).engine
    migrate.upgrade(engine, "0009")
    # A value over VALUE_BYTES (a store written before the limit) is not carried: PostgreSQL
    # could not index it, and the upgrade must not fail on it.
    long = "".join(random.Random(1).choice(string.ascii_letters) for _ in range(5_000))
    events = [ev("a", T0, priority="urgent"), ev("b", T0 + H, tier=""), ev("c", T0, n=3),
              ev("d", T0, note=long)]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO events (source, event_id, occurred_us, type, subject_type, subject_id,"
            " account, owner, channel, link, attributes, record) VALUES (:s, :i, :o, :t, :st,"
            " :sid, :a, :ow, :c, :l, :at, :r)"), [dict(zip(
                ("s", "i", "o", "t", "st", "sid", "a", "ow", "c", "l", "at", "r"),
                event_to_row(e), strict=True)) for e in events])  # fmt: skip
    migrate.upgrade(engine)
    store = Store.open(database_url)
    assert stored(store) == derived(store) == {
        ("crm", "a", "priority", "case", "C-1", T0, "urgent"),
        ("crm", "c", "n", "case", "C-1", T0, "3")}
    store.close()


def test_migration_0011_settles_the_events_alone_at_their_instant(database_url):
    engine = Store.open(database_url, check_schema=False).engine
    migrate.upgrade(engine, "0010")
    events = [ev("a", T0, priority="urgent", n=3), ev("b", T0 + H), ev("c", T0 + H, tier="k"),
              ev("d", T0, subject="C-2", tier="é"), ev("e", T0 + 2 * H, note="x" * 500)]
    with engine.begin() as conn:
        rows = [event_to_row(e) for e in events]
        conn.execute(text(
            "INSERT INTO events (source, event_id, occurred_us, type, subject_type, subject_id,"
            " account, owner, channel, link, attributes, record) VALUES (:s, :i, :o, :t, :st,"
            " :sid, :a, :ow, :c, :l, :at, :r)"), [dict(zip(
                ("s", "i", "o", "t", "st", "sid", "a", "ow", "c", "l", "at", "r"),
                r, strict=True)) for r in rows])  # fmt: skip
        conn.execute(text(
            "INSERT INTO event_attributes (source, event_id, name, subject_type, subject_id,"
            " occurred_us, value) VALUES (:s, :i, :n, :st, :sid, :o, :v)"), [dict(zip(
                ("s", "i", "n", "st", "sid", "o", "v"), r, strict=True))
                for r in attribute_rows(rows)])  # fmt: skip
    migrate.upgrade(engine)
    store = Store.open(database_url)
    check_settled(store)
    with store.engine.connect() as conn:
        got = dict(conn.execute(text("SELECT event_id, settled FROM events")).all())
    assert json.loads(got["a"]) == {"priority": "urgent", "n": "3"}
    assert json.loads(got["d"]) == {"tier": "é"}
    assert got["b"] is None and got["c"] is None and got["e"] is None
    store.close()


# -- SQL lookups equal the in-memory ones --------------------------------------------------

OPENED, REPLY, WAIT, BACK, UPDATED, CLOSED = ("case.opened", "case.first_response",
    "case.waiting", "case.replied", "case.updated", "case.closed")  # fmt: skip


def promise(**kw) -> Promise:
    urgent = Condition((Match("priority", frozenset({"urgent"})),))
    email = Condition((Match("channel", frozenset({"email"}), negate=True),))
    roles = {OPENED: Role.START, WAIT: Role.PAUSE, BACK: Role.RESUME, REPLY: Role.STOP,
             **({CLOSED: Role.UNTIL} if kw.get("repeat") else {CLOSED: Role.STOP})}
    return Promise("p", "p", "service", roles, None, WallClock(), when=email,
                   targets=(Target(urgent, Duration(H)), Target(None, Duration(4 * H))), **kw)


PROMISES = [promise(), promise(retarget=True), promise(repeat=True),
            promise(repeat=True, retarget=True)]
IDS = [f"{p}-{n}" for p in ("a", "A", "b", "é") for n in (1, 2, 10, 9)]


@st.composite
def histories(draw):
    ids = iter(draw(st.permutations(IDS)))
    attrs = st.fixed_dictionaries({}, optional={
        "priority": st.sampled_from(["urgent", " High ", "", None, 3, True]),
        "channel": st.sampled_from(["email", "Web", ""]),
        "owner": st.sampled_from(["anna", "", None]),
    })
    events = []
    for _ in range(draw(st.integers(1, 12))):
        at = T0 + draw(st.integers(0, 8)) * H // 2
        typ = draw(st.sampled_from([OPENED, OPENED, REPLY, WAIT, BACK, UPDATED, CLOSED]))
        a = dict(draw(attrs))
        channel, owner = a.pop("channel", None), a.pop("owner", None)
        subject = draw(st.sampled_from(["C-1", "C-2"]))
        events.append(Event("crm", next(ids), at, typ, "case", subject, owner=owner,
                            channel=channel, attributes=a))
    as_of = T0 + draw(st.integers(0, 10)) * H // 2
    # Written in batches of this size, after (when drawn) the same events at other instants:
    # the ones written first then move, leaving their old instants' clears behind.
    batch = draw(st.integers(1, 13))
    moved = draw(st.lists(st.sampled_from(events), unique_by=lambda e: e.id, max_size=4))
    before = [replace(e, occurred_us=T0 + draw(st.integers(0, 8)) * H // 2) for e in moved]
    return events, as_of, batch, before


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_store(request, tmp_path_factory):
    from tests.conftest import _pg_schema_url

    if request.param == "sqlite":
        yield Store.open(f"sqlite:///{tmp_path_factory.mktemp('carry') / 'store.db'}")
    else:
        for url in _pg_schema_url():
            yield Store.open(url)


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(history=histories(), extra=st.sampled_from([(), ("owner",), ("score",)]))
def test_decided_rows_from_sql_equal_those_from_memory(shared_store, history, extra):
    events, as_of, batch, before = history
    store = shared_store
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM events"))
        conn.execute(text("DELETE FROM event_attributes"))
    if before:
        store.ingest(before)
    store.ingest(events, batch_size=batch)
    check_settled(store, exact=not before)
    for p in PROMISES:
        names = attribute_names(p, extra)
        got = list(store.promise_events(p, as_of, extra=extra))
        want = []
        for subject in ("C-1", "C-2"):
            mine = [(e.occurred_us, e.type, e.id, e.owner, e.channel, e.account, e.attributes)
                    for e in events if e.subject_id == subject]  # fmt: skip
            want += decided_rows(p, names, "case", subject, mine, as_of)
        assert list(map(unpacked, got)) == list(map(unpacked, want)), (p.retarget, p.repeat)


def unpacked(row) -> tuple:
    """A decided row with its values as a list (each store writes its JSON arrays its way)."""
    return (*row[:7], *(json.loads(v) if isinstance(v, str) and v.startswith("[") else v
                        for v in row[7:]))  # fmt: skip


def test_two_writers_adding_events_at_one_instant_at_once_clear_both(database_url):
    """PostgreSQL: the second writer of a subject waits at its change mark until the first
    has committed, so its clear sees the first one's event (`qmon.store.carried`)."""
    import threading
    import time

    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite lets one writer write at a time")
    first, second = Store.open(database_url), Store.open(database_url)
    first.ingest([ev("seed", T0 - H)])  # not an empty store: each writer's own clear
    done = []

    def write_second():
        with second.writer() as w:
            w.write([event_to_row(ev("b", T0, priority="high"))])
            done.append(w.commit())

    thread = threading.Thread(target=write_second)
    with first.writer() as w:
        w.write([event_to_row(ev("a", T0, priority="urgent"))])
        thread.start()
        time.sleep(0.3)  # the second has written its event, and waits at its mark
        assert not done
        w.commit()
    thread.join(10)
    assert done and not thread.is_alive()
    check_settled(first)
    with first.engine.connect() as conn:
        nulls = conn.execute(text("SELECT count(*) FROM events WHERE settled IS NULL")).scalar()
    assert nulls == 2
    first.close()
    second.close()
