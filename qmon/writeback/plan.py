"""The writeback outbox, step 1 (in the check's transaction): what each CRM record should
show, and which broken instances get a task. `qmon.writeback.deliver` is step 2.

Two steps, like the alerts (`qmon.alerts.check`), each safe to repeat:

1. **Plan**, inside the check's transaction. For every subject the check evaluated, the
   values of its record (`qmon.writeback.values`) are compared with those stored for it;
   only a record whose values changed is written to `writeback_records` (`desired`, and
   `pending` when that differs from what the CRM last got, `written`). A steady state
   changes nothing. A full check also empties the records of subjects it no longer finds.
   Each new breach of a subject whose source has `tasks:` gets one row in `writeback_tasks`
   (ON CONFLICT DO NOTHING, keyed like its alert); a breach kept late marks its task for an
   update.
2. **Deliver**, after the commit. Pending records are written in batches (the writer's
   `batch_size`, paced and retried by the connector's own API layer); each record the CRM
   takes gets `written` = what was sent, each it refuses keeps `pending` with a later try
   (1 minute, doubling, at most an hour) and its reason, which `qmon status` shows. A whole
   request refused (a scope, a permission, missing fields) is a warning, once per cause, and
   the source's remaining writes wait for the next check. A crash between the write and its
   settling repeats the write later: harmless, it sets the same values.

Tasks are created exactly once also across crashes and lost answers: each try is counted
before it is made, and a task tried before is first looked up in the CRM by the key stored
in it. (HubSpot's search index lags a few seconds behind a create; retries come a minute
later at the earliest.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from qmon.config import QmonConfig
from qmon.config.writeback_spec import SourceWriteback
from qmon.promises.calendar import BusinessCalendar
from qmon.promises.conditions import BusinessDays
from qmon.promises.instance import Instance
from qmon.store.reads import subject_filters
from qmon.writeback.crm import crm_object, targets
from qmon.writeback.values import EMPTY_JSON, record_link, record_values
from qmon.writeback.words import task_text

DAY_US = 24 * 3600_000_000


@dataclass
class WritebackReport:
    changed: int = 0  # records whose wanted values changed in this check
    written: int = 0  # records the CRM took
    #: records the CRM refused: (source, object type, record id, why)
    refused: list[tuple[str, str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # whole requests refused, per cause
    failed: list[str] = field(default_factory=list)  # a CRM unreachable or out of quota
    tasks_created: int = 0
    tasks_updated: int = 0
    pending: int = 0  # records and tasks still to write after this check


def keep_from(config: QmonConfig, as_of_us: int) -> int | None:
    """How far back a full check must keep decided instances for the records' values."""
    wanted = targets(config)
    if not wanted:
        return None
    return as_of_us - max(max(s.breaches_over, s.recent) for s in wanted.values())


