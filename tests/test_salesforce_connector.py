"""The Salesforce connector through the real simple-salesforce against FakeSalesforce (TLS).

What every connector must do is in the shared conformance suite; here is Salesforce's own:
logins, session expiry, API limits and quota share, SOQL quoting, the mappings, `sources
check`, and the path from an org to `qmon audit`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qmon.config import load_config
from qmon.connectors.salesforce.api import soql_string
from qmon.connectors.salesforce.mapping import SalesforceMapper
from qmon.connectors.salesforce.spec import SalesforceMappingSpec, StatusChange
from qmon.store import Store
from qmon.sync import run_sync
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.salesforce import FakeSalesforce, _jwt_claims

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "super-secret-consumer-value"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def us(minutes: float) -> int:
    return to_us(at(minutes))


def rest(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@pytest.fixture
def fake():
    with FakeSalesforce(batch_size=5) as fake:
        yield fake


def write_config(tmp_path: Path, fake: FakeSalesforce, auth: dict | None = None,
                 extra: str = "", **source) -> Path:  # fmt: skip
    path = tmp_path / "qmon.yaml"
    data = {
        "version": 1,
        "database": f"sqlite:///{tmp_path / 'qmon.db'}",
        "sources": {
            "salesforce": {
                "instance_url": fake.instance_url,
                "login_url": fake.instance_url,
                "auth": auth or {"method": "client_credentials", "consumer_key": "3MVG9-key",
                                 "consumer_secret": "${SF_SECRET}"},
                "ca_bundle": fake.ca_cert_path,
                "backoff_seconds": 0.01,
                **source,
            }
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False) + extra)
    return path


ENV = {"SF_SECRET": SECRET}


def sync(path: Path, **kwargs):
    config = load_config(path, environ=ENV)
    store = Store.open(config.database_url)
    return run_sync(config, store, **kwargs), store


# --- mapping, table-driven ------------------------------------------------------------------

MAPPING = SalesforceMappingSpec(
    stage_events={"Proposal/Price Quote": "quote.requested"},
    stage_phases={"Proposal/Price Quote": "sales"},
)
OPP, CASE = "0065g00000AAAAAAA1", "5005g00000BBBBBBB2"

ROWS = {
    "opportunity": ("Opportunity", {"Id": OPP, "CreatedDate": rest(0), "OwnerId": "005x",
                                    "AccountId": "001x"},
                    [("Opportunity/" + OPP + "/created", "deal.created", 0, ("deal", OPP))]),
    "case opened and closed": (
        "Case",
        {"Id": CASE, "CreatedDate": rest(0), "IsClosed": True, "ClosedDate": rest(50),
         "Origin": "Phone"},
        [(f"Case/{CASE}/opened", "case.opened", 0, ("case", CASE)),
         (f"Case/{CASE}/closed", "case.closed", 50, ("case", CASE))],
    ),
    "status history: waiting and back": (
        "CaseHistory",
        {"Id": "017A", "CaseId": CASE, "CreatedDate": rest(9), "OldValue": "Working",
         "NewValue": "Waiting on Customer"},
        [("CaseHistory/017A/entered", "case.waiting_on_customer", 9, ("case", CASE))],
    ),
    "status history: leaving the wait": (
        "CaseHistory",
        {"Id": "017B", "CaseId": CASE, "CreatedDate": rest(30),
         "OldValue": "Waiting on Customer", "NewValue": "Working"},
        [("CaseHistory/017B/left", "case.customer_replied", 30, ("case", CASE))],
    ),
    "quote created, on its opportunity": (
        "Quote", {"Id": "0Q0A", "OpportunityId": OPP, "CreatedDate": rest(40)},
        [("Quote/0Q0A/created", "quote.created", 40, ("deal", OPP))],
    ),
    "a completed call task on a case": (
        "Task", {"Id": "00TA", "WhatId": CASE, "IsClosed": True, "TaskSubtype": "Call",
                 "CompletedDateTime": rest(7)},
        [("Task/00TA/completed", "call.logged", 7, ("case", CASE))],
    ),
    "an open task makes nothing": (
        "Task", {"Id": "00TB", "WhatId": CASE, "IsClosed": False}, [],
    ),
    "a task about no deal or case makes nothing": (
        "Task", {"Id": "00TC", "WhatId": "001x", "IsClosed": True,
                 "CompletedDateTime": rest(7)}, [],
    ),
    "a meeting on a deal": (
        "Event", {"Id": "00UA", "WhatId": OPP, "EndDateTime": rest(60)},
        [("Event/00UA/held", "meeting.held", 60, ("deal", OPP))],
    ),
}  # fmt: skip


@pytest.mark.parametrize("sobject, row, expected", ROWS.values(), ids=list(ROWS))
def test_rows_that_map_on_their_own(sobject, row, expected) -> None:
    mapper = SalesforceMapper("sf", MAPPING, "https://acme.my.salesforce.com")
    events = mapper.row_events(sobject, row)
    assert [(e.id, e.type, e.occurred_us, (e.subject_type, e.subject_id)) for e in events] == [
        (i, t, us(m), s) for i, t, m, s in expected
    ]
    for e in events:
        assert e.link == f"https://acme.my.salesforce.com/lightning/r/{sobject}/{row['Id']}/view"


def test_stage_history_collapses_repeats_and_maps_stages() -> None:
    mapper = SalesforceMapper("sf", MAPPING, "https://x")
    rows = [  # an amount change writes a row with an unchanged stage
        {"Id": "008A", "StageName": "Prospecting", "CreatedDate": rest(0)},
        {"Id": "008C", "StageName": "Proposal/Price Quote", "CreatedDate": rest(20)},
        {"Id": "008B", "StageName": "Prospecting", "CreatedDate": rest(10)},
        {"Id": "008D", "StageName": "Proposal/Price Quote", "CreatedDate": rest(30)},
    ]
    events = mapper.sibling_events("OpportunityHistory", OPP, rows)
    assert [(e.type, e.occurred_us, e.attributes) for e in events] == [
        ("deal.stage_changed", us(0), {"stage": "Prospecting"}),
        ("deal.stage_changed", us(20), {"stage": "Proposal/Price Quote", "phase": "sales"}),
        ("quote.requested", us(20), {"stage": "Proposal/Price Quote", "phase": "sales"}),
    ]
    assert {e.record for e in events} == {f"OpportunityHistory/of/{OPP}"}


def test_the_first_response_is_the_earliest_outgoing_message() -> None:
    mapper = SalesforceMapper("sf", SalesforceMappingSpec(), "https://x")
    rows = [
        {"Id": "02sB", "MessageDate": rest(25), "CreatedDate": rest(25)},
        {"Id": "02sA", "MessageDate": rest(15), "CreatedDate": rest(16)},
    ]
    [event] = mapper.sibling_events("EmailMessage", CASE, rows)
    assert (event.type, event.occurred_us) == ("case.first_response", us(15))
    assert event.subject_id == CASE
    assert mapper.sibling_events("EmailMessage", OPP, rows) == []  # not on a case


def test_mapping_overrides() -> None:
    mapping = SalesforceMappingSpec(
        case_status_events={"On Hold": StatusChange(enter="paused", leave="resumed")},
        task_types={"Email": "mail.out"},
        rename={"case.opened": "ticket.created"},
    )
    mapper = SalesforceMapper("sf", mapping, "https://x")
    row = {"Id": "017A", "CaseId": CASE, "CreatedDate": rest(1), "OldValue": "On Hold",
           "NewValue": "Waiting on Customer"}  # fmt: skip
    assert [e.type for e in mapper.row_events("CaseHistory", row)] == ["resumed"]
    assert [e.type for e in mapper.row_events("Case", {"Id": CASE, "CreatedDate": rest(0)})] == [
        "ticket.created"
    ]
    task = {"Id": "00T", "WhatId": OPP, "IsClosed": True, "TaskSubtype": "Email",
            "CompletedDateTime": rest(2)}  # fmt: skip
    assert [e.type for e in mapper.row_events("Task", task)] == ["mail.out"]


# --- SOQL quoting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, literal",
    [
        ("Closed Won", "'Closed Won'"),
        ("it's", "'it\\'s'"),
        ("x' OR Name != '", "'x\\' OR Name != \\''"),
        ('back\\slash "quoted"\n', "'back\\\\slash \\\"quoted\\\"\\n'"),
    ],
)
def test_user_text_cannot_leave_a_soql_literal(text: str, literal: str) -> None:
    assert soql_string(text) == literal


def test_a_hostile_id_is_just_a_value_to_the_org(fake) -> None:
    from simple_salesforce import Salesforce

    fake.add_record("Case", {"Subject": "a"})
    sf = Salesforce(instance=fake.instance, session_id=fake.session_id,
                    session=fake.make_session())  # fmt: skip
    hostile = "x') AND Subject != ('"
    answer = sf.query(f"SELECT Id FROM Case WHERE Subject IN ({soql_string(hostile)})")
    assert answer["totalSize"] == 0


# --- logins -----------------------------------------------------------------------------------


def test_client_credentials_login_sends_the_secret_only_to_the_token_endpoint(tmp_path, fake):
    fake.add_record("Case", {"CreatedDate": T0, "SystemModstamp": T0})
    report, store = sync(write_config(tmp_path, fake, objects=["Case"]))
    assert report.ok
    [login] = fake.token_requests
    assert login.grant_type == "client_credentials"
    assert login.params["client_secret"] == SECRET


def test_jwt_login_builds_a_signed_assertion(tmp_path, fake):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "sf.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    auth = {"method": "jwt", "username": "qm@acme.nl", "consumer_key": "3MVG9-key",
            "private_key_file": str(key_file)}  # fmt: skip
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert report.ok, report.sources[0].error
    [login] = fake.token_requests
    claims = _jwt_claims(login.params["assertion"])
    assert (claims["iss"], claims["sub"], claims["aud"]) == (
        "3MVG9-key", "qm@acme.nl", fake.instance_url
    )


def test_password_login_appends_the_security_token(tmp_path, fake):
    secret_file = tmp_path / "pw"
    secret_file.write_text("hunter2\n")
    auth = {"method": "password", "username": "qm@acme.nl", "consumer_key": "k",
            "consumer_secret": "s", "password_file": str(secret_file),
            "security_token": "TOKEN"}  # fmt: skip
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert report.ok, report.sources[0].error
    assert fake.token_requests[0].params["password"] == "hunter2TOKEN"


def test_an_expired_session_logs_in_once_more(tmp_path, fake):
    for n in range(12):
        fake.add_record("Case", {"CreatedDate": at(n), "SystemModstamp": at(n)})
    path = write_config(tmp_path, fake, objects=["Case"])

    class ExpireAfterFirstPage:
        def stream_started(self, *a):
            pass

        def page_stored(self, *a):
            fake.expire_sessions()

        def stream_finished(self, *a):
            pass

    config = load_config(path, environ=ENV)
    store = Store.open(config.database_url)
    report = run_sync(config, store, progress=ExpireAfterFirstPage())
    assert report.ok, report.sources[0].error
    assert len(fake.token_requests) >= 2
    assert len(store.record_events("salesforce")) == 12


def test_a_session_id_cannot_be_renewed_and_says_so(tmp_path, fake):
    auth = {"method": "session", "session_id": "${SF_SESSION}"}
    path = write_config(tmp_path, fake, auth, objects=["Case"])
    fake.expire_sessions()
    session = fake.session_id
    result = qmon("--config", path, "sync", env={"SF_SESSION": session})
    assert result.exit_code == 3
    assert "a session id cannot be renewed by qmon" in result.stderr
    assert session not in result.output


def test_a_key_that_is_not_rsa_is_a_clear_error(tmp_path, fake):
    key_file = tmp_path / "sf.key"
    key_file.write_text("not a key")
    auth = {"method": "jwt", "username": "qm@acme.nl", "consumer_key": "3MVG9-key",
            "private_key_file": str(key_file)}  # fmt: skip
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert "is not an RSA private key (PEM)" in str(report.sources[0].error)


def test_a_refused_login_is_clear_and_secret_free(tmp_path, fake):
    fake.reject_logins("invalid_client", "invalid client credentials")
    path = write_config(tmp_path, fake, objects=["Case"])
    result = qmon("--config", path, "sync", "--verbose", env=ENV)
    assert result.exit_code == 3
    assert "Salesforce refused the client_credentials login" in result.stderr
    assert "invalid_client: invalid client credentials" in result.stderr
    assert SECRET not in result.output
    result = qmon("--config", path, "sources", "check", env=ENV)
    assert result.exit_code == 3 and SECRET not in result.output


# --- API limits -------------------------------------------------------------------------------


def test_request_limit_exceeded_ends_the_sync_with_the_cursor_where_it_was(tmp_path, fake):
    for n in range(12):
        fake.add_record("Case", {"CreatedDate": at(n), "SystemModstamp": at(n)})
    fake.daily_api_limit = 100
    fake.api_requests_used = 98  # two pages fit, the third does not
    path = write_config(tmp_path, fake, objects=["Case"])
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 3
    assert "REQUEST_LIMIT_EXCEEDED" in result.stderr
    config = load_config(path, environ=ENV)
    store = Store.open(config.database_url)
    assert len(store.record_events("salesforce")) == 10
    assert store.cursor("salesforce", "Case") == us(9)
    fake.api_requests_used = 0  # a new day
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 0, result.output
    assert len(store.record_events("salesforce")) == 12


def test_the_sync_stops_at_its_quota_share(tmp_path, fake):
    for n in range(30):
        fake.add_record("Case", {"CreatedDate": at(n), "SystemModstamp": at(n)})
    fake.daily_api_limit = 100
    path = write_config(tmp_path, fake, objects=["Case"], api_quota_share="3%")
    report, store = sync(path)
    source = report.sources[0]
    assert source.quota_stop and "api_quota_share" in str(source.error)
    assert 0 < len(store.record_events("salesforce")) < 30
    assert source.usage.limit == 100 and source.usage.remaining is not None
    assert fake.api_requests_used <= 4  # 3 % of 100, and the call that showed it


def test_persistent_5xx_stop_with_a_clear_message(tmp_path, fake):
    fake.add_record("Case", {"CreatedDate": T0, "SystemModstamp": T0})
    path = write_config(tmp_path, fake, objects=["Case"], retries=2)
    fake.fail_next(1, 503)  # the login is retried too
    report, _ = sync(path)
    assert report.ok
    fake.fail_next(10, 500)
    report, _ = sync(path)
    assert "also after 2 retries" in str(report.sources[0].error)


# --- sources check ----------------------------------------------------------------------------


def test_check_lists_objects_and_missing_fields(tmp_path, fake):
    fake.sobject("Case").fields.pop("origin")  # the integration user cannot read Case.Origin
    path = write_config(tmp_path, fake, objects=["Case", "Task"])
    result = qmon("--config", path, "sources", "check", env=ENV)
    assert result.exit_code == 3
    assert "✓ login" in result.stdout
    assert "✗ Case readable: the integration user cannot read Case.Origin" in result.stdout
    assert "✓ Task readable" in result.stdout
    assert SECRET not in result.output


# --- end to end: an org, `qmon sync`, `qmon audit` --------------------------------------------

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
mappings:
  salesforce:
    stage_events: {"Proposal/Price Quote": quote.requested}
"""


