"""The wire contract the Salesforce connector relies on, pinned with the real simple-salesforce.

Each test drives simple-salesforce 1.12 against :class:`tests.fakes.salesforce.FakeSalesforce`
over a real TLS socket on 127.0.0.1, so what is asserted is what the library actually sends and
reads: URLs, ``nextRecordsUrl`` paging, ``Sforce-Limit-Info``, the exception class for each
status, Bulk 2.0 job polling and ``Sforce-Locator`` paging. When the connector is written, these
tests are the list of behaviours it may assume; when the fake changes, they say what moved.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import Usage

from tests.fakes.salesforce import FakeSalesforce, id_checksum

API = "/services/data/v59.0"  # simple-salesforce 1.12's default version
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SYNCED_OBJECTS = {
    "Opportunity", "OpportunityHistory", "Quote", "QuoteDocument", "Case", "CaseHistory",
    "CaseComment", "EmailMessage", "Task", "Event",
}


class Clock:
    """A clock the test moves by hand, so every SystemModstamp in an assertion is exact."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def org(**options: Any) -> Iterator[tuple[FakeSalesforce, Salesforce]]:
    """A started fake plus a simple-salesforce client on a direct session (no login call)."""
    with FakeSalesforce(**options) as fake, closing(fake.make_session()) as http:
        yield fake, Salesforce(instance=fake.instance, session_id=fake.session_id, session=http)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeSalesforce]:
    """An org with a REST batch size of 3, so paging shows up with a handful of records."""
    with FakeSalesforce(batch_size=3, clock=clock) as fake:
        yield fake


@pytest.fixture
def http(fake: FakeSalesforce) -> Iterator[requests.Session]:
    with closing(fake.make_session()) as session:
        yield session


@pytest.fixture
def sf(fake: FakeSalesforce, http: requests.Session) -> Salesforce:
    return Salesforce(instance=fake.instance, session_id=fake.session_id, session=http)


def ids(result: dict[str, Any]) -> list[str]:
    return [record["Id"] for record in result["records"]]


# --- REST query and queryAll ------------------------------------------------------------------


def test_query_answers_in_the_documented_envelope(fake, sf):
    opp = fake.add_record("Opportunity", {
        "Name": "Acme renewal", "StageName": "Prospecting", "Amount": 1200.5,
        "CloseDate": "2026-03-31",
    })

    result = sf.query(
        "SELECT Id, Name, Amount, CloseDate, IsDeleted, SystemModstamp FROM Opportunity")

    assert result == {"totalSize": 1, "done": True, "records": [{
        "attributes": {"type": "Opportunity", "url": f"{API}/sobjects/Opportunity/{opp}"},
        "Id": opp, "Name": "Acme renewal", "Amount": 1200.5, "CloseDate": "2026-03-31",
        "IsDeleted": False, "SystemModstamp": "2026-01-01T09:00:00.000+0000",
    }]}
    assert list(result["records"][0]) == [
        "attributes", "Id", "Name", "Amount", "CloseDate", "IsDeleted", "SystemModstamp"]
    assert re.fullmatch(r"006[0-9A-Za-z]{15}", opp)
    assert fake.request_log[-1].path == f"{API}/query/"
    assert fake.request_log[-1].query == {"q": [
        "SELECT Id, Name, Amount, CloseDate, IsDeleted, SystemModstamp FROM Opportunity"]}


def test_ids_carry_the_real_case_safe_checksum():
    # Ids from Salesforce's own documentation examples.
    assert id_checksum("001D000000IRFma") == "IAH"
    assert id_checksum("001D000000Iomaz") == "IAB"
    assert id_checksum("a00D0000008pQSN") == "IA2"


def test_query_all_follows_next_records_url(fake, sf):
    case_ids = [fake.add_record("Case", {"Subject": f"case {n}"}) for n in range(7)]
    soql = "SELECT Id FROM Case ORDER BY SystemModstamp, Id"

    first = sf.query(soql)
    assert (first["totalSize"], first["done"], len(first["records"])) == (7, False, 3)
    assert re.fullmatch(rf"{re.escape(API)}/query/01g[0-9A-Za-z]{{15}}-3",
                        first["nextRecordsUrl"])

    fake.clear_request_log()
    everything = sf.query_all(soql)
    assert ids(everything) == case_ids
    assert everything["totalSize"] == 7
    paths = [entry.path for entry in fake.request_log]
    assert paths[0] == f"{API}/query/"
    assert [path.rsplit("-", 1)[1] for path in paths[1:]] == ["3", "6"]
    assert all(not entry.query for entry in fake.request_log[1:])  # locator URLs have no q


