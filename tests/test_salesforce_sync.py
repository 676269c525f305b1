"""Reading an org: pages, cursors, deletes, sibling rows, retries, Bulk API 2.0 and secrets.

Everything goes through the real simple-salesforce (and the connector's own Bulk 2.0 and OAuth
requests) to FakeSalesforce over TLS on 127.0.0.1. Streams are read directly and their pages
stored with `Store.apply_page`, the way `qmon sync` does, or through `run_sync` itself.
"""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qmon.connectors.base import Page, SourceUnreachable
from qmon.connectors.salesforce.api import SalesforceApi
from qmon.connectors.salesforce.connector import SalesforceConnector
from qmon.connectors.salesforce.spec import SalesforceMappingSpec, SalesforceSourceSpec
from qmon.store import Store
from qmon.timeutil import to_us
from tests.fakes.salesforce import FakeSalesforce

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
API = "/services/data/v59.0"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def us(minutes: float) -> int:
    return to_us(at(minutes))


@pytest.fixture
def fake():
    with FakeSalesforce(batch_size=5) as fake:
        yield fake


def spec(fake: FakeSalesforce, **settings: Any) -> SalesforceSourceSpec:
    return SalesforceSourceSpec.model_validate({
        "instance_url": fake.instance_url,
        "login_url": fake.instance_url,
        "auth": {"method": "client_credentials", "consumer_key": "3MVG9-key",
                 "consumer_secret": "cs-value-1234"},
        "ca_bundle": fake.ca_cert_path,
        "backoff_seconds": 0,
        "bulk_poll_seconds": 0,
        **settings,
    })  # fmt: skip


def connector(fake: FakeSalesforce, mapping: SalesforceMappingSpec | None = None,
              **settings: Any) -> SalesforceConnector:  # fmt: skip
    return SalesforceConnector("salesforce", spec(fake, **settings),
                               mapping or SalesforceMappingSpec())  # fmt: skip


def read(conn: SalesforceConnector, name: str, since_us: int | None = None) -> list[Page]:
    [stream] = [s for s in conn.streams() if s.name == name]
    return list(stream.read(since_us))


def store_pages(store: Store, name: str, pages: list[Page]) -> None:
    for page in pages:
        store.apply_page("salesforce", name, page.changes, page.high_water_us)


def cases(fake: FakeSalesforce, count: int, start: float = 0) -> list[str]:
    return [
        fake.add_record("Case", {"Status": "New", "Origin": "Web", "CreatedDate": at(start + n)})
        for n in range(count)
    ]


def soql_of(fake: FakeSalesforce) -> list[str]:
    return [r.query["q"][0] for r in fake.request_log if "q" in r.query]


# --- REST paging and cursors -------------------------------------------------------------------


def test_pages_follow_next_records_url_and_each_page_carries_its_cursor(fake, tmp_path):
    ids = cases(fake, 12)
    no_attributes = SalesforceMappingSpec(attributes=dict.fromkeys(
        ("priority", "case_type", "deal_type", "origin", "record_type")))
    pages = read(connector(fake, no_attributes, objects=["Case"]), "Case")
    assert [len(p.changes) for p in pages] == [5, 5, 2]
    assert [p.high_water_us for p in pages] == [us(4), us(9), us(11)]
    assert [c.record for p in pages for c in p.changes] == [f"Case/{i}" for i in ids]
    paths = [r.path for r in fake.request_log if r.path.startswith(API)]
    assert paths[0] == f"{API}/queryAll/"  # deleted rows included
    assert paths[1].startswith(f"{API}/query/01g") and paths[1].endswith("-5")
    assert soql_of(fake) == [
        "SELECT Id, IsDeleted, SystemModstamp, CreatedDate, ClosedDate, IsClosed, OwnerId, "
        "AccountId, Origin FROM Case ORDER BY SystemModstamp, Id"
    ]
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    store_pages(store, "Case", pages)
    assert store.cursor("salesforce", "Case") == us(11)
    assert len(store.record_events("salesforce")) == 12


def test_page_size_asks_salesforce_for_that_batch_size():
    with FakeSalesforce() as fake:  # Salesforce's own default: 2,000 rows a page
        cases(fake, 450)
        pages = read(connector(fake, objects=["Case"], page_size=200), "Case")
    assert [len(p.changes) for p in pages] == [200, 200, 50]


