"""The HubSpot connector through the real hubspot-api-client against FakeHubSpot.

What every connector must do (paging, cursors, deletes, retries, resume) is in the shared
conformance suite; here is what is HubSpot's own: the mappings, the 10,000-results cap,
rate limits, tokens and the end-to-end path from a portal to `qmon audit`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from qmon.config import load_config
from qmon.connectors.base import SourceAuthError
from qmon.connectors.hubspot.mapping import HubSpotMapper
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec, StageChange
from qmon.store import Store
from qmon.sync import run_sync
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def us(minutes: float) -> int:
    return to_us(at(minutes))


def iso(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


@pytest.fixture
def fake():
    with FakeHubSpot(retry_after=0) as fake:
        yield fake


def write_config(tmp_path: Path, fake: FakeHubSpot, **source) -> Path:
    path = tmp_path / "qmon.yaml"
    data = {
        "version": 1,
        "database": f"sqlite:///{tmp_path / 'qmon.db'}",
        "sources": {
            "hubspot": {
                "access_token": "${HUBSPOT_TOKEN}",
                "base_url": fake.base_url,
                "backoff_seconds": 0.01,
                **source,
            }
        },
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def env(fake: FakeHubSpot) -> dict[str, str]:
    return {"HUBSPOT_TOKEN": fake.access_token}


# --- mapping, table-driven ------------------------------------------------------------------

MAPPING = HubSpotMappingSpec(
    deal_stage_events={"presentationscheduled": "quote.requested"},
    stage_phases={"presentationscheduled": "sales", "2": "after-sales"},
)


def record(rid: str, props: dict, history: dict | None = None) -> dict:
    found = {"id": rid, "properties": props, "createdAt": iso(0), "updatedAt": iso(0)}
    if history:
        found["propertiesWithHistory"] = {
            name: [{"value": v, "timestamp": iso(m)} for v, m in reversed(entries)]
            for name, entries in history.items()
        }
    return found


CASES = {
    "deal: created, every stage, a mapped stage as an extra event": (
        "deals",
        record(
            "7",
            {"createdate": iso(0), "hubspot_owner_id": "42", "dealstage": "presentationscheduled"},
            {"dealstage": [("appointmentscheduled", 0), ("presentationscheduled", 30)]},
        ),
        {},
        [
            ("deals/7/created", "deal.created", 0, ("deal", "7"), {}),
            ("deals/7/stage@1793610000000", "deal.stage_changed", 0, ("deal", "7"),
             {"stage": "appointmentscheduled"}),
            ("deals/7/stage@1793611800000", "deal.stage_changed", 30, ("deal", "7"),
             {"stage": "presentationscheduled", "phase": "sales"}),
            ("deals/7/quote.requested@1793611800000", "quote.requested", 30, ("deal", "7"),
             {"stage": "presentationscheduled", "phase": "sales"}),
        ],
    ),
    "ticket: opened, first reply, waiting and back, closed": (
        "tickets",
        record(
            "9",
            {"createdate": iso(0), "first_agent_reply_date": iso(5), "source_type": "EMAIL"},
            {"hs_pipeline_stage": [("1", 0), ("2", 10), ("3", 40), ("4", 90)]},
        ),
        {},
        [
            ("tickets/9/opened", "case.opened", 0, ("case", "9"), {}),
            ("tickets/9/first-reply", "case.first_response", 5, ("case", "9"), {}),
            ("tickets/9/entered-2@1793610600000", "case.waiting_on_customer", 10, ("case", "9"),
             {"stage": "2", "phase": "after-sales"}),
            ("tickets/9/left-2@1793612400000", "case.customer_replied", 40, ("case", "9"),
             {"stage": "3"}),
            ("tickets/9/closed@1793615400000", "case.closed", 90, ("case", "9"), {"stage": "4"}),
        ],
    ),
    "quote: belongs to its deal; a sent status is quote.sent": (
        "quotes",
        record(
            "11",
            {"hs_createdate": iso(20)},
            {"hs_status": [("DRAFT", 20), ("APPROVAL_NOT_NEEDED", 50)]},
        ),
        {"deals": ["7"]},
        [
            ("quotes/11/created", "quote.created", 20, ("deal", "7"), {}),
            ("quotes/11/quote.sent@1793613000000", "quote.sent", 50, ("deal", "7"),
             {"status": "APPROVAL_NOT_NEEDED"}),
        ],
    ),
    "outgoing e-mail on a ticket": (
        "emails",
        record("12", {"hs_timestamp": iso(3), "hs_email_direction": "EMAIL"}),
        {"tickets": ["9"], "deals": ["7"]},
        [("emails/12/email", "email.sent", 3, ("case", "9"), {})],
    ),
    "incoming e-mail": (
        "emails",
        record("13", {"hs_timestamp": iso(3), "hs_email_direction": "INCOMING_EMAIL"}),
        {"deals": ["7"]},
        [("emails/13/email", "email.received", 3, ("deal", "7"), {})],
    ),
    "a call on a deal": (
        "calls",
        record("14", {"hs_timestamp": iso(4)}),
        {"deals": ["7"]},
        [("calls/14/logged", "call.logged", 4, ("deal", "7"), {})],
    ),
    "a meeting that was held; one that was not makes nothing": (
        "meetings",
        record("15", {"hs_timestamp": iso(6), "hs_meeting_outcome": "COMPLETED"}),
        {"deals": ["7"]},
        [("meetings/15/held", "meeting.held", 6, ("deal", "7"), {})],
    ),
    "a completed task, at its completion": (
        "tasks",
        record(
            "16",
            {"hs_timestamp": iso(1), "hs_task_status": "COMPLETED",
             "hs_task_completion_date": iso(8)},
        ),
        {"tickets": ["9"]},
        [("tasks/16/completed", "task.completed", 8, ("case", "9"), {})],
    ),
    "an open task makes nothing": (
        "tasks",
        record("17", {"hs_timestamp": iso(1), "hs_task_status": "NOT_STARTED"}),
        {"tickets": ["9"]},
        [],
    ),
    "a note on nothing makes nothing": ("notes", record("18", {"hs_timestamp": iso(1)}), {}, []),
    "an NPS response with its score": (
        "feedback_submissions",
        record(
            "19",
            {"hs_survey_type": "NPS", "hs_response_value": "9",
             "hs_submission_timestamp": iso(100)},
        ),
        {"tickets": ["9"]},
        [("feedback_submissions/19/response", "survey.nps", 100, ("case", "9"),
          {"survey_type": "NPS", "score": 9.0})],
    ),
}  # fmt: skip


@pytest.mark.parametrize("object_type, data, linked, expected", CASES.values(), ids=list(CASES))
def test_default_mapping(object_type, data, linked, expected) -> None:
    mapper = HubSpotMapper("hubspot", MAPPING, "https://app.hubspot.com/contacts/1/record")
    events = mapper.events(object_type, data, linked)
    got = [(e.id, e.type, e.occurred_us, (e.subject_type, e.subject_id), e.attributes)
           for e in events]  # fmt: skip
    assert got == [(i, t, us(m), s, a) for i, t, m, s, a in expected]
    for e in events:
        assert e.record == f"{object_type}/{data['id']}"
        assert e.link.startswith("https://app.hubspot.com/contacts/1/record/0-")


def test_mapping_overrides_rename_and_stages() -> None:
    mapping = HubSpotMappingSpec(
        ticket_stage_events={"waiting": StageChange(enter="paused", leave="resumed")},
        ticket_closed_stages=["done"],
        rename={"case.opened": "ticket.created"},
    )
    data = record(
        "9", {"createdate": iso(0)}, {"hs_pipeline_stage": [("new", 0), ("waiting", 5),
                                                            ("done", 9)]}
    )  # fmt: skip
    types = [e.type for e in HubSpotMapper("hs", mapping, None).events("tickets", data, {})]
    assert types == ["ticket.created", "paused", "resumed", "case.closed"]


def test_mapping_settings_are_validated_with_located_messages(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        "version: 1\n"
        "sources:\n"
        "  hubspot:\n"
        "    acess_token: x\n"
        "mappings:\n"
        "  hubspot:\n"
        "    deal_stage_event: {a: b}\n"
    )
    result = qmon("--config", path, "promises", "validate")
    assert result.exit_code == 2
    assert f"{path}:4: unknown key 'acess_token' (did you mean 'access_token'?)" in result.stderr
    assert (
        f"{path}:7: unknown key 'deal_stage_event' (did you mean 'deal_stage_events'?)"
        in result.stderr
    )


# --- search: the 10,000 cap, rate limits ---------------------------------------------------


def test_more_than_ten_thousand_records_at_one_stamp_are_each_read_once(tmp_path, fake):
    fake.search_rate_limit = None
    for _ in range(10_050):
        fake.add("notes", {"hs_timestamp": T0}, created_at=T0, updated_at=T0)
    path = write_config(tmp_path, fake, objects=["notes"], portal_id=1, search_rate=1000,
                        burst_limit=1000)  # fmt: skip
    config = load_config(path, environ=env(fake))
    store = Store.open(config.database_url)
    report = run_sync(config, store)
    assert report.ok, report.sources[0].error
    # Notes on nothing make no events, but every record was read: 10,050 fetched, none twice.
    assert report.sources[0].streams[0].fetched == 10_050
    searches = [r for r in fake.request_log if r.path.endswith("/search")]
    assert all(r.status == 200 for r in fake.request_log)
    assert max(int(r.body.get("after") or 0) for r in searches) == 0  # keyset, never offsets


def test_search_is_paced_and_429_waits_for_retry_after(tmp_path, fake):
    for n in range(14):  # 7 pages: more searches than the fake allows in one second
        fake.add("tickets", {"hs_pipeline_stage": "1"}, created_at=at(n), updated_at=at(n))
    path = write_config(tmp_path, fake, objects=["tickets"], page_size=2, portal_id=1)
    config = load_config(path, environ=env(fake))
    store = Store.open(config.database_url)
    assert run_sync(config, store).ok
    assert fake.rate_limited_count == 0  # the client kept under the limit by itself
    fake.fail_next(2, 429)
    report = run_sync(config, store, full=True)
    # The two injected 429s, and maybe one or two from the previous run's window: all waited out.
    assert report.ok and fake.rate_limited_count >= 2
    assert len(store.record_events("hubspot")) == 14


def test_persistent_server_errors_stop_the_sync_with_a_clear_message(tmp_path, fake):
    fake.add("tickets", {}, created_at=T0, updated_at=T0)
    path = write_config(tmp_path, fake, objects=["tickets"], portal_id=1, retries=2)
    fake.fail_next(3, 502)
    result = qmon("--config", path, "sync", env=env(fake))
    assert result.exit_code == 3
    assert "HubSpot answered HTTP 502 to search tickets, also after 2 retries" in result.stderr


# --- tokens ------------------------------------------------------------------------------------


def test_a_refused_token_is_an_auth_error_and_never_shown(tmp_path, fake):
    path = write_config(tmp_path, fake, objects=["deals"])
    secret = "pat-eu1-11111111-2222-4333-8444-555555555555"
    result = qmon("--config", path, "sync", "--verbose", env={"HUBSPOT_TOKEN": secret})
    assert result.exit_code == 3
    assert "HubSpot refused the access token (HTTP 401)" in result.stderr
    assert secret not in result.output
    result = qmon("--config", path, "sources", "check", env={"HUBSPOT_TOKEN": secret})
    assert result.exit_code == 3 and "✗ access token" in result.stdout
    assert secret not in result.output


def test_the_token_can_come_from_a_secret_file(tmp_path, fake):
    secret = tmp_path / "hubspot.token"
    secret.write_text(fake.access_token + "\n")
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"version: 1\ndatabase: sqlite:///{tmp_path / 'q.db'}\nsources:\n  hubspot:\n"
        f"    access_token_file: {secret}\n    base_url: {fake.base_url}\n"
    )
    result = qmon("--config", path, "sources", "check")
    assert result.exit_code == 0, result.output
    assert "✓ access token: portal 62515" in result.stdout
    assert "✓ feedback_submissions readable" in result.stdout
    assert fake.access_token not in result.output


def test_check_names_what_cannot_be_read(tmp_path, fake):
    path = write_config(tmp_path, fake, objects=["deals", "tickets"])
    config = load_config(path, environ=env(fake))
    connector = config.sources["hubspot"].connect()
    fake.revoke_token(fake.access_token)
    findings = connector.check()
    assert [f.ok for f in findings] == [False]
    assert "HTTP 401" in findings[0].detail


# --- end to end: a portal, `qmon sync`, `qmon audit` ----------------------------------------

PROMISES = """
promises:
  - id: quote-24h
    title: Quote within 24 hours
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
  - id: first-reply
    title: First reply within 4 hours
    phase: after-sales
    start: case.opened
    stop: case.first_response
    pause: case.waiting_on_customer
    resume: case.customer_replied
    within: 4h
