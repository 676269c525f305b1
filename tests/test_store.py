"""The event store on SQLite and PostgreSQL: bulk upsert counts, idempotency, reading back."""

from __future__ import annotations

import pytest

from qmon.errors import StoreUnavailable
from qmon.events import Event
from qmon.store import Store
from qmon.store import reads as reads_module


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


def _coded_store(database_url):
    store = Store.open(database_url)
    store.ingest(
        [
            ev(1, 30, "quote.sent", "D-2", owner="bram"),
            ev(2, 30, "quote.requested", "D-2"),  # same instant: the start (0) comes first
            ev(3, 20, "quote.requested", "D-1", owner="anna", channel="web", account="acme"),
            ev(4, 5, "note.added", "D-1"),
            ev(5, 10, "quote.sent", "D-1"),
            ev(6, 99, "quote.sent", "D-1"),  # after as-of
        ]
    )
    return store


CODES = {"quote.requested": 0, "quote.sent": 3}
AS_OF = 1_700_000_000_000_000 + 50


def test_role_events_with_codes_in_time_then_code_order(database_url):
    store = _coded_store(database_url)
    rows = [(r[1], r[2] - 1_700_000_000_000_000, *r[3:]) for r in store.role_events(CODES, AS_OF)]
    assert rows == [
        ("D-1", 10, 3, None, None, None),
        ("D-1", 20, 0, "anna", "web", "acme"),
        ("D-2", 30, 0, None, None, None),
        ("D-2", 30, 3, "bram", None, None),
    ]
    # without context, the same rows with owner, channel and account left out
    bare = store.role_events(CODES, AS_OF, context=False)
    bare = [(r[1], r[2] - 1_700_000_000_000_000, *r[3:]) for r in bare]
    assert bare == [(sid, t, code, None, None, None) for sid, t, code, *_ in rows]
    # one type, one subject
    one = store.role_events({"quote.sent": 3}, AS_OF, subject_id="D-2", context=False)
    assert [(r[1], r[3]) for r in one] == [("D-2", 3)]
    store.close()


def test_role_events_on_postgresql_without_chunked_streaming(pg_url, monkeypatch):
    """With a libpq older than 17, PostgreSQL rows come through a server-side cursor: the
    same rows as the chunked stream."""
    store = _coded_store(pg_url)
    streamed = list(store.role_events(CODES, AS_OF, chunk=1))
    monkeypatch.setattr(reads_module, "_streams_in_chunks", lambda: False)
    assert list(store.role_events(CODES, AS_OF, chunk=1)) == streamed
    assert len(streamed) == 4
    store.close()


def test_role_events_left_early_frees_the_connection(database_url):
    store = _coded_store(database_url)
    for _ in range(3):  # more than once: the pooled connection comes back usable
        rows = store.role_events(CODES, AS_OF, chunk=1)
        assert next(rows)[1] == "D-1"
        rows.close()
        assert store.count_events() == 6
    store.close()


def test_a_large_postgresql_import_refreshes_the_statistics(pg_url, monkeypatch):
    import qmon.store.writer as writer_module

    monkeypatch.setattr(writer_module, "ANALYZE_FROM_ROWS", 3)
    store = Store.open(pg_url)
    store.ingest([ev(i, t=i) for i in range(5)])
    with store.engine.connect() as conn:
        from sqlalchemy import text

        tuples = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass")
        ).scalar_one()
    assert tuples == 5  # -1 means never analysed
    store.close()
