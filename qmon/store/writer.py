"""Writing events in bulk inside one transaction (`EventWriter`), and the bookkeeping every
write path shares: the upsert, the change marks of the incremental check, the sources noted.
Bulk statements run on the raw driver (executemany on SQLite, COPY on PostgreSQL): no ORM
object per row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from qmon.store import carried
from qmon.store.schema import EVENT_COLUMNS

_COLS = ", ".join(EVENT_COLUMNS)
#: What the upserts write: the event's columns and the store's `settled` (`carried.of_rows`)
_WRITTEN = f"{_COLS}, settled"
_OCCURRED = EVENT_COLUMNS.index("occurred_us")
_CHANGED = [c for c in EVENT_COLUMNS if c not in ("source", "event_id")]


#: A PostgreSQL import that adds at least this many rows refreshes the table's statistics.
ANALYZE_FROM_ROWS = 100_000


@dataclass
class IngestCounts:
    """What an ingest did: rows new to the store, rows that replaced different content, and
    rows that were already there exactly as given."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    purged: int = 0  # older than `qmon purge --before`: not stored again


def _upsert_statement() -> Any:
    """INSERT ... ON CONFLICT for named parameters (SQLite and PostgreSQL say it alike): the
    event's columns and `settled`."""
    return text(
        f"INSERT INTO events ({_WRITTEN}) VALUES"
        f" ({', '.join(':' + c for c in (*EVENT_COLUMNS, 'settled'))}) "
        "ON CONFLICT (source, event_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in (*_CHANGED, "settled"))
    )


_SQLITE_UPSERT = (
    f"INSERT INTO events ({_WRITTEN}) VALUES ({', '.join('?' * (len(EVENT_COLUMNS) + 1))}) "
    f"ON CONFLICT (source, event_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_CHANGED, "settled"))
    + " WHERE "
    + " OR ".join(f"events.{c} IS NOT excluded.{c}" for c in _CHANGED)
)


