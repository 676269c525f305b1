"""Opening the store, CRM records and cursors, purging; the reads are `qmon.store.reads`,
the bulk writer `qmon.store.writer`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from qmon.connectors.base import RecordChange
from qmon.errors import InputError, Problem, StoreUnavailable
from qmon.events import Event, event_to_row
from qmon.store import carried
from qmon.store.dberrors import describe
from qmon.store.migrate import SchemaMismatch, ensure_current
from qmon.store.reads import EventReads, RoleRow
from qmon.store.schema import EVENT_COLUMNS, SyncCursor
from qmon.store.writer import (
    _COLS,
    _NOTE_SOURCE,
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


#: The agent mark holding `qmon purge`'s cut: events older than it are never stored again.
PURGED_BEFORE = "purged_before"


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


class Store(EventReads):
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
            writer = EventWriter(conn, self.dialect, _purge_floor(conn), distinct=distinct)
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
            floor = _purge_floor(conn)
            stored = self._record_rows(conn, source, list(latest))
            gone: list[dict[str, str]] = []
            rows: list[dict[str, Any]] = []
            changed: set[tuple[str, str]] = set()
            for record, change in latest.items():
                before = stored.get(record, set())
                after = {_as_stored(ev, source) for ev in change.events
                         if (floor is None or ev.occurred_us >= floor)
                         and FIRST_US <= ev.occurred_us < END_US}  # fmt: skip
                if len(after) < len(change.events) and not change.deleted:
                    _warn_out_of_range(source, record, change.events)
                if change.deleted:
                    after = set()
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
                rows.extend(dict(zip(EVENT_COLUMNS, row, strict=True)) for row in after)
                changed.update((row[_SUBJECT[0]], row[_SUBJECT[1]]) for row in before | after)
            if gone:
                carried.forget_of_records(conn, gone)
                conn.execute(
                    text("DELETE FROM events WHERE source = :source AND record = :record"), gone
                )
            if rows:
                conn.execute(_upsert_statement(), rows)
                carried.replace_of_events(conn, rows)
                _note_sources(conn, (tuple(row.values()) for row in rows))
            _mark_dirty(conn, changed)
            if position_us is not None:
                self._save_cursor(conn, source, stream, position_us=position_us)
        return counts

    def cursor(self, source: str, stream: str) -> int | None:
        """The stream's high-water mark (UTC microseconds), None if it never synced."""
        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT position_us FROM sync_cursors WHERE source = :s AND stream = :t"),
                {"s": source, "t": stream},
            ).scalar_one_or_none()

    def mark_synced(self, source: str, stream: str, synced_us: int) -> None:
        """Record that the stream completed a sync at `synced_us`."""
        with self.engine.begin() as conn:
            self._save_cursor(conn, source, stream, synced_us=synced_us)

    def sync_state(self, source: str | None = None) -> list[SyncCursor]:
        """Every stream's cursor and last completed sync, optionally for one source."""
        sql = "SELECT source, stream, position_us, synced_us FROM sync_cursors"
        params: dict[str, Any] = {}
        if source is not None:
            sql += " WHERE source = :s"
            params["s"] = source
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY source, stream"), params).all()
        return [
            SyncCursor(source=r[0], stream=r[1], position_us=r[2], synced_us=r[3]) for r in rows
        ]

    def mark(self, name: str, at_us: int) -> None:
        """Record that `name` (e.g. `check`) completed at `at_us`."""
        with self.engine.begin() as conn:
            _set_mark(conn, name, at_us)

    def marks(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text("SELECT name, at_us FROM agent_marks")).all())

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

    def _save_cursor(
        self,
        conn: Connection,
        source: str,
        stream: str,
        *,
        position_us: int | None = None,
        synced_us: int | None = None,
    ) -> None:
        column = "position_us" if position_us is not None else "synced_us"
        value = position_us if position_us is not None else synced_us
        conn.execute(
            text(
                f"INSERT INTO sync_cursors (source, stream, {column}) VALUES (:s, :t, :v) "
                f"ON CONFLICT (source, stream) DO UPDATE SET {column} = excluded.{column}"
            ),
            {"s": source, "t": stream, "v": value},
        )

    def purge_before(self, cut_us: int, *, dry_run: bool = False) -> dict[str, int]:
        """Delete events that happened before `cut_us` and the alerts about instances that
        started before it, in one transaction, and remember the cut so that a later import
        or full sync does not store such events again. Returns rows deleted per table (with
        `dry_run`, what would be deleted)."""
        # Source alerts are about qmon's own syncs, not customers; an episode still going on
        # would be alerted again if its row went.
        where = {"events": "occurred_us < :cut",
                 "alerts": "started_us < :cut AND subject_type <> 'source'",
                 "writeback_tasks": "started_us < :cut",
                 "instance_facts": "started_us < :cut"}  # fmt: skip
        with self.engine.begin() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table} WHERE {cond}"),
                                    {"cut": cut_us}).scalar_one()
                for table, cond in where.items()
            }  # fmt: skip
            if dry_run:
                return counts
            for table, cond in where.items():
                conn.execute(text(f"DELETE FROM {table} WHERE {cond}"), {"cut": cut_us})
            # What the purged events carried (each row has its event's instant).
            conn.execute(text("DELETE FROM event_attributes WHERE occurred_us < :cut"),
                         {"cut": cut_us})
            # Instances lost their early events: the next check evaluates everything again.
            conn.execute(text("DELETE FROM check_state"))
            conn.execute(text("DELETE FROM event_sources"))
            conn.execute(text(_NOTE_SOURCE.format(
                rows="SELECT DISTINCT type, source FROM events WHERE true")))  # fmt: skip
            floor = _purge_floor(conn)
            if floor is None or cut_us > floor:
                _set_mark(conn, PURGED_BEFORE, cut_us)
        return counts

    def purge_cut(self) -> int | None:
        """The cut of `qmon purge --before` (events older than it are not stored), or None."""
        with self.engine.connect() as conn:
            return _purge_floor(conn)

    def lower_purge_cut(self, cut_us: int | None) -> int | None:
        """Lower the purge cut to `cut_us`, or remove it (None); returns the cut it had.

        Nothing is deleted and nothing comes back: events purged before stay gone until a
        later import or full sync stores them again, which the lower cut now lets through.

        Raises:
            ValueError: `cut_us` is above the present cut (raising it is `purge_before`).
        """
        with self.engine.begin() as conn:
            floor = _purge_floor(conn)
            if cut_us is not None and floor is not None and cut_us > floor:
                raise ValueError("is later than the present cut")
            if cut_us is None or floor is None:
                conn.execute(text("DELETE FROM agent_marks WHERE name = :n"),
                             {"n": PURGED_BEFORE})  # fmt: skip
            if cut_us is not None and floor is not None:
                _set_mark(conn, PURGED_BEFORE, cut_us)
        return floor


def _set_mark(conn: Connection, name: str, at_us: int) -> None:
    conn.execute(
        text(
            "INSERT INTO agent_marks (name, at_us) VALUES (:n, :t)"
            " ON CONFLICT (name) DO UPDATE SET at_us = excluded.at_us"
        ),
        {"n": name, "t": at_us},
    )


def _purge_floor(conn: Connection) -> int | None:
    return conn.execute(
        text("SELECT at_us FROM agent_marks WHERE name = :n"), {"n": PURGED_BEFORE}
    ).scalar_one_or_none()


__all__ = ["EventWriter", "IngestCounts", "RecordCounts", "RoleRow", "Store", "event_to_row"]
