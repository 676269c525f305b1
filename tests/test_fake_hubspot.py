"""The wire contract the HubSpot connector relies on, pinned with the real hubspot-api-client.

Each test drives ``hubspot-api-client`` 12 against :class:`tests.fakes.hubspot.FakeHubSpot`
over a real socket on 127.0.0.1, so what is asserted is what the library actually sends and
reads: paths and query strings, ``paging.next.after``, ``propertiesWithHistory``, the search
body, the exception class and headers for each status, and what urllib3's retry does with a
429. When the connector is written, these tests are the list of behaviours it may assume; when
the fake changes, they say what moved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.objects import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.objects.exceptions import (
    ApiException,
    NotFoundException,
    ServiceException,
    UnauthorizedException,
)
from urllib3.util.retry import Retry

from tests.fakes.hubspot import (
    OBJECT_TYPES,
    SEARCH_RESULT_CAP,
    FakeHubSpot,
    hubspot_datetime,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ms(moment: datetime) -> str:
    """Epoch milliseconds as a string: the form HubSpot's guides use in date filters."""
    return str(int(moment.timestamp() * 1000))


def modified_since(since: datetime, *, until: datetime | None = None, limit: int = 100,
                   after: str | None = None, properties: list[str] | None = None,
                   direction: str = "ASCENDING") -> PublicObjectSearchRequest:
    """The incremental-sync query: ``hs_lastmodifieddate`` window, oldest first."""
    filters = [Filter(property_name="hs_lastmodifieddate", operator="GTE", value=ms(since))]
    if until is not None:
        filters.append(Filter(property_name="hs_lastmodifieddate", operator="LT",
                              value=ms(until)))
    return PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=filters)],
        # v12 types ``sorts`` as list[str]; the guide's object form passes through unchanged.
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": direction}],
        properties=properties or ["dealname", "dealstage"],
        limit=limit,
        after=after,
    )


def error_body(error: ApiException) -> dict[str, Any]:
    return json.loads(error.body)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    """A portal without a search rate limit; the rate-limit tests build their own."""
    with FakeHubSpot(search_rate_limit=None) as server:
        yield server


@pytest.fixture
def client(fake: FakeHubSpot) -> HubSpot:
    """The real client, pointed at the fake exactly as the connector will point it."""
    return HubSpot(access_token=fake.access_token, host=fake.base_url)


def add_deal(fake: FakeHubSpot, minutes: int, **properties: object) -> str:
    """A deal created at START and last modified ``minutes`` later."""
    return fake.add("deals", {"dealname": f"deal {minutes}", "dealstage": "appointmentscheduled",
                              **properties},
                    created_at=START, updated_at=START + timedelta(minutes=minutes))


# --- pointing the client at the fake -----------------------------------------------------------


def test_the_host_keyword_sends_every_api_to_the_fake(fake: FakeHubSpot,
                                                      client: HubSpot) -> None:
    """``HubSpot(host=...)`` reaches each generated Configuration, so nothing goes to hubapi."""
    for api in (client.crm.objects.basic_api, client.crm.objects.search_api,
                client.crm.deals.basic_api, client.crm.objects.calls.search_api):
        assert api.api_client.configuration.host == fake.base_url

    client.crm.deals.basic_api.get_page(limit=1)

    [request] = fake.request_log
    assert (request.method, request.path, request.status) == ("GET", "/crm/v3/objects/deals", 200)
    assert request.token == fake.access_token


def test_every_synced_object_type_is_listed_and_searched_under_crm_v3(
        fake: FakeHubSpot, client: HubSpot) -> None:
    ids = {t: fake.add(t, {"hs_note_body": "x"} if t == "notes" else {},
                       created_at=START, updated_at=START) for t in OBJECT_TYPES}

    for object_type in OBJECT_TYPES:
        page = client.crm.objects.basic_api.get_page(object_type)
        found = client.crm.objects.search_api.do_search(object_type, modified_since(START))
        assert [o.id for o in page.results] == [ids[object_type]]
        assert [o.id for o in found.results] == [ids[object_type]]

    paths = {r.path for r in fake.request_log}
    assert "/crm/v3/objects/feedback_submissions/search" in paths
    assert "/crm/v3/objects/calls" in paths