def test_query_all_iter_fetches_the_next_page_only_when_needed(fake, sf):
    for n in range(4):
        fake.add_record("Task", {"Subject": f"task {n}"})
    fake.clear_request_log()

    rows = sf.query_all_iter("SELECT Id FROM Task ORDER BY SystemModstamp, Id")
    for _ in range(3):
        next(rows)
    assert len(fake.request_log) == 1
    next(rows)
    assert len(fake.request_log) == 2
    assert list(rows) == []


def test_sforce_query_options_header_lowers_the_batch_size():
    with org() as (fake, sf):
        for n in range(250):
            fake.add_record("EmailMessage", {"Subject": f"mail {n}"})
        soql = "SELECT Id FROM EmailMessage"

        assert len(sf.query(soql)["records"]) == 250  # default batch: 2000
        page = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
        assert (len(page["records"]), page["done"], page["totalSize"]) == (200, False, 250)
        tiny = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=5"})
        assert len(tiny["records"]) == 200  # the documented minimum


def test_deleted_rows_come_only_from_query_all(fake, sf, clock):
    keep = fake.add_record("Opportunity", {"Name": "keep"})
    gone = fake.add_record("Opportunity", {"Name": "gone"})
    clock.advance(minutes=5)
    fake.delete_record("Opportunity", gone)
    soql = "SELECT Id, IsDeleted, SystemModstamp FROM Opportunity ORDER BY SystemModstamp, Id"

    assert ids(sf.query_all(soql)) == [keep]
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(row["Id"], row["IsDeleted"]) for row in rows] == [(keep, False), (gone, True)]
    assert rows[1]["SystemModstamp"] == "2026-01-01T09:05:00.000+0000"  # the delete bumped it
    assert fake.request_log[-1].path == f"{API}/queryAll/"

    # query hides deleted rows even when asked for them; queryAll can filter on them.
    assert sf.query("SELECT Id FROM Opportunity WHERE IsDeleted = true")["totalSize"] == 0
    assert ids(sf.query("SELECT Id FROM Opportunity WHERE IsDeleted = true",
                        include_deleted=True)) == [gone]

    fake.purge_record("Opportunity", gone)  # emptied from the recycle bin
    assert ids(sf.query_all(soql, include_deleted=True)) == [keep]


def test_query_all_pages_keep_the_deleted_rows(fake, sf):
    opp_ids = [fake.add_record("Opportunity", {"Name": f"o{n}"}) for n in range(5)]
    for gone in opp_ids[3:]:
        fake.delete_record("Opportunity", gone)
    fake.clear_request_log()

    rows = sf.query_all("SELECT Id, IsDeleted FROM Opportunity", include_deleted=True)

    assert [row["IsDeleted"] for row in rows["records"]] == [False] * 3 + [True] * 2
    # The documented quirk: queryAll's nextRecordsUrl says "query", and still carries deletes.
    assert fake.request_log[0].path == f"{API}/queryAll/"
    assert fake.request_log[1].path.startswith(f"{API}/query/01g")


def test_incremental_window_on_system_modstamp(fake, sf, clock):
    first = fake.add_record("Opportunity", {"Name": "first"})  # 09:00
    clock.advance(hours=1)
    second = fake.add_record("Opportunity", {"Name": "second"})  # 10:00
    twin = fake.add_record("Opportunity", {"Name": "same second"})  # 10:00 as well
    clock.advance(hours=1)
    last = fake.add_record("Opportunity", {"Name": "last"})  # 11:00
    fake.update_record("Opportunity", first, {"StageName": "Closed Won"})  # now 11:00

    window = ("SELECT Id FROM Opportunity WHERE SystemModstamp > 2026-01-01T09:00:00Z "
              "AND SystemModstamp <= 2026-01-01T11:00:00+00:00 ORDER BY SystemModstamp, Id")
    assert ids(sf.query_all(window)) == [second, twin, first, last]
    assert ids(sf.query(window + " LIMIT 2")) == [second, twin]
    # Offsets are honoured: 11:30+01:30 is 10:00 UTC.
    later = "SELECT Id FROM Opportunity WHERE SystemModstamp > 2026-01-01T11:30:00+01:30 " \
            "ORDER BY SystemModstamp DESC, Id DESC"
    assert ids(sf.query(later)) == [last, first]