def plan(
    conn: Connection,
    config: QmonConfig,
    instances: Iterable[Instance],
    subjects: Sequence[tuple[str, str]] | None,
    as_of_us: int,
) -> tuple[int, dict[tuple[str, str], int]]:
    """Store the wanted values of the records of `subjects` (None: every subject, a full
    check), from their `instances`; the number of records changed, and per subject when its
    values next change by time alone (for `check_watch`)."""
    wanted = targets(config)
    if not wanted:
        return 0, {}
    kinds = {name: config.sources[name].kind for name in wanted}
    by_subject: dict[tuple[str, str], list[Instance]] = {}
    for i in instances:
        by_subject.setdefault((i.subject_type, i.subject_id), []).append(i)
    stored = _stored(conn, list(wanted), subjects)
    only = _only_source(conn, list(wanted))
    if only is not None:  # one CRM feeds the whole store: no lookup per subject
        found = by_subject.keys() if subjects is None else subjects
        candidates = {*found, *(subject for _, subject in stored.values())}
        sources_of = {subject: [only] for subject in candidates}
    else:
        sources_of = _subject_sources(conn, list(wanted), subjects)
    order = {p.id: n for n, p in enumerate(config.promises)}
    serve = config.extra.get("serve")
    public_url = serve.public_url if serve is not None else None
    rows: list[dict[str, Any]] = []
    wakes: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str, str]] = set()
    for subject, sources in sources_of.items():
        for source in sources:
            spec = wanted[source]
            object_type = crm_object(kinds[source], *subject)
            if object_type is None or object_type not in spec.objects:
                continue
            key = (source, object_type, subject[1])
            mine = by_subject.get(subject, ())
            if key not in stored and not _may_say(mine, as_of_us, spec):
                continue  # nothing to say, nothing said before: the common case, kept cheap
            values, wake = record_values(
                mine,
                as_of_us,
                recent_us=spec.recent,
                breaches_over_us=spec.breaches_over,
                order=order,
                link=record_link(public_url, *subject),
            )
            if wake is not None:
                wakes[subject] = min(wake, wakes.get(subject, wake))
            seen.add(key)
            desired = values.to_json()
            if stored.get(key, (EMPTY_JSON, None))[0] == desired:
                continue
            rows.append(_row(key, subject, desired, as_of_us))
    if subjects is None:  # a full check: records of subjects no longer found say nothing
        for key, (desired, subject) in stored.items():
            if key not in seen and desired != EMPTY_JSON:
                rows.append(_row(key, subject, EMPTY_JSON, as_of_us))
    if rows:
        conn.execute(
            text(
                "INSERT INTO writeback_records (source, object_type, record_id, subject_type,"
                " subject_id, desired, pending, changed_us, attempts, next_try_us)"
                " VALUES (:s, :o, :r, :t, :i, :d, :pend, :now, 0, :now)"
                " ON CONFLICT (source, object_type, record_id) DO UPDATE SET"
                " desired = excluded.desired, changed_us = excluded.changed_us,"
                " pending = excluded.desired <> COALESCE(writeback_records.written, :empty),"
                " attempts = 0, next_try_us = excluded.next_try_us, last_error = NULL"
            ),
            rows,
        )
    return len(rows), wakes


def _may_say(instances: Iterable[Instance], as_of_us: int, spec: SourceWriteback) -> bool:
    """Whether `record_values` of these instances is not EMPTY (without building it)."""
    recent, over = as_of_us - spec.recent, as_of_us - spec.breaches_over
    for i in instances:
        if i.status == "breached" and i.deadline_us is not None and i.deadline_us >= over:
            return True
        if i.status != "not_evaluated" and (i.stopped_us is None or i.stopped_us >= recent):
            return True
    return False


def _only_source(conn: Connection, sources: list[str]) -> str | None:
    """The writeback source, when it is the one source of every stored event (the small
    `event_sources` table says), so that every subject is its record."""
    found = {row[0] for row in conn.execute(text("SELECT DISTINCT source FROM event_sources"))}
    return sources[0] if len(sources) == 1 and found == {sources[0]} else None


def _row(
    key: tuple[str, str, str], subject: tuple[str, str], desired: str, now_us: int
) -> dict[str, Any]:
    return {
        "s": key[0],
        "o": key[1],
        "r": key[2],
        "t": subject[0],
        "i": subject[1],
        "d": desired,
        "pend": desired != EMPTY_JSON,
        "empty": EMPTY_JSON,
        "now": now_us,
    }


def _subject_sources(
    conn: Connection, sources: list[str], subjects: Sequence[tuple[str, str]] | None
) -> dict[tuple[str, str], list[str]]:
    """Subject -> the writeback sources that have events of it."""
    found: dict[tuple[str, str], list[str]] = {}
    if subjects is None:
        query = text(
            "SELECT DISTINCT subject_type, subject_id, source FROM events WHERE source IN :s"
        ).bindparams(bindparam("s", expanding=True))
        rows: Iterable[Any] = conn.execute(query, {"s": sources}).all()
    else:
        rows = _by_subjects(
            conn, "SELECT DISTINCT subject_type, subject_id, source FROM events", subjects
        )
    wanted = set(sources)
    for subject_type, subject_id, source in rows:
        if source in wanted:
            found.setdefault((subject_type, subject_id), []).append(source)
    return found


def _stored(
    conn: Connection, sources: list[str], subjects: Sequence[tuple[str, str]] | None
) -> dict[tuple[str, str, str], tuple[str, tuple[str, str]]]:
    """(source, object, record) -> (its stored `desired`, its subject)."""
    select = (
        "SELECT source, object_type, record_id, desired, subject_type, subject_id"
        " FROM writeback_records"
    )
    if subjects is None:
        rows: Iterable[Any] = conn.execute(text(select)).all()
    else:
        rows = _by_subjects(conn, select, subjects)
    wanted = set(sources)
    return {(s, o, r): (d, (t, i)) for s, o, r, d, t, i in rows if s in wanted}