# --- list and get -----------------------------------------------------------------------------


def test_list_pages_with_after_until_paging_disappears(fake: FakeHubSpot,
                                                       client: HubSpot) -> None:
    ids = [add_deal(fake, minutes) for minutes in range(25)]

    seen: list[str] = []
    after: str | None = None
    while True:
        page = client.crm.objects.basic_api.get_page("deals", limit=10, after=after)
        seen.extend(o.id for o in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
        assert page.paging.next.link.startswith(f"{fake.base_url}/crm/v3/objects/deals?")

    assert seen == ids
    sent = [r.query for r in fake.request_log]
    assert [q.get("after") for q in sent] == [None, [ids[10]], [ids[20]]]
    assert all(q["limit"] == ["10"] for q in sent)


def test_list_defaults_to_ten_objects_and_the_default_deal_properties(
        fake: FakeHubSpot, client: HubSpot) -> None:
    for minutes in range(12):
        add_deal(fake, minutes, amount=1000 + minutes, hs_priority="high")

    page = client.crm.objects.basic_api.get_page("deals")

    assert len(page.results) == 10
    first = page.results[0]
    # Default properties from the objects spec, plus id / create / modify dates; values are
    # strings even when the test gave ints; hs_priority is not a default so it is left out.
    assert first.properties == {
        "dealname": "deal 0", "dealstage": "appointmentscheduled", "amount": "1000",
        "hs_object_id": first.id, "createdate": hubspot_datetime(START),
        "hs_lastmodifieddate": hubspot_datetime(START),
    }
    assert first.created_at == START and first.updated_at == START
    assert first.archived is False


def test_list_properties_are_sent_repeated_and_unknown_ones_ignored(
        fake: FakeHubSpot, client: HubSpot) -> None:
    add_deal(fake, 1, amount=5)

    page = client.crm.objects.basic_api.get_page("deals", properties=["amount", "no_such"])

    assert fake.request_log[0].query["properties"] == ["amount", "no_such"]
    assert set(page.results[0].properties) == {"amount", "hs_object_id", "createdate",
                                               "hs_lastmodifieddate"}


def test_get_by_id_returns_dealstage_history_newest_first(fake: FakeHubSpot,
                                                          client: HubSpot) -> None:
    deal = fake.add(
        "deals", {"dealname": "Renewal"}, created_at=START,
        updated_at=START + timedelta(days=3),
        history={"dealstage": [
            {"value": "closedwon", "timestamp": START + timedelta(days=3),
             "sourceType": "CRM_UI", "sourceId": "userId:101"},
            {"value": "contractsent", "timestamp": START + timedelta(days=1),
             "sourceType": "AUTOMATION_PLATFORM", "sourceId": "enrollmentId:7"},
            {"value": "appointmentscheduled", "timestamp": START, "sourceType": "API"},
        ]},
    )

    result = client.crm.objects.basic_api.get_by_id(
        "deals", deal, properties=["dealstage"], properties_with_history=["dealstage"])

    assert fake.request_log[0].path == f"/crm/v3/objects/deals/{deal}"
    assert fake.request_log[0].query["propertiesWithHistory"] == ["dealstage"]
    assert result.properties["dealstage"] == "closedwon"
    history = result.properties_with_history["dealstage"]
    assert [(h.value, h.timestamp, h.source_type, h.source_id) for h in history] == [
        ("closedwon", START + timedelta(days=3), "CRM_UI", "userId:101"),
        ("contractsent", START + timedelta(days=1), "AUTOMATION_PLATFORM", "enrollmentId:7"),
        ("appointmentscheduled", START, "API", None),
    ]


def test_an_update_moves_the_stamp_and_prepends_history(fake: FakeHubSpot,
                                                        client: HubSpot) -> None:
    deal = add_deal(fake, 0)
    moved = START + timedelta(hours=5)

    fake.update("deals", deal, {"dealstage": "qualifiedtobuy"}, updated_at=moved,
                source_type="INTEGRATION", source_id="app:42")
    result = client.crm.objects.basic_api.get_by_id("deals", deal,
                                                    properties_with_history=["dealstage"])

    assert result.updated_at == moved
    assert result.properties["hs_lastmodifieddate"] == hubspot_datetime(moved)
    assert [(h.value, h.source_type) for h in result.properties_with_history["dealstage"]] == [
        ("qualifiedtobuy", "INTEGRATION"), ("appointmentscheduled", "CRM_UI"),
    ]


def test_get_by_id_of_a_missing_object_is_not_found(fake: FakeHubSpot,
                                                    client: HubSpot) -> None:
    with pytest.raises(NotFoundException) as caught:
        client.crm.objects.basic_api.get_by_id("deals", "999999")

    assert caught.value.status == 404
    assert error_body(caught.value)["status"] == "error"


def test_unknown_object_type_is_a_validation_error(fake: FakeHubSpot, client: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        client.crm.objects.basic_api.get_page("widgets")

    assert caught.value.status == 400
    assert error_body(caught.value)["category"] == "VALIDATION_ERROR"


# --- archived objects -------------------------------------------------------------------------


def test_archived_objects_show_only_with_archived_true(fake: FakeHubSpot,
                                                       client: HubSpot) -> None:
    kept, gone = add_deal(fake, 1), add_deal(fake, 2)
    fake.archive("deals", gone, archived_at=START + timedelta(days=1))

    live = client.crm.objects.basic_api.get_page("deals")
    binned = client.crm.objects.basic_api.get_page("deals", archived=True)
    found = client.crm.objects.search_api.do_search("deals", modified_since(START))

    assert [o.id for o in live.results] == [kept]
    assert [(o.id, o.archived, o.archived_at) for o in binned.results] == [
        (gone, True, START + timedelta(days=1)),
    ]
    assert [o.id for o in found.results] == [kept]  # search never returns archived objects
    # The client sends Python's spelling of booleans; HubSpot (and the fake) read it.
    assert fake.request_log[1].query["archived"] == ["True"]


def test_get_by_id_of_an_archived_object_needs_archived_true(fake: FakeHubSpot,
                                                             client: HubSpot) -> None:
    deal = add_deal(fake, 1)
    fake.archive("deals", deal, archived_at=START + timedelta(days=1))

    with pytest.raises(NotFoundException):
        client.crm.objects.basic_api.get_by_id("deals", deal)
    result = client.crm.objects.basic_api.get_by_id("deals", deal, archived=True)

    assert result.archived is True


# --- search -----------------------------------------------------------------------------------


def test_search_filters_a_modified_window_and_sorts(fake: FakeHubSpot, client: HubSpot) -> None:
    ids = {minutes: add_deal(fake, minutes) for minutes in (5, 0, 30, 10, 20)}

    window = modified_since(START + timedelta(minutes=5), until=START + timedelta(minutes=30))
    result = client.crm.objects.search_api.do_search("deals", window)

    assert result.total == 3
    assert result.paging is None
    assert [o.id for o in result.results] == [ids[5], ids[10], ids[20]]
    assert set(result.results[0].properties) == {"dealname", "dealstage", "hs_object_id",
                                                 "createdate", "hs_lastmodifieddate"}
    [request] = fake.request_log
    assert request.path == "/crm/v3/objects/deals/search"
    assert request.body["filterGroups"][0]["filters"][0] == {
        "propertyName": "hs_lastmodifieddate", "operator": "GTE",
        "value": ms(START + timedelta(minutes=5)),
    }
    assert request.body["sorts"] == [{"propertyName": "hs_lastmodifieddate",
                                      "direction": "ASCENDING"}]

    newest_first = client.crm.objects.search_api.do_search(
        "deals", modified_since(START, direction="DESCENDING"))
    assert [o.id for o in newest_first.results] == [ids[m] for m in (30, 20, 10, 5, 0)]


def test_search_reads_iso_dates_createdate_and_hs_object_id(fake: FakeHubSpot,
                                                           client: HubSpot) -> None:
    early = fake.add("deals", {"dealname": "early"}, created_at=START, updated_at=START)
    late = fake.add("deals", {"dealname": "late"}, created_at=START + timedelta(days=2),
                    updated_at=START + timedelta(days=2))

    def search(*filters: Filter) -> list[str]:
        request = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=list(filters))])
        return [o.id for o in client.crm.objects.search_api.do_search("deals", request).results]

    day_one = hubspot_datetime(START + timedelta(days=1))
    assert search(Filter(property_name="createdate", operator="GT", value=day_one)) == [late]
    assert search(Filter(property_name="createdate", operator="LTE", value=day_one)) == [early]
    assert search(Filter(property_name="hs_object_id", operator="GT", value=early)) == [late]
    assert search(Filter(property_name="hs_object_id", operator="EQ", value=early)) == [early]
    assert search(Filter(property_name="dealname", operator="EQ", value="LATE")) == [late]


