"""The writeback outbox, step 2: writing the pending records and tasks to the CRM.

See `qmon.writeback.plan` for the whole design."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlalchemy import text

from qmon.config import QmonConfig
from qmon.connectors.base import SyncError
from qmon.store import Store
from qmon.writeback.crm import targets, writer
from qmon.writeback.plan import WritebackReport
from qmon.writeback.protocol import TaskRequest, Update, Writer, WriteRefused
from qmon.writeback.values import EMPTY_JSON, RecordValues

FIRST_RETRY_US = 60_000_000
LAST_RETRY_US = 3600_000_000


class _Stop(Exception):
    """The source's remaining writes wait for the next check."""


def deliver(config: QmonConfig, store: Store, now_us: int, report: WritebackReport) -> None:
    """Write every due record and task of every writeback source."""
    titles = {p.id: p.title for p in config.promises}
    for source in targets(config):
        with store.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT object_type, record_id, desired, attempts FROM writeback_records"
                    " WHERE source = :s AND pending AND next_try_us <= :now"
                    " ORDER BY object_type, record_id"
                ),
                {"s": source, "now": now_us},
            ).all()
            tasks = conn.execute(
                text(
                    "SELECT * FROM writeback_tasks WHERE source = :s AND (task_id IS NULL"
                    " OR update_pending) AND next_try_us <= :now ORDER BY created_us, key"
                ),
                {"s": source, "now": now_us},
            ).all()
        if not rows and not tasks:
            continue
        try:
            crm = writer(config, source)
        except SyncError as exc:
            report.failed.append(f"{source}: {exc}")
            continue
        try:
            for object_type, group in groupby(rows, key=lambda r: r.object_type):
                _write_records(store, crm, source, object_type, list(group), titles, now_us, report)
            _deliver_tasks(store, crm, source, tasks, now_us, report)
        except _Stop:
            pass
        finally:
            crm.close()
    with store.engine.connect() as conn:
        report.pending = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM writeback_records WHERE pending)"
                " + (SELECT count(*) FROM writeback_tasks WHERE task_id IS NULL"
                " OR update_pending)"
            )
        ).scalar_one()


def canonical(values: RecordValues, titles: dict[str, str]) -> dict[str, Any]:
    """A record's values as a writer takes them: the promise as its title."""
    return {
        "status": values.status,
        "next_due": values.next_due_us,
        "breaches": values.breaches,
        "promise": titles.get(values.promise, values.promise) if values.promise else None,
        "link": values.link,
    }


def _write_records(
    store: Store,
    crm: Writer,
    source: str,
    object_type: str,
    rows: list[Any],
    titles: dict[str, str],
    now_us: int,
    report: WritebackReport,
) -> None:
    for start in range(0, len(rows), crm.batch_size):
        batch = rows[start : start + crm.batch_size]
        updates = [
            Update(r.record_id, canonical(RecordValues.from_json(r.desired), titles)) for r in batch
        ]
        try:
            outcomes = crm.write(object_type, updates)
        except WriteRefused as exc:
            report.warnings.append(f"{source}: {exc}")
            _postpone(store, source, object_type, batch, str(exc), now_us)
            raise _Stop from None
        except SyncError as exc:
            report.failed.append(f"{source}: {exc}")
            _postpone(store, source, object_type, batch, str(exc), now_us)
            raise _Stop from None
        sent = {r.record_id: r for r in batch}
        taken = [o.record_id for o in outcomes if o.ok and o.record_id in sent]
        refused = [o for o in outcomes if not o.ok and o.record_id in sent]
        answered = {o.record_id for o in outcomes}
        missing = [r for r in batch if r.record_id not in answered]  # never left unsettled
        with store.engine.begin() as conn:
            if taken:
                conn.execute(
                    text(
                        "UPDATE writeback_records SET written = :sent, written_us = :now,"
                        " pending = (desired <> :sent), attempts = 0, last_error = NULL"
                        " WHERE source = :s AND object_type = :o AND record_id = :r"
                    ),
                    [
                        {
                            "sent": sent[r].desired,
                            "now": now_us,
                            "s": source,
                            "o": object_type,
                            "r": r,
                        }
                        for r in taken
                    ],
                )
                # a record emptied has nothing left to remember (no row: nothing written)
                conn.execute(
                    text(
                        "DELETE FROM writeback_records WHERE source = :s AND object_type = :o"
                        " AND record_id = :r AND desired = :empty AND written = :empty"
                    ),
                    [{"s": source, "o": object_type, "r": r, "empty": EMPTY_JSON} for r in taken],
                )
        report.written += len(taken)
        for outcome in refused:
            reason = outcome.reason or "refused"
            report.refused.append((source, object_type, outcome.record_id, reason))
            _postpone(store, source, object_type, [sent[outcome.record_id]], reason, now_us)
        if missing:
            _postpone(store, source, object_type, missing, "no answer for this record", now_us)


