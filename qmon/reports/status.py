"""`qmon status`: is qmon's picture of the journey current, and is anything stuck?

For each source, when all its streams last completed a sync; when the last check ran; what
waits in the alert outbox (and why, if deliveries fail); each agent job's last run, by which
agent, and its error; and which promises cannot be evaluated at all (no kept or broken
instance in the store, or fed only by sources that stopped syncing: missing or stale data
is never "kept").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text

from qmon.alerts.sources import last_complete_syncs, stale_promises
from qmon.config import QmonConfig
from qmon.promises.promise import Promise, Role
from qmon.reports.audit import AuditQuery, run_audit
from qmon.store import Store
from qmon.store.purge import PURGED_BEFORE
from qmon.timeutil import from_us
from qmon.writeback.deliver import refused_records


@dataclass
class Status:
    as_of_us: int
    sources: dict[str, int | None] = field(default_factory=dict)  # last complete sync
    last_check_us: int | None = None
    alerts_waiting: int = 0
    oldest_waiting_us: int | None = None
    last_delivery_error: str | None = None
    not_evaluated: list[str] = field(default_factory=list)  # includes the stale ones
    stale_promises: dict[str, list[str]] = field(default_factory=dict)  # promise -> sources
    jobs: list[dict[str, Any]] = field(default_factory=list)  # the agents' jobs (agent_jobs)
    purged_before_us: int | None = None  # `qmon purge`'s cut: older events are not stored
    events_out_of_range: int | None = None  # stored before qmon checked; None: not counted
    #: CRM writeback: records and tasks waiting, and records the CRM keeps refusing
    crm_waiting: int = 0
    crm_tasks_waiting: int = 0
    crm_refused: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The stable JSON of `qmon status --format json` (instants in UTC with `Z`)."""
        return {
            "as_of": _iso(self.as_of_us),
            "sources": [{"name": name, "last_sync": _iso(at)} for name, at in self.sources.items()],
            "last_check": _iso(self.last_check_us),
            "outbox": {
                "waiting": self.alerts_waiting,
                "oldest": _iso(self.oldest_waiting_us),
                "last_error": self.last_delivery_error,
            },
            "crm": {
                "records_waiting": self.crm_waiting,
                "tasks_waiting": self.crm_tasks_waiting,
                "refused": self.crm_refused,
            },
            "not_evaluated": self.not_evaluated,
            "purged_before": _iso(self.purged_before_us),
            "events_out_of_range": self.events_out_of_range,
            "stale_promises": [
                {"promise": promise, "sources": sources}
                for promise, sources in self.stale_promises.items()
            ],
            "jobs": [
                {"name": job["name"], "next_due": _iso(job["due_us"]), "agent": job["agent"],
                 "last_started": _iso(job["started_us"]),
                 "last_finished": _iso(job["finished_us"]), "last_error": job["error"]}
                for job in self.jobs
            ],  # fmt: skip
        }


def collect(
    config: QmonConfig, store: Store, as_of_us: int, *, count_out_of_range: bool = False
) -> Status:
    """What `qmon status` shows. `count_out_of_range` also counts the stored events outside
    the instants qmon stores (a scan of the events table: not for every metrics scrape)."""
    status = Status(as_of_us)
    status.sources = last_complete_syncs(config, store)
    marks = store.marks()
    status.last_check_us = marks.get("check")
    status.purged_before_us = marks.get(PURGED_BEFORE)
    if count_out_of_range:
        status.events_out_of_range = store.out_of_range()[1]
    with store.engine.connect() as conn:
        waiting, oldest = conn.execute(
            text(
                "SELECT count(*), min(detected_us) FROM alerts"
                " WHERE status = 'pending' OR update_pending OR webhook_pending"
            )
        ).one()
        status.alerts_waiting, status.oldest_waiting_us = waiting, oldest
        status.jobs = [dict(row._mapping) for row in conn.execute(text(
            "SELECT name, due_us, agent, started_us, finished_us, error FROM agent_jobs"
            " ORDER BY name"))]  # fmt: skip
        status.last_delivery_error = conn.execute(
            text(
                "SELECT last_error FROM alerts WHERE status = 'pending' AND attempts > 0"
                " ORDER BY next_try_us DESC LIMIT 1"
            )
        ).scalar_one_or_none()
        status.crm_waiting = conn.execute(
            text("SELECT count(*) FROM writeback_records WHERE pending")
        ).scalar_one()
        status.crm_tasks_waiting = conn.execute(
            text("SELECT count(*) FROM writeback_tasks WHERE task_id IS NULL OR update_pending")
        ).scalar_one()
    status.crm_refused = [
        {"source": s, "object": o, "id": r, "tries": n, "reason": why}
        for s, o, r, n, why in refused_records(store)
    ]
    status.stale_promises = stale_promises(config, store, as_of_us)
    status.not_evaluated = [
        p.id
        for p in config.promises
        if p.id in status.stale_promises or not _has_decided(config, store, p, as_of_us)
    ]
    return status


def _has_decided(config: QmonConfig, store: Store, promise: Promise, as_of_us: int) -> bool:
    """Whether the promise has a kept or broken instance as of `as_of_us`, its compliance
    therefore a number. Usually one index probe finds a stop event after a start of the same
    subject (status and the metrics ask often, on stores of millions of events); only a
    promise without one (all its instances open, or broken without a stop) is audited."""
    starts, stops = promise.types(Role.START), promise.types(Role.STOP)
    query = text(
        "SELECT 1 FROM events AS s WHERE s.type IN :stops AND s.occurred_us <= :at AND EXISTS"
        " (SELECT 1 FROM events AS a WHERE a.type IN :starts AND a.subject_type = s.subject_type"
        " AND a.subject_id = s.subject_id AND a.occurred_us <= s.occurred_us) LIMIT 1"
    ).bindparams(bindparam("stops", expanding=True), bindparam("starts", expanding=True))
    with store.engine.connect() as conn:
        if conn.execute(query, {"stops": stops, "starts": starts, "at": as_of_us}).first():
            return True
    result = run_audit(config, store, AuditQuery(as_of_us=as_of_us, promise_ids=(promise.id,)))
    return result.promises[0][1].compliance is not None


def _iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat().replace("+00:00", "Z")
