"""Every loop over pages in the connectors stops a server that would keep it paging forever.

The conformance suite (tests/test_connector_conformance.py) holds each connector's main read
to it through `qmon sync`; these cover the other loops, each against its fake: HubSpot's
archived list answering empty pages with a cursor, association pages repeating their cursor,
the keyset search by modification stamp not advancing; Salesforce's related-row queries and
Bulk 2.0 result locators. And the check itself (`PageTrail`): cycles, redaction, length.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qmon.connectors.base import PageTrail, PagingLoop, SyncError
from qmon.connectors.hubspot.api import HubSpotApi
from qmon.connectors.hubspot.connector import HubSpotConnector
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec
from qmon.connectors.salesforce.api import SalesforceApi
from qmon.connectors.salesforce.spec import SalesforceSourceSpec
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.salesforce import FakeSalesforce

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STOPPED = (
    "; the stream stopped rather than page forever (what was stored is kept and the next sync "
    "resumes from there)"
)


@pytest.fixture()
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        yield fake


@pytest.fixture()
def salesforce() -> Iterator[FakeSalesforce]:
    with FakeSalesforce(batch_size=5) as fake:
        yield fake


def hubspot_spec(fake: FakeHubSpot, **settings: Any) -> HubSpotSourceSpec:
    return HubSpotSourceSpec.model_validate({
        "access_token": fake.access_token, "base_url": fake.base_url, "portal_id": 1,
        "backoff_seconds": 0.01, "page_size": 5, **settings})  # fmt: skip


def salesforce_api(fake: FakeSalesforce) -> SalesforceApi:
    return SalesforceApi(SalesforceSourceSpec.model_validate({
        "instance_url": fake.instance_url, "login_url": fake.instance_url,
        "auth": {"method": "client_credentials", "consumer_key": "3MVG9-key",
                 "consumer_secret": "cs-value-1234"},
        "ca_bundle": fake.ca_cert_path, "backoff_seconds": 0, "bulk_poll_seconds": 0,
        "bulk_page_size": 3}))  # fmt: skip


def read_all(fake: FakeHubSpot, object_type: str) -> None:
    connector = HubSpotConnector("hubspot", hubspot_spec(fake, objects=[object_type]),
                                 HubSpotMappingSpec())  # fmt: skip
    for stream in connector.streams():
        for _ in stream.read(None):
            pass


def test_an_empty_archived_page_that_offers_a_cursor_stops_the_stream(hubspot):
    hubspot.add("tickets", {"subject": "A"}, created_at=T0, updated_at=T0)
    hubspot.loop_paging("empty")
    with pytest.raises(PagingLoop) as caught:
        read_all(hubspot, "tickets")
    assert str(caught.value) == (
        "HubSpot tickets: the list of archived records answered an empty page that still "
        "offers the next-page cursor '5'" + STOPPED
    )
    assert hubspot.request_count <= 3


def test_a_keyset_search_that_does_not_advance_stops_the_stream(hubspot):
    for n in range(12):  # distinct stamps: the keyset moves by hs_lastmodifieddate
        moment = T0 + timedelta(minutes=n)
        hubspot.add("tickets", {"subject": f"T{n}"}, created_at=moment, updated_at=moment)
    hubspot.loop_paging("stall")
    with pytest.raises(PagingLoop) as caught:
        read_all(hubspot, "tickets")
    stamp = int((T0 + timedelta(minutes=4)).timestamp() * 1000)
    assert str(caught.value) == (
        f"HubSpot tickets: search by hs_lastmodifieddate did not advance: the next page would "
        f"start at '{stamp}', not past '{stamp}'" + STOPPED
    )
    assert hubspot.request_count <= 6


def test_association_pages_that_repeat_their_cursor_stop_the_read(hubspot):
    deal = hubspot.add("deals", {"dealname": "D"}, created_at=T0, updated_at=T0)
    quote = hubspot.add("quotes", {"hs_status": "DRAFT"}, created_at=T0, updated_at=T0)
    hubspot.associate("quotes", quote, "deals", deal)
    hubspot.loop_paging("repeat")
    with pytest.raises(PagingLoop) as caught:
        HubSpotApi(hubspot_spec(hubspot)).associations("quotes", "deals", [quote])
    assert str(caught.value) == (
        f"HubSpot quotes: the deals associations of quotes/{quote} gave the next-page cursor "
        "'1' a second time" + STOPPED
    )
    asked = [r.body for r in hubspot.request_log if "associations" in r.path]
    assert asked == [{"inputs": [{"id": quote}]}, {"inputs": [{"id": quote, "after": "1"}]}]


def cases(fake: FakeSalesforce, count: int) -> None:
    for n in range(count):
        fake.add_record("Case", {"Status": "New", "CreatedDate": T0 + timedelta(minutes=n)})


@pytest.mark.parametrize(("mode", "what"), [
    ("repeat", "gave the next-page cursor '{locator}' a second time"),
    ("stall", "answered an empty page that still offers the next-page cursor '{locator}'"),
])  # fmt: skip
def test_bulk_result_locators_that_loop_stop_the_stream(salesforce, mode, what):
    cases(salesforce, 10)
    api = salesforce_api(salesforce)
    salesforce.loop_paging(mode)
    pages = api.bulk_rows("SELECT Id, SystemModstamp FROM Case", lambda: None, "Case")
    with pytest.raises(PagingLoop) as caught:
        for _ in pages:
            pass
    assert len(salesforce.bulk_jobs) == 1
    job = next(r.path for r in salesforce.request_log if r.path.endswith("/results"))
    job_id = job.split("/")[-2]
    locator = next(r.query["locator"][0] for r in reversed(salesforce.request_log)
                   if "locator" in r.query) if mode == "repeat" else "MA"  # fmt: skip
    assert str(caught.value) == (
        f"Salesforce Case: the Sforce-Locator of Bulk 2.0 job {job_id}'s results "
        + what.format(locator=locator) + STOPPED
    )
    assert len(salesforce.request_log) <= 8


def test_a_related_rows_query_whose_next_url_repeats_stops_the_stream(salesforce):
    cases(salesforce, 12)
    api = salesforce_api(salesforce)
    salesforce.loop_paging("repeat")
    with pytest.raises(PagingLoop, match=(
        r"^Salesforce CaseHistory: the nextRecordsUrl of a query for related rows gave the "
        r"next-page cursor '/services/data/v\d+\.\d/query/01g\w+-5' a second time;"
    )):  # fmt: skip
        api.query_live("SELECT Id FROM Case", "CaseHistory")
    assert len(salesforce.request_log) <= 4


def test_a_query_page_that_says_more_but_gives_no_url_is_an_error_not_a_traceback():
    from qmon.connectors.salesforce.wire import next_records_url

    assert next_records_url({"done": True}) is None
    with pytest.raises(SyncError, match="done: false but no nextRecordsUrl"):
        next_records_url({"done": False, "records": []})


# --- the check itself


def test_a_cycle_over_several_pages_is_caught_not_only_a_repeat_of_the_last():
    trail = PageTrail("HubSpot", "deals", "the list")
    assert trail.follow("A", records=1) == "A"
    assert trail.follow("B", records=1) == "B"
    with pytest.raises(PagingLoop, match="gave the next-page cursor 'A' a second time"):
        trail.follow("A", records=1)
    assert PageTrail("HubSpot", "deals", "the list").follow(None, records=0) is None


def test_a_cursor_is_shown_without_secrets_quoted_and_cut_short():
    trail = PageTrail("HubSpot", "deals", "the list", lambda t: t.replace("pat-secret", "***"))
    with pytest.raises(PagingLoop) as caught:
        trail.follow("x" * 50 + "pat-secret\n" + "y" * 500, records=0)
    message = str(caught.value)
    assert "pat-secret" not in message and "\n" not in message
    assert f"'{'x' * 50}***\\n{'y' * 26}...'" in message


def test_a_keyset_must_move_strictly_forward():
    trail = PageTrail("Salesforce", "Case", "the keyset")
    trail.advance(5)
    trail.advance(6)
    with pytest.raises(PagingLoop, match="would start at '6', not past '6'"):
        trail.advance(6)
