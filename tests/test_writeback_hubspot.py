"""Writeback to HubSpot, end to end: `qmon crm setup`, `qmon sync`, `qmon check` through the
real hubspot-api-client against FakeHubSpot, and what lands on the tickets.

A portal with five tickets and one promise (a first reply within 4 hours, at risk from 75 %):
after a sync and a check every ticket carries the values `qmon audit --instances` implies, a
second check writes nothing, a breach makes exactly one task for the owner, a late reply
updates it, and a 207 partial failure or a 429 storm ends with every record right.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
PUBLIC = "https://qmon.example.com"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        yield fake


class Portal:
    """The portal's tickets, the config and the CLI around them."""

    def __init__(self, fake: FakeHubSpot, tmp_path: Path, *, tasks: bool = True,
                 database: str | None = None) -> None:  # fmt: skip
        self.fake, self.tmp = fake, tmp_path
        self.ids: dict[str, str] = {}
        for name, opened, replied in [
            ("kept", T0, T0 + H),
            ("broken", T0, None),
            ("at_risk", T0 + 2 * H, None),
            ("on_track", T0 + 4.5 * H, None),
            ("old", T0 - timedelta(days=10), T0 - timedelta(days=10) + H),
        ]:
            props = {"subject": name, "hs_pipeline_stage": "1", "hubspot_owner_id": "7001",
                     "createdate": iso(opened)}  # fmt: skip
            if replied is not None:
                props["first_agent_reply_date"] = iso(replied)
            self.ids[name] = fake.add("tickets", props, created_at=opened,
                                      updated_at=replied or opened)  # fmt: skip
        writeback: dict[str, object] = {"objects": ["tickets"]}
        if tasks:
            writeback["tasks"] = {"due": "1 business day", "calendar": "office"}
        self.config = tmp_path / "qmon.yaml"
        self.config.write_text(yaml.safe_dump({
            "version": 1, "database": database or f"sqlite:///{tmp_path / 'q.db'}",
            "calendars": {"office": {"hours": {"mon-fri": "09:00-17:00"}, "holidays": ["NL"]}},
            "promises": [{"id": "reply-4h", "title": "First reply within 4 hours",
                          "phase": "after-sales", "start": "case.opened",
                          "stop": "case.first_response", "within": "4h", "warn_at": "75%"}],
            "sources": {"hubspot": {"access_token": "${HUBSPOT_TOKEN}",
                                    "base_url": fake.base_url, "portal_id": 62515,
                                    "objects": ["tickets", "tasks"], "backoff_seconds": 0.01,
                                    "search_rate": 1000}},
            "writeback": {"hubspot": writeback},
            "serve": {"public_url": PUBLIC},
        }))  # fmt: skip
        self.env = {"HUBSPOT_TOKEN": fake.access_token}

    def run(self, *args: str | Path, code: int = 0):
        result = qmon("--config", self.config, *args, env=self.env)
        assert result.exit_code == code, result.output
        assert self.fake.access_token not in result.output
        return result

    def check(self, at: datetime, code: int = 0):
        return self.run("check", "--as-of", iso(at), code=code)

    def props(self, name: str) -> dict[str, str | None]:
        got = self.fake.get("tickets", self.ids[name]).properties
        found = {k: got.get(k) for k in ("qmon_status", "qmon_next_due", "qmon_breaches",
                                         "qmon_promise", "qmon_link")}  # fmt: skip
        found["qmon_next_due"] = ms_of(found["qmon_next_due"])
        return found

    def updates(self) -> int:
        return sum(1 for r in self.fake.request_log
                   if r.path.endswith("/batch/update") and r.status < 300)  # fmt: skip

    def tasks(self) -> list[dict[str, str | None]]:
        return [o.properties for o in self.fake.objects("tasks") if not o.archived]


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def ms_of(value: str | None) -> str | None:
    """A HubSpot datetime value (epoch ms or ISO 8601) as epoch ms; "" and None as they are."""
    if not value or value.isdigit():
        return value
    return ms(datetime.fromisoformat(value.replace("Z", "+00:00")))


@pytest.fixture
def portal(fake: FakeHubSpot, tmp_path: Path, database_url: str) -> Portal:
    """The portal synced, with its fields set up; its store on SQLite and on PostgreSQL."""
    portal = Portal(fake, tmp_path, database=database_url)
    portal.run("crm", "setup")
    portal.run("sync")
    return portal


