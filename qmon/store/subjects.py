"""Reading what the engine's general path needs: every event of the promise's subjects that
plays a role in it or carries an attribute it reads (`Store.promise_events`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from qmon.events import CONTEXT_ATTRIBUTES
from qmon.promises.promise import Promise, Role
from qmon.timeutil import FIRST_US

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def subject_rows_query(
    dialect: str,
    promise: Promise,
    names: Sequence[str],
    as_of_us: int,
    subject_id: str | None = None,
    subject_filter: tuple[str, list[Any]] | None = None,
    subject_type: str | None = None,
) -> tuple[str, list[Any]]:
    """SQL and parameters for the general path's rows (`qmon.promises.replay.SubjectRow`) of
    the kinds of subject that have a start event of `promise` up to `as_of_us`, each
    subject's rows together and in time order: its events of the promise's types, and those
    carrying one of `names`.

    `subject_filter` is one of `subject_filters`' (SQL, parameters) for a chunk of subjects.
    A name's JSON key is looked for with LIKE first (a name with other characters than
    letters, digits, `_`, `.` and `-` reads every event with attributes): only an event that
    may carry it is sent to be parsed.
    """
    mark = "%s" if dialect == "postgresql" else "?"
    roles, starts = promise.types(), promise.types(Role.START)
    listed = lambda values: ", ".join(mark for _ in values)  # noqa: E731
    # One kind of subject at a time (`subject_type`, one that has the promise's starts): its
    # events are read in index order (ix_events_subject), and those of a subject without a
    # start are skipped by the replay, which costs less than selecting the subjects first
    # and sorting. A subject named (`subject_id`, `subject_filter`) needs no kind.
    where: list[str] = []
    params: list[Any] = []
    if subject_type is not None:
        where, params = [f"e.subject_type = {mark}"], [subject_type]
    elif subject_id is None and subject_filter is None:
        where = ["e.subject_type IN (SELECT DISTINCT subject_type FROM events"
                 f" WHERE type IN ({listed(starts)}) AND occurred_us <= {mark})"]  # fmt: skip
        params = [*starts, as_of_us]
    where.append(f"e.occurred_us <= {mark} AND e.occurred_us >= {FIRST_US}")
    params.append(as_of_us)
    wanted = [f"e.type IN ({listed(roles)})"]
    params += roles
    wanted += [f"e.{n} IS NOT NULL" for n in names if n in CONTEXT_ATTRIBUTES]
    json_names = [n for n in names if n not in CONTEXT_ATTRIBUTES]
    if any(not _PLAIN_NAME.fullmatch(n) for n in json_names):
        wanted.append("e.attributes IS NOT NULL")
    else:
        wanted += [f"e.attributes LIKE {mark}" for _ in json_names]
        params += [f'%"{name}"%' for name in json_names]
    where.append(f"({' OR '.join(wanted)})")
    if subject_id is not None:
        where.append(f"e.subject_id = {mark}")
        params.append(subject_id)
    if subject_filter is not None:
        sql, more = subject_filter
        where.append(sql.replace("(subject_type, subject_id)", "(e.subject_type, e.subject_id)"))
        params += more
    sql = (
        "SELECT e.subject_type, e.subject_id, e.occurred_us, e.type, e.event_id, e.owner,"
        " e.channel, e.account, e.attributes FROM events e WHERE " + " AND ".join(where)
        + " ORDER BY e.subject_type, e.subject_id, e.occurred_us"
    )
    return sql, params
