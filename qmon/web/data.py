"""What the record, instance and card pages read: one record's promises, evaluated now.

Each request evaluates only the record it is about: for every promise, the store's rows of
that one subject (`Store.promise_events(..., subjects=[(type, id)])`, as the incremental
check reads them) through the engine. So a record page costs a few index probes however
large the store is. The instance page is `qmon explain`'s data (`explain_subject`), with
the alerts the `alerts` table holds about that instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from qmon.config import QmonConfig
from qmon.promises.engine import Instance, evaluate
from qmon.promises.promise import Promise
from qmon.reports.explain import Explanation, explain_subject
from qmon.store import Store
from qmon.textsafe import safe_link
from qmon.timeutil import from_us, iso_z
from qmon.web import paths

CARD_VERSION = 1


@dataclass(frozen=True)
class Found:
    """One instance of a promise on the record."""

    promise: Promise
    instance: Instance


def record_instances(
    config: QmonConfig, store: Store, subject_type: str, subject_id: str, as_of_us: int
) -> list[Found]:
    """Every instance of every promise for this one record, in the config's order of
    promises, newest cycle first."""
    found: list[Found] = []
    for promise in config.promises:
        rows = store.promise_events(promise, as_of_us, subjects=[(subject_type, subject_id)])
        instances = [
            i for i in evaluate(promise, rows, as_of_us)
            if i.subject_type == subject_type and i.subject_id == subject_id
        ]  # fmt: skip
        found.extend(Found(promise, i) for i in sorted(instances, key=lambda i: -i.cycle))
    return found


def record_link(config: QmonConfig, store: Store, subject_type: str, subject_id: str) -> str | None:
    """The record's CRM link, if an event of one of the promises' types carries one that
    may be shown as a link."""
    types = sorted({t for p in config.promises for t in p.types()})
    if not types:
        return None
    with store.engine.connect() as conn:
        return safe_link(store.subject_link(conn, types, subject_type, subject_id))


def find_instance(
    promise: Promise, store: Store, subject_type: str, subject_id: str, cycle: int,
    as_of_us: int,
) -> Explanation | None:  # fmt: skip
    """`qmon explain`'s explanation of this one instance, or None if there is no such."""
    for explanation in explain_subject(promise, store, subject_id, as_of_us, subject_type):
        inst = explanation.instance
        if inst.subject_type == subject_type and inst.cycle == cycle:
            return explanation
    return None


def instance_alerts(store: Store, inst: Instance) -> list[dict[str, Any]]:
    """The alerts raised about this instance (kind, detected, delivery), oldest first."""
    query = text(
        "SELECT kind, detected_us, status, sent_us, route FROM alerts WHERE promise_id = :p"
        " AND subject_type = :t AND subject_id = :i AND started_us = :s ORDER BY detected_us"
    )
    key = {"p": inst.promise_id, "t": inst.subject_type, "i": inst.subject_id,
           "s": inst.started_us}  # fmt: skip
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query, key)]


def store_reachable(store: Store) -> bool:
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure is "not reachable"
        return False
    return True


def _local_iso(us: int | None, tz: ZoneInfo) -> str | None:
    """ISO-8601 with the offset of `tz`, to the second."""
    if us is None:
        return None
    return from_us(us).astimezone(tz).isoformat(timespec="seconds")


def card_document(
    config: QmonConfig, base_url: str, subject_type: str, subject_id: str,
    found: list[Found], link: str | None, as_of_us: int,
) -> dict[str, Any]:  # fmt: skip
    """The CRM card's JSON, version 1 (docs/serve.md): the record and each instance of a
    promise on it, with its clock and the dashboard's page about it."""
    tz = config.timezone
    return {
        "version": CARD_VERSION,
        "as_of": iso_z(as_of_us),
        "record": {
            "subject_type": subject_type,
            "subject_id": subject_id,
            "url": paths.absolute(base_url, paths.record_path(subject_type, subject_id)),
            "crm_link": link,
        },
        "promises": [
            {
                "promise_id": f.promise.id,
                "title": f.promise.title,
                "phase": f.promise.phase,
                "cycle": f.instance.cycle,
                "status": f.instance.status,
                "at_risk": f.instance.at_risk,
                "paused": f.instance.paused,
                "started_at": _local_iso(f.instance.started_us, tz),
                "stopped_at": _local_iso(f.instance.stopped_us, tz),
                "deadline": _local_iso(f.instance.deadline_us, tz),
                "elapsed_seconds": f.instance.elapsed_us // 1_000_000,
                "allowed_seconds": (
                    None if f.instance.allowed_us is None else f.instance.allowed_us // 1_000_000
                ),
                "instance_url": paths.absolute(
                    base_url,
                    paths.instance_path(f.promise.id, subject_type, subject_id, f.instance.cycle),
                ),
            }
            for f in found
        ],
    }


CSV_COLUMNS = ("promise_id", "title", "phase", "subject_type", "subject_id", "cycle", "status",
               "at_risk", "started_at", "stopped_at", "deadline", "elapsed_seconds",
               "allowed_seconds", "owner")  # fmt: skip


def csv_rows(found: list[Found], tz: ZoneInfo) -> list[list[Any]]:
    """The record's instances as CSV rows (cells not yet made safe for spreadsheets)."""
    return [
        [f.promise.id, f.promise.title, f.promise.phase, f.instance.subject_type,
         f.instance.subject_id, f.instance.cycle, f.instance.status, f.instance.at_risk,
         _local_iso(f.instance.started_us, tz), _local_iso(f.instance.stopped_us, tz),
         _local_iso(f.instance.deadline_us, tz), f.instance.elapsed_us // 1_000_000,
         None if f.instance.allowed_us is None else f.instance.allowed_us // 1_000_000,
         f.instance.owner]
        for f in found
    ]  # fmt: skip
