"""The event store on SQLite and PostgreSQL: bulk upsert counts, idempotency, reading back."""

from __future__ import annotations

import pytest

from qmon.errors import StoreUnavailable
from qmon.events import Event
from qmon.store import Store


def ev(i: int, t: int = 0, type_: str = "quote.requested", subject: str = "D-1", **kw) -> Event:
    return Event("file", f"e{i}", 1_700_000_000_000_000 + t, type_, "deal", subject, **kw)


def test_ingest_counts_and_idempotency(database_url):
    store = Store.open(database_url)
    first = store.ingest([ev(1), ev(2, attributes={"amount": 10})])
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    again = store.ingest([ev(1), ev(2, attributes={"amount": 10})])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    changed = store.ingest([ev(1, t=5), ev(3)])
    assert (changed.inserted, changed.updated, changed.unchanged) == (1, 1, 0)
    assert store.count_events() == 3
    store.close()


def test_failed_write_changes_nothing(database_url):
    store = Store.open(database_url)
    store.ingest([ev(1)])
    with store.writer() as w:
        w.write([("file", "e9", 1, "x", "deal", "D", None, None, None, None, None, None)])
        # leaving without commit() rolls back
    assert store.count_events() == 1
    store.close()


def test_role_events_grouped_in_time_order_and_filtered(database_url):
    store = Store.open(database_url)
    store.ingest(
        [
            ev(1, 30, "quote.sent", "D-2"),
            ev(2, 10, "quote.requested", "D-2"),
            ev(3, 20, "quote.requested", "D-1", owner="anna"),
            ev(4, 5, "note.added", "D-1"),
            ev(5, 99, "quote.sent", "D-1"),
        ]
    )
    rows = list(store.role_events(["quote.requested", "quote.sent"], 1_700_000_000_000_000 + 50))
    assert [(r[1], r[2] - 1_700_000_000_000_000, r[3], r[4]) for r in rows] == [
        ("D-1", 20, "quote.requested", "anna"),
        ("D-2", 10, "quote.requested", None),
        ("D-2", 30, "quote.sent", None),
    ]
    assert [r[1] for r in store.role_events(["quote.sent"], 10**18, subject_id="D-1")] == ["D-1"]
    store.close()


def test_unreachable_database_is_a_clear_error_without_password():
    with pytest.raises(StoreUnavailable) as info:
        Store.open("postgresql://qmon:s3cret@127.0.0.1:1/nope?connect_timeout=2")
    assert "s3cret" not in str(info.value)
    assert "cannot open the store" in str(info.value)