"""


def test_sync_then_audit_shows_compliance_over_synced_data(tmp_path, fake):
    quoted = fake.add("deals", {"dealname": "on time"}, created_at=at(0), updated_at=at(60),
                      history={"dealstage": [
                          {"value": "presentationscheduled", "timestamp": at(10)},
                          {"value": "appointmentscheduled", "timestamp": at(0)}]})  # fmt: skip
    late = fake.add("deals", {"dealname": "late"}, created_at=at(0), updated_at=at(3000),
                    history={"dealstage": [
                        {"value": "presentationscheduled", "timestamp": at(20)}]})  # fmt: skip
    for deal, sent in ((quoted, 70), (late, 2900)):
        quote = fake.add("quotes", {}, created_at=at(30), updated_at=at(sent),
                         history={"hs_status": [
                             {"value": "APPROVAL_NOT_NEEDED", "timestamp": at(sent)},
                             {"value": "DRAFT", "timestamp": at(30)}]})  # fmt: skip
        fake.associate("quotes", quote, "deals", deal)
    fake.add("tickets", {"first_agent_reply_date": at(60)}, created_at=at(0), updated_at=at(60))
    fake.add("tickets", {}, created_at=at(0), updated_at=at(0))  # never answered

    path = write_config(tmp_path, fake, portal_id=62515)
    text = path.read_text() + PROMISES + (
        "mappings:\n  hubspot:\n    deal_stage_events: {presentationscheduled: quote.requested}\n"
    )
    path.write_text(text)
    result = qmon("--config", path, "sync", env=env(fake))
    assert result.exit_code == 0, result.output
    assert "hubspot: ok" in result.stdout

    result = qmon("--config", path, "audit", "--as-of", "2026-11-06T00:00:00Z",
                  "--format", "json", "--instances", env=env(fake))  # fmt: skip
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)
    counts = {p["id"]: (p["met"], p["breached"], p["open"]) for p in audit["promises"]}
    assert counts == {"quote-24h": (1, 1, 0), "first-reply": (1, 1, 0)}

    config = load_config(path, environ=env(fake))
    store = Store.open(config.database_url)
    rows = store.record_events("hubspot")
    assert f"deals/{quoted}" in rows and len(rows) == 6
    with store.engine.connect() as conn:
        from sqlalchemy import text as sql

        links = conn.execute(sql("SELECT DISTINCT link FROM events")).scalars().all()
    assert f"https://app.hubspot.com/contacts/62515/record/0-3/{quoted}" in links


def test_an_unreadable_token_file_is_a_clear_error(tmp_path, fake):
    spec = HubSpotSourceSpec(access_token_file=tmp_path / "missing")
    from qmon.connectors.hubspot.api import HubSpotApi

    with pytest.raises(SourceAuthError, match="cannot read access_token_file"):
        HubSpotApi(spec)


def test_a_source_without_a_token_says_so(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text("version: 1\nsources:\n  hubspot:\n    base_url: http://127.0.0.1:9\n")
    result = qmon("--config", path, "promises", "validate")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{path}:3: a hubspot source needs exactly one of 'access_token' or 'access_token_file'"
    )