def test_sync_then_audit_shows_compliance_over_synced_data(tmp_path, fake):
    for sent in (60, 3000):
        opp = fake.add_record("Opportunity", {"StageName": "Prospecting", "CreatedDate": at(0)})
        fake.add_record("OpportunityHistory", {"OpportunityId": opp, "StageName": "Prospecting",
                                               "CreatedDate": at(0)})  # fmt: skip
        fake.add_record("OpportunityHistory", {"OpportunityId": opp,
                                               "StageName": "Proposal/Price Quote",
                                               "CreatedDate": at(10)})  # fmt: skip
        quote = fake.add_record("Quote", {"OpportunityId": opp, "CreatedDate": at(20)})
        fake.add_record("QuoteDocument", {"QuoteId": quote, "CreatedDate": at(sent)})
    answered = fake.add_record("Case", {"CreatedDate": at(0), "Status": "New"})
    fake.add_record("EmailMessage", {"ParentId": answered, "Incoming": True,
                                     "CreatedDate": at(5), "MessageDate": at(5)})  # fmt: skip
    fake.add_record("EmailMessage", {"ParentId": answered, "Incoming": False,
                                     "CreatedDate": at(90), "MessageDate": at(90)})  # fmt: skip
    waited = fake.add_record("Case", {"CreatedDate": at(0), "Status": "New"})
    fake.add_record("CaseHistory", {"CaseId": waited, "Field": "Status", "OldValue": "New",
                                    "NewValue": "Waiting on Customer", "CreatedDate": at(60)})
    fake.add_record("CaseHistory", {"CaseId": waited, "Field": "Status",
                                    "OldValue": "Waiting on Customer", "NewValue": "Working",
                                    "CreatedDate": at(1000)})  # fmt: skip
    fake.add_record("CaseComment", {"ParentId": waited, "IsPublished": True,
                                    "CreatedDate": at(1100)})  # fmt: skip

    path = write_config(tmp_path, fake, extra=PROMISES)
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 0, result.output
    assert "salesforce: ok" in result.stdout
    result = qmon("--config", path, "audit", "--as-of", "2026-11-06T00:00:00Z",
                  "--format", "json", env=ENV)  # fmt: skip
    assert result.exit_code == 0, result.output
    counts = {p["id"]: (p["met"], p["breached"], p["open"])
              for p in json.loads(result.stdout)["promises"]}  # fmt: skip
    # first reply: 90 minutes; the other: 60 minutes, paused 940, then 100 more = 160 minutes.
    assert counts == {"quote-24h": (1, 1, 0), "first-reply": (2, 0, 0)}