def test_search_pages_with_a_numeric_offset_and_reports_the_total(fake: FakeHubSpot,
                                                                 client: HubSpot) -> None:
    ids = [add_deal(fake, minutes) for minutes in range(7)]

    first = client.crm.objects.search_api.do_search("deals", modified_since(START, limit=3))
    second = client.crm.objects.search_api.do_search(
        "deals", modified_since(START, limit=3, after=first.paging.next.after))

    assert first.total == second.total == 7
    assert first.paging.next.after == "3"
    assert [o.id for o in first.results + second.results] == ids[:6]
    assert second.paging.next.after == "6"


def test_search_limit_is_capped_at_200(fake: FakeHubSpot, client: HubSpot) -> None:
    for minutes in range(210):
        add_deal(fake, minutes)

    result = client.crm.objects.search_api.do_search("deals", modified_since(START, limit=500))

    assert len(result.results) == 200
    assert result.paging.next.after == "200"


def test_search_refuses_to_page_beyond_10000_results(fake: FakeHubSpot,
                                                     client: HubSpot) -> None:
    """The 10k cap: paging.next.after still says "10000", but following it is a 400.

    The walk uses ``_preload_content=False`` (the client's own URL, body and transport, minus
    building ~10,000 model objects, which alone costs seconds); the calls at the edge go
    through the ordinary typed path.
    """
    total = SEARCH_RESULT_CAP + 50
    for n in range(total):
        fake.add("deals", {"dealname": f"d{n}"}, created_at=START,
                 updated_at=START + timedelta(seconds=n))
    search = client.crm.objects.search_api

    seen: list[str] = []
    after: str | None = None
    while True:
        request = modified_since(START, limit=200, after=after, properties=["dealname"])
        response = search.do_search("deals", request, _preload_content=False)
        page = json.loads(response.data)
        seen.extend(o["id"] for o in page["results"])
        after = page["paging"]["next"]["after"]
        if int(after) + 200 > SEARCH_RESULT_CAP:
            break
    assert len(seen) == SEARCH_RESULT_CAP and page["total"] == total
    assert after == str(SEARCH_RESULT_CAP)

    with pytest.raises(ApiException) as caught:
        search.do_search("deals", modified_since(START, limit=200, after=after))
    assert caught.value.status == 400
    assert error_body(caught.value)["category"] == "VALIDATION_ERROR"
    assert fake.request_log[-1].status == 400

    # The way out: a fresh query that starts after the last object seen (by id here; by
    # hs_lastmodifieddate works too when stamps are distinct).
    rest = search.do_search("deals", PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[
            Filter(property_name="hs_object_id", operator="GT", value=seen[-1])])],
        sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}], limit=200))
    assert rest.total == 50 and rest.paging is None
    assert len(set(seen) | {o.id for o in rest.results}) == total