def test_an_incremental_read_asks_from_its_stamp_and_sees_changes_and_deletes(fake, tmp_path):
    ids = cases(fake, 6)
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    store_pages(store, "Case", read(connector(fake, objects=["Case"]), "Case"))
    fake.update_record("Case", ids[1], {"IsClosed": True, "ClosedDate": at(30),
                                        "SystemModstamp": at(30)})  # fmt: skip
    fake.delete_record("Case", ids[2], at=at(31))
    fake.clear_request_log()

    pages = read(connector(fake, objects=["Case"]), "Case", us(20))
    assert soql_of(fake)[0].endswith(
        "FROM Case WHERE SystemModstamp >= 2026-11-02T09:20:00Z ORDER BY SystemModstamp, Id"
    )
    assert [(c.record, c.deleted) for p in pages for c in p.changes] == [
        (f"Case/{ids[1]}", False), (f"Case/{ids[2]}", True)]  # fmt: skip
    counts = store.apply_page("salesforce", "Case", pages[0].changes, pages[0].high_water_us)
    assert (counts.updated, counts.deleted) == (1, 1)
    stored = store.record_events("salesforce")
    assert f"Case/{ids[2]}" not in stored
    assert stored[f"Case/{ids[1]}"] == [f"Case/{ids[1]}/closed", f"Case/{ids[1]}/opened"]
    assert store.cursor("salesforce", "Case") == us(31)


def test_case_history_is_read_by_created_date_and_only_status_rows(fake):
    case = fake.add_record("Case", {"CreatedDate": at(0)})
    for n, (field, new) in enumerate([("Status", "Waiting on Customer"), ("Priority", "High")]):
        fake.add_record("CaseHistory", {"CaseId": case, "Field": field, "OldValue": "x",
                                        "NewValue": new, "CreatedDate": at(5 + n)})  # fmt: skip
    pages = read(connector(fake, objects=["CaseHistory"]), "CaseHistory", us(1))
    assert soql_of(fake) == [
        "SELECT Id, IsDeleted, CreatedDate, CaseId, Field, OldValue, NewValue FROM CaseHistory "
        "WHERE Field = 'Status' AND CreatedDate >= 2026-11-02T09:01:00Z ORDER BY CreatedDate, Id"
    ]
    [[change]] = [p.changes for p in pages]
    assert [e.type for e in change.events] == ["case.waiting_on_customer"]
    assert pages[0].high_water_us == us(5)


# --- rows mapped with their siblings ---------------------------------------------------------


def test_stage_history_is_rebuilt_from_all_live_rows_of_each_opportunity(fake, tmp_path):
    opp = fake.add_record("Opportunity", {"StageName": "Prospecting", "CreatedDate": at(0)})
    rows = [
        fake.add_record("OpportunityHistory", {"OpportunityId": opp, "StageName": stage,
                                               "CreatedDate": at(n)})  # fmt: skip
        for n, stage in enumerate(["Prospecting", "Proposal/Price Quote"])
    ]
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    store_pages(store, "OpportunityHistory", read(connector(fake), "OpportunityHistory"))
    key = f"OpportunityHistory/of/{opp}"
    assert store.record_events("salesforce")[key] == [
        f"{key}/quote.requested@{rows[1]}", f"{key}/stage@{rows[0]}", f"{key}/stage@{rows[1]}"]

    # Only the amount changed: a new row with the same stage adds nothing; read incrementally,
    # the opportunity's earlier rows are read again to know that.
    fake.add_record("OpportunityHistory", {"OpportunityId": opp, "StageName":
                                           "Proposal/Price Quote", "CreatedDate": at(60)})
    fake.clear_request_log()
    pages = read(connector(fake), "OpportunityHistory", us(50))
    assert any(f"WHERE OpportunityId IN ('{opp}')" in q for q in soql_of(fake))
    counts = store.apply_page("salesforce", "OpportunityHistory", pages[0].changes, None)
    assert counts.unchanged == 1

    # The opportunity is deleted and its history with it: its stage events go.
    for row in [*rows, *[r["Id"] for r in fake.records("OpportunityHistory")][2:]]:
        fake.delete_record("OpportunityHistory", row, at=at(90))
    pages = read(connector(fake), "OpportunityHistory", us(80))
    store_pages(store, "OpportunityHistory", pages)
    assert key not in store.record_events("salesforce")


