"""Keeping `instance_facts` current: every promise instance as of the last check.

The dashboard (`qmon serve`) must not run an audit per request, so the check keeps what an
audit would count, one row per instance, in the store:

- a **full** check (its first, after a promise changed, after a purge) rewrites them all,
  streamed in batches while it evaluates (memory stays flat whatever the store's size), in
  a transaction of its own that commits before the check's: `FullRebuild`;
- an **incremental** check replaces the rows of the subjects it evaluated, in its own
  transaction, with their alerts (`replace_subjects`).

The mark `figures` (in `agent_marks`) is the instant the rows are as of; it is removed when
a check runs without `serve:` in the config (nobody keeps them then), so that a later check
with it rebuilds them in full rather than trust rows that stopped following the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from qmon.config import QmonConfig
from qmon.promises.instance import Instance
from qmon.promises.promise import Promise
from qmon.store import Store
from qmon.store.reads import subject_filters

MARK = "figures"
BATCH = 5_000
_COLUMNS = ("promise_id", "subject_type", "subject_id", "started_us", "cycle", "status",
            "at_risk", "stopped_us", "deadline_us", "paused", "elapsed_us", "evaluated_us",
            "allowed_us", "target", "owner", "channel", "account")  # fmt: skip
_INSERT = text(
    f"INSERT INTO instance_facts ({', '.join(_COLUMNS)}) VALUES "
    f"({', '.join(':' + c for c in _COLUMNS)})"
)


def enabled(config: QmonConfig) -> bool:
    """Whether checks keep the figures: when the dashboard is configured (`serve:`)."""
    return config.extra.get("serve") is not None


def as_of(store: Store) -> int | None:
    """The instant the figures are as of, or None when there are none to trust."""
    return store.marks().get(MARK)


def row(i: Instance, as_of_us: int) -> dict[str, Any]:
    return {"promise_id": i.promise_id, "subject_type": i.subject_type,
            "subject_id": i.subject_id, "started_us": i.started_us, "cycle": i.cycle,
            "status": i.status, "at_risk": bool(i.at_risk), "stopped_us": i.stopped_us,
            "deadline_us": i.deadline_us, "paused": bool(i.paused), "elapsed_us": i.elapsed_us,
            "evaluated_us": as_of_us, "allowed_us": i.allowed_us, "target": i.target,
            "owner": i.owner, "channel": i.channel, "account": i.account}  # fmt: skip


def elapsed_at(promise: Promise, stopped_us: int | None, paused: bool, elapsed_us: int,
               evaluated_us: int, at_us: int) -> int:  # fmt: skip
    """An instance's clock time at `at_us` from its row: an open clock that is not paused
    has run on the promise's calendar since the row was written (no event of its subject
    came since, or the check would have written it again)."""
    if stopped_us is not None or paused or at_us <= evaluated_us:
        return elapsed_us
    return elapsed_us + promise.clock.open_between(evaluated_us, at_us)


class FullRebuild:
    """Every instance of a full evaluation, written as it comes (`add`), then `commit`."""

    def __init__(self, store: Store, as_of_us: int) -> None:
        self._as_of_us = as_of_us
        self._conn = store.engine.connect()
        self._tx = self._conn.begin()
        self._conn.execute(text("DELETE FROM instance_facts"))
        self._buffer: list[dict[str, Any]] = []
        self.count = 0

    def add(self, instance: Instance) -> None:
        self._buffer.append(row(instance, self._as_of_us))
        if len(self._buffer) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._conn.execute(_INSERT, self._buffer)
            self.count += len(self._buffer)
            self._buffer = []

    def commit(self) -> None:
        self._flush()
        _set_mark(self._conn, self._as_of_us)
        self._tx.commit()
        self._conn.close()

    def abort(self) -> None:
        if self._conn.closed:
            return
        self._tx.rollback()
        self._conn.close()


def replace_subjects(
    conn: Connection,
    subjects: Sequence[tuple[str, str]],
    instances: Iterable[Instance],
    as_of_us: int,
) -> None:
    """The rows of these subjects, as the incremental check just evaluated them."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for where, params in subject_filters(conn.dialect.name, subjects):
            cur.execute(f"DELETE FROM instance_facts WHERE {where}", params)
    finally:
        cur.close()
    rows = [row(i, as_of_us) for i in instances]
    for start in range(0, len(rows), BATCH):
        conn.execute(_INSERT, rows[start : start + BATCH])
    _set_mark(conn, as_of_us)


def forget(conn: Connection) -> None:
    """Nobody keeps the figures from now on (a check without `serve:`)."""
    conn.execute(text("DELETE FROM agent_marks WHERE name = :n"), {"n": MARK})


def _set_mark(conn: Connection, at_us: int) -> None:
    conn.execute(text("DELETE FROM agent_marks WHERE name = :n"), {"n": MARK})
    conn.execute(text("INSERT INTO agent_marks (name, at_us) VALUES (:n, :t)"),
                 {"n": MARK, "t": at_us})  # fmt: skip
