"""HubSpot records to events: every default mapping and every override, as tables.

The mapper is pure (JSON in, events out), so these tests feed it records in HubSpot's own
wire shape (`properties`, `propertiesWithHistory` newest first) plus the ids of the deals and
tickets they are associated with, as the connector does after its batch reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from qmon.connectors.hubspot.mapping import TYPE_IDS, HubSpotMapper
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec, StageChange
from qmon.timeutil import to_us
from tests.clihelp import qmon

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LINKS = "https://app.hubspot.com/contacts/62515/record"


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def us(minutes: float) -> int:
    return to_us(T0 + timedelta(minutes=minutes))


def ms(minutes: float) -> int:
    return us(minutes) // 1000


def record(rid: str, props: dict[str, Any], history: dict | None = None) -> dict[str, Any]:
    """A record as batch read returns it; `history` lists (value, minute) oldest first."""
    found: dict[str, Any] = {
        "id": rid, "properties": {"hs_object_id": rid, **props},
        "createdAt": iso(0), "updatedAt": iso(0), "archived": False,
    }  # fmt: skip
    if history:
        found["propertiesWithHistory"] = {
            name: [{"value": v, "timestamp": iso(m), "sourceType": "CRM_UI"}
                   for v, m in reversed(entries)]
            for name, entries in history.items()
        }  # fmt: skip
    return found


def events(object_type: str, data: dict, linked: dict | None = None, **mapping: Any):
    mapper = HubSpotMapper("hubspot", HubSpotMappingSpec(**mapping), LINKS)
    return mapper.events(object_type, data, linked or {})


def summary(found) -> list[tuple]:
    """(id, type, occurred minute, subject, attributes) per event."""
    return [
        (e.id, e.type, (e.occurred_us - us(0)) / 60e6, f"{e.subject_type}/{e.subject_id}",
         e.attributes)
        for e in found
    ]  # fmt: skip


DEAL = record(
    "7",
    {"createdate": iso(0), "hubspot_owner_id": "42", "dealstage": "closedwon"},
    {"dealstage": [("appointmentscheduled", 0), ("presentationscheduled", 30),
                   ("presentationscheduled", 31), ("closedwon", 90)]},
)  # fmt: skip
TICKET = record(
    "9",
    {"createdate": iso(0), "first_agent_reply_date": iso(5), "source_type": "EMAIL",
     "hubspot_owner_id": "43", "hs_pipeline_stage": "4"},
    {"hs_pipeline_stage": [("1", 0), ("2", 10), ("3", 40), ("2", 50), ("3", 70), ("4", 90)]},
)  # fmt: skip
QUOTE = record(
    "11",
    {"hs_createdate": iso(20), "hs_status": "APPROVED"},
    {"hs_status": [("DRAFT", 20), ("APPROVAL_NOT_NEEDED", 50), ("DRAFT", 55),
                   ("PENDING_APPROVAL", 56), ("APPROVED", 60)]},
)  # fmt: skip
ON_BOTH = {"tickets": ["9"], "deals": ["7"]}

# (object type, record, associations, expected summary)
DEFAULTS: dict[str, tuple[str, dict, dict, list[tuple]]] = {
    "deal: created, then deal.stage_changed per stage entered (a repeat is one)": (
        "deals", DEAL, {},
        [("deals/7/created", "deal.created", 0, "deal/7", {}),
         (f"deals/7/stage@{ms(0)}", "deal.stage_changed", 0, "deal/7",
          {"stage": "appointmentscheduled"}),
         (f"deals/7/stage@{ms(30)}", "deal.stage_changed", 30, "deal/7",
          {"stage": "presentationscheduled"}),
         (f"deals/7/stage@{ms(90)}", "deal.stage_changed", 90, "deal/7", {"stage": "closedwon"})],
    ),
    "deal without a stage history: its current stage at creation": (
        "deals", record("8", {"createdate": iso(3), "dealstage": "qualifiedtobuy"}), {},
        [("deals/8/created", "deal.created", 3, "deal/8", {}),
         (f"deals/8/stage@{ms(3)}", "deal.stage_changed", 3, "deal/8",
          {"stage": "qualifiedtobuy"})],
    ),
    "ticket: opened, first reply, each wait on contact and its end, closed": (
        "tickets", TICKET, {},
        [("tickets/9/opened", "case.opened", 0, "case/9", {}),
         ("tickets/9/first-reply", "case.first_response", 5, "case/9", {}),
         (f"tickets/9/entered-2@{ms(10)}", "case.waiting_on_customer", 10, "case/9",
          {"stage": "2"}),
         (f"tickets/9/left-2@{ms(40)}", "case.customer_replied", 40, "case/9", {"stage": "3"}),
         (f"tickets/9/entered-2@{ms(50)}", "case.waiting_on_customer", 50, "case/9",
          {"stage": "2"}),
         (f"tickets/9/left-2@{ms(70)}", "case.customer_replied", 70, "case/9", {"stage": "3"}),
         (f"tickets/9/closed@{ms(90)}", "case.closed", 90, "case/9", {"stage": "4"})],
    ),
    "ticket not answered yet: no first response": (
        "tickets", record("10", {"createdate": iso(1)}, {"hs_pipeline_stage": [("1", 1)]}), {},
        [("tickets/10/opened", "case.opened", 1, "case/10", {})],
    ),
    "quote: created, and quote.sent each time it is published": (
        "quotes", QUOTE, {"deals": ["7"]},
        [("quotes/11/created", "quote.created", 20, "deal/7", {}),
         (f"quotes/11/quote.sent@{ms(50)}", "quote.sent", 50, "deal/7",
          {"status": "APPROVAL_NOT_NEEDED"}),
         (f"quotes/11/quote.sent@{ms(60)}", "quote.sent", 60, "deal/7", {"status": "APPROVED"})],
    ),
    "quote on no deal: nothing": ("quotes", QUOTE, {}, []),
    "outgoing e-mail: email.sent, on the ticket rather than the deal": (
        "emails", record("12", {"hs_timestamp": iso(3), "hs_email_direction": "EMAIL"}), ON_BOTH,
        [("emails/12/email", "email.sent", 3, "case/9", {"direction": "EMAIL"})],
    ),
    "incoming e-mail: email.received": (
        "emails", record("13", {"hs_timestamp": iso(4), "hs_email_direction": "INCOMING_EMAIL"}),
        {"deals": ["7"]},
        [("emails/13/email", "email.received", 4, "deal/7", {"direction": "INCOMING_EMAIL"})],
    ),
    "forwarded e-mail (direction unknown): nothing": (
        "emails", record("14", {"hs_timestamp": iso(4), "hs_email_direction": "FORWARDED_EMAIL"}),
        ON_BOTH, [],
    ),
    "call: call.logged": (
        "calls", record("15", {"hs_timestamp": iso(6)}), {"deals": ["7"]},
        [("calls/15/logged", "call.logged", 6, "deal/7", {})],
    ),
    "meeting held: meeting.held": (
        "meetings", record("16", {"hs_timestamp": iso(7), "hs_meeting_outcome": "COMPLETED"}),
        {"deals": ["7"]},
        [("meetings/16/meeting", "meeting.held", 7, "deal/7", {"outcome": "COMPLETED"})],
    ),
    "meeting not held: nothing": (
        "meetings", record("17", {"hs_timestamp": iso(7), "hs_meeting_outcome": "NO_SHOW"}),
        {"deals": ["7"]}, [],
    ),
    "note: note.added": (
        "notes", record("18", {"hs_timestamp": iso(8)}), {"tickets": ["9"]},
        [("notes/18/added", "note.added", 8, "case/9", {})],
    ),
    "note on neither a deal nor a ticket: nothing": (
        "notes", record("19", {"hs_timestamp": iso(8)}), {}, [],
    ),
    "completed task: task.completed when it was completed": (
        "tasks",
        record("20", {"hs_timestamp": iso(1), "hs_task_status": "COMPLETED",
                      "hs_task_completion_date": iso(9)}),
        {"tickets": ["9"]},
        [("tasks/20/task", "task.completed", 9, "case/9", {"status": "COMPLETED"})],
    ),
    "open task: nothing": (
        "tasks", record("21", {"hs_timestamp": iso(1), "hs_task_status": "NOT_STARTED"}),
        {"tickets": ["9"]}, [],
    ),
    "NPS response with its score": (
        "feedback_submissions",
        record("22", {"hs_survey_type": "NPS", "hs_value": "9",
                      "hs_submission_timestamp": iso(100)}),
        {"tickets": ["9"]},
        [("feedback_submissions/22/response", "survey.nps", 100, "case/9",
          {"survey_type": "NPS", "score": 9.0})],
    ),
    "CSAT response": (
        "feedback_submissions",
        record("23", {"hs_survey_type": "CSAT", "hs_value": "4",
                      "hs_submission_timestamp": iso(101)}),
        {"deals": ["7"]},
        [("feedback_submissions/23/response", "survey.csat", 101, "deal/7",
          {"survey_type": "CSAT", "score": 4.0})],
    ),
    "CES response": (
        "feedback_submissions",
        record("24", {"hs_survey_type": "CES", "hs_value": "2",
                      "hs_submission_timestamp": iso(102)}),
        {"tickets": ["9"]},
        [("feedback_submissions/24/response", "survey.ces", 102, "case/9",
          {"survey_type": "CES", "score": 2.0})],
    ),
    "custom survey: nothing": (
        "feedback_submissions",
        record("25", {"hs_survey_type": "CUSTOM", "hs_submission_timestamp": iso(103)}),
        {"tickets": ["9"]}, [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("object_type, data, linked, expected", DEFAULTS.values(), ids=DEFAULTS)
def test_default_mapping(object_type, data, linked, expected) -> None:
    found = events(object_type, data, linked)
    assert summary(found) == expected
    for event in found:
        assert event.source == "hubspot"
        assert event.record == f"{object_type}/{data['id']}"
        assert event.link == f"{LINKS}/{TYPE_IDS[object_type]}/{data['id']}"


def test_owner_and_channel() -> None:
    ticket = events("tickets", TICKET)[0]
    deal = events("deals", DEAL)[0]
    call = events("calls", record("15", {"hs_timestamp": iso(6), "hubspot_owner_id": "5"}),
                  {"deals": ["7"]})[0]  # fmt: skip
    assert (ticket.owner, ticket.channel) == ("43", "email")  # the ticket's source_type
    assert (deal.owner, deal.channel) == ("42", None)
    assert (call.owner, call.channel) == ("5", "phone")


def test_record_links_use_each_types_object_type_id() -> None:
    assert dict(TYPE_IDS) == {
        "deals": "0-3", "tickets": "0-5", "quotes": "0-14", "calls": "0-48", "emails": "0-49",
        "meetings": "0-47", "notes": "0-46", "tasks": "0-27", "feedback_submissions": "0-19",
        "companies": "0-2",
    }  # fmt: skip


# --- overrides: each mapping setting changes exactly what it says ---------------------------

# (setting, object type, record, associations, expected (id, type) pairs)
OVERRIDES: dict[str, tuple[dict, str, dict, dict, list[tuple[str, str]]]] = {
    "deal_stage_events: entering a stage is also a quote request": (
        {"deal_stage_events": {"presentationscheduled": "quote.requested"}}, "deals", DEAL, {},
        [("deals/7/created", "deal.created"),
         (f"deals/7/stage@{ms(0)}", "deal.stage_changed"),
         (f"deals/7/stage@{ms(30)}", "deal.stage_changed"),
         (f"deals/7/quote.requested@{ms(30)}", "quote.requested"),
         (f"deals/7/stage@{ms(90)}", "deal.stage_changed")],
    ),
    "ticket_stage_events: your own stage ids, enter only": (
        {"ticket_stage_events": {"3": StageChange(enter="case.escalated")}}, "tickets", TICKET,
        {},
        [("tickets/9/opened", "case.opened"), ("tickets/9/first-reply", "case.first_response"),
         (f"tickets/9/entered-3@{ms(40)}", "case.escalated"),
         (f"tickets/9/entered-3@{ms(70)}", "case.escalated"),
         (f"tickets/9/closed@{ms(90)}", "case.closed")],
    ),
    "ticket_closed_stages: another closed stage, and re-opening via leave": (
        {"ticket_closed_stages": ["3"], "ticket_stage_events": {
            "3": {"leave": "case.reopened"}}},
        "tickets", TICKET, {},
        [("tickets/9/opened", "case.opened"), ("tickets/9/first-reply", "case.first_response"),
         (f"tickets/9/closed@{ms(40)}", "case.closed"),
         (f"tickets/9/left-3@{ms(50)}", "case.reopened"),
         (f"tickets/9/closed@{ms(70)}", "case.closed"),
         (f"tickets/9/left-3@{ms(90)}", "case.reopened")],
    ),
    "first_reply_property: another date property": (
        {"first_reply_property": "hs_first_agent_message_sent_at"}, "tickets",
        record("26", {"createdate": iso(0), "first_agent_reply_date": iso(5),
                      "hs_first_agent_message_sent_at": iso(2)}),
        {},
        [("tickets/26/opened", "case.opened"), ("tickets/26/first-reply", "case.first_response")],
    ),
    "quote_status_events: only approval counts": (
        {"quote_status_events": {"APPROVED": "quote.sent", "PENDING_APPROVAL": "quote.review"}},
        "quotes", QUOTE, {"deals": ["7"]},
        [("quotes/11/created", "quote.created"),
         (f"quotes/11/quote.review@{ms(56)}", "quote.review"),
         (f"quotes/11/quote.sent@{ms(60)}", "quote.sent")],
    ),
    "email_direction_events: forwarded e-mails count as sent": (
        {"email_direction_events": {"FORWARDED_EMAIL": "email.sent"}}, "emails",
        record("14", {"hs_timestamp": iso(4), "hs_email_direction": "FORWARDED_EMAIL"}), ON_BOTH,
        [("emails/14/email", "email.sent")],
    ),
    "meeting_outcome_events: a no-show is an event too": (
        {"meeting_outcome_events": {"COMPLETED": "meeting.held", "NO_SHOW": "meeting.missed"}},
        "meetings", record("17", {"hs_timestamp": iso(7), "hs_meeting_outcome": "NO_SHOW"}),
        {"deals": ["7"]}, [("meetings/17/meeting", "meeting.missed")],
    ),
    "task_status_events: deferred tasks": (
        {"task_status_events": {"DEFERRED": "task.deferred"}}, "tasks",
        record("21", {"hs_timestamp": iso(1), "hs_task_status": "DEFERRED"}),
        {"tickets": ["9"]}, [("tasks/21/task", "task.deferred")],
    ),
    "survey_type_events: a custom survey": (
        {"survey_type_events": {"CUSTOM": "survey.custom"}}, "feedback_submissions",
        record("25", {"hs_survey_type": "CUSTOM", "hs_submission_timestamp": iso(103)}),
        {"tickets": ["9"]}, [("feedback_submissions/25/response", "survey.custom")],
    ),
    "rename: any type this mapping makes; null drops it": (
        {"rename": {"case.opened": "ticket.created", "case.waiting_on_customer": "paused",
                    "case.first_response": None}},
        "tickets", record("27", {"createdate": iso(0), "first_agent_reply_date": iso(1)},
                          {"hs_pipeline_stage": [("1", 0), ("2", 5)]}),
        {}, [("tickets/27/opened", "ticket.created"), (f"tickets/27/entered-2@{ms(5)}", "paused")],
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    "setting, object_type, data, linked, expected", OVERRIDES.values(), ids=OVERRIDES
)
def test_mapping_override(setting, object_type, data, linked, expected) -> None:
    found = events(object_type, data, linked, **setting)
    assert [(e.id, e.type) for e in found] == expected


def test_first_reply_property_and_survey_score_property_are_read() -> None:
    mapper = HubSpotMapper(
        "hubspot",
        HubSpotMappingSpec(first_reply_property="hs_x", survey_score_property="hs_y"),
        None,
    )
    assert "hs_x" in mapper.properties("tickets")
    assert "hs_y" in mapper.properties("feedback_submissions")
    survey = record("28", {"hs_survey_type": "NPS", "hs_y": "7",
                           "hs_submission_timestamp": iso(1)})  # fmt: skip
    found = mapper.events("feedback_submissions", survey, {"deals": ["7"]})
    assert found[0].attributes["score"] == 7.0 and found[0].link is None


def test_stage_phases_tag_deal_and_ticket_stage_events() -> None:
    phases = {"presentationscheduled": "sales", "2": "after-sales"}
    deal = events("deals", DEAL, stage_phases=phases,
                  deal_stage_events={"presentationscheduled": "quote.requested"})  # fmt: skip
    ticket = events("tickets", TICKET, stage_phases=phases)
    assert [e.attributes.get("phase") for e in deal] == [None, None, "sales", "sales", None]
    waits = [e for e in ticket if e.type == "case.waiting_on_customer"]
    assert [e.attributes for e in waits] == [{"stage": "2", "phase": "after-sales"}] * 2


def test_the_defaults_are_the_documented_ones() -> None:
    assert HubSpotMappingSpec().model_dump() == {
        "deal_stage_events": {},
        "ticket_stage_events": {
            "2": {"enter": "case.waiting_on_customer", "leave": "case.customer_replied"}
        },
        "ticket_closed_stages": ["4"],
        "first_reply_property": "first_agent_reply_date",
        "quote_status_events": {"APPROVAL_NOT_NEEDED": "quote.sent", "APPROVED": "quote.sent"},
        "email_direction_events": {"EMAIL": "email.sent", "INCOMING_EMAIL": "email.received"},
        "meeting_outcome_events": {"COMPLETED": "meeting.held"},
        "task_status_events": {"COMPLETED": "task.completed"},
        "survey_type_events": {"NPS": "survey.nps", "CSAT": "survey.csat", "CES": "survey.ces"},
        "survey_score_property": "hs_value",
        "stage_phases": {},
        "attributes": {},
        "rename": {},
    }
    docs = (Path(__file__).resolve().parent.parent / "docs/connectors/hubspot.md").read_text()
    for event_type in sorted(HubSpotMappingSpec().event_types()):
        assert f"`{event_type}`" in docs, event_type


def test_rename_of_a_type_the_mapping_does_not_make_is_refused() -> None:
    with pytest.raises(ValidationError, match="'case.openned' is not an event type this mapping "
                       "makes \\(did you mean 'case.opened'\\?\\)"):  # fmt: skip
        HubSpotMappingSpec(rename={"case.openned": "ticket.created"})
    # A type the mapping makes only through a setting may be renamed too.
    HubSpotMappingSpec(deal_stage_events={"x": "quote.requested"},
                       rename={"quote.requested": "offer.asked"})  # fmt: skip


def test_settings_are_validated_with_located_messages(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        "version: 1\n"
        "sources:\n"
        "  hubspot:\n"
        "    acess_token: x\n"
        "    page_size: 500\n"
        "    base_url: api.hubapi.com\n"
        "mappings:\n"
        "  hubspot:\n"
        "    deal_stage_event: {a: b}\n"
        "    quote_status_events: {APPROVED: quote sent}\n"
        "    rename: {case.openned: ticket.created}\n"
    )
    result = qmon("--config", path, "promises", "validate")
    assert result.exit_code == 2
    for line in (
        f"{path}:4: unknown key 'acess_token' (did you mean 'access_token'?)",
        f"{path}:5: page_size must be between 1 and 200 (HubSpot search's maximum)",
        f"{path}:6: base_url 'api.hubapi.com' must be a URL like https://api.hubapi.com",
        f"{path}:9: unknown key 'deal_stage_event' (did you mean 'deal_stage_events'?)",
        f"{path}:10: event type 'quote sent' must be a word like 'quote.sent', without spaces",
        f"{path}:11: rename: 'case.openned' is not an event type this mapping makes "
        "(did you mean 'case.opened'?)",
    ):
        assert line in result.stderr, result.stderr


def test_a_source_needs_exactly_one_token(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text("version: 1\nsources:\n  hubspot:\n    base_url: http://127.0.0.1:9\n")
    result = qmon("--config", path, "promises", "validate")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{path}:3: a hubspot source needs exactly one of 'access_token' or 'access_token_file'"
    )


def test_the_token_is_a_secret_in_reprs() -> None:
    token = "pat-eu1-11111111-2222-4333-8444-555555555555"
    spec = HubSpotSourceSpec(access_token=token)
    assert token not in repr(spec) and token not in str(spec.model_dump())
    assert spec.token() == token