def test_filters_on_quoted_strings_dates_numbers_and_null(fake, sf):
    obrien = fake.add_record("Opportunity", {
        "Name": "O'Brien \\ Sons", "StageName": "Closed Won", "Amount": 500,
        "CloseDate": "2026-01-15",
    })
    fake.add_record("Opportunity", {"Name": "Other", "StageName": "Closed Won", "Amount": 50})
    no_amount = fake.add_record("Opportunity", {"Name": "No amount"})

    # SOQL escapes with a backslash, and compares text case-insensitively.
    assert ids(sf.query(r"SELECT Id FROM Opportunity WHERE Name = 'o\'brien \\ sons'")) == [
        obrien]
    assert ids(sf.query(
        "SELECT Id FROM Opportunity WHERE StageName = 'Closed Won' AND Amount >= 100 "
        "AND CloseDate < 2026-02-01")) == [obrien]
    assert ids(sf.query("SELECT Id FROM Opportunity WHERE Amount = null")) == [no_amount]


@pytest.mark.parametrize(("soql", "error_code"), [
    ("SELEC Id FROM Opportunity", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name = 'unterminated", "MALFORMED_QUERY"),
    (r"SELECT Id FROM Opportunity WHERE Name = 'bad \q escape'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name = 'A' OR Name = 'B'", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE Name LIKE 'A%'", "MALFORMED_QUERY"),
    ("SELECT COUNT() FROM Opportunity", "MALFORMED_QUERY"),
    ("SELECT Account.Name FROM Opportunity", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity ORDER BY", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity LIMIT many", "MALFORMED_QUERY"),
    # The REST output format is not a SOQL literal: a stamp must be converted before reuse.
    ("SELECT Id FROM Opportunity WHERE SystemModstamp > 2026-01-01T00:00:00.000+0000",
     "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE SystemModstamp > '2026-01-01T00:00:00Z'",
     "INVALID_FIELD"),
    ("SELECT Nonsense__c FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity__x", "INVALID_TYPE"),
    # Field history has no SystemModstamp; OldValue/NewValue cannot be filtered.
    ("SELECT Id FROM CaseHistory WHERE SystemModstamp > 2026-01-01T00:00:00Z",
     "INVALID_FIELD"),
    ("SELECT Id FROM CaseHistory WHERE NewValue = 'Closed'", "INVALID_FIELD"),
])
def test_soql_the_org_would_refuse_is_a_400(sf, soql, error_code):
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)

    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == error_code
    assert "message" in caught.value.content[0]


def test_case_history_is_read_incrementally_on_created_date(fake, sf, clock):
    case = fake.add_record("Case", {"Status": "New"})
    clock.advance(minutes=1)
    change = fake.add_record("CaseHistory", {
        "CaseId": case, "Field": "Status", "OldValue": "New", "NewValue": "Working"})

    rows = sf.query_all(
        "SELECT Id, CaseId, Field, OldValue, NewValue, CreatedDate FROM CaseHistory "
        "WHERE CreatedDate > 2026-01-01T09:00:00Z ORDER BY CreatedDate, Id")["records"]
    assert [(r["Id"], r["OldValue"], r["NewValue"], r["CreatedDate"]) for r in rows] == [
        (change, "New", "Working", "2026-01-01T09:01:00.000+0000")]


# --- limits, sessions and errors --------------------------------------------------------------


def test_api_usage_is_read_from_sforce_limit_info():
    with org(daily_api_limit=5000, api_requests_used=17) as (fake, sf):
        sf.query("SELECT Id FROM Task")
        assert sf.api_usage == {"api-usage": Usage(used=18, total=5000)}

        raw = sf.session.get(f"{fake.instance_url}{API}/limits",
                             headers={"Authorization": f"Bearer {fake.session_id}"})
        assert raw.headers["Sforce-Limit-Info"] == "api-usage=19/5000"


def test_limits_reports_daily_api_requests():
    with org(daily_api_limit=1000, api_requests_used=10) as (_, sf):
        limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 1000, "Remaining": 989}  # this call counts