def test_setup_creates_the_group_and_properties_once(fake: FakeHubSpot, tmp_path: Path) -> None:
    portal = Portal(fake, tmp_path)
    dry = portal.run("crm", "setup", "--dry-run").stdout
    assert "would create property group tickets.qmon" in dry
    assert "would create property tickets.qmon_status (enumeration)" in dry
    first = portal.run("crm", "setup").stdout
    assert "created property tickets.qmon_next_due (datetime)" in first
    assert "created property tasks.qmon_key (string)" in first
    again = portal.run("crm", "setup").stdout
    assert "created" not in again
    assert "exists: property tickets.qmon_breaches (number)" in again


def test_setup_refuses_a_property_of_another_type(fake: FakeHubSpot, tmp_path: Path) -> None:
    portal = Portal(fake, tmp_path)
    portal.run("crm", "setup", "--dry-run")
    from qmon.config import load_config
    from qmon.writeback.crm import writer

    config = load_config(portal.config, environ=portal.env)
    crm = writer(config, "hubspot")
    api = crm._api  # noqa: SLF001 - make the clash through the same client
    props = api.client.crm.properties
    props.groups_api.create("tickets", {"name": "qmon", "label": "qmon"})
    props.core_api.create("tickets", {"name": "qmon_status", "label": "x", "type": "string",
                                      "fieldType": "text", "groupName": "qmon"})  # fmt: skip
    result = portal.run("crm", "setup", code=2)
    assert "HubSpot already has a property tickets.qmon_status of type string" in result.output


def test_check_writes_what_the_audit_says_then_nothing(portal: Portal) -> None:
    as_of = T0 + 5 * H
    out = portal.check(as_of).stdout
    assert "CRM: 4 record(s) changed, 4 written, 1 task(s) created" in out
    link = f"{PUBLIC}/record/case/" + "{}"
    title = "First reply within 4 hours"
    assert portal.props("kept") == {"qmon_status": "met", "qmon_next_due": "",
                                    "qmon_breaches": "0", "qmon_promise": title,
                                    "qmon_link": link.format(portal.ids["kept"])}  # fmt: skip
    assert portal.props("broken") == {"qmon_status": "breached",
                                      "qmon_next_due": ms(T0 + 4 * H), "qmon_breaches": "1",
                                      "qmon_promise": title,
                                      "qmon_link": link.format(portal.ids["broken"])}  # fmt: skip
    assert portal.props("at_risk")["qmon_status"] == "at_risk"
    assert portal.props("at_risk")["qmon_next_due"] == ms(T0 + 6 * H)
    assert portal.props("on_track")["qmon_status"] == "on_track"
    assert portal.props("old")["qmon_status"] is None  # nothing recent: never written

    # the same instances as the audit, instance by instance
    audit = json.loads(portal.run("audit", "--as-of", iso(as_of), "--format", "json",
                                  "--instances").stdout)  # fmt: skip
    by_subject = {i["subject_id"]: i for i in audit["instances"]}
    for name in ("kept", "broken", "at_risk", "on_track"):
        instance = by_subject[portal.ids[name]]
        expected = {"met": "met", "breached": "breached"}.get(instance["status"])
        if instance["status"] == "open":
            expected = "at_risk" if instance["at_risk"] else "on_track"
        assert portal.props(name)["qmon_status"] == expected, name

    before = portal.updates()
    again = portal.check(as_of + timedelta(minutes=1)).stdout
    assert portal.updates() == before  # a steady state writes nothing
    assert "CRM:" not in again

    [task] = portal.tasks()
    assert task["qmon_key"] and task["hubspot_owner_id"] == "7001"
    assert task["hs_task_subject"] == f"Promise broken: {title}"
    assert task["hs_task_priority"] == "HIGH"
    # due at the end of the next business day (Tuesday 17:00 in Amsterdam = 16:00 UTC)
    assert ms_of(task["hs_timestamp"]) == ms(datetime(2026, 11, 3, 16, 0, tzinfo=UTC))


def test_a_late_reply_updates_the_task_and_a_new_breach_makes_one_more(portal: Portal) -> None:
    portal.check(T0 + 5 * H)
    portal.fake.update("tickets", portal.ids["broken"],
                       {"first_agent_reply_date": iso(T0 + 6 * H)},
                       updated_at=datetime.now(UTC))  # after qmon's own writes
    portal.run("sync")
    out = portal.check(T0 + 6.5 * H).stdout
    assert "1 task(s) created, 1 updated" in out
    assert portal.props("broken")["qmon_status"] == "breached"  # kept late, still recent
    assert portal.props("broken")["qmon_next_due"] == ""
    assert portal.props("at_risk")["qmon_status"] == "breached"  # its deadline passed at 6h
    subjects = sorted(t["hs_task_subject"] for t in portal.tasks())
    assert subjects == ["Kept late: First reply within 4 hours",
                        "Promise broken: First reply within 4 hours"]  # fmt: skip
    # a week later the kept-late ticket says nothing any more but its breach count
    portal.check(T0 + 6.5 * H + timedelta(days=8))
    assert portal.props("broken")["qmon_status"] == ""
    assert portal.props("broken")["qmon_breaches"] == "1"


