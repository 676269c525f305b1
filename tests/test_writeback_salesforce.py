"""Writeback to Salesforce, end to end: `qmon crm setup` (Tooling API fields, a permission
set for the API user), `qmon sync`, `qmon check` through simple-salesforce against
FakeSalesforce over TLS, and what lands on the Cases.

Four Cases and one promise (closed within 4 hours, at risk from 75 %): after a sync and a
check every Case carries the values `qmon audit --instances` implies, a second check writes
nothing, a breach makes one Task for the owner; a record the integration user may not edit
(field-level security) is refused alone and listed by `qmon status`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.clihelp import qmon
from tests.fakes.salesforce import FakeSalesforce

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
FIELDS = ("Qmon_Status__c", "Qmon_Next_Due__c", "Qmon_Breaches__c", "Qmon_Promise__c",
          "Qmon_Link__c")  # fmt: skip


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as fake:
        yield fake


class Org:
    def __init__(self, fake: FakeSalesforce, tmp_path: Path) -> None:
        self.fake, self.tmp = fake, tmp_path
        self.owner = fake.add_user()
        self.ids: dict[str, str] = {}
        for name, opened, closed in [
            ("kept", T0, T0 + H),
            ("broken", T0, None),
            ("at_risk", T0 + 2 * H, None),
            ("on_track", T0 + 4.5 * H, None),
        ]:
            fields = {"Subject": name, "Status": "New", "Origin": "Email", "OwnerId": self.owner,
                      "CreatedDate": opened, "SystemModstamp": closed or opened}  # fmt: skip
            if closed is not None:
                fields.update(Status="Closed", IsClosed=True, ClosedDate=closed)
            self.ids[name] = fake.add_record("Case", fields)
        self.config = tmp_path / "qmon.yaml"
        self.config.write_text(yaml.safe_dump({
            "version": 1, "database": f"sqlite:///{tmp_path / 'q.db'}", "language": "nl",
            "calendars": {"office": {"hours": {"mon-fri": "09:00-17:00"}, "holidays": ["NL"]}},
            "promises": [{"id": "close-4h", "title": "Binnen 4 uur opgelost",
                          "phase": "after-sales", "start": "case.opened", "stop": "case.closed",
                          "within": "4h", "warn_at": "75%"}],
            "sources": {"salesforce": {
                "instance_url": fake.instance_url, "login_url": fake.instance_url,
                "auth": {"method": "client_credentials", "consumer_key": "3MVG9-key",
                         "consumer_secret": "${SF_SECRET}"},
                "ca_bundle": fake.ca_cert_path, "objects": ["Case"], "backoff_seconds": 0.01}},
            "writeback": {"salesforce": {"objects": ["Case"],
                                         "tasks": {"due": "1 business day",
                                                   "calendar": "office"}}},
        }))  # fmt: skip
        self.env = {"SF_SECRET": "not-a-real-secret"}

    def run(self, *args: str | Path, code: int = 0):
        result = qmon("--config", self.config, *args, env=self.env)
        assert result.exit_code == code, result.output
        assert "not-a-real-secret" not in result.output
        return result

    def check(self, at: datetime, code: int = 0):
        return self.run("check", "--as-of", iso(at), code=code)

    def fields(self, name: str) -> dict[str, object]:
        record = self.fake.get_record("Case", self.ids[name])
        return {f: record.get(f) for f in FIELDS}

    def collection_calls(self) -> int:
        return sum(1 for r in self.fake.request_log if r.path.endswith("/composite/sobjects"))

    def tasks(self) -> list[dict[str, object]]:
        return [t for t in self.fake.records("Task") if t.get("Qmon_Key__c")]


@pytest.fixture
def org(fake: FakeSalesforce, tmp_path: Path) -> Org:
    org = Org(fake, tmp_path)
    org.run("crm", "setup")
    org.run("sync")
    return org


def test_setup_creates_fields_and_grants_them_once(fake: FakeSalesforce, tmp_path: Path) -> None:
    org = Org(fake, tmp_path)
    dry = org.run("crm", "setup", "--dry-run").stdout
    assert "would create field Case.Qmon_Status__c (Picklist)" in dry
    assert not fake.custom_fields
    out = org.run("crm", "setup").stdout
    assert "created field Case.Qmon_Next_Due__c (DateTime)" in out
    assert "created field Task.Qmon_Key__c (Text)" in out
    assert "created permission set Qmon_Writeback" in out
    assert "assigned Qmon_Writeback to the API user" in out
    again = org.run("crm", "setup").stdout
    assert "created" not in again and "assigned" not in again
    assert "exists: field Case.Qmon_Breaches__c (Number)" in again


def test_emit_metadata_writes_sfdx_source(fake: FakeSalesforce, tmp_path: Path) -> None:
    org = Org(fake, tmp_path)
    out = org.run("crm", "setup", "--emit-metadata", tmp_path / "sfdx").stdout
    assert "sf project deploy start" in out
    base = tmp_path / "sfdx" / "force-app" / "main" / "default"
    status = (base / "objects" / "Case" / "fields" / "Qmon_Status__c.field-meta.xml").read_text()
    assert "<type>Picklist</type>" in status and "<fullName>at_risk</fullName>" in status
    permset = (base / "permissionsets" / "Qmon_Writeback.permissionset-meta.xml").read_text()
    assert "<field>Case.Qmon_Link__c</field>" in permset
    assert "<field>Task.Qmon_Key__c</field>" in permset
    assert (tmp_path / "sfdx" / "sfdx-project.json").exists()
    assert not fake.custom_fields  # nothing was created in the org


def test_check_writes_what_the_audit_says_then_nothing(org: Org) -> None:
    as_of = T0 + 5 * H
    out = org.check(as_of).stdout
    assert "CRM: 4 record(s) changed, 4 written, 1 task(s) created" in out
    broken = org.fields("broken")
    assert broken["Qmon_Status__c"] == "breached" and broken["Qmon_Breaches__c"] == 1
    assert broken["Qmon_Promise__c"] == "Binnen 4 uur opgelost"
    assert broken["Qmon_Link__c"] is None  # no serve.public_url
    due = broken["Qmon_Next_Due__c"]
    assert due == T0 + 4 * H or due == iso(T0 + 4 * H).replace("Z", ".000Z")
    audit = json.loads(org.run("audit", "--as-of", iso(as_of), "--format", "json",
                               "--instances").stdout)  # fmt: skip
    for instance in audit["instances"]:
        name = next(n for n, i in org.ids.items() if i == instance["subject_id"])
        expected = {"met": "met", "breached": "breached"}.get(instance["status"])
        if instance["status"] == "open":
            expected = "at_risk" if instance["at_risk"] else "on_track"
        assert org.fields(name)["Qmon_Status__c"] == expected, name
    calls = org.collection_calls()
    org.check(as_of + timedelta(minutes=1))
    assert org.collection_calls() == calls
    [task] = org.tasks()
    assert task["WhatId"] == org.ids["broken"] and task["OwnerId"] == org.owner
    assert task["Subject"] == "Belofte gebroken: Binnen 4 uur opgelost"
    assert task["Priority"] == "High"
    assert str(task["ActivityDate"]) == "2026-11-03"
    assert "Deadline: 02-11-2026 14:00 (Europe/Amsterdam)" in str(task["Description"])


def test_a_field_the_user_may_not_edit_is_refused_alone(org: Org) -> None:
    org.fake.deny_edit("Case", "Qmon_Promise__c")
    result = org.check(T0 + 5 * H)
    # one line for the cause, not one per record
    [line] = [x for x in result.stderr.splitlines() if "CRM refused" in x]
    assert "CRM refused 4 salesforce Case record(s)" in line
    assert "and 1 more): INVALID_FIELD_FOR_INSERT_UPDATE" in line
    for n in range(3):
        org.check(T0 + 5 * H + timedelta(hours=2 * (n + 1)))
    status = json.loads(org.run("status", "--format", "json").stdout)
    assert status["crm"]["refused"] and status["crm"]["records_waiting"] >= 1


def test_sources_check_says_when_the_fields_are_missing(fake: FakeSalesforce,
                                                        tmp_path: Path) -> None:  # fmt: skip
    org = Org(fake, tmp_path)
    out = org.run("sources", "check", code=3).stdout
    assert "✗ Case qmon fields: missing Qmon_Status__c" in out
    org.run("crm", "setup")
    out = org.run("sources", "check").stdout
    assert "✓ Case qmon fields writable" in out
    fake.deny_edit("Case", "Qmon_Status__c")
    out = org.run("sources", "check", code=3).stdout
    assert "✗ Case qmon fields writable: the integration user may not edit Qmon_Status__c" in out


def test_an_org_that_fails_for_a_while_ends_with_every_record_right(org: Org) -> None:
    org.fake.fail_next(3, status=503)
    org.check(T0 + 5 * H)
    assert org.fields("broken")["Qmon_Status__c"] == "breached"
    assert org.fields("kept")["Qmon_Status__c"] == "met"
    org.fake.fail_next(50, status=503)  # longer than the retries: the check says so, exit 3
    closed = {"Status": "Closed", "IsClosed": True, "ClosedDate": T0 + 5 * H,
              "SystemModstamp": datetime.now(UTC)}  # fmt: skip
    org.fake.update_record("Case", org.ids["on_track"], closed)
    org.fake.clear_faults()
    org.run("sync")
    org.fake.fail_next(50, status=503)
    result = org.check(T0 + 5.5 * H, code=3)
    assert "salesforce" in result.stderr
    org.fake.clear_faults()
    org.check(T0 + 5.5 * H + timedelta(minutes=2))
    assert org.fields("on_track")["Qmon_Status__c"] == "met"