def test_exhausted_daily_limit_is_refused_with_request_limit_exceeded():
    with org(daily_api_limit=3, api_requests_used=1) as (fake, sf):
        sf.query("SELECT Id FROM Quote")
        sf.query("SELECT Id FROM Quote")
        assert sf.api_usage["api-usage"] == Usage(used=3, total=3)

        with pytest.raises(SalesforceRefusedRequest) as caught:
            sf.query("SELECT Id FROM Quote")
        assert caught.value.status == 403
        assert caught.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]

        fake.api_requests_used = 0  # a new day
        assert sf.query("SELECT Id FROM Quote")["totalSize"] == 0


def test_expired_session_is_401_and_a_fresh_token_gets_through(fake, sf, http):
    fake.add_record("Event", {"Subject": "Kick-off"})
    fake.expire_sessions()
    used_before = fake.api_requests_used

    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Event")
    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert fake.api_requests_used == used_before  # refused calls are not billed

    # What the connector will do on a direct session: fetch a token and retry once.
    reply = http.post(fake.token_url, data={"grant_type": "client_credentials"},
                      auth=("consumer-key", "consumer-secret"))
    assert reply.status_code == 200
    token = reply.json()
    assert token["instance_url"] == fake.instance_url
    assert token["token_type"] == "Bearer"
    assert fake.token_requests[-1].basic_auth == ("consumer-key", "consumer-secret")

    again = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                       session=http)
    assert again.query("SELECT Id FROM Event")["totalSize"] == 1

    # Bulk 2.0 takes the same 401; simple-salesforce does not refresh there either.
    with pytest.raises(SalesforceExpiredSession):
        list(sf.bulk2.Event.query("SELECT Id FROM Event", wait=0))


def test_simple_salesforce_refreshes_its_own_session_via_the_token_endpoint(fake, http):
    fake.add_record("Task", {"Subject": "Call back"})
    sf = Salesforce(consumer_key="ck", consumer_secret="cs", domain="acme.my", session=http)
    assert sf.sf_instance == fake.instance
    assert [(t.grant_type, t.host) for t in fake.token_requests] == [
        ("client_credentials", "acme.my.salesforce.com")]

    fake.expire_sessions()
    assert sf.query("SELECT Id FROM Task")["totalSize"] == 1

    assert [(entry.path, entry.status) for entry in fake.request_log] == [
        ("/services/oauth2/token", 200),
        (f"{API}/query/", 401),
        ("/services/oauth2/token", 200),
        (f"{API}/query/", 200),
    ]


def test_token_endpoint_records_password_and_jwt_grants(fake, http):
    Salesforce(username="ops@example.com", password="pw", consumer_key="ck",
               consumer_secret="cs", session=http)
    password = fake.token_requests[-1]
    assert (password.grant_type, password.host) == ("password", "login.salesforce.com")
    assert password.params == {"grant_type": "password", "client_id": "ck",
                               "client_secret": "cs", "username": "ops@example.com",
                               "password": "pw"}

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sf = Salesforce(username="ops@example.com", consumer_key="ck", privatekey=pem,
                    session=http)
    jwt = fake.token_requests[-1]
    assert jwt.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert jwt.jwt_claims is not None
    assert (jwt.jwt_claims["iss"], jwt.jwt_claims["sub"], jwt.jwt_claims["aud"]) == (
        "ck", "ops@example.com", "https://login.salesforce.com")
    assert sf.query("SELECT Id FROM Case")["totalSize"] == 0


def test_token_endpoint_errors_use_the_oauth_shape(fake, http):
    reply = http.post(fake.token_url, data={"grant_type": "authorization_code"})
    assert reply.status_code == 400
    assert reply.json() == {"error": "unsupported_grant_type",
                            "error_description": "grant type not supported"}

    fake.reject_logins()
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(consumer_key="ck", consumer_secret="cs", domain="acme.my", session=http)
    assert caught.value.code == "invalid_grant"
    assert caught.value.auth_message == "authentication failure"