def test_search_rejects_unsupported_and_malformed_requests(fake: FakeHubSpot,
                                                           client: HubSpot) -> None:
    too_many_groups = PublicObjectSearchRequest(filter_groups=[
        FilterGroup(filters=[Filter(property_name="hs_object_id", operator="GT", value="1")])
        for _ in range(6)])

    for request in (too_many_groups, PublicObjectSearchRequest(query="acme")):
        with pytest.raises(ApiException) as caught:
            client.crm.objects.search_api.do_search("deals", request)
        assert caught.value.status == 400
        assert error_body(caught.value)["category"] == "VALIDATION_ERROR"


# --- authentication ---------------------------------------------------------------------------


def test_a_wrong_token_is_401_invalid_authentication(fake: FakeHubSpot) -> None:
    wrong = HubSpot(access_token="pat-na1-wrong", host=fake.base_url)

    with pytest.raises(UnauthorizedException) as caught:
        wrong.crm.objects.basic_api.get_page("deals")

    assert caught.value.status == 401
    body = error_body(caught.value)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["status"] == "error" and body["correlationId"]
    assert caught.value.headers["x-hubspot-correlation-id"] == body["correlationId"]


def test_a_missing_token_is_401_too(fake: FakeHubSpot) -> None:
    anonymous = HubSpot(host=fake.base_url)  # no access_token: no Authorization header

    with pytest.raises(UnauthorizedException):
        anonymous.crm.objects.search_api.do_search("deals", PublicObjectSearchRequest())

    assert fake.request_log[0].token is None


