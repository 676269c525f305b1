"""`qmon explain` of the new promise forms: which target applied, the attribute values it was
decided on and when, business days' day 0 and nominal deadline, the promised instant, and why
an instance is not evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clihelp import qmon

CONFIG = """\
version: 1
database: sqlite:///qmon.db
timezone: Europe/Amsterdam
calendars:
  office-nl:
    hours: {mon-fri: ["09:00-12:30", "13:00-17:00"]}
    holidays: [NL]
promises:
  - id: reply
    phase: after-sales
    start: case.opened
    stop: case.first_response
    calendar: office-nl
    retarget: true
    targets:
      - {when: {priority: urgent}, within: 1h}
      - {within: 8h}
  - id: callback
    phase: pre-sales
    start: callback.requested
    stop: call.logged
    calendar: office-nl
    within: 2 business days
  - id: on-date
    phase: after-sales
    start: order.confirmed
    stop: order.delivered
    deadline: {attribute: promised_date}
"""
EVENTS = [
    # raised to urgent after the start: with retarget the stricter target applies
    {"id": "c1", "occurred_at": "2026-11-25T09:00:00+01:00", "type": "case.opened",
     "subject_type": "case", "subject_id": "C-6", "priority": "normal"},
    {"id": "c2", "occurred_at": "2026-11-25T10:30:00+01:00", "type": "case.updated",
     "subject_type": "case", "subject_id": "C-6", "priority": "urgent"},
    {"id": "c3", "occurred_at": "2026-11-25T11:00:00+01:00", "type": "case.first_response",
     "subject_type": "case", "subject_id": "C-6"},
    # asked Friday after closing: day 0 is Monday, the deadline Wednesday 17:00
    {"id": "d1", "occurred_at": "2026-11-20T17:30:00+01:00", "type": "callback.requested",
     "subject_type": "deal", "subject_id": "D-2"},
    {"id": "o1", "occurred_at": "2026-11-16T10:00:00+01:00", "type": "order.confirmed",
     "subject_type": "order", "subject_id": "O-1", "promised_date": "2026-11-20"},
    {"id": "o2", "occurred_at": "2026-11-17T10:00:00+01:00", "type": "order.confirmed",
     "subject_type": "order", "subject_id": "O-4", "promised_date": "2026/11/30"},
]
AS_OF = "2026-12-01T10:00:00Z"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "qmon.yaml").write_text(CONFIG)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    assert qmon("--config", tmp_path / "qmon.yaml", "import", tmp_path / "events.jsonl"
                ).exit_code == 0  # fmt: skip
    return tmp_path / "qmon.yaml"


def explain(config: Path, promise: str, subject: str) -> dict:
    result = qmon("--config", config, "explain", promise, subject, "--as-of", AS_OF,
                  "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (instance,) = json.loads(result.stdout)["instances"]
    return instance


def test_the_target_and_what_it_was_decided_on(project: Path):
    inst = explain(project, "reply", "C-6")
    assert (inst["status"], inst["target"], inst["allowed_seconds"]) == ("breached", 0, 3600.0)
    assert inst["decided_at"] == "2026-11-25T10:00:00Z"  # the stop: retarget
    assert inst["attributes"] == {"priority": "urgent"}
    text = qmon("--config", project, "explain", "reply", "C-6", "--as-of", AS_OF).stdout
    assert "target   1 of 2: 1h 00m (priority in [urgent])" in text
    assert "decided  Wed 2026-11-25 11:00:00 CET on priority='urgent'" in text


def test_business_days_show_day_zero_and_the_nominal_deadline(project: Path):
    inst = explain(project, "callback", "D-2")
    assert inst["day0"] == "2026-11-23"
    assert inst["nominal_deadline"] == inst["deadline"] == "2026-11-25T16:00:00Z"
    assert inst["allowed_seconds"] == 3 * 7.5 * 3600
    text = qmon("--config", project, "explain", "callback", "D-2", "--as-of", AS_OF).stdout
    assert "within 2 business days (office-nl)" in text
    assert "day 0    2026-11-23; nominal deadline Wed 2026-11-25 17:00:00 CET" in text


def test_a_promised_date_and_an_unparseable_one(project: Path):
    met = explain(project, "on-date", "O-1")
    assert met["promised"] == met["deadline"] == "2026-11-20T23:00:00Z"  # 24:00 local
    broken = explain(project, "on-date", "O-4")
    assert broken["status"] == "not_evaluated" and broken["allowed_seconds"] is None
    assert broken["reason"] == "unparseable promised_date: '2026/11/30'"
    text = qmon("--config", project, "explain", "on-date", "O-4", "--as-of", AS_OF).stdout
    assert "not evaluated: unparseable promised_date: '2026/11/30'" in text
    assert "of no allowance" in text



def test_audit_by_target_and_by_an_attribute(project: Path):
    """--by target counts per entry of a promise's targets (no rows over all promises: the
    numbers mean something per promise); --by priority reads the value at each instance's
    decision instant, trimmed and case-folded."""
    result = qmon("--config", project, "audit", "--as-of", AS_OF, "--promise", "reply",
                  "--by", "target", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["breakdown"]["rows"]
    assert [(r["promise"], r["target"], r["breached"]) for r in rows] == [("reply", 0, 1)]
    result = qmon("--config", project, "audit", "--as-of", AS_OF, "--promise", "reply",
                  "--by", "priority", "--format", "json")  # fmt: skip
    rows = json.loads(result.stdout)["breakdown"]["rows"]
    assert {(r["promise"], r["priority"]) for r in rows} == {(None, "urgent"), ("reply", "urgent")}
    bad = qmon("--config", project, "audit", "--by", "prio rity")
    assert bad.exit_code == 2 and "--by" in bad.output
