"""Opening the store, writing events in bulk, and reading them back for evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from qmon.errors import StoreUnavailable
from qmon.events import Event
from qmon.store.schema import EVENT_COLUMNS, EventRow

#: What the engine reads per event: subject_type, subject_id, occurred_us, type, owner,
#: channel, account.
RoleRow = tuple[str, str, int, str, str | None, str | None, str | None]

_COLS = ", ".join(EVENT_COLUMNS)
_CHANGED = [c for c in EVENT_COLUMNS if c not in ("source", "event_id")]


@dataclass
class IngestCounts:
    """What an ingest did: rows new to the store, rows that replaced different content, and
    rows that were already there exactly as given."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def event_to_row(ev: Event) -> tuple[Any, ...]:
    """The tuple a bulk statement writes for one event, in `EVENT_COLUMNS` order."""
    attrs = json.dumps(ev.attributes, sort_keys=True, ensure_ascii=False) if ev.attributes else None
    return (
        ev.source,
        ev.id,
        ev.occurred_us,
        ev.type,
        ev.subject_type,
        ev.subject_id,
        ev.account,
        ev.owner,
        ev.channel,
        ev.link,
        attrs,
    )


_SQLITE_UPSERT = (
    f"INSERT INTO events ({_COLS}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) "
    f"ON CONFLICT (source, event_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _CHANGED)
    + " WHERE "
    + " OR ".join(f"events.{c} IS NOT excluded.{c}" for c in _CHANGED)
)


def _sqlite_upsert(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Upsert rows on the raw sqlite3 connection; returns how many rows changed.

    An upsert whose row is already stored as given changes nothing and is not counted.
    """
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(_SQLITE_UPSERT, rows)
        return cur.rowcount
    finally:
        cur.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Store:
    """The event store behind one SQLAlchemy URL.

    Use `Store.open(url)`; it creates the tables on first use.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect and make sure the tables exist.

        Raises:
            StoreUnavailable: the database cannot be reached; the message never shows a password.
        """
        parsed = make_url(url)
        safe = parsed.render_as_string(hide_password=True)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
        except Exception as exc:  # unknown driver, bad URL
            raise StoreUnavailable(f"cannot use database {safe}: {exc}") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            SQLModel.metadata.create_all(engine, tables=[EventRow.__table__])
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
            raise StoreUnavailable(f"cannot open the store at {safe}: {reason}") from None
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[EventWriter]:
        """A transaction for a bulk write: committed only if `commit()` is called inside."""
        with self.engine.connect() as conn:
            conn.begin()  # raw driver cursors below: make SQLAlchemy own the transaction
            writer = EventWriter(conn, self.dialect)
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

    # -- reading ---------------------------------------------------------------------------

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(EventRow)).scalar_one()

    def time_range(self) -> tuple[int, int] | None:
        """The first and last `occurred_us` in the store, or None when it is empty."""
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT min(occurred_us), max(occurred_us) FROM events")).one()
        return None if row[0] is None else (row[0], row[1])

    def role_events(
        self,
        types: Sequence[str],
        as_of_us: int,
        subject_id: str | None = None,
        chunk: int = 20_000,
    ) -> Iterator[RoleRow]:
        """Events of `types` up to `as_of_us`, grouped by subject and in time order.

        Streams in chunks (a server-side cursor on PostgreSQL), so memory stays flat whatever
        the store's size. Runs on the raw driver cursor: this is the audit's hot path, and
        SQLAlchemy's row objects would double its cost.
        """
        mark = "?" if self.dialect == "sqlite" else "%s"
        params: list[Any] = [*types, as_of_us]
        where = f"type IN ({', '.join([mark] * len(types))}) AND occurred_us <= {mark}"
        if subject_id is not None:
            where += f" AND subject_id = {mark}"
            params.append(subject_id)
        sql = (
            "SELECT subject_type, subject_id, occurred_us, type, owner, channel, account "
            f"FROM events WHERE {where} ORDER BY subject_type, subject_id, occurred_us"
        )
        raw = self.engine.raw_connection()
        try:
            if self.dialect == "postgresql":
                cur = raw.cursor(name="qmon_role_events", binary=True)  # type: ignore[call-arg]
                cur.itersize = chunk
            else:
                cur = raw.cursor()
            cur.execute(sql, params)
            while part := cur.fetchmany(chunk):
                yield from part
            cur.close()
        finally:
            raw.rollback()
            raw.close()


class EventWriter:
    """Bulk upserts inside one open transaction; counts what changed."""

    def __init__(self, conn: Connection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self.committed = False
        self.counts = IngestCounts()
        self._written = 0
        self._modified = 0  # SQLite: inserted + updated, from rowcount
        self._before: int | None = None

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Upsert a batch of rows (tuples in `EVENT_COLUMNS` order)."""
        if not rows:
            return
        self._written += len(rows)
        if self._dialect == "postgresql":
            self._write_postgres(rows)
        else:
            self._write_sqlite(rows)

    def commit(self) -> IngestCounts:
        if self._dialect != "postgresql" and self._before is not None:
            after = self._conn.execute(text("SELECT count(*) FROM events")).scalar_one()
            self.counts.inserted = after - self._before
            self.counts.updated = self._modified - self.counts.inserted
        self.counts.unchanged = self._written - self.counts.inserted - self.counts.updated
        self._conn.commit()
        self.committed = True
        return self.counts

    def _write_sqlite(self, rows: list[tuple[Any, ...]]) -> None:
        if self._before is None:
            self._before = self._conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        self._modified += _sqlite_upsert(self._conn, rows)

    def _write_postgres(self, rows: list[tuple[Any, ...]]) -> None:
        raw = self._conn.connection.dbapi_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS qmon_staging "
                "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cur.execute("TRUNCATE qmon_staging")
            with cur.copy(f"COPY qmon_staging ({_COLS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            updates = ", ".join(f"{c} = excluded.{c}" for c in _CHANGED)
            old = ", ".join(f"events.{c}" for c in _CHANGED)
            new = ", ".join(f"excluded.{c}" for c in _CHANGED)
            cur.execute(
                f"WITH up AS (INSERT INTO events ({_COLS}) "
                f"SELECT {_COLS} FROM qmon_staging "
                f"ON CONFLICT (source, event_id) DO UPDATE SET {updates} "
                f"WHERE ({old}) IS DISTINCT FROM ({new}) RETURNING (xmax = 0) AS ins) "
                "SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM up"
            )
            inserted, updated = cur.fetchone()
        self.counts.inserted += inserted
        self.counts.updated += updated


__all__ = ["EventWriter", "IngestCounts", "RoleRow", "Store", "event_to_row"]