def test_a_revoked_token_stops_working(fake: FakeHubSpot, client: HubSpot) -> None:
    client.crm.objects.basic_api.get_page("deals")
    fake.revoke_token(fake.access_token)

    with pytest.raises(UnauthorizedException):
        client.crm.objects.basic_api.get_page("deals")


# --- rate limits ------------------------------------------------------------------------------


def test_search_over_the_rate_limit_raises_api_exception_429_with_retry_after() -> None:
    # A long window and a limit of 2 make the third search fail deterministically.
    with FakeHubSpot(search_rate_limit=2, search_rate_window=60) as fake:
        client = fake.client()
        for _ in range(2):
            client.crm.objects.search_api.do_search("deals", modified_since(START))

        with pytest.raises(ApiException) as caught:
            client.crm.objects.search_api.do_search("deals", modified_since(START))

        error = caught.value
        assert type(error) is ApiException and error.status == 429
        assert 1 <= int(error.headers["Retry-After"]) <= 60
        body = error_body(error)
        assert body["category"] == "RATE_LIMITS"
        assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "SECONDLY"
        assert body["message"] == "You have reached your secondly limit."
        # urllib3 does not retry POST by default, so the client made exactly three calls.
        assert fake.request_count == 3 and fake.rate_limited_count == 1
        # Listing is not a search: it does not count against the search limit.
        client.crm.objects.basic_api.get_page("deals")


def test_the_search_limit_is_per_token_and_frees_up_after_the_window() -> None:
    with FakeHubSpot(search_rate_limit=1, search_rate_window=0.2) as fake:
        fake.add_token("second-token")
        first, second = fake.client(), fake.client(access_token="second-token")
        first.crm.objects.search_api.do_search("deals", modified_since(START))
        second.crm.objects.search_api.do_search("deals", modified_since(START))
        with pytest.raises(ApiException):
            first.crm.objects.search_api.do_search("deals", modified_since(START))

        time.sleep(0.25)
        first.crm.objects.search_api.do_search("deals", modified_since(START))

        assert [r.status for r in fake.request_log] == [200, 200, 429, 200]


def test_a_retry_covering_post_rides_out_injected_429s(fake: FakeHubSpot) -> None:
    retry = Retry(total=3, allowed_methods=None, status_forcelist=(429, 500, 502, 503, 504),
                  backoff_factor=0)
    fake.fail_next(2, 429, retry_after=0)

    fake.client(retry=retry).crm.objects.search_api.do_search("deals", modified_since(START))

    assert [r.status for r in fake.request_log] == [429, 429, 200]


