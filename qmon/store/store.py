"""Opening the store and CRM records; the reads are `qmon.store.reads`, the bulk writer
`qmon.store.writer`, cursors and marks `qmon.store.bookkeeping`, `qmon purge` `qmon.store.purge`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from qmon.connectors.base import RecordChange
from qmon.errors import InputError, Problem, StoreUnavailable
from qmon.events import Event, event_to_row, size_problems
from qmon.store import carried
from qmon.store.bookkeeping import Bookkeeping
from qmon.store.dberrors import describe
from qmon.store.migrate import SchemaMismatch, ensure_current
from qmon.store.purge import Purging, purge_floor
from qmon.store.reads import EventReads, RoleRow
from qmon.store.schema import EVENT_COLUMNS
from qmon.store.writer import (
    _COLS,
    _SUBJECT,
    EventWriter,
    IngestCounts,
    _mark_dirty,
    _note_sources,
    _upsert_statement,
)
from qmon.textsafe import stored_text
from qmon.timeutil import END_US, FIRST_US, instant_problem
from qmon.urls import redact

log = logging.getLogger(__name__)


@dataclass
class RecordCounts:
    """What storing a page of CRM records did, counted in records."""

    new: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def add(self, other: RecordCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.deleted += other.deleted
        self.unchanged += other.unchanged


def _as_stored(ev: Event, source: str) -> tuple[Any, ...]:
    """A CRM event as a row, its text cleaned as both stores can hold it (`stored_text`:
    a NUL or a lone surrogate in a CRM value is not worth failing a sync over)."""
    if ev.source != source or ev.record is None:
        raise ValueError(f"event {ev.id!r} must have source {source!r} and a record")
    return tuple(stored_text(v) if type(v) is str else v for v in event_to_row(ev))


def _sized(source: str, record: str, events: Sequence[Event]) -> list[Event]:
    """A CRM record's events as the store can hold them (`qmon.events.size_problems`): an
    event with a key field too long is left out, an attribute value too long is not kept
    (the event then does not carry it), each with a warning; a sync does not stall on it."""
    kept = []
    shown = record[:80]  # the record or the id may be what is too long
    for ev in events:
        key, long = size_problems(ev)
        if key:
            log.warning("%s record %s: event %s left out: %s", source, shown, ev.id[:80], key)
            continue
        if long:
            for problem in long.values():
                log.warning("%s record %s: event %s: %s, so it is not kept", source, shown,
                            ev.id, problem)  # fmt: skip
            ev = replace(ev, attributes={
                k: v for k, v in ev.attributes.items() if k not in long})
        kept.append(ev)
    return kept


def _warn_out_of_range(source: str, record: str, events: Sequence[Event]) -> None:
    """Log the events of a CRM record left out for an instant qmon does not store."""
    for ev in events:
        problem = instant_problem(ev.occurred_us)
        if problem:
            log.warning("%s record %s: event %s left out: %s", source, record, ev.id, problem)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _in_memory(url: URL) -> bool:
    """Whether a SQLite URL names no file: `sqlite://`, `:memory:` or `mode=memory`."""
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database or (
        url.query.get("mode") == "memory"
    )


#: Columns any qmon `events` table has had, since the first migration.
_QMON_EVENT_COLUMNS = frozenset({"source", "event_id", "occurred_us", "type", "subject_id"})


def _foreign_events(engine: Engine) -> bool:
    """Whether the database has an `events` table that qmon did not make."""
    from sqlalchemy import inspect

    with engine.connect() as conn:
        inspector = inspect(conn)
        if not inspector.has_table("events"):
            return False
        columns = {column["name"] for column in inspector.get_columns("events")}
    return not _QMON_EVENT_COLUMNS <= columns


class Store(EventReads, Bookkeeping, Purging):
    """The event store behind one SQLAlchemy URL.

    Use `Store.open(url)`; it creates the tables on first use.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, check_schema: bool = True) -> Store:
        """Connect, and make sure the schema is the one this qmon writes: an empty store is
        created at the newest migration (`qmon.store.migrate`); `check_schema=False` skips
        that, for `qmon db` itself.

        Raises:
            StoreUnavailable: the database cannot be reached or used; the message never shows
                a password.
            InputError: the URL is not one qmon can use (a bad URL, an in-memory SQLite
                store), or the database holds another application's `events` table.
            SchemaMismatch: the store needs `qmon db upgrade` (or a newer qmon).
        """
        safe = redact(url)
        try:
            parsed = make_url(url)
            if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            # The agent holds a connection per running job (its claim) besides the job's own;
            # qmon serve one per request thread (`qmon.web.server.THREADS`) besides its loop.
            # A SQLite file is never "gone away": no ping before each use.
            postgres = parsed.get_backend_name() == "postgresql"
            pool = {} if not postgres and _in_memory(parsed) else {  # (refused below)
                "pool_size": 10, "max_overflow": 20 if postgres else 10}  # fmt: skip
            engine = create_engine(parsed, pool_pre_ping=postgres, **pool)
        except Exception as exc:  # unknown driver, bad URL: the user named something wrong
            problem = Problem(safe, None, f"not a database URL qmon can use: {redact(str(exc))}")
            raise InputError([problem]) from None
        foreign = ("holds an `events` table that is not qmon's; give qmon a database (or a "
                   "PostgreSQL schema) of its own")  # fmt: skip
        try:
            if engine.dialect.name == "sqlite":
                if _in_memory(parsed):
                    message = ("an in-memory SQLite store loses every row when qmon exits; "
                               "name a file, like sqlite:///qmon.db")  # fmt: skip
                    raise InputError([Problem(safe, None, message)])
                # Before the pragmas, which would switch another application's file to WAL.
                if _foreign_events(engine):
                    raise InputError([Problem(safe, None, foreign)])
                engine.dispose()
                event.listen(engine, "connect", _sqlite_pragmas)
            if check_schema:
                ensure_current(engine)
            elif _foreign_events(engine):  # `qmon db upgrade` must not add to it
                raise InputError([Problem(safe, None, foreign)])
        except SchemaMismatch:
            if _foreign_events(engine):
                raise InputError([Problem(safe, None, foreign)]) from None
            raise
        except DBAPIError as exc:
            engine.dispose()
            raise StoreUnavailable(f"cannot open the store at {safe}: {describe(exc)}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self, *, distinct: bool = False) -> Iterator[EventWriter]:
        """A transaction for a bulk write: committed only if `commit()` is called inside.
        `distinct`: no (source, event_id) comes twice (see `EventWriter`)."""
        with self.engine.connect() as conn:
            conn.begin()  # raw driver cursors below: make SQLAlchemy own the transaction
            if self.dialect == "sqlite":
                # Take the write lock now, not at the first write: the count of events the
                # writer reads first (inserted = after - before) is then one no other import
                # can change before this one commits. The sqlite3 module would begin only at
                # the first INSERT, so a count read before it saw another import's commit
                # or missed it (`1,000,000 inserted, -500,000 updated`).
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            writer = EventWriter(conn, self.dialect, purge_floor(conn), distinct=distinct)
            try:
                yield writer
            finally:
                if not writer.committed:
                    conn.rollback()

    def ingest(self, events: Iterable[Event], batch_size: int = 20_000) -> IngestCounts:
        """Upsert events in one transaction (all or nothing)."""
        with self.writer() as w:
            batch: list[tuple[Any, ...]] = []
            for ev in events:
                batch.append(event_to_row(ev))
                if len(batch) >= batch_size:
                    w.write(batch)
                    batch = []
            if batch:
                w.write(batch)
            return w.commit()

    # -- CRM records and sync cursors --------------------------------------------------------

    def apply_page(
        self,
        source: str,
        stream: str,
        changes: Sequence[RecordChange],
        position_us: int | None,
    ) -> RecordCounts:
        """Store one page of CRM records and the stream's cursor in one transaction.

        Each record's events replace the events it produced before, as a set; a deleted record
        loses them all. A record read again exactly as stored is left alone (and counted as
        unchanged), so the lookback's re-reads cost no writes. `position_us` None keeps the
        cursor where it is.
        """
        latest: dict[str, RecordChange] = {}
        for change in changes:  # a record read twice in one page: the later read wins
            latest.pop(change.record, None)
            latest[change.record] = change
        counts = RecordCounts()
        with self.engine.begin() as conn:
            floor = purge_floor(conn)
            stored = self._record_rows(conn, source, list(latest))
            gone: list[dict[str, str]] = []
            written: list[tuple[Any, ...]] = []
            changed: set[tuple[str, str]] = set()
            for record, change in latest.items():
                before = stored.get(record, set())
                events = _sized(source, record, change.events) if not change.deleted else []
                after = {_as_stored(ev, source) for ev in events
                         if (floor is None or ev.occurred_us >= floor)
                         and FIRST_US <= ev.occurred_us < END_US}  # fmt: skip
                if len(after) < len(events):
                    _warn_out_of_range(source, record, events)
                if after == before:
                    counts.unchanged += 1
                    continue
                if change.deleted:
                    counts.deleted += 1
                elif before:
                    counts.updated += 1
                else:
                    counts.new += 1
                if before:
                    gone.append({"source": source, "record": record})
                written.extend(after)
                changed.update((row[_SUBJECT[0]], row[_SUBJECT[1]]) for row in before | after)
            if gone:
                carried.forget_of_records(conn, gone)
                conn.execute(
                    text("DELETE FROM events WHERE source = :source AND record = :record"), gone
                )
            settled, attributes = carried.of_rows(written)
            rows = [{**dict(zip(EVENT_COLUMNS, row, strict=True)), "settled": own}
                    for row, own in zip(written, settled, strict=True)]  # fmt: skip
            if rows:
                conn.execute(_upsert_statement(), rows)
                carried.replace_of_events(conn, rows, attributes)
                _note_sources(conn, written)
            _mark_dirty(conn, changed)
            if position_us is not None:
                self._save_cursor(conn, source, stream, position_us=position_us)
            if rows:  # after the change marks (see `qmon.store.carried`)
                conn.execute(text(carried.UNSETTLE_ONE), rows)
        return counts

    def record_events(self, source: str) -> dict[str, list[str]]:
        """Event ids per CRM record of a source (for checks and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT record, event_id FROM events WHERE source = :s AND record IS NOT NULL "
                    "ORDER BY record, event_id"
                ),
                {"s": source},
            ).all()
        found: dict[str, list[str]] = {}
        for record, event_id in rows:
            found.setdefault(record, []).append(event_id)
        return found

    @staticmethod
    def _record_rows(
        conn: Connection, source: str, records: list[str]
    ) -> dict[str, set[tuple[Any, ...]]]:
        stored: dict[str, set[tuple[Any, ...]]] = {}
        query = text(
            f"SELECT {_COLS} FROM events WHERE source = :source AND record IN :records"
        ).bindparams(bindparam("records", expanding=True))
        for start in range(0, len(records), 500):
            part = records[start : start + 500]
            for row in conn.execute(query, {"source": source, "records": part}):
                stored.setdefault(row[-1], set()).add(tuple(row))
        return stored



__all__ = ["EventWriter", "IngestCounts", "RecordCounts", "RoleRow", "Store", "event_to_row"]
