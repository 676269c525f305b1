"""Reading what the engine's general path needs (`Store.promise_events`): the promise's role
events, as for a plain promise, each with the attributes the promise reads as they were at
the instants it decides on (README "Promise semantics"), looked up by index in SQL.

The value of attribute `a` for a subject at instant t is the value on the latest event of that
subject at or before t, of any type, that carries `a`; at equal instants the one whose id
sorts last (by code point) wins. Owner, channel and account are columns of `events` (index
`ix_events_subject` covers them); any other attribute is a row of `event_attributes` (index
`ix_event_attributes_at`). Either way one index probe per decision, most ending on the first
entry they read. At the rows that decide, a row that settles its subject's attributes
(`settled`, `qmon.store.carried`) gives its own values instead, read from the role index
it is scanned in; only an attribute it does not carry is looked up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from qmon.events import CONTEXT_ATTRIBUTES
from qmon.promises.promise import Promise, Role
from qmon.promises.replay import decision_roles
from qmon.timeutil import FIRST_US


def _own_or_value_at(name: str, mark: str, dialect: str, context: bool) -> tuple[str, list[Any]]:
    """The subject of row `e`'s value of `name` at the row's own instant: the row's own value
    when it settles it (`settled` is set: no other event of the subject shares the instant,
    so when the row carries `name` that is the latest), else `_value_at`'s lookup."""
    lookup, params = _value_at(name, "e.occurred_us", mark)
    if name in CONTEXT_ATTRIBUTES:
        own = f"e.{name}" if context else f"e.own_{name}"
        return (f"CASE WHEN e.settled IS NOT NULL AND {own} <> '' THEN {own}"
                f" ELSE {lookup} END"), params  # fmt: skip
    if json.dumps(name, ensure_ascii=False) != f'"{name}"':  # a key the path would misread
        return lookup, params
    if dialect == "postgresql":
        return f"coalesce(e.settled::json ->> {mark}, {lookup})", [name, *params]
    return f"coalesce(json_extract(e.settled, {mark}), {lookup})", [f'$."{name}"', *params]


def _value_at(name: str, at: str, mark: str) -> tuple[str, list[Any]]:
    """A scalar subquery: the subject of row `e`'s value of `name` at instant `at` (SQL)."""
    if name in CONTEXT_ATTRIBUTES:  # a column of events: not carried when NULL or ""
        return (f"(SELECT x.{name} FROM events x WHERE x.subject_type = e.subject_type"
                f" AND x.subject_id = e.subject_id AND x.occurred_us <= {at}"
                f" AND x.occurred_us >= {FIRST_US} AND x.{name} <> ''"
                " ORDER BY x.occurred_us DESC, x.event_id DESC LIMIT 1)"), []  # fmt: skip
    return (f"(SELECT a.value FROM event_attributes a WHERE a.subject_type = e.subject_type"
            f" AND a.subject_id = e.subject_id AND a.name = {mark} AND a.occurred_us <= {at}"
            f" AND a.occurred_us >= {FIRST_US}"
            " ORDER BY a.occurred_us DESC, a.event_id DESC LIMIT 1)"), [name]  # fmt: skip