def test_responses_on_a_case_and_quote_documents_on_their_opportunity(fake):
    case = fake.add_record("Case", {"CreatedDate": at(0)})
    for minutes, incoming, status in ((5, True, "1"), (20, False, "5"), (30, False, "3")):
        fake.add_record("EmailMessage", {"ParentId": case, "Incoming": incoming,
                                         "Status": status, "MessageDate": at(minutes),
                                         "CreatedDate": at(minutes)})  # fmt: skip
    [page] = read(connector(fake), "EmailMessage")
    [change] = page.changes
    assert change.record == f"EmailMessage/of/{case}"
    # Incoming mail and the draft (Status 5) are no response; the message at 30 is.
    assert [(e.type, e.occurred_us) for e in change.events] == [
        ("case.first_response", us(30)), ("case.responded", us(30))]  # fmt: skip

    opp = fake.add_record("Opportunity", {"CreatedDate": at(0)})
    quote = fake.add_record("Quote", {"OpportunityId": opp, "CreatedDate": at(1)})
    fake.add_record("QuoteDocument", {"QuoteId": quote, "CreatedDate": at(2)})
    [page] = read(connector(fake), "QuoteDocument")
    [event] = page.changes[0].events
    assert (event.type, event.subject_type, event.subject_id) == ("quote.sent", "deal", opp)


# --- failures --------------------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff(fake):
    cases(fake, 7)
    fake.fail_next(2, 503)  # the login, then its retry
    no_attributes = dict.fromkeys(
        ("priority", "case_type", "deal_type", "origin", "record_type"))
    conn = connector(fake, SalesforceMappingSpec(attributes=no_attributes), objects=["Case"],
                     retries=3)  # no attribute history: one request per page
    [stream] = conn.streams()
    pages = stream.read(None)
    first = next(pages)
    fake.fail_next(3, 500)  # the next page, three times
    rest = list(pages)
    assert sum(len(p.changes) for p in (first, *rest)) == 7
    assert [r.status for r in fake.request_log] == [503, 503, 200, 200, 500, 500, 500, 200]
    assert conn.usage().calls == 5  # API requests that got an answer; logins do not count


def test_a_server_that_keeps_failing_is_unreachable(fake):
    cases(fake, 1)
    fake.fail_next(10, 502)
    with pytest.raises(SourceUnreachable) as caught:
        read(connector(fake, objects=["Case"], retries=2), "Case")
    assert str(caught.value).startswith("cannot log in at https://127.0.0.1:")
    assert "(HTTP 502), also after 2 retries; try again later" in str(caught.value)


def test_a_refused_connection_is_unreachable_after_retries(fake):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    conn = connector(fake, objects=["Case"], retries=1, instance_url=url, login_url=url)
    with pytest.raises(SourceUnreachable, match="ConnectionError.*also after 1 retries"):
        read(conn, "Case")


def test_a_certificate_that_does_not_verify_is_reported_at_once_without_retries(fake):
    sleeps: list[float] = []
    api = SalesforceApi(spec(fake, ca_bundle=None, retries=5, backoff_seconds=60),
                        sleep=sleeps.append)  # fmt: skip
    with pytest.raises(SourceUnreachable) as caught:
        api.query_page("SELECT Id FROM Case")
    assert str(caught.value) == (
        f"the TLS certificate of {fake.instance_url} could not be verified; behind a "
        "TLS-inspecting proxy, set ca_bundle to its CA bundle (PEM)"
    )
    assert sleeps == []


# --- Bulk API 2.0 ----------------------------------------------------------------------------