def _postpone(
    store: Store, source: str, object_type: str, rows: list[Any], reason: str, now_us: int
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE writeback_records SET attempts = attempts + 1, next_try_us = :next,"
                " last_error = :why WHERE source = :s AND object_type = :o AND record_id = :r"
            ),
            [
                {
                    "next": now_us + _backoff(r.attempts),
                    "why": reason[:500],
                    "s": source,
                    "o": object_type,
                    "r": r.record_id,
                }
                for r in rows
            ],
        )


def _backoff(attempts: int) -> int:
    return int(min(LAST_RETRY_US, FIRST_RETRY_US * 2 ** min(attempts, 20)))


def _deliver_tasks(
    store: Store,
    crm: Writer,
    source: str,
    tasks: list[Any],
    now_us: int,
    report: WritebackReport,
) -> None:
    for row in tasks:
        request = TaskRequest(
            key=row.key,
            object_type=row.object_type,
            record_id=row.record_id,
            owner=row.owner,
            title=row.title,
            body=row.body,
            due_us=row.due_us,
            priority=row.priority,
        )
        where = {"k": row.key}
        try:
            if row.task_id is None:
                found = crm.find_task(row.key) if row.attempts > 0 else None
                if found is None:
                    _settle_task(store, "attempts = attempts + 1", where)  # uncertain from here
                    found = crm.create_task(request)
                    report.tasks_created += 1
                _settle_task(store, "task_id = :id, last_error = NULL", {**where, "id": found})
                # created with the text of its row as read; a later change is flagged anew
            else:
                crm.update_task(row.task_id, request)
                _settle_task(
                    store,
                    "update_pending = (body <> :body), last_error = NULL",
                    {**where, "body": row.body},
                )
                report.tasks_updated += 1
        except WriteRefused as exc:
            report.warnings.append(f"{source}: {exc}")
            _settle_task(
                store,
                "next_try_us = :next, last_error = :why",
                {**where, "next": now_us + _backoff(row.attempts), "why": str(exc)[:500]},
            )
        except SyncError as exc:
            report.failed.append(f"{source}: {exc}")
            _settle_task(
                store,
                "next_try_us = :next, last_error = :why",
                {**where, "next": now_us + _backoff(row.attempts), "why": str(exc)[:500]},
            )
            raise _Stop from None


def _settle_task(store: Store, assignments: str, params: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE writeback_tasks SET {assignments} WHERE key = :k"), params)


def refused_records(store: Store, at_least: int = 3) -> list[tuple[str, str, str, int, str]]:
    """Records the CRM keeps refusing (`at_least` tries): source, object, id, tries, why."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source, object_type, record_id, attempts, last_error FROM"
                " writeback_records WHERE pending AND attempts >= :n"
                " ORDER BY attempts DESC, source, object_type, record_id LIMIT 50"
            ),
            {"n": at_least},
        ).all()
    return [(r[0], r[1], r[2], r[3], r[4] or "") for r in rows]