def _sqlite_batch(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """The batch's keys, subjects and instants as the temporary table `qmon_batch`, which
    the marks of moved events and the clear of `settled` read."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS qmon_batch (source TEXT, event_id TEXT,"
                    " subject_type TEXT, subject_id TEXT, occurred_us INTEGER)")  # fmt: skip
        cur.execute("DELETE FROM qmon_batch")
        cur.executemany("INSERT INTO qmon_batch VALUES (?, ?, ?, ?, ?)", [
            (r[0], r[1], r[_SUBJECT[0]], r[_SUBJECT[1]], r[_OCCURRED]) for r in rows])  # fmt: skip
    finally:
        cur.close()


#: Marks the subjects that events of the batch stored before belonged to, if an event moves
#: to another subject (see `CheckDirty`): before the upsert, while the old rows are there.
_MARK_MOVED = (
    "SELECT DISTINCT e.subject_type, e.subject_id, 1 FROM qmon_batch b"
    " JOIN events e ON e.source = b.source AND e.event_id = b.event_id"
    " WHERE e.subject_type <> b.subject_type OR e.subject_id <> b.subject_id"
)


def _sqlite_upsert(conn: Connection, rows: list[tuple[Any, ...]], settled: list[str | None],
                   *, settle: bool) -> int:  # fmt: skip
    """Upsert rows on the raw sqlite3 connection and (with `settle`) clear `settled` where
    they share an instant with another event (from `qmon_batch`, in one statement); returns
    how many rows changed.

    An upsert whose row is already stored as given changes nothing and is not counted.
    """
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(_SQLITE_UPSERT, [(*r, o) for r, o in zip(rows, settled, strict=True)])
        changed = cur.rowcount
        if settle:
            cur.execute(carried.unsettle_instants("qmon_batch"))
        return changed
    finally:
        cur.close()


_SUBJECT = (EVENT_COLUMNS.index("subject_type"), EVENT_COLUMNS.index("subject_id"))

#: Marks a subject changed for the incremental check (`CheckDirty`), or marks it again.
_MARK_DIRTY = (
    "INSERT INTO check_dirty (subject_type, subject_id, version) {rows} "
    "ON CONFLICT (subject_type, subject_id) DO UPDATE SET version = check_dirty.version + 1"
)


def _mark_dirty(conn: Connection, subjects: Iterable[tuple[str, str]]) -> None:
    """Mark subjects changed, in the caller's transaction (see `CheckDirty`). On the raw
    driver: SQLAlchemy's parameters per row cost more than the statement (0.6 s per 1M)."""
    pairs = list(set(subjects))
    if not pairs:
        return
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(_MARK_DIRTY.format(rows=f"VALUES ({mark}, {mark}, 1)"), pairs)
    finally:
        cur.close()


_TYPE, _SOURCE = EVENT_COLUMNS.index("type"), EVENT_COLUMNS.index("source")
#: Notes that a source has events of a type (`EventSource`).
_NOTE_SOURCE = "INSERT INTO event_sources (type, source) {rows} ON CONFLICT DO NOTHING"


def _note_sources(conn: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Note the (type, source) pairs of stored rows, in the caller's transaction."""
    params = [{"t": t, "s": src} for t, src in {(r[_TYPE], r[_SOURCE]) for r in rows}]
    if params:
        conn.execute(text(_NOTE_SOURCE.format(rows="VALUES (:t, :s)")), params)


class EventWriter:
    """Bulk upserts inside one open transaction; counts what changed. Rows older than the
    purge floor (`qmon purge --before`) are left out and counted as `purged`.

    The attributes the rows carry are stored with them (`qmon.store.carried`). With
    `distinct`, the caller promises that no (source, event_id) comes twice in this writer
    (`qmon import` checks its input for that), so a store empty before it has no attributes
    of an earlier version of a row to replace."""

    def __init__(self, conn: Connection, dialect: str, floor_us: int | None = None, *,
                 distinct: bool = False) -> None:  # fmt: skip
        self._conn = conn
        self._dialect = dialect
        self._floor = floor_us
        self._distinct = distinct
        self.committed = False
        self.counts = IngestCounts()
        self._written = 0
        self._modified = 0  # SQLite: inserted + updated, from rowcount
        self._before: int | None = None
        self._had_events: bool | None = None  # PostgreSQL: whether events were stored before
        self._had_attributes: bool | None = None  # whether event_attributes had rows before

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Upsert a batch of rows (tuples in `EVENT_COLUMNS` order)."""
        if self._floor is not None:
            kept = [row for row in rows if row[_OCCURRED] >= self._floor]
            self.counts.purged += len(rows) - len(kept)
            rows = kept
        if not rows:
            return
        again = self._written > 0 and not self._distinct  # a row may come a second time
        self._written += len(rows)
        if self._dialect == "postgresql":
            self._write_postgres(rows, again)
        else:
            self._write_sqlite(rows, again)

    def _fresh(self) -> bool:
        """Whether every event in the store is from this writer (it was empty before): then
        `settled` is cleared once, at commit, in one pass over the events by subject, instead
        of from each batch's rows (a third of the cost, measured at 1M events)."""
        return self._distinct and (self._before == 0 if self._dialect != "postgresql"
                                   else self._had_events is False)  # fmt: skip

    def commit(self) -> IngestCounts:
        if self._written and self._dialect == "postgresql":
            # After the change marks (see `qmon.store.carried`), once for the transaction.
            if self._fresh():
                self._conn.execute(text(carried.UNSETTLE_ALL))
            else:
                self._conn.execute(text("SET LOCAL enable_hashjoin = off"))  # index probes
                self._conn.execute(text("SET LOCAL enable_mergejoin = off"))
                self._conn.execute(text(carried.unsettle_instants("qmon_written")))
        elif self._written and self._fresh():  # (SQLite: one writer at a time)
            self._conn.execute(text(carried.UNSETTLE_ALL))
        if self._dialect != "postgresql" and self._before is not None:
            after = self._conn.execute(text("SELECT count(*) FROM events")).scalar_one()
            self.counts.inserted = after - self._before
            self.counts.updated = self._modified - self.counts.inserted
        self.counts.unchanged = self._written - self.counts.inserted - self.counts.updated
        self._conn.commit()
        self.committed = True
        if self._dialect == "postgresql" and self.counts.inserted >= ANALYZE_FROM_ROWS:
            # Fresh statistics now rather than whenever autovacuum gets to it: the planner of
            # the next audit or report needs them (PostgreSQL samples; this costs ~0.1 s).
            self._conn.execute(text("ANALYZE events"))
            self._conn.commit()
        return self.counts

    def _replace_attributes(self, again: bool) -> bool:
        """Whether the attributes stored for this batch's events must be removed first: the
        store had some before this writer (rows left by events removed by hand count too),
        or a row may come a second time."""
        if self._had_attributes is None:
            self._had_attributes = bool(self._conn.execute(
                text("SELECT EXISTS (SELECT 1 FROM event_attributes)")).scalar_one())  # fmt: skip
        return self._had_attributes or again

    def _write_sqlite(self, rows: list[tuple[Any, ...]], again: bool) -> None:
        if self._before is None:
            self._before = self._conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        moved = self._before > 0  # an event can only move if there were events before
        if moved or not self._fresh():
            _sqlite_batch(self._conn, rows)
        if moved:
            self._conn.execute(text(_MARK_DIRTY.format(rows=_MARK_MOVED)))
        _mark_dirty(self._conn, ((r[_SUBJECT[0]], r[_SUBJECT[1]]) for r in rows))
        _note_sources(self._conn, rows)
        settled, attributes = carried.of_rows(rows)
        self._modified += _sqlite_upsert(self._conn, rows, settled, settle=not self._fresh())
        cur = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            carried.sqlite_write(cur, rows, attributes,
                                 replace=self._replace_attributes(again))  # fmt: skip
        finally:
            cur.close()

    def _write_postgres(self, rows: list[tuple[Any, ...]], again: bool) -> None:
        raw = self._conn.connection.dbapi_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS qmon_staging "
                "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cur.execute("TRUNCATE qmon_staging")
            settled, attributes = carried.of_rows(rows)
            with cur.copy(f"COPY qmon_staging ({_WRITTEN}) FROM STDIN") as copy:
                for row, own in zip(rows, settled, strict=True):
                    copy.write_row((*row, own))
            updates = ", ".join(f"{c} = excluded.{c}" for c in (*_CHANGED, "settled"))
            old = ", ".join(f"events.{c}" for c in _CHANGED)
            new = ", ".join(f"excluded.{c}" for c in _CHANGED)
            if self._had_events is None:
                cur.execute("SELECT EXISTS (SELECT 1 FROM events)")
                self._had_events = cur.fetchone()[0]
            if self._had_events:
                # An event moving to another subject changes the one it leaves too (only an
                # event stored before this transaction can). One index probe per staged row:
                # the staging table has no statistics, and the planner would rather hash-join
                # a seq scan of the whole events table, every batch.
                cur.execute("SET LOCAL enable_hashjoin = off")
                cur.execute("SET LOCAL enable_mergejoin = off")
                cur.execute(_MARK_DIRTY.format(rows=(
                    "SELECT DISTINCT e.subject_type, e.subject_id, 1 FROM qmon_staging s"
                    " JOIN events e USING (source, event_id) WHERE (e.subject_type, e.subject_id)"
                    " IS DISTINCT FROM (s.subject_type, s.subject_id)")))  # fmt: skip
                cur.execute("RESET enable_hashjoin")  # back to what it was, for the upsert
                cur.execute("RESET enable_mergejoin")
            cur.execute(
                f"WITH up AS (INSERT INTO events ({_WRITTEN}) "
                f"SELECT {_WRITTEN} FROM qmon_staging "
                f"ON CONFLICT (source, event_id) DO UPDATE SET {updates} "
                f"WHERE ({old}) IS DISTINCT FROM ({new}) "
                "RETURNING (xmax = 0) AS ins, subject_type, subject_id, type, source), "
                "dirty AS ("
                + _MARK_DIRTY.format(rows="SELECT DISTINCT subject_type, subject_id, 1 FROM up")
                + "), noted AS ("
                + _NOTE_SOURCE.format(rows="SELECT DISTINCT type, source FROM up")
                + ") SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM up"
            )
            inserted, updated = cur.fetchone()
            if not self._fresh():  # their instants, for the clear at commit
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS qmon_written (subject_type text,"
                            " subject_id text, occurred_us bigint) ON COMMIT DELETE ROWS")
                cur.execute("INSERT INTO qmon_written SELECT subject_type, subject_id,"
                            " occurred_us FROM qmon_staging")  # fmt: skip
            if self._replace_attributes(again):  # what those events carried before goes
                cur.execute("DELETE FROM event_attributes a USING qmon_staging s"
                            " WHERE a.source = s.source AND a.event_id = s.event_id")
            columns = ", ".join(carried.ATTRIBUTE_COLUMNS)
            with cur.copy(f"COPY event_attributes ({columns}) FROM STDIN") as copy:
                for attribute in attributes:
                    copy.write_row(attribute)
        self.counts.inserted += inserted
        self.counts.updated += updated