def _by_subjects(
    conn: Connection, select: str, subjects: Sequence[tuple[str, str]]
) -> list[tuple[Any, ...]]:
    """The rows of `select` for these subjects, a chunk of them per statement."""
    found: list[tuple[Any, ...]] = []
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for where, params in subject_filters(conn.dialect.name, subjects):
            cur.execute(f"{select} WHERE {where}", params)
            found.extend(tuple(row) for row in cur.fetchall())
    finally:
        cur.close()
    return found


def plan_tasks(
    conn: Connection,
    config: QmonConfig,
    broke: Sequence[Instance],
    kept_late: Sequence[Instance],
    links: dict[tuple[str, str], str | None],
    as_of_us: int,
) -> None:
    """A task for each newly broken instance whose record's source asks for tasks; a task
    about an instance since kept (late) gets the new text."""
    wanted = {name: spec for name, spec in targets(config).items() if spec.tasks is not None}
    if not wanted or not (broke or kept_late):
        return
    promises = {p.id: p for p in config.promises}
    subjects = sorted({(i.subject_type, i.subject_id) for i in [*broke, *kept_late]})
    sources_of = _subject_sources(conn, list(wanted), subjects)
    language, zone = config.language, config.timezone
    for i in broke:
        for source in sources_of.get((i.subject_type, i.subject_id), []):
            spec = wanted[source]
            object_type = crm_object(config.sources[source].kind, i.subject_type, i.subject_id)
            if object_type is None or object_type not in spec.objects:
                continue
            assert spec.tasks is not None
            link = links.get((i.subject_type, i.subject_id))
            kind = "breached" if i.stopped_us is None else "late"  # found only once kept
            title, body = task_text(kind, promises[i.promise_id], i, link, as_of_us, zone, language)
            calendar = config.calendars.get(spec.tasks.calendar or "")
            conn.execute(
                text(
                    "INSERT INTO writeback_tasks (promise_id, subject_type, subject_id,"
                    " started_us, source, object_type, record_id, key, owner, title, body,"
                    " due_us, priority, created_us, update_pending, attempts, next_try_us)"
                    " VALUES (:p, :t, :i, :s, :src, :o, :r, :key, :owner, :title, :body, :due,"
                    " :prio, :now, false, 0, :now) ON CONFLICT DO NOTHING"
                ),
                {
                    "p": i.promise_id,
                    "t": i.subject_type,
                    "i": i.subject_id,
                    "s": i.started_us,
                    "src": source,
                    "o": object_type,
                    "r": i.subject_id,
                    "key": task_key(source, i),
                    "owner": i.owner,
                    "title": title,
                    "body": body,
                    "due": due_at(spec.tasks.due, calendar, as_of_us),
                    "prio": spec.tasks.priority,
                    "now": as_of_us,
                },
            )
    for i in kept_late:
        link = links.get((i.subject_type, i.subject_id))
        title, body = task_text("late", promises[i.promise_id], i, link, as_of_us, zone, language)
        conn.execute(
            text(
                "UPDATE writeback_tasks SET title = :title, body = :body, update_pending ="
                " (task_id IS NOT NULL), next_try_us = :now WHERE promise_id = :p"
                " AND subject_type = :t AND subject_id = :i AND started_us = :s"
                " AND body <> :body"
            ),
            {
                "p": i.promise_id,
                "t": i.subject_type,
                "i": i.subject_id,
                "s": i.started_us,
                "title": title,
                "body": body,
                "now": as_of_us,
            },
        )


def task_key(source: str, instance: Instance) -> str:
    """The key stored in the task: short, stable, the same for every try."""
    raw = "\x1f".join(
        (
            source,
            instance.promise_id,
            instance.subject_type,
            instance.subject_id,
            str(instance.started_us),
        )
    )
    return "qmon-" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def due_at(due: Any, calendar: BusinessCalendar | None, now_us: int) -> int:
    """When a task is due: `due` (a duration, or N business days) from now, on the
    calendar's clock when one is named (business days without one count whole days)."""
    if isinstance(due, BusinessDays):
        if calendar is None:
            return now_us + due.days * DAY_US
        return calendar.business_days(now_us, due.days)[1]
    return calendar.advance(now_us, due.us) if calendar is not None else now_us + due.us
