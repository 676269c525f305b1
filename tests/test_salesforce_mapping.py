"""Salesforce rows to events, table-driven: every default mapping and every override, and the
`sources.salesforce` / `mappings.salesforce` settings as the config loader validates them.

Rows are written as the REST API returns them (`2026-11-02T09:00:00.000+0000`, JSON booleans);
Bulk 2.0 CSV rows go through `csv_row` first, tested at the end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from qmon.config import load_config
from qmon.connectors.salesforce.login import jwt_audience
from qmon.connectors.salesforce.mapping import SOBJECTS, SalesforceMapper, csv_row, parse_time
from qmon.connectors.salesforce.spec import (
    DEFAULT_TYPES,
    SalesforceMappingSpec,
    SalesforceSourceSpec,
    StatusChange,
)
from qmon.errors import ConfigError
from qmon.timeutil import to_us

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
URL = "https://acme.my.salesforce.com"
OPP, CASE, ACCOUNT, USER = "0065g00000AAAAAAA1", "5005g00000BBBBBBB2", "0015g00000C", "0055g0D"


def rest(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def us(minutes: float) -> int:
    return to_us(T0 + timedelta(minutes=minutes))


def mapped(sobject: str, row: dict[str, Any], mapping: SalesforceMappingSpec | None = None,
           looked_up: Any = None) -> list[tuple]:  # fmt: skip
    mapper = SalesforceMapper("salesforce", mapping or SalesforceMappingSpec(), URL)
    return [
        (e.id, e.type, e.occurred_us, e.subject_type, e.subject_id)
        for e in mapper.row_events(sobject, row, looked_up)
    ]


# --- rows that map on their own, with the default mapping -----------------------------------

DEFAULTS = {
    "an opportunity is a deal created": (
        "Opportunity", {"Id": OPP, "CreatedDate": rest(0), "OwnerId": USER, "AccountId": ACCOUNT},
        None, [(f"Opportunity/{OPP}/created", "deal.created", 0, "deal", OPP)],
    ),
    "a quote in Draft is only created": (
        "Quote", {"Id": "0Q0A", "OpportunityId": OPP, "Status": "Draft", "CreatedDate": rest(40),
                  "LastModifiedDate": rest(45)},
        None, [("Quote/0Q0A/created", "quote.created", 40, "deal", OPP)],
    ),
    "a quote Presented is sent, when it was last changed": (
        "Quote", {"Id": "0Q0A", "OpportunityId": OPP, "Status": "Presented",
                  "CreatedDate": rest(40), "LastModifiedDate": rest(70)},
        None, [("Quote/0Q0A/created", "quote.created", 40, "deal", OPP),
               ("Quote/0Q0A/status", "quote.sent", 70, "deal", OPP)],
    ),
    "a quote Accepted was sent too": (
        "Quote", {"Id": "0Q0A", "OpportunityId": OPP, "Status": "Accepted",
                  "CreatedDate": rest(40), "LastModifiedDate": rest(80)},
        None, [("Quote/0Q0A/created", "quote.created", 40, "deal", OPP),
               ("Quote/0Q0A/status", "quote.sent", 80, "deal", OPP)],
    ),
    "a quote document is a quote sent, on the quote's opportunity": (
        "QuoteDocument", {"Id": "0QDA", "QuoteId": "0Q0A", "CreatedDate": rest(55)},
        OPP, [("QuoteDocument/0QDA/sent", "quote.sent", 55, "deal", OPP)],
    ),
    "a quote document whose quote is gone makes nothing": (
        "QuoteDocument", {"Id": "0QDA", "QuoteId": "0Q0A", "CreatedDate": rest(55)}, None, [],
    ),
    "an open case": (
        "Case", {"Id": CASE, "CreatedDate": rest(0), "IsClosed": False, "Origin": "Web"},
        None, [(f"Case/{CASE}/opened", "case.opened", 0, "case", CASE)],
    ),
    "a closed case": (
        "Case", {"Id": CASE, "CreatedDate": rest(0), "IsClosed": True, "ClosedDate": rest(50),
                 "Origin": "Phone"},
        None, [(f"Case/{CASE}/opened", "case.opened", 0, "case", CASE),
               (f"Case/{CASE}/closed", "case.closed", 50, "case", CASE)],
    ),
    "entering Waiting on Customer pauses": (
        "CaseHistory", {"Id": "017A", "CaseId": CASE, "CreatedDate": rest(9),
                        "OldValue": "Working", "NewValue": "Waiting on Customer"},
        None, [("CaseHistory/017A/entered", "case.waiting_on_customer", 9, "case", CASE)],
    ),
    "leaving Waiting on Customer resumes": (
        "CaseHistory", {"Id": "017B", "CaseId": CASE, "CreatedDate": rest(30),
                        "OldValue": "Waiting on Customer", "NewValue": "Working"},
        None, [("CaseHistory/017B/left", "case.customer_replied", 30, "case", CASE)],
    ),
    "other status changes make nothing": (
        "CaseHistory", {"Id": "017C", "CaseId": CASE, "CreatedDate": rest(3),
                        "OldValue": "New", "NewValue": "Working"},
        None, [],
    ),
    "a completed call (TaskSubtype) on a case": (
        "Task", {"Id": "00TA", "WhatId": CASE, "IsClosed": True, "TaskSubtype": "Call",
                 "CompletedDateTime": rest(7)},
        None, [("Task/00TA/completed", "call.logged", 7, "case", CASE)],
    ),
    "a sent e-mail (TaskSubtype) on a deal": (
        "Task", {"Id": "00TB", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Email",
                 "CompletedDateTime": rest(8)},
        None, [("Task/00TB/completed", "email.sent", 8, "deal", OPP)],
    ),
    "a task of Type Meeting": (
        "Task", {"Id": "00TC", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Task",
                 "Type": "Meeting", "CompletedDateTime": rest(9)},
        None, [("Task/00TC/completed", "meeting.held", 9, "deal", OPP)],
    ),
    "any other completed task": (
        "Task", {"Id": "00TD", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Task",
                 "Type": "Other", "CompletedDateTime": rest(9)},
        None, [("Task/00TD/completed", "task.completed", 9, "deal", OPP)],
    ),
    "a completed task without CompletedDateTime: when it was last modified": (
        "Task", {"Id": "00TE", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Call",
                 "CompletedDateTime": None, "LastModifiedDate": rest(11)},
        None, [("Task/00TE/completed", "call.logged", 11, "deal", OPP)],
    ),
    "an open task makes nothing": (
        "Task", {"Id": "00TF", "WhatId": CASE, "IsClosed": False, "TaskSubtype": "Call"}, None, [],
    ),
    "a task about no deal or case makes nothing": (
        "Task", {"Id": "00TG", "WhatId": ACCOUNT, "IsClosed": True, "TaskSubtype": "Call",
                 "CompletedDateTime": rest(7)}, None, [],
    ),
    "a meeting on a deal, when it ends": (
        "Event", {"Id": "00UA", "WhatId": OPP, "Type": "Meeting", "EndDateTime": rest(60)},
        None, [("Event/00UA/held", "meeting.held", 60, "deal", OPP)],
    ),
    "an event of Type Call": (
        "Event", {"Id": "00UB", "WhatId": CASE, "Type": "Call", "EndDateTime": rest(61)},
        None, [("Event/00UB/held", "call.logged", 61, "case", CASE)],
    ),
    "an event about nothing qmon follows": (
        "Event", {"Id": "00UC", "WhatId": None, "EndDateTime": rest(60)}, None, [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("sobject, row, looked_up, expected", DEFAULTS.values(), ids=list(DEFAULTS))
def test_default_mapping_of_rows(sobject, row, looked_up, expected) -> None:
    assert mapped(sobject, row, looked_up=looked_up) == [
        (i, t, us(m), st, sid) for i, t, m, st, sid in expected
    ]


def test_events_carry_owner_account_channel_and_a_link_to_their_record() -> None:
    mapper = SalesforceMapper("sf-nl", SalesforceMappingSpec(), URL + "/")
    row = {"Id": CASE, "CreatedDate": rest(0), "OwnerId": USER, "AccountId": ACCOUNT,
           "Origin": "Phone", "IsClosed": False}  # fmt: skip
    [event] = mapper.row_events("Case", row)
    assert (event.source, event.owner, event.account, event.channel) == (
        "sf-nl", USER, ACCOUNT, "phone"
    )
    assert event.link == f"{URL}/lightning/r/Case/{CASE}/view"
    assert event.record == f"Case/{CASE}"
    quote = {"Id": "0Q0A", "OpportunityId": OPP, "OwnerId": USER, "Status": "Presented",
             "CreatedDate": rest(1), "LastModifiedDate": rest(2)}  # fmt: skip
    assert {e.link for e in mapper.row_events("Quote", quote)} == {
        f"{URL}/lightning/r/Quote/0Q0A/view"
    }
    attributes = [e.attributes for e in mapper.row_events("Quote", quote)]
    assert attributes == [{}, {"status": "Presented"}]


# --- rows mapped with their siblings ---------------------------------------------------------


def test_stage_history_collapses_repeats_and_makes_the_default_stage_event() -> None:
    mapper = SalesforceMapper("sf", SalesforceMappingSpec(stage_phases={
        "Prospecting": "pre-sales", "Proposal/Price Quote": "sales"}), URL)  # fmt: skip
    rows = [  # an amount change writes a row with an unchanged stage
        {"Id": "008A", "StageName": "Prospecting", "CreatedDate": rest(0)},
        {"Id": "008C", "StageName": "Proposal/Price Quote", "CreatedDate": rest(20)},
        {"Id": "008B", "StageName": "Prospecting", "CreatedDate": rest(10)},
        {"Id": "008D", "StageName": "Proposal/Price Quote", "CreatedDate": rest(30)},
        {"Id": "008E", "StageName": "Closed Won", "CreatedDate": rest(90)},
    ]
    events = mapper.sibling_events("OpportunityHistory", OPP, rows)
    key = f"OpportunityHistory/of/{OPP}"
    assert [(e.id, e.type, e.occurred_us, e.attributes) for e in events] == [
        (f"{key}/stage@008A", "deal.stage_changed", us(0),
         {"stage": "Prospecting", "phase": "pre-sales"}),
        (f"{key}/stage@008C", "deal.stage_changed", us(20),
         {"stage": "Proposal/Price Quote", "phase": "sales"}),
        (f"{key}/quote.requested@008C", "quote.requested", us(20),
         {"stage": "Proposal/Price Quote", "phase": "sales"}),
        (f"{key}/stage@008E", "deal.stage_changed", us(90), {"stage": "Closed Won"}),
    ]  # fmt: skip
    assert {(e.record, e.subject_type, e.subject_id) for e in events} == {(key, "deal", OPP)}
    assert {e.link for e in events} == {f"{URL}/lightning/r/Opportunity/{OPP}/view"}


@pytest.mark.parametrize("sobject", ["EmailMessage", "CaseComment"])
def test_each_response_is_responded_and_the_earliest_the_first_response(sobject) -> None:
    mapper = SalesforceMapper("sf", SalesforceMappingSpec(), URL)
    rows = [
        {"Id": "B", "MessageDate": rest(25), "CreatedDate": rest(25)},
        {"Id": "A", "MessageDate": rest(15) if sobject == "EmailMessage" else None,
         "CreatedDate": rest(15)},
    ]  # fmt: skip
    events = mapper.sibling_events(sobject, CASE, rows)
    key = f"{sobject}/of/{CASE}"
    assert [(e.id, e.type, e.occurred_us) for e in events] == [
        (f"{key}/first-response", "case.first_response", us(15)),
        (f"{key}/responded@A", "case.responded", us(15)),
        (f"{key}/responded@B", "case.responded", us(25)),
    ]
    assert {(e.subject_type, e.subject_id, e.record) for e in events} == {("case", CASE, key)}
    assert events[0].attributes == {"via": sobject, sobject: "A"}
    assert mapper.sibling_events(sobject, OPP, rows) == []  # on a deal: not a case response
    assert mapper.sibling_events(sobject, CASE, []) == []  # the last one was deleted


# --- every override --------------------------------------------------------------------------

OVERRIDES = {
    "stage_events": (
        SalesforceMappingSpec(stage_events={"Needs Analysis": "demo.requested"}),
        "OpportunityHistory",
        [{"Id": "008A", "StageName": "Needs Analysis", "CreatedDate": rest(0)},
         {"Id": "008B", "StageName": "Proposal/Price Quote", "CreatedDate": rest(5)}],
        ["deal.stage_changed", "demo.requested", "deal.stage_changed"],  # the default is gone
    ),
    "quote_status_events": (
        SalesforceMappingSpec(quote_status_events={"Sent to Customer": "quote.sent"}),
        "Quote",
        {"Id": "0Q0A", "OpportunityId": OPP, "Status": "Sent to Customer",
         "CreatedDate": rest(0), "LastModifiedDate": rest(3)},
        ["quote.created", "quote.sent"],
    ),
    "quote_status_events no longer has Presented": (
        SalesforceMappingSpec(quote_status_events={}),
        "Quote",
        {"Id": "0Q0A", "OpportunityId": OPP, "Status": "Presented", "CreatedDate": rest(0),
         "LastModifiedDate": rest(3)},
        ["quote.created"],
    ),
    "case_status_events": (
        SalesforceMappingSpec(case_status_events={
            "On Hold": StatusChange(enter="paused", leave="resumed"),
            "Escalated": StatusChange(enter="case.escalated")}),
        "CaseHistory",
        {"Id": "017A", "CaseId": CASE, "CreatedDate": rest(1), "OldValue": "On Hold",
         "NewValue": "Escalated"},
        ["resumed", "case.escalated"],
    ),
    "task_types by subtype, then type; null means no event": (
        SalesforceMappingSpec(task_types={"Email": "mail.out", "Demo": "demo.held",
                                          "Call": None}),
        "Task",
        {"Id": "00TA", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Task", "Type": "Demo",
         "CompletedDateTime": rest(2)},
        ["demo.held"],
    ),
    "task_types without '*': other tasks make nothing": (
        SalesforceMappingSpec(task_types={"Email": "mail.out"}),
        "Task",
        {"Id": "00TA", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Task",
         "CompletedDateTime": rest(2)},
        [],
    ),
    "event_types": (
        SalesforceMappingSpec(event_types={"Demo": "demo.held"}),
        "Event",
        {"Id": "00UA", "WhatId": OPP, "Type": "Demo", "EndDateTime": rest(60)},
        ["demo.held"],
    ),
    "event_types without '*'": (
        SalesforceMappingSpec(event_types={"Demo": "demo.held"}),
        "Event",
        {"Id": "00UA", "WhatId": OPP, "Type": "Meeting", "EndDateTime": rest(60)},
        [],
    ),
    "rename": (
        SalesforceMappingSpec(rename={"case.opened": "ticket.created", "case.closed": None}),
        "Case",
        {"Id": CASE, "CreatedDate": rest(0), "IsClosed": True, "ClosedDate": rest(5)},
        ["ticket.created"],  # null drops case.closed
    ),
    "rename applies to mapped types too": (
        SalesforceMappingSpec(rename={"quote.requested": "offerte.aangevraagd"}),
        "OpportunityHistory",
        [{"Id": "008A", "StageName": "Proposal/Price Quote", "CreatedDate": rest(0)}],
        ["deal.stage_changed", "offerte.aangevraagd"],
    ),
    "rename the responses": (
        SalesforceMappingSpec(rename={"case.responded": None}),
        "EmailMessage",
        [{"Id": "02sA", "MessageDate": rest(5)}],
        ["case.first_response"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("mapping, sobject, rows, types", OVERRIDES.values(), ids=list(OVERRIDES))
def test_every_default_can_be_overridden(mapping, sobject, rows, types) -> None:
    mapper = SalesforceMapper("sf", mapping, URL)
    if isinstance(rows, list):
        parent = OPP if sobject == "OpportunityHistory" else CASE
        events = mapper.sibling_events(sobject, parent, rows)
    else:
        events = mapper.row_events(sobject, rows)
    assert [e.type for e in events] == types


def test_the_case_channel_field_is_a_setting() -> None:
    row = {"Id": CASE, "CreatedDate": rest(0), "Origin": "Phone", "Channel__c": "Chat"}
    custom = SalesforceMapper("sf", SalesforceMappingSpec(case_channel_field="Channel__c"), URL)
    assert custom.row_events("Case", row)[0].channel == "chat"
    none = SalesforceMapper("sf", SalesforceMappingSpec(case_channel_field=None), URL)
    assert none.row_events("Case", row)[0].channel is None
    from qmon.connectors.salesforce.mapping import sobjects

    assert "Channel__c" in sobjects(SalesforceMappingSpec(case_channel_field="Channel__c"))[
        "Case"
    ].fields
    no_origin = SalesforceMappingSpec(case_channel_field=None, attributes={"origin": None})
    assert "Origin" not in sobjects(no_origin)["Case"].fields
    assert "Origin" in SOBJECTS["Case"].fields


def test_the_default_mapping_is_the_documented_one() -> None:
    spec = SalesforceMappingSpec()
    assert spec.stage_events == {"Proposal/Price Quote": "quote.requested"}
    assert spec.stage_phases == {}
    assert spec.quote_status_events == {"Presented": "quote.sent", "Accepted": "quote.sent"}
    assert spec.case_status_events == {
        "Waiting on Customer": StatusChange(
            enter="case.waiting_on_customer", leave="case.customer_replied"
        )
    }
    assert spec.case_channel_field == "Origin"
    assert spec.task_types == {"Call": "call.logged", "Email": "email.sent",
                               "Meeting": "meeting.held", "*": "task.completed"}  # fmt: skip
    assert spec.event_types == {"Call": "call.logged", "Email": "email.sent", "*": "meeting.held"}
    assert spec.rename == {}
    docs = (Path(__file__).parent.parent / "docs/connectors/salesforce.md").read_text()
    for event_type in (*DEFAULT_TYPES, "quote.requested", "case.waiting_on_customer",
                       "case.customer_replied", "call.logged", "email.sent", "meeting.held",
                       "task.completed"):  # fmt: skip
        assert f"`{event_type}`" in docs, event_type


# --- row shapes ------------------------------------------------------------------------------


def test_bulk_csv_rows_look_like_rest_rows() -> None:
    row = csv_row({"Id": CASE, "IsDeleted": "false", "IsClosed": "true", "ClosedDate": "",
                   "CreatedDate": "2026-11-02T09:00:00.000Z", "Origin": "Web"})  # fmt: skip
    assert row == {"Id": CASE, "IsDeleted": False, "IsClosed": True, "ClosedDate": None,
                   "CreatedDate": "2026-11-02T09:00:00.000Z", "Origin": "Web"}  # fmt: skip
    assert mapped("Case", row) == [(f"Case/{CASE}/opened", "case.opened", us(0), "case", CASE)]


@pytest.mark.parametrize("text", [
    "2026-11-02T09:00:00.000+0000", "2026-11-02T09:00:00.000Z", "2026-11-02T10:00:00.000+0100",
    "2026-11-02T09:00:00Z",
])  # fmt: skip
def test_salesforce_datetimes_in_every_shape(text: str) -> None:
    assert parse_time(text) == us(0)
    assert parse_time(None) is None and parse_time("") is None


# --- the settings, through the config loader ---------------------------------------------------


def load(tmp_path: Path, source: dict[str, Any], mapping: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None):  # fmt: skip
    path = tmp_path / "qmon.yaml"
    data: dict[str, Any] = {"version": 1, "sources": {"salesforce": source}}
    if mapping is not None:
        data["mappings"] = {"salesforce": mapping}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path, environ=environ or {})


def problems(tmp_path: Path, source: dict[str, Any], mapping: dict[str, Any] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, source, mapping)
    return str(caught.value)


JWT = {"method": "jwt", "username": "qm@acme.com", "consumer_key": "3MVG9",
       "private_key_file": "/run/secrets/sf.key"}  # fmt: skip
ORG = {"instance_url": URL, "auth": JWT}


def test_the_issue_example_loads_with_its_defaults(tmp_path) -> None:
    config = load(tmp_path, {**ORG, "auth": {**JWT, "consumer_key": "${SF_CONSUMER_KEY}"},
                             "api_quota_share": "20%"},
                  environ={"SF_CONSUMER_KEY": "3MVG9-from-env"})  # fmt: skip
    source = config.sources["salesforce"]
    spec: SalesforceSourceSpec = source.spec
    assert source.kind == "salesforce"
    assert spec.api_quota_share == 0.2 and spec.login_url == "https://login.salesforce.com"
    assert spec.auth.secret("consumer_key") == "3MVG9-from-env"
    assert "3MVG9-from-env" not in repr(spec)
    assert source.mapping == SalesforceMappingSpec()
    assert (spec.page_size, spec.bulk_threshold, spec.lookback) == (2000, 50_000, None)


@pytest.mark.parametrize("source, mapping, message", [
    ({**ORG, "pagesize": 500}, None, "unknown key 'pagesize' (did you mean 'page_size'?)"),
    ({**ORG, "page_size": 50}, None, "page_size must be between 200 and 2000"),
    ({**ORG, "instance_url": "http://acme.my.salesforce.com"}, None, "must be an https URL"),
    ({**ORG, "auth": {**JWT, "usernme": "x"}}, None, "unknown key 'usernme' (did you mean"),
    ({**ORG, "auth": {"method": "jwt", "username": "qm"}}, None,
     "auth method 'jwt' needs 'consumer_key', 'private_key'"),
    ({**ORG, "auth": {**JWT, "password": "x"}}, None, "auth method 'jwt' does not use 'password'"),
    ({**ORG, "auth": {"method": "session", "session_id": "a", "session_id_file": "/x"}}, None,
     "give either 'session_id' or 'session_id_file', not both"),
    ({**ORG, "auth": {"method": "oauth"}}, None, "'method' must be"),
    ({**ORG, "auth": {"method": "client_credentials", "consumer_key": "k",
                      "consumer_secret": "s"}}, None,
     "the client_credentials login works only at your org's My Domain"),
    ({**ORG, "api_quota_share": 20}, None, "(did you mean 20%?)"),
    ({**ORG, "retries": -1}, None, "retries"),
    ({**ORG, "objects": ["Case", "Lead"]}, None, "item 2 of 'objects' must be 'Opportunity'"),
    (ORG, {"stage_event": {}}, "unknown key 'stage_event' (did you mean 'stage_events'?)"),
    (ORG, {"stage_events": {"Proposal": "quote requested"}}, "without spaces"),
    (ORG, {"case_status_events": {"On Hold": {"enter": "p", "leav": "r"}}},
     "unknown key 'leav' (did you mean 'leave'?)"),
    (ORG, {"case_channel_field": "Origin; DROP"}, "is not a Salesforce field name"),
    (ORG, {"rename": {"case.openend": "ticket.opened"}},
     "rename: 'case.openend' is not an event type this mapping makes (did you mean "
     "'case.opened'?)"),
])  # fmt: skip
def test_settings_are_validated_strictly(tmp_path, source, mapping, message) -> None:
    assert message in problems(tmp_path, source, mapping)


def test_secrets_never_show_in_config_errors(tmp_path) -> None:
    auth = {"method": "password", "username": "qm", "consumer_key": "k",
            "consumer_secret": "${SF_SECRET}", "password": "${SF_PASSWORD}", "bogus": 1}
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {**ORG, "auth": auth},
             environ={"SF_SECRET": "s3cr3t-value", "SF_PASSWORD": "hunter2-value"})  # fmt: skip
    assert "unknown key 'bogus'" in str(caught.value)
    assert "s3cr3t-value" not in str(caught.value) and "hunter2-value" not in str(caught.value)


def test_a_mapping_for_a_custom_type_may_be_renamed_and_a_client_credentials_my_domain_is_fine(
) -> None:  # fmt: skip
    spec = SalesforceMappingSpec(stage_events={"Demo": "demo.requested"},
                                 rename={"demo.requested": "demo.asked"})  # fmt: skip
    assert spec.rename == {"demo.requested": "demo.asked"}
    SalesforceSourceSpec(instance_url=URL, login_url=URL, auth={
        "method": "client_credentials", "consumer_key": "k", "consumer_secret": "s"})
    with pytest.raises(ValidationError):
        SalesforceMappingSpec(task_types={"": "x"})


@pytest.mark.parametrize("login_url, audience", [
    ("https://login.salesforce.com", "https://login.salesforce.com"),
    ("https://test.salesforce.com", "https://test.salesforce.com"),
    ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
    ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
])  # fmt: skip
def test_the_jwt_audience_follows_the_login_url(login_url, audience) -> None:
    assert jwt_audience(login_url) == audience


@pytest.mark.parametrize("sobject, row, link", [
    ("CaseHistory", {"Id": "017A", "CaseId": CASE, "CreatedDate": rest(1), "OldValue": "New",
                     "NewValue": "Waiting on Customer"}, f"Case/{CASE}"),
    ("QuoteDocument", {"Id": "0QDA", "QuoteId": "0Q0A", "CreatedDate": rest(1)}, "Quote/0Q0A"),
    ("Task", {"Id": "00TA", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Call",
              "CompletedDateTime": rest(1)}, "Task/00TA"),
])  # fmt: skip
def test_rows_without_a_record_page_link_to_what_they_are_about(sobject, row, link) -> None:
    mapper = SalesforceMapper("sf", SalesforceMappingSpec(), URL)
    [event] = mapper.row_events(sobject, row, OPP)
    assert event.link == f"{URL}/lightning/r/{link}/view"