def test_injected_server_errors_then_recovery(fake, sf):
    fake.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as caught:
            sf.query("SELECT Id FROM QuoteDocument")
        assert caught.value.status == 503
    assert sf.query("SELECT Id FROM QuoteDocument")["totalSize"] == 0

    fake.fail_next(status=500)
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM QuoteDocument")
    assert caught.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"

    assert [entry.status for entry in fake.request_log] == [503, 503, 200, 500]
    assert fake.api_requests_used == 1  # faults are not billed


def test_expired_query_locator_is_a_400(fake, sf):
    for n in range(4):
        fake.add_record("CaseComment", {"CommentBody": f"comment {n}"})
    first = sf.query("SELECT Id FROM CaseComment")
    fake.expire_query_locators()

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


# --- describe ---------------------------------------------------------------------------------


def test_describe_reports_fields_and_types(fake, sf):
    fake.add_field("Case", "Promise_Due__c", "datetime")

    opportunity = sf.Opportunity.describe()
    assert (opportunity["name"], opportunity["keyPrefix"]) == ("Opportunity", "006")
    types = {f["name"]: f["type"] for f in opportunity["fields"]}
    assert types["Id"] == "id"
    assert types["IsDeleted"] == "boolean"
    assert types["SystemModstamp"] == "datetime"
    assert types["CloseDate"] == "date"

    history = {f["name"]: f for f in sf.CaseHistory.describe()["fields"]}
    assert "SystemModstamp" not in history
    assert history["CreatedDate"]["type"] == "datetime"
    assert history["NewValue"]["filterable"] is False

    custom = {f["name"]: f for f in sf.Case.describe()["fields"]}["Promise_Due__c"]
    assert (custom["type"], custom["custom"]) == ("datetime", True)

    assert SYNCED_OBJECTS <= {o["name"] for o in sf.describe()["sobjects"]}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.describe()


# --- Bulk API 2.0 -----------------------------------------------------------------------------


def test_bulk2_query_job_pages_csv_by_locator(fake, sf):
    opp_ids = [fake.add_record("Opportunity", {"Name": f'Deal "{n}", big', "Amount": 10 * n})
               for n in range(5)]
    fake.delete_record("Opportunity", opp_ids[4])
    soql = "SELECT Id, Name, Amount, IsDeleted, SystemModstamp FROM Opportunity"
    fake.clear_request_log()

    pages = list(sf.bulk2.Opportunity.query(soql, max_records=2, wait=0))

    assert len(pages) == 2
    assert pages[0].splitlines()[0] == '"Id","Name","Amount","IsDeleted","SystemModstamp"'
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert [row["Id"] for row in rows] == opp_ids[:4]
    assert rows[0] == {"Id": opp_ids[0], "Name": 'Deal "0", big', "Amount": "0",
                       "IsDeleted": "false", "SystemModstamp": "2026-01-01T09:00:00.000Z"}
    job = fake.request_log[1].path.rsplit("/", 1)[1]
    calls = [(e.method, e.path.removeprefix(API), e.query.get("locator"), e.status)
             for e in fake.request_log]
    assert calls == [
        ("POST", "/jobs/query", None, 200),
        ("GET", f"/jobs/query/{job}", None, 200),  # InProgress
        ("GET", f"/jobs/query/{job}", None, 200),  # JobComplete
        ("GET", f"/jobs/query/{job}/results", None, 200),
        ("GET", f"/jobs/query/{job}/results", ["Mg"], 200),  # base64 of "2"
    ]

    every = list(sf.bulk2.Opportunity.query_all(soql, wait=0))
    assert len(list(csv.DictReader(io.StringIO(every[0])))) == 5  # queryAll keeps the delete


