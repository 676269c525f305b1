"""Which breaches got a task in the CRM, and whether the owner completed it
(`qmon actions tasks`): the recovery actions ("herstelacties") qmon asked for.

A task qmon created comes back with the next sync like any other: completed, it is an
event of its record (`tasks/<id>` in HubSpot, `Task/<id>` in Salesforce; a task not yet
completed makes none), so completion is read from the store, not asked from the CRM.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, text

from qmon.store import Store

#: The record key a synced task has, per CRM kind.
TASK_RECORD = {"hubspot": "tasks/{}", "salesforce": "Task/{}"}


@dataclass(frozen=True)
class TaskRow:
    promise_id: str
    subject_type: str
    subject_id: str
    source: str
    created_us: int
    owner: str | None
    task_id: str | None  # None: not created yet (waiting, or failing: `last_error`)
    completed_us: int | None
    last_error: str | None


def task_rows(store: Store, kinds: dict[str, str], since_us: int | None = None) -> list[TaskRow]:
    """Every task qmon made or will make, newest first; `kinds` maps source -> CRM kind."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT promise_id, subject_type, subject_id, source, created_us, owner, task_id,"
                " last_error FROM writeback_tasks WHERE created_us >= :since"
                " ORDER BY created_us DESC, promise_id, subject_id"
            ),
            {"since": since_us or 0},
        ).all()
        keys: dict[str, list[str]] = {}
        for r in rows:
            if r.task_id is not None and r.source in kinds:
                keys.setdefault(r.source, []).append(TASK_RECORD[kinds[r.source]].format(r.task_id))
        done: dict[tuple[str, str], int] = {}
        query = text(
            "SELECT record, min(occurred_us) FROM events WHERE source = :s AND record IN :r"
            " GROUP BY record"
        ).bindparams(bindparam("r", expanding=True))
        for source, records in keys.items():
            for start in range(0, len(records), 500):
                part = records[start : start + 500]
                for record, at in conn.execute(query, {"s": source, "r": part}):
                    done[(source, record)] = at
    found = []
    for r in rows:
        key = TASK_RECORD.get(kinds.get(r.source, ""), "{}").format(r.task_id)
        found.append(TaskRow(
            r.promise_id, r.subject_type, r.subject_id, r.source, r.created_us, r.owner,
            r.task_id, done.get((r.source, key)) if r.task_id else None,
            r.last_error,
        ))  # fmt: skip
    return found
