"""Reading events back for evaluation: the streams the engine replays, and small lookups.

`EventReads` is the reading half of `Store` (a mixin over its `engine` and `dialect`). The
hot paths run on the raw driver cursor, streamed in chunks, so memory stays flat whatever the
store's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection, Engine

from qmon.promises.engine import general
from qmon.promises.promise import Promise
from qmon.store.schema import EventRow
from qmon.store.subjects import decided_rows_query
from qmon.timeutil import END_US, FIRST_US

#: What the engine reads per event: subject_type, subject_id, occurred_us, type (or its code,
#: see `Store.role_events`), owner, channel, account.
RoleRow = tuple[str, str, int, str | int, str | None, str | None, str | None]


class EventReads:
    """The reads of `Store`: what the engine, explain, the check and the reports read."""

    engine: Engine
    dialect: str

    def _subjects_role_events(
        self, types: Sequence[str] | Mapping[str, int], as_of_us: int,
        subjects: Sequence[tuple[str, str]], context: bool,
    ) -> Iterator[RoleRow]:  # fmt: skip
        """`role_events` of a few subjects, in chunks of subjects (each subject's rows in one
        chunk, so the stream keeps them together)."""
        codes = (
            {t: int(c) for t, c in types.items()}
            if isinstance(types, Mapping)
            else {t: t for t in types}
        )
        mark = "%s" if self.dialect == "postgresql" else "?"
        cols = "owner, channel, account" if context else "NULL, NULL, NULL"
        code = "CASE type " + " ".join(f"WHEN {mark} THEN {mark}" for _ in codes) + " END"
        with self.engine.connect() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                for where, params in subject_filters(self.dialect, subjects):
                    cur.execute(
                        f"SELECT subject_type, subject_id, occurred_us, {code}, {cols}"
                        f" FROM events WHERE type IN ({', '.join(mark for _ in codes)})"
                        f" AND occurred_us <= {mark} AND occurred_us >= {FIRST_US} AND {where}"
                        " ORDER BY subject_type, subject_id, occurred_us, 4",
                        [*(v for kv in codes.items() for v in kv), *codes, as_of_us, *params],
                    )
                    yield from cur.fetchall()
            finally:
                cur.close()
                conn.rollback()

    def next_events(
        self, types: Sequence[str] | None, after_us: int,
        subjects: Sequence[tuple[str, str]] | None = None,
    ) -> dict[tuple[str, str], int]:  # fmt: skip
        """Per subject, the earliest event of `types` (None: of any type) after `after_us`
        (an event in the future of a check: the check looks at its subject again when it
        has happened). Over all subjects this reads the whole table; with `subjects`, only
        theirs."""
        if types is not None and not types:
            return {}
        mark = "%s" if self.dialect == "postgresql" else "?"
        of_types = "" if types is None else f"type IN ({', '.join(mark for _ in types)}) AND "
        types = types or []
        base = ("SELECT subject_type, subject_id, min(occurred_us) FROM events"
                f" WHERE {of_types}occurred_us > {mark} AND occurred_us < {END_US}")  # fmt: skip
        found: dict[tuple[str, str], int] = {}
        with self.engine.connect() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                filters = (
                    [("true", [])] if subjects is None else subject_filters(self.dialect, subjects)
                )
                for where, more in filters:
                    cur.execute(f"{base} AND {where} GROUP BY subject_type, subject_id",
                                [*types, after_us, *more])  # fmt: skip
                    found.update(((t, i), at) for t, i, at in cur.fetchall())
            finally:
                cur.close()
                conn.rollback()
        return found

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(EventRow)).scalar_one()

    def time_range(self) -> tuple[int, int] | None:
        """The first and last `occurred_us` in the store, or None when it is empty."""
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT min(occurred_us), max(occurred_us) FROM events")).one()
        return None if row[0] is None else (row[0], row[1])

    @staticmethod
    def subject_link(
        conn: Connection, types: Sequence[str], subject_type: str, subject_id: str
    ) -> str | None:
        """The CRM link of a subject's earliest event of `types` that has one.

        Naming the types (a promise's) lets the lookup use `ix_events_role`, whose columns
        start with type, subject_type and subject_id; by subject alone it would scan.
        """
        query = text(
            "SELECT link FROM events WHERE type IN :types AND subject_type = :t"
            " AND subject_id = :i AND link IS NOT NULL ORDER BY occurred_us LIMIT 1"
        ).bindparams(bindparam("types", expanding=True))
        return conn.execute(
            query, {"types": list(types), "t": subject_type, "i": subject_id}
        ).scalar_one_or_none()

    def survey_scores(
        self, types: Sequence[str], from_us: int, to_us: int
    ) -> Iterator[tuple[str, int, Any]]:
        """(type, occurred_us, the `score` attribute) of survey events in [from, to)."""
        query = text(
            "SELECT type, occurred_us, attributes FROM events WHERE type IN :types"
            " AND occurred_us >= :lo AND occurred_us < :hi"
        ).bindparams(bindparam("types", expanding=True))
        with self.engine.connect() as conn:
            for kind, occurred, attributes in conn.execute(
                query, {"types": list(types), "lo": from_us, "hi": to_us}
            ):
                score = json.loads(attributes).get("score") if attributes else None
                yield kind, occurred, score

    def promise_events(
        self,
        promise: Promise,
        as_of_us: int,
        *,
        subject_id: str | None = None,
        subjects: Sequence[tuple[str, str]] | None = None,
        context: bool = True,
        extra: Sequence[str] = (),
        chunk: int = 20_000,
    ) -> Iterator[tuple[Any, ...]]:
        """The rows `qmon.promises.engine.evaluate(promise, rows, as_of_us, extra=extra)`
        needs, each subject's together: `role_events` for a plain promise, and for the
        general path (`engine.general`) the same role events with the attributes it reads at
        the instants it decides on (`qmon.store.subjects`). `subject_id` or `subjects` narrow
        it as for `role_events`.

        Events outside the instants qmon stores (`qmon.timeutil.FIRST_US`..`END_US`), which
        a store written before qmon checked that range may hold, are left out: no instant
        they would give can be shown as a date (see `out_of_range`)."""
        as_of_us = min(as_of_us, END_US - 1)
        if not general(promise, extra):
            yield from self.role_events(promise.roles, as_of_us, subject_id, context=context,
                                        subjects=subjects)  # fmt: skip
            return
        names = tuple(dict.fromkeys((*promise.attributes, *extra)))
        whole = subjects is None and subject_id is None
        filters: list[tuple[str, list[Any]] | None] = (
            list(subject_filters(self.dialect, subjects)) if subjects is not None else [None]
        )
        raw = self.engine.raw_connection()
        try:
            if self.dialect == "postgresql":
                setting = raw.cursor()
                if whole:  # as in role_events: stream in index order, never sort
                    setting.execute("SET LOCAL enable_sort = off")
                # The lookups per row make the plan look costly, and compiling it (~0.1 s)
                # costs more than it saves: these queries run in index lookups, not arithmetic.
                setting.execute("SET LOCAL jit = off")
                setting.close()
            for where in filters:
                sql, params = decided_rows_query(self.dialect, promise, names, as_of_us,
                                                 context=context, subject_id=subject_id,
                                                 subject_filter=where)  # fmt: skip
                if self.dialect == "postgresql" and whole and _streams_in_chunks():
                    # As role_events: rows sent as produced, in binary (no text to parse).
                    stream = raw.cursor(binary=True).stream  # type: ignore[call-arg]
                    yield from stream(sql, params, size=chunk)
                    continue
                if self.dialect == "postgresql" and whole:
                    cur = raw.cursor(name="qmon_decided_rows", binary=True)  # type: ignore[call-arg]
                    cur.itersize = chunk
                else:
                    cur = raw.cursor()
                try:
                    cur.execute(sql, params)
                    while part := cur.fetchmany(chunk):
                        yield from part
                finally:
                    cur.close()
        finally:
            raw.rollback()
            raw.close()

    def out_of_range(self, subject_id: str | None = None) -> tuple[int, int]:
        """How many events are stored (of subjects with this id), and how many of those are
        outside the instants qmon stores, which every reader leaves out (`promise_events`):
        a store written before qmon checked the range may hold some."""
        sql = ("SELECT count(*), coalesce(sum(CASE WHEN occurred_us < :lo OR occurred_us >= :hi"
               " THEN 1 ELSE 0 END), 0) FROM events")  # fmt: skip
        params: dict[str, Any] = {"lo": FIRST_US, "hi": END_US}
        if subject_id is not None:
            sql += " WHERE subject_id = :i"
            params["i"] = subject_id
        with self.engine.connect() as conn:
            stored, outside = conn.execute(text(sql), params).one()
        return int(stored), int(outside)

    def role_events(
        self,
        types: Sequence[str] | Mapping[str, int],
        as_of_us: int,
        subject_id: str | None = None,
        chunk: int = 20_000,
        *,
        context: bool = True,
        subjects: Sequence[tuple[str, str]] | None = None,
    ) -> Iterator[RoleRow]:
        """Events of `types` up to `as_of_us`, each subject's rows together and in time order:
        subject_type, subject_id, occurred_us, type, owner, channel, account.

        With `types` a mapping of type to a small int (a promise's `roles`), the fourth column
        is the event's code, computed by the database, and a subject's events at one instant
        come in code order: exactly the stream the engine replays. With `context=False` owner,
        channel and account are not read (they come back None); the audit needs them only
        for breakdowns by them and for instance listings. With `subjects` ((subject_type,
        subject_id) pairs) only their events are read (the incremental check).

        Streams in chunks, so memory stays flat whatever the store's size. Runs on the raw
        driver cursor: this is the audit's hot path, and SQLAlchemy's row objects would double
        its cost.
        """
        if not types:
            return
        if subjects is not None:
            yield from self._subjects_role_events(types, as_of_us, subjects, context)
            return
        sql, params = _role_query(self.dialect, types, as_of_us, subject_id, context)
        raw = self.engine.raw_connection()
        try:
            if self.dialect == "postgresql":
                # Never sort all the rows: read each type's range in index order. Without
                # statistics (right after a bulk import, before autovacuum analyzes the
                # table) the planner would rather sort a bitmap scan of each range, and then
                # nothing streams until every row is read and sorted. For this transaction only.
                setting = raw.cursor()
                setting.execute("SET LOCAL enable_sort = off")
                setting.close()
            if self.dialect == "postgresql" and _streams_in_chunks():
                # The server sends rows as it produces them while we replay those received.
                stream = raw.cursor(binary=True).stream  # type: ignore[call-arg]
                yield from stream(sql, params, size=chunk)
                return
            if self.dialect == "postgresql":  # libpq before 17: a server-side cursor
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


SUBJECTS_CHUNK = 400


def subject_filters(
    dialect: str, subjects: Iterable[tuple[str, str]]
) -> Iterator[tuple[str, list[Any]]]:
    """SQL selecting `subjects` by (subject_type, subject_id), and its parameters, for the
    raw driver cursor: one per chunk of `SUBJECTS_CHUNK` distinct subjects, in order (SQLite
    binds each value, so a chunk must stay small)."""
    ordered = sorted(set(subjects))
    for start in range(0, len(ordered), SUBJECTS_CHUNK):
        part = ordered[start : start + SUBJECTS_CHUNK]
        if dialect == "postgresql":
            yield ("(subject_type, subject_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                   [[t for t, _ in part], [i for _, i in part]])  # fmt: skip
        else:
            values = ", ".join("(?, ?)" for _ in part)
            yield f"(subject_type, subject_id) IN (VALUES {values})", [v for s in part for v in s]


def _role_query(
    dialect: str,
    types: Sequence[str] | Mapping[str, int],
    as_of_us: int,
    subject_id: str | None,
    context: bool,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of `Store.role_events`.

    PostgreSQL reads each type as its own ordered range of `ix_events_role` (type, subject,
    time) and merges the ranges (Merge Append), so rows stream from the first one on instead
    of after a sort of them all. Each range is a subquery with its own ORDER BY (and OFFSET 0,
    which keeps it one): through a plain UNION ALL the planner does not see that the index
    gives that order. The code is a constant per range, so the final order by it only sorts
    runs of rows at one instant of one subject. SQLite sorts the selected rows.
    """
    codes = types if isinstance(types, Mapping) else None
    cols = "owner, channel, account"
    if not context:
        cols = "NULL AS owner, NULL AS channel, NULL AS account"
    order = "ORDER BY subject_type, subject_id, occurred_us"
    if dialect == "postgresql":
        subject = " AND subject_id = %s" if subject_id is not None else ""
        branches, params = [], []
        for type_ in types:
            code = "type" if codes is None else str(int(codes[type_]))
            branches.append(
                f"(SELECT subject_type, subject_id, occurred_us, {code} AS code, {cols} "
                f"FROM events WHERE type = %s AND occurred_us <= %s"
                f" AND occurred_us >= {FIRST_US}{subject} {order} OFFSET 0)"
            )
            params += [type_, as_of_us] if subject_id is None else [type_, as_of_us, subject_id]
        union = " UNION ALL ".join(branches)
        return f"SELECT * FROM ({union}) AS e {order}, code", params
    params = list(types)
    code = "type"
    if codes is not None:
        code = "CASE type " + " ".join(f"WHEN ? THEN {int(c)}" for c in codes.values()) + " END"
        params = [*codes, *params]
    where = f"type IN ({', '.join('?' * len(types))}) AND occurred_us <= ?"
    where += f" AND occurred_us >= {FIRST_US}"
    params.append(as_of_us)
    if subject_id is not None:
        where += " AND subject_id = ?"
        params.append(subject_id)
    sql = f"SELECT subject_type, subject_id, occurred_us, {code} AS code, {cols} FROM events"
    return f"{sql} WHERE {where} {order}, code", params


def _streams_in_chunks() -> bool:
    """Whether psycopg can stream a result in chunks (psycopg 3.2 and libpq 17 or newer)."""
    import psycopg

    capabilities = getattr(psycopg, "capabilities", None)
    return capabilities is not None and capabilities.has_stream_chunked()