def test_a_partial_failure_retries_only_the_refused_record(portal: Portal) -> None:
    portal.fake.refuse_writes("tickets", ids=[portal.ids["broken"]])
    result = portal.check(T0 + 5 * H)
    assert (f"warning: CRM refused 1 hubspot tickets record(s) ({portal.ids['broken']}): "
            "VALIDATION_ERROR") in result.stderr  # fmt: skip
    assert portal.props("kept")["qmon_status"] == "met"
    assert portal.props("broken")["qmon_status"] is None
    portal.fake.clear_refusals()
    portal.check(T0 + 5 * H + timedelta(minutes=2))
    assert portal.props("broken")["qmon_status"] == "breached"
    status = json.loads(portal.run("status", "--format", "json").stdout)
    assert status["crm"] == {"records_waiting": 0, "tasks_waiting": 0, "refused": []}


def test_a_record_that_keeps_failing_is_listed_in_status(portal: Portal) -> None:
    portal.fake.refuse_writes("tickets", ids=[portal.ids["broken"]])
    at = T0 + 5 * H
    for n in range(4):
        portal.check(at + timedelta(hours=2 * n))
    status = json.loads(portal.run("status", "--format", "json").stdout)
    [refused] = status["crm"]["refused"]
    assert refused["id"] == portal.ids["broken"] and refused["tries"] >= 3
    assert "OBJECT_NOT_FOUND" in refused["reason"] or refused["reason"]


def test_a_429_storm_ends_with_every_record_right(portal: Portal) -> None:
    portal.fake.fail_next(3, status=429)
    portal.check(T0 + 5 * H)
    assert portal.props("broken")["qmon_status"] == "breached"
    assert portal.props("on_track")["qmon_status"] == "on_track"


def test_sources_check_names_the_write_scopes_and_missing_fields(
    fake: FakeHubSpot, tmp_path: Path
) -> None:
    portal = Portal(fake, tmp_path)
    fake.granted_scopes = {"tickets", "crm.objects.contacts.read"}
    out = portal.run("sources", "check", code=3).stdout
    assert "✓ tickets writable by qmon" in out
    assert ("✗ tasks creatable by qmon: the private app lacks the scope "
            "crm.objects.contacts.write") in out  # fmt: skip
    assert "✗ tickets qmon properties: missing qmon_status, qmon_next_due" in out
    fake.granted_scopes = None
    portal.run("crm", "setup")
    out = portal.run("sources", "check").stdout
    assert "✓ tickets qmon properties" in out and "✓ tasks creatable by qmon" in out


def test_events_of_another_source_change_nothing(portal: Portal) -> None:
    """With a file import beside HubSpot the check finds each subject's source by its events
    (not the one-source shortcut); subjects of the file are no HubSpot records."""
    notes = portal.tmp / "notes.csv"
    notes.write_text("id,occurred_at,type,subject_type,subject_id\n"
                     f"n-1,{iso(T0 + H)},case.opened,case,F-1\n"
                     f"n-2,{iso(T0 + H)},note.added,case,{portal.ids['on_track']}\n")  # fmt: skip
    portal.run("import", notes)
    out = portal.check(T0 + 5 * H).stdout
    assert "CRM: 4 record(s) changed, 4 written" in out
    assert portal.props("broken")["qmon_status"] == "breached"
    assert portal.props("on_track")["qmon_status"] == "on_track"
    requests = [r for r in portal.fake.request_log if r.path.endswith("/batch/update")]
    assert all("F-1" not in json.dumps(r.body) for r in requests)


def test_actions_tasks_lists_each_breach_and_whether_its_task_was_completed(
    portal: Portal,
) -> None:
    portal.check(T0 + 5 * H)
    [row] = json.loads(portal.run("actions", "tasks", "--format", "json").stdout)
    assert row["promise"] == "reply-4h" and row["subject_id"] == portal.ids["broken"]
    assert row["task_id"] and row["completed"] is None
    portal.fake.update("tasks", row["task_id"], {"hs_task_status": "COMPLETED",
                                                 "hs_task_completion_date": iso(T0 + 7 * H)},
                       updated_at=datetime.now(UTC))  # fmt: skip
    portal.run("sync")
    [row] = json.loads(portal.run("actions", "tasks", "--format", "json").stdout)
    assert row["completed"] is not None
    table = portal.run("actions", "tasks").stdout
    assert "reply-4h" in table and row["task_id"] in table