def test_a_large_first_read_uses_bulk_2_after_the_first_rest_page(fake, tmp_path):
    ids = cases(fake, 30)
    fake.delete_record("Case", ids[29], at=at(40))
    conn = connector(fake, objects=["Case"], bulk_threshold=10, bulk_page_size=7)
    pages = read(conn, "Case")

    # The REST page that told the size, then the job's pages from that page's last stamp on.
    assert [len(p.changes) for p in pages] == [5, 7, 7, 7, 5]
    assert [p.high_water_us for p in pages] == [us(4), None, None, None, us(40)]
    [(operation, sobject, soql)] = fake.bulk_jobs
    assert (operation, sobject) == ("queryAll", "Case")
    assert soql.endswith("FROM Case WHERE SystemModstamp >= 2026-11-02T09:04:00Z")  # unordered
    calls = [(r.method, r.path.removeprefix(f"{API}/jobs/query"), "locator" in r.query)
             for r in fake.request_log if r.path.startswith(f"{API}/jobs")]  # fmt: skip
    job = calls[1][1]
    assert calls == [
        ("POST", "", False),  # create
        ("GET", job, False), ("GET", job, False),  # InProgress, then JobComplete
        ("GET", f"{job}/results", False),  # the first page of results, then by locator
        ("GET", f"{job}/results", True), ("GET", f"{job}/results", True),
        ("GET", f"{job}/results", True),
    ]  # fmt: skip

    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    store_pages(store, "Case", pages)
    assert set(store.record_events("salesforce")) == {f"Case/{i}" for i in ids[:29]}
    assert store.cursor("salesforce", "Case") == us(40)
    assert conn.usage().calls == len([r for r in fake.request_log if r.path.startswith(API)])


def test_bulk_is_used_neither_for_small_reads_nor_for_rows_mapped_with_siblings(fake):
    case = cases(fake, 12)[0]
    for n in range(12):
        fake.add_record("CaseComment", {"ParentId": case, "IsPublished": True,
                                        "CreatedDate": at(n)})  # fmt: skip
    conn = connector(fake, objects=["Case", "CaseComment"], bulk_threshold=20)
    assert sum(len(p.changes) for p in read(conn, "Case")) == 12
    conn = connector(fake, objects=["Case", "CaseComment"], bulk_threshold=5)
    assert read(conn, "CaseComment")[-1].high_water_us == us(11)
    conn = connector(fake, objects=["Case"], bulk_threshold=None)
    assert sum(len(p.changes) for p in read(conn, "Case")) == 12
    assert fake.bulk_jobs == []


def test_a_failed_bulk_job_falls_back_to_rest(fake, caplog):
    ids = cases(fake, 16)
    fake.fail_next_bulk_job("InvalidBatch: too complex")
    with caplog.at_level(logging.WARNING):
        pages = read(connector(fake, objects=["Case"], bulk_threshold=10), "Case")
    assert "Bulk 2.0 job failed (InvalidBatch: too complex); reading with REST" in caplog.text
    assert {c.record for p in pages for c in p.changes} == {f"Case/{i}" for i in ids}
    assert all(p.high_water_us is not None for p in pages)


def test_an_expired_session_during_bulk_logs_in_again(fake):
    cases(fake, 16)
    conn = connector(fake, objects=["Case"], bulk_threshold=10, bulk_page_size=4)
    [stream] = conn.streams()
    pages = stream.read(None)
    next(pages)  # the REST page; the job is created after it
    fake.expire_sessions()
    assert sum(len(p.changes) for p in pages) == 12
    assert [t.grant_type for t in fake.token_requests] == ["client_credentials"] * 2


# --- secrets ---------------------------------------------------------------------------------


def test_no_secret_or_token_reaches_a_log_or_an_error(fake, tmp_path, caplog):
    cases(fake, 12)
    secrets = {"consumer_secret": "cs-super-secret-1", "password": "pw-super-secret-2",
               "security_token": "st-super-secret-3"}  # fmt: skip
    auth = {"method": "password", "username": "qm@acme.com", "consumer_key": "3MVG9", **secrets}
    errors = []
    with caplog.at_level(logging.DEBUG):
        conn = connector(fake, objects=["Case"], auth=auth, bulk_threshold=6, retries=1)
        [stream] = conn.streams()
        pages = stream.read(None)
        next(pages)
        fake.expire_sessions()  # a second login
        fake.fail_next(1, 503)
        list(pages)
        for trouble in ("limit", "login", "expired"):
            conn = connector(fake, objects=["Case"], auth=auth, retries=1)
            if trouble == "limit":
                fake.api_requests_used = fake.daily_api_limit
            elif trouble == "login":
                fake.reject_logins("invalid_grant", f"bad password {secrets['password']}")
            try:
                read(conn, "Case")
            except Exception as exc:  # noqa: BLE001 - every failure's message is checked
                errors.append(str(exc))
            fake.api_requests_used = 0
            fake.reject_logins(None)
    assert len(errors) == 2 and "bad password ***" in errors[1]
    assert len(fake.issued_sessions) >= 3
    for secret in [*secrets.values(), *fake.issued_sessions]:
        assert secret not in caplog.text
        assert all(secret not in error for error in errors)
