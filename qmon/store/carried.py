"""The attributes events carry, one row each (`event_attributes`): derived from the events'
JSON `attributes` by every write path, in the transaction that writes the events, so that a
promise reading attributes finds a subject's value at an instant by index
(`qmon.store.subjects`).

An attribute is carried when its JSON value is neither null nor "" (README "Promise
semantics"); the stored value is its text as conditions read it (`attribute_text`).

Beside them, each event's `settled` (`of_rows`): what the event carries, kept on its own
row (and in `ix_events_role`) while no other event of its subject shares its instant. The
value of an attribute at such an event's instant is then its own when it carries it, so the
general path reads it from the row it scans instead of looking it up. Every write path sets
it on the rows it writes and then clears it where a written row shares its instant with
another (`UNSETTLE_ONE`, `unsettle_instants`, `UNSETTLE_ALL`); a clear left behind when the
other event goes costs only the lookup.

Two writers adding events at one instant of a subject at the same time (PostgreSQL; SQLite
has one writer at a time) clear each other's: both mark the subject changed for the
incremental check (`check_dirty`, one row per subject) before they clear, so the later one
waits at that mark until the earlier one has committed, and its clear then sees the
earlier one's event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from qmon.events import attribute_text
from qmon.store.schema import EVENT_COLUMNS

#: The columns of `event_attributes`, in the order of `attribute_rows`' tuples.
ATTRIBUTE_COLUMNS = ("source", "event_id", "name", "subject_type", "subject_id",
                     "occurred_us", "value")  # fmt: skip
_SRC, _ID, _AT, _ST, _SID, _ATTRS = (EVENT_COLUMNS.index(c) for c in (
    "source", "event_id", "occurred_us", "subject_type", "subject_id", "attributes"))  # fmt: skip
#: The most bytes (UTF-8) of `settled`: it sits in `ix_events_role` beside seven key fields
#: of at most `KEY_BYTES` (300) each, within PostgreSQL's 2,704 bytes per index entry.
SETTLED_BYTES = 400
_INSERT = (f"INSERT INTO event_attributes ({', '.join(ATTRIBUTE_COLUMNS)}) VALUES "
           f"({', '.join('?' * len(ATTRIBUTE_COLUMNS))})")  # fmt: skip


def attribute_rows(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """The `event_attributes` rows of event rows (tuples in `EVENT_COLUMNS` order)."""
    for row in rows:
        raw = row[_ATTRS]
        if raw:
            for name, value in _carried(raw).items():
                yield (row[_SRC], row[_ID], name, row[_ST], row[_SID], row[_AT], value)


def of_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[str | None], list[tuple[Any, ...]]]:
    """Each event row's `settled` and the rows' `attribute_rows`, reading each JSON once.

    `settled` is a JSON object of what the event carries (`attribute_text`), "{}" when
    nothing; None when that is over `SETTLED_BYTES` (its attributes are then looked up like
    those of an event sharing its instant)."""
    settled: list[str | None] = []
    attributes: list[tuple[Any, ...]] = []
    for row in rows:
        raw = row[_ATTRS]
        if not raw:
            settled.append("{}")
            continue
        data = json.loads(raw)
        carried = _carried_of(data)
        # The event's own JSON when that is exactly what it carries (every value a text as
        # conditions read it) and surely short enough: no need to write it again.
        same = (len(raw) * 4 <= SETTLED_BYTES and isinstance(data, dict)
                and len(carried) == len(data) and all(type(v) is str for v in data.values()))
        settled.append(raw if same else _packed(carried))
        attributes.extend((row[_SRC], row[_ID], name, row[_ST], row[_SID], row[_AT], value)
                          for name, value in carried.items())  # fmt: skip
    return settled, attributes


def _carried(raw: str) -> dict[str, str]:
    return _carried_of(json.loads(raw))


def _carried_of(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    return {n: t for n, v in data.items() if (t := attribute_text(v)) is not None}


def _packed(carried: dict[str, str]) -> str | None:
    if not carried:
        return "{}"
    packed = json.dumps(carried, ensure_ascii=False, separators=(",", ":"))
    if len(packed) * 4 > SETTLED_BYTES:
        try:
            if len(packed.encode("utf-8")) > SETTLED_BYTES:
                return None
        except UnicodeEncodeError:  # a lone surrogate: no store holds it as text anyway
            return None
    return packed


#: Clears `settled` of the events at one written row's instant (named parameters
#: subject_type, subject_id, occurred_us) when more than one event is there.
UNSETTLE_ONE = (
    "UPDATE events SET settled = NULL WHERE subject_type = :subject_type"
    " AND subject_id = :subject_id AND occurred_us = :occurred_us AND settled IS NOT NULL"
    " AND (SELECT count(*) FROM events x WHERE x.subject_type = :subject_type"
    " AND x.subject_id = :subject_id AND x.occurred_us = :occurred_us) > 1"
)


def unsettle_instants(rows: str) -> str:
    """Clears `settled` of the events at the instants of a table of written rows (a FROM
    item with subject_type, subject_id, occurred_us) where more than one event is: one
    index probe per row (the count of a range that is nearly always one entry)."""
    return (
        "UPDATE events SET settled = NULL WHERE settled IS NOT NULL AND (subject_type,"
        " subject_id, occurred_us) IN (SELECT b.subject_type, b.subject_id, b.occurred_us"
        f" FROM {rows} b WHERE (SELECT count(*) FROM events x"
        " WHERE x.subject_type = b.subject_type AND x.subject_id = b.subject_id"
        " AND x.occurred_us = b.occurred_us) > 1)"
    )


#: Clears `settled` of every event that shares its instant with another of its subject: one
#: pass over the events in subject order (`ix_events_subject`).
UNSETTLE_ALL = (
    "UPDATE events SET settled = NULL WHERE settled IS NOT NULL AND (subject_type, subject_id,"
    " occurred_us) IN (SELECT subject_type, subject_id, occurred_us FROM events"
    " GROUP BY subject_type, subject_id, occurred_us HAVING count(*) > 1)"
)


def sqlite_write(cur: Any, rows: Sequence[Sequence[Any]], attributes: list[tuple[Any, ...]],
                 *, replace: bool) -> None:  # fmt: skip
    """Store the attributes of event rows (`of_rows`) on a raw sqlite3 cursor; with `replace`,
    first remove what those events carried before (an event stored again may carry less)."""
    if replace:
        cur.executemany("DELETE FROM event_attributes WHERE source = ? AND event_id = ?",
                        [(r[_SRC], r[_ID]) for r in rows])  # fmt: skip
    cur.executemany(_INSERT, attributes)


def replace_of_events(conn: Connection, rows: Sequence[dict[str, Any]],
                      attributes: list[tuple[Any, ...]]) -> None:  # fmt: skip
    """Store the attributes (`of_rows`) of event rows given as dicts (the CRM record path),
    replacing what those events carried before, in the caller's transaction."""
    if not rows:
        return
    conn.execute(text("DELETE FROM event_attributes WHERE source = :source"
                      " AND event_id = :event_id"), rows)  # fmt: skip
    carried = [dict(zip(ATTRIBUTE_COLUMNS, r, strict=True)) for r in attributes]
    if carried:
        conn.execute(text(f"INSERT INTO event_attributes ({', '.join(ATTRIBUTE_COLUMNS)}) "
                          f"VALUES ({', '.join(':' + c for c in ATTRIBUTE_COLUMNS)})"), carried)


def forget_of_records(conn: Connection, records: Sequence[dict[str, Any]]) -> None:
    """Remove the attributes of the events of CRM records ({source, record}) about to be
    deleted, in the caller's transaction."""
    if records:
        conn.execute(text(
            "DELETE FROM event_attributes WHERE (source, event_id) IN (SELECT source, event_id"
            " FROM events WHERE source = :source AND record = :record)"), records)  # fmt: skip