def test_the_computed_retry_after_is_long_enough_for_a_retrying_client() -> None:
    """Retry-After is the wait until the window frees a slot (rounded up to whole seconds).

    This is the one slow test (about a second): it shows that honouring the header is
    enough, where ``Retry-After: 0`` would send the retries straight back into a full window.
    """
    retry = Retry(total=2, allowed_methods=None, status_forcelist=(429,), backoff_factor=0)
    with FakeHubSpot(search_rate_limit=1, search_rate_window=0.5) as fake:
        client = fake.client(retry=retry)
        client.crm.objects.search_api.do_search("deals", modified_since(START))
        started = time.monotonic()

        client.crm.objects.search_api.do_search("deals", modified_since(START))

        assert time.monotonic() - started >= 0.9
        assert [r.status for r in fake.request_log] == [200, 429, 200]


def test_the_general_limit_is_separate_and_off_by_default() -> None:
    with FakeHubSpot(general_rate_limit=2, general_rate_window=60, retry_after=0) as fake:
        client = fake.client(retry=Retry(0))
        client.crm.objects.basic_api.get_page("deals")
        client.crm.objects.basic_api.get_page("deals")
        with pytest.raises(ApiException) as caught:
            client.crm.objects.basic_api.get_page("deals")

        assert caught.value.status == 429
        assert error_body(caught.value)["policyName"] == "TEN_SECONDLY_ROLLING"
        client.crm.objects.search_api.do_search("deals", modified_since(START))


# --- injected faults and what the client's retry does with them ------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_5xx_raise_service_exception(fake: FakeHubSpot, client: HubSpot,
                                              status: int) -> None:
    fake.fail_next(1, status)

    with pytest.raises(ServiceException) as caught:
        client.crm.objects.search_api.do_search("deals", modified_since(START))

    assert caught.value.status == status
    assert error_body(caught.value)["status"] == "error"
    client.crm.objects.search_api.do_search("deals", modified_since(START))  # fault used up


def test_the_default_client_silently_retries_get_on_429_with_retry_after(
        fake: FakeHubSpot, client: HubSpot) -> None:
    """urllib3's default Retry(3) honours Retry-After on 413/429/503 for GET, not for POST."""
    add_deal(fake, 0)
    fake.fail_next(1, 429, retry_after=0)
    fake.fail_next(1, 503, retry_after=0)

    page = client.crm.objects.basic_api.get_page("deals")

    assert len(page.results) == 1
    assert [r.status for r in fake.request_log] == [429, 503, 200]
    assert fake.rate_limited_count == 1

    fake.fail_next(1, 429, retry_after=0)
    with pytest.raises(ApiException) as caught:
        client.crm.objects.search_api.do_search("deals", modified_since(START))
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "0"


def test_a_5xx_without_retry_after_is_not_retried_by_default(fake: FakeHubSpot,
                                                             client: HubSpot) -> None:
    fake.fail_next(1, 503)

    with pytest.raises(ServiceException):
        client.crm.objects.basic_api.get_page("deals")

    assert fake.request_count == 1


def test_exhausted_retries_surface_as_urllib3_max_retry_error(fake: FakeHubSpot) -> None:
    """Not an ApiException -- unless ``raise_on_status=False`` hands back the last response."""
    retry = Retry(total=2, allowed_methods=None, status_forcelist=(502,), backoff_factor=0)
    fake.fail_next(3, 502)

    with pytest.raises(urllib3.exceptions.MaxRetryError):
        fake.client(retry=retry).crm.objects.search_api.do_search("deals",
                                                                  modified_since(START))
    assert [r.status for r in fake.request_log] == [502, 502, 502]

    fake.fail_next(3, 502)
    with pytest.raises(ServiceException) as caught:
        fake.client(retry=retry.new(raise_on_status=False)).crm.objects.search_api.do_search(
            "deals", modified_since(START))
    assert caught.value.status == 502


