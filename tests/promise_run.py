"""Running one promise over a few events both ways: through the real `qmon` command line and
through the reference evaluator (tests/promise_reference.py), in the same comparable form."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.clihelp import qmon
from tests.promise_reference import audit_document, instance_key

AMS = ZoneInfo("Europe/Amsterdam")
OFFICE = {
    "timezone": "Europe/Amsterdam",
    "hours": {"mon-fri": ["09:00-12:30", "13:00-17:00"]},
    "holidays": ["NL"],
}
AS_OF = "2026-12-01T10:00:00Z"


def nl(local: str) -> str:
    """A wall time in Amsterdam ('2026-11-23 09:00[:ss]') as ISO-8601 with its offset."""
    return datetime.fromisoformat(local).replace(tzinfo=AMS).isoformat()


def z(utc: str) -> str:
    """'2026-11-23 08:00[:ss[.ffffff]]' as the audit writes a UTC instant."""
    text = utc.replace(" ", "T")
    return (text + ":00" if len(text) == 16 else text) + "Z"


def ev(id_: str, local: str, type_: str, subject: str = "C-1", **attrs: Any) -> dict:
    """One JSON Lines event row; `local` is Amsterdam wall time."""
    return {"id": id_, "occurred_at": nl(local), "type": type_, "subject_type": "case",
            "subject_id": subject, **attrs}


def inst(start: str, stop: str | None, elapsed: float, status: str, allowed: float | None,
         deadline: str | None, target: int | None = None, at_risk: bool = False,
         subject: str = "C-1") -> dict:
    """An expected audit instance (UTC instants as z() takes them, seconds)."""
    return {"subject_id": subject, "started_at": z(start),
            "stopped_at": None if stop is None else z(stop), "elapsed_seconds": elapsed,
            "status": status, "at_risk": at_risk, "allowed_seconds": allowed,
            "deadline": None if deadline is None else z(deadline), "target": target,
            "reason": status == "not_evaluated"}


def not_evaluated(start: str, stop: str | None, elapsed: float, subject: str = "C-1") -> dict:
    return inst(start, stop, elapsed, "not_evaluated", None, None, subject=subject)


def config(*promises: dict, database: str = "sqlite:///qmon.db") -> dict:
    """A config around promises given without id/phase (ids p0, p1... in order)."""
    return {
        "version": 1, "database": database, "timezone": "Europe/Amsterdam",
        "phases": ["sales"], "calendars": {"office-nl": OFFICE},
        "promises": [{"id": f"p{i}", "phase": "sales", **p} for i, p in enumerate(promises)],
    }


FIELDS = ("promise", "subject_id", "started_at", "stopped_at", "elapsed_seconds", "status",
          "at_risk", "allowed_seconds", "deadline", "target")


def comparable(instances: list[dict]) -> list[dict]:
    """Instances as the tables compare them: seconds rounded, only whether a reason is given."""
    out = []
    for i in sorted(instances, key=instance_key):
        row = {k: i[k] for k in FIELDS}
        row["elapsed_seconds"] = round(row["elapsed_seconds"])
        if row["allowed_seconds"] is not None:
            row["allowed_seconds"] = round(row["allowed_seconds"])
        row["reason"] = i.get("reason") is not None
        out.append(row)
    return out


def expected(rows: list[dict]) -> list[dict]:
    return comparable([{**r, "promise": "p0", "subject_type": "case",
                        "reason": "given" if r["reason"] else None} for r in rows])


def by_reference(cfg: dict, events: list[dict], as_of: str) -> dict:
    return audit_document(cfg, events, as_of)


def by_qmon(folder: Path, cfg: dict, events: list[dict], as_of: str,
            env: dict[str, str] | None = None) -> dict:
    """Import the events and audit them with the real command line in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "qmon.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    (folder / "events.jsonl").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    imported = qmon("--config", path, "import", folder / "events.jsonl", env=env)
    assert imported.exit_code == 0, imported.output
    result = qmon("--config", path, "audit", "--as-of", as_of, "--format", "json",
                  "--instances", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