def test_bulk2_results_headers_and_unfinished_job(fake, http):
    for n in range(3):
        fake.add_record("Task", {"Subject": f"t{n}"})
    auth = {"Authorization": f"Bearer {fake.session_id}"}
    jobs = f"{fake.instance_url}{API}/jobs/query"

    created = http.post(jobs, json={"operation": "query", "query": "SELECT Id FROM Task"},
                        headers=auth).json()
    assert created["state"] == "UploadComplete"
    early = http.get(f"{jobs}/{created['id']}/results", headers=auth)
    assert early.status_code == 412
    assert early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"

    states = [http.get(f"{jobs}/{created['id']}", headers=auth).json()["state"]
              for _ in range(2)]
    assert states == ["InProgress", "JobComplete"]
    first = http.get(f"{jobs}/{created['id']}/results", params={"maxRecords": 2}, headers=auth)
    assert first.headers["Sforce-NumberOfRecords"] == "2"
    assert first.headers["Sforce-Locator"] == "Mg"
    assert first.headers["Sforce-Limit-Info"].startswith("api-usage=")
    rest = http.get(f"{jobs}/{created['id']}/results",
                    params={"maxRecords": 2, "locator": "Mg"}, headers=auth)
    assert rest.headers["Sforce-NumberOfRecords"] == "1"
    assert rest.headers["Sforce-Locator"] == "null"


def test_bulk2_failures_surface_as_simple_salesforce_errors(fake, sf):
    fake.fail_next_bulk_job("PK chunking failed")
    with pytest.raises(SalesforceOperationError, match="PK chunking failed"):
        list(sf.bulk2.Case.query("SELECT Id FROM Case", wait=0))

    with pytest.raises(SalesforceMalformedRequest) as caught:
        list(sf.bulk2.Case.query("SELECT Id FROM Case WHERE Subject LIKE 'x%'", wait=0))
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"


# --- the fake itself --------------------------------------------------------------------------


def test_sessions_from_the_fake_reach_nothing_else(fake, http):
    with pytest.raises(requests.ConnectionError, match="refuses"):
        http.get("https://example.com/")
    with pytest.raises(requests.ConnectionError, match="refuses"):
        http.get(f"http://127.0.0.1:{fake.port}{API}/limits")
    with requests.Session() as plain:  # without the throwaway CA, TLS verification fails
        plain.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            plain.get(f"{fake.instance_url}{API}/limits")


def test_record_helpers_keep_audit_fields_honest(fake, clock):
    opp = fake.add_record("Opportunity", {"Name": "Audit"})
    stored = fake.get_record("Opportunity", opp)
    assert stored["CreatedDate"] == stored["SystemModstamp"] == START
    assert stored["IsDeleted"] is False
    assert stored["CreatedById"] == fake.user_id

    clock.advance(seconds=1, microseconds=500_000)  # stamps keep whole seconds
    fake.update_record("Opportunity", opp, {"StageName": "Negotiation"})
    stored = fake.get_record("Opportunity", opp)
    assert stored["SystemModstamp"] == START + timedelta(seconds=1)
    assert stored["CreatedDate"] == START

    with pytest.raises(KeyError, match="has no field"):
        fake.add_record("Opportunity", {"Stage": "typo"})
    with pytest.raises(ValueError, match="naive"):
        naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the mistake under test
        fake.add_record("Opportunity", {"CreatedDate": naive})


def test_less_common_switches_behave(fake, sf, http, clock):
    """Undelete, single-token expiry, refresh-token grant, and aborting/deleting a bulk job."""
    task = fake.add_record("Task", {"Subject": "Restore me"})
    fake.delete_record("Task", task)
    clock.advance(seconds=30)
    fake.undelete_record("Task", task)
    rows = sf.query("SELECT Id, SystemModstamp FROM Task")["records"]
    assert [(r["Id"], r["SystemModstamp"]) for r in rows] == [
        (task, "2026-01-01T09:00:30.000+0000")]

    other = fake.issue_session()
    fake.expire_session(fake.session_id)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Task")
    sf = Salesforce(instance=fake.instance, session_id=other, session=http)
    assert sf.query("SELECT Id FROM Task")["totalSize"] == 1

    refreshed = http.post(fake.token_url, data={"grant_type": "refresh_token",
                                                "refresh_token": "r", "client_id": "ck"})
    assert refreshed.status_code == 200

    auth = {"Authorization": f"Bearer {other}"}
    jobs = f"{fake.instance_url}{API}/jobs/query"
    job = http.post(jobs, json={"operation": "query", "query": "SELECT Id FROM Task"},
                    headers=auth).json()["id"]
    aborted = http.patch(f"{jobs}/{job}", json={"state": "Aborted"}, headers=auth)
    assert aborted.json()["state"] == "Aborted"
    assert http.delete(f"{jobs}/{job}", headers=auth).status_code == 204
    assert http.get(f"{jobs}/{job}", headers=auth).status_code == 404


