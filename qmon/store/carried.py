"""The attributes events carry, one row each (`event_attributes`): derived from the events'
JSON `attributes` by every write path, in the transaction that writes the events, so that a
promise reading attributes finds a subject's value at an instant by index
(`qmon.store.subjects`).

An attribute is carried when its JSON value is neither null nor "" (README "Promise
semantics"); the stored value is its text as conditions read it (`attribute_text`).
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
_INSERT = (f"INSERT INTO event_attributes ({', '.join(ATTRIBUTE_COLUMNS)}) VALUES "
           f"({', '.join('?' * len(ATTRIBUTE_COLUMNS))})")  # fmt: skip


def attribute_rows(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """The `event_attributes` rows of event rows (tuples in `EVENT_COLUMNS` order)."""
    for row in rows:
        raw = row[_ATTRS]
        if not raw:
            continue
        data = json.loads(raw)
        if not isinstance(data, dict):
            continue
        for name, value in data.items():
            carried = attribute_text(value)
            if carried is not None:
                yield (row[_SRC], row[_ID], name, row[_ST], row[_SID], row[_AT], carried)


def sqlite_write(cur: Any, rows: Sequence[Sequence[Any]], *, replace: bool) -> None:
    """Store the attributes of event rows on a raw sqlite3 cursor; with `replace`, first
    remove what those events carried before (an event stored again may carry less)."""
    if replace:
        cur.executemany("DELETE FROM event_attributes WHERE source = ? AND event_id = ?",
                        [(r[_SRC], r[_ID]) for r in rows])  # fmt: skip
    cur.executemany(_INSERT, list(attribute_rows(rows)))


def replace_of_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store the attributes of event rows given as dicts (the CRM record path), replacing
    what those events carried before, in the caller's transaction."""
    if not rows:
        return
    conn.execute(text("DELETE FROM event_attributes WHERE source = :source"
                      " AND event_id = :event_id"), rows)  # fmt: skip
    carried = [dict(zip(ATTRIBUTE_COLUMNS, r, strict=True))
               for r in attribute_rows([tuple(d[c] for c in EVENT_COLUMNS) for d in rows])]
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