def decided_rows_query(
    dialect: str,
    promise: Promise,
    names: Sequence[str],
    as_of_us: int,
    *,
    context: bool = True,
    subject_id: str | None = None,
    subject_filter: tuple[str, list[Any]] | None = None,
) -> tuple[str, list[Any]]:
    """SQL and parameters for the general path's rows (`qmon.promises.replay.DecidedRow`):
    subject_type, subject_id, occurred_us, role, owner, channel, account (NULL without
    `context`), the values of `names` at the row's instant and (with `retarget`) at as-of,
    NULL on rows that decide nothing (`decision_roles`). Only the promise's types up to
    `as_of_us`, each subject's rows together in time order, at one instant in role order
    (until like stop) and then in id order (where that can matter).

    `subject_id` or `subject_filter` (one of `qmon.store.reads.subject_filters`' (SQL,
    parameters) for a chunk of subjects) narrow it. On PostgreSQL each type is read as its own
    ordered range of `ix_events_role` and the ranges merged, as `Store.role_events` does.
    """
    mark = "%s" if dialect == "postgresql" else "?"
    at_roles, as_of_roles = decision_roles(promise)
    roles = {t: r for t, r in sorted(promise.roles.items())}

    def role_in(wanted: frozenset[Role]) -> str:
        codes = sorted(int(r) for r in wanted)
        return f"e.code IN ({', '.join(str(c) for c in codes)})"

    # Two columns: the values at the row's instant, and at as-of; each the one value, or
    # with several names a JSON array of them (`qmon.promises.replay.decided_key`).
    values, value_params = [], []
    for column_at, wanted in (("e.occurred_us", at_roles), (mark, as_of_roles)):
        if not wanted or not names:
            values.append("NULL")
            continue
        parts = []
        for name in names:
            sql, more = (_own_or_value_at(name, mark, dialect, context)
                         if column_at == "e.occurred_us" else _value_at(name, column_at, mark))
            parts.append(sql)
            value_params += more if column_at == "e.occurred_us" else [*more, as_of_us]
        packed = (parts[0] if len(parts) == 1 else f"json_build_array({', '.join(parts)})::text"
                  if dialect == "postgresql" else f"json_array({', '.join(parts)})")  # fmt: skip
        values.append(f"CASE WHEN {role_in(wanted)} THEN {packed} END")
    cols = ("owner, channel, account" if context
            else "NULL AS owner, NULL AS channel, NULL AS account")  # fmt: skip
    if at_roles and names:  # what `_own_or_value_at` reads from the row
        cols += ", settled" + "".join(f", {n} AS own_{n}" for n in names
                                      if n in CONTEXT_ATTRIBUTES and not context)
    narrow, narrow_params = "", []
    if subject_id is not None:
        narrow, narrow_params = f" AND subject_id = {mark}", [subject_id]
    if subject_filter is not None:
        narrow += f" AND {subject_filter[0]}"
        narrow_params += subject_filter[1]
    within = f"occurred_us <= {mark} AND occurred_us >= {FIRST_US}{narrow}"
    if dialect == "postgresql":
        branches, inner = [], []
        for type_, role in roles.items():
            branches.append(
                f"(SELECT subject_type, subject_id, occurred_us, {int(role)} AS code,"
                f" {role.rank} AS rank, event_id, {cols} FROM events WHERE type = %s"
                f" AND {within} ORDER BY subject_type, subject_id, occurred_us OFFSET 0)")
            inner += [type_, as_of_us, *narrow_params]
        source = f"({' UNION ALL '.join(branches)}) AS e"
        by_id = ", e.event_id"  # (its collation is "C": code points)
    else:
        code = " ".join(f"WHEN {mark} THEN {int(r)}" for r in roles.values())
        rank = " ".join(f"WHEN {mark} THEN {r.rank}" for r in roles.values())
        source = (f"(SELECT subject_type, subject_id, occurred_us, CASE type {code} END AS code,"
                  f" CASE type {rank} END AS rank, event_id, {cols} FROM events"
                  f" WHERE type IN ({', '.join(mark for _ in roles)})"
                  f" AND {within}) AS e")  # fmt: skip
        inner = [*roles, *roles, *roles, as_of_us, *narrow_params]
        by_id = ", e.event_id"
    # At one instant roles come in rank order; within a rank the id order decides only which
    # event's owner, channel and account an instance takes, and (with repeat) whether a stop
    # or an until closes first: without those, the database need not sort by id.
    until = Role.UNTIL in roles.values()
    order = ("e.rank" if until else "e.code") + (by_id if context or until else "")
    decided = "".join(f", {v}" for v in values)
    sql = (f"SELECT e.subject_type, e.subject_id, e.occurred_us, e.code, e.owner, e.channel,"
           f" e.account{decided} FROM {source}"
           f" ORDER BY e.subject_type, e.subject_id, e.occurred_us, {order}")  # fmt: skip
    return sql, [*value_params, *inner]