def test_custom_objects_can_be_defined_and_queried(fake, sf):
    fake.define_object("Promise__c", "a01", {"Due__c": "datetime", "Kind__c": "picklist"})
    promise = fake.add_record("Promise__c", {"Due__c": "2026-01-02T17:00:00Z",
                                             "Kind__c": "Quote within 2 days"})

    rows = sf.query_all("SELECT Id, Due__c FROM Promise__c WHERE Kind__c = "
                        "'quote within 2 days' ORDER BY SystemModstamp, Id")["records"]
    assert [(r["Id"], r["Due__c"]) for r in rows] == [(promise, "2026-01-02T17:00:00.000+0000")]


# --- documented fields ------------------------------------------------------------------------

#: The fields Salesforce's docs show in each answer the connector reads, written by hand from
#: the REST API Developer Guide (Query, Query More Results, Limits, Status Codes and Error
#: Responses, OAuth token response) and the Bulk API 2.0 guide (Create, Get Information About
#: and Get Results for a Query Job). Salesforce marks no field "required"; these are the ones
#: every documented example carries.
DOCUMENTED = {
    "token": {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"},
    "query page": {"totalSize", "done", "records"},
    "query page, not done": {"totalSize", "done", "records", "nextRecordsUrl"},
    "record": {"attributes"},
    "record attributes": {"type", "url"},
    "limits": {"DailyApiRequests"},
    "limit": {"Max", "Remaining"},
    "error": {"message", "errorCode"},
    "bulk job created": {"id", "operation", "object", "createdById", "createdDate",
                         "systemModstamp", "state", "concurrencyMode", "contentType",
                         "apiVersion", "lineEnding", "columnDelimiter"},
    "bulk job info": {"id", "operation", "object", "createdById", "createdDate",
                      "systemModstamp", "state", "concurrencyMode", "contentType", "apiVersion",
                      "jobType", "lineEnding", "columnDelimiter", "numberRecordsProcessed",
                      "retries", "totalProcessingTime", "isPkChunkingSupported"},
    "bulk results headers": {"Sforce-Locator", "Sforce-NumberOfRecords"},
}


def test_the_fakes_answers_carry_the_documented_fields():
    with FakeSalesforce(batch_size=5) as fake:
        for _ in range(7):
            fake.add_record("Case", {"Status": "New"})
        session = fake.make_session()
        base = f"{fake.instance_url}/services/data/v59.0"
        token = session.post(f"{fake.instance_url}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": "k", "client_secret": "s"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        def get(path: str, **params: Any) -> requests.Response:
            return session.get(base + path, headers=headers, params=params)

        first = get("/queryAll", q="SELECT Id, Status FROM Case").json()
        last = session.get(fake.instance_url + first["nextRecordsUrl"], headers=headers).json()
        limits = get("/limits").json()
        error = get("/query", q="SELECT Nope FROM Case").json()
        created = session.post(base + "/jobs/query", headers=headers, json={
            "operation": "queryAll", "query": "SELECT Id FROM Case"}).json()
        info = get(f"/jobs/query/{created['id']}").json()
        while info["state"] != "JobComplete":
            info = get(f"/jobs/query/{created['id']}").json()
        results = get(f"/jobs/query/{created['id']}/results", maxRecords=3)

    answers = {
        "token": token, "query page, not done": first, "query page": last,
        "record": first["records"][0], "record attributes": first["records"][0]["attributes"],
        "limits": limits, "limit": limits["DailyApiRequests"], "error": error[0],
        "bulk job created": created, "bulk job info": info,
        "bulk results headers": dict(results.headers),
    }  # fmt: skip
    lacking = {what: sorted(DOCUMENTED[what] - set(answer)) for what, answer in answers.items()}
    assert lacking == {what: [] for what in answers}
    assert first["done"] is False and last["done"] is True