# --- the fake's own bookkeeping ---------------------------------------------------------------


def test_request_log_records_method_path_query_body_and_status(fake: FakeHubSpot,
                                                              client: HubSpot) -> None:
    client.crm.objects.basic_api.get_page("tickets", limit=3)
    client.crm.objects.search_api.do_search("tickets", PublicObjectSearchRequest(limit=2))

    listed, searched = fake.request_log
    assert (listed.method, listed.path, listed.query, listed.body, listed.status) == (
        "GET", "/crm/v3/objects/tickets", {"limit": ["3"]}, None, 200)
    assert (searched.method, searched.body, searched.status) == ("POST", {"limit": 2}, 200)
    fake.clear_request_log()
    assert fake.request_count == 0 and fake.request_log == []


def test_seeding_rejects_mistakes_in_the_test_itself(fake: FakeHubSpot) -> None:
    with pytest.raises(ValueError, match="naive"):
        fake.add("deals", {}, created_at=START.replace(tzinfo=None), updated_at=START)
    with pytest.raises(ValueError, match="unknown object type"):
        fake.add("contacts", {}, created_at=START, updated_at=START)
    with pytest.raises(ValueError, match="newest first"):
        fake.add("deals", {}, created_at=START, updated_at=START, history={"dealstage": [
            {"value": "a", "timestamp": START},
            {"value": "b", "timestamp": START + timedelta(days=1)}]})
    with pytest.raises(ValueError, match="newest history entry"):
        fake.add("deals", {"dealstage": "b"}, created_at=START, updated_at=START,
                 history={"dealstage": [{"value": "a", "timestamp": START}]})


# --- batch read, associations, account info ---------------------------------------------------


def test_batch_read_returns_histories_and_reports_missing_ids(fake: FakeHubSpot,
                                                              client: HubSpot) -> None:
    deal = add_deal(fake, 0, dealstage="qualifiedtobuy")
    answer = client.crm.objects.batch_api.read(
        "deals", {"inputs": [{"id": deal}, {"id": "424242"}], "properties": ["dealstage"],
                  "propertiesWithHistory": ["dealstage"]}, _preload_content=False)
    assert answer.status == 207
    body = json.loads(answer.data)
    assert body["status"] == "COMPLETE"
    [found] = body["results"]
    assert found["id"] == deal
    assert found["propertiesWithHistory"]["dealstage"][0]["value"] == "qualifiedtobuy"
    assert body["errors"][0]["context"]["ids"] == ["424242"]


def test_v4_associations_batch_read(fake: FakeHubSpot, client: HubSpot) -> None:
    deal = add_deal(fake, 0)
    quote = fake.add("quotes", {}, created_at=START, updated_at=START)
    lonely = fake.add("quotes", {}, created_at=START, updated_at=START)
    fake.associate("quotes", quote, "deals", deal)
    answer = client.crm.associations.v4.batch_api.get_page(
        "quotes", "deals", {"inputs": [{"id": quote}, {"id": lonely}]}, _preload_content=False)
    results = json.loads(answer.data)["results"]
    kind = {"category": "HUBSPOT_DEFINED", "typeId": 64, "label": None}
    assert results == [
        {"from": {"id": quote}, "to": [{"toObjectId": int(deal), "associationTypes": [kind]}]}
    ]
    back = client.crm.associations.v4.batch_api.get_page(
        "deals", "quotes", {"inputs": [{"id": deal}]}, _preload_content=False)
    assert json.loads(back.data)["results"][0]["to"][0]["toObjectId"] == int(quote)


def test_account_info_through_the_generated_client(fake: FakeHubSpot, client: HubSpot) -> None:
    api_client = client.crm.objects.basic_api.api_client
    answer = api_client.call_api("/account-info/v3/details", "GET", auth_settings=["oauth2"],
                                 header_params={"Accept": "application/json"},
                                 _preload_content=False)
    assert json.loads(answer.data)["portalId"] == fake.portal_id
