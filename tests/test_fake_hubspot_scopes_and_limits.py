"""What FakeHubSpot gained for the connector: scopes (403), the daily limit and its headers,
and faults aimed at one kind of request. Through the real hubspot-api-client, as the rest of
tests/test_fake_hubspot.py does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsError
from hubspot.crm.objects.exceptions import ApiException

from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SEARCH = {"limit": 10}


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


def test_a_missing_scope_is_403_missing_scopes_naming_it(fake: FakeHubSpot) -> None:
    fake.granted_scopes = {"crm.objects.contacts.read"}
    client = fake.client()
    with pytest.raises(ApiException) as caught:
        client.crm.objects.search_api.do_search("feedback_submissions", SEARCH)
    assert caught.value.status == 403
    body = json.loads(caught.value.body)
    assert body["category"] == "MISSING_SCOPES"
    assert body["message"].startswith("This app hasn't been granted all required scopes")
    assert body["errors"] == [{
        "message": "One or more of the following scopes are required.",
        "context": {"requiredGranularScopes": ["crm.objects.feedback_submissions.read"]},
    }]  # fmt: skip
    assert body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}
    # Engagements need only the contacts scope; account info needs none.
    client.crm.objects.search_api.do_search("notes", SEARCH)
    fake.granted_scopes = set()
    assert client.crm.objects.basic_api.api_client.call_api(
        "/account-info/v3/details", "GET", auth_settings=["oauth2"], _preload_content=False
    ).status == 200


def test_associations_need_the_scopes_of_both_types(fake: FakeHubSpot) -> None:
    fake.granted_scopes = {"crm.objects.contacts.read"}
    with pytest.raises(AssociationsError) as caught:
        fake.client().crm.associations.v4.batch_api.get_page("emails", "tickets",
                                                             {"inputs": [{"id": "1"}]})  # fmt: skip
    assert caught.value.status == 403
    assert json.loads(caught.value.body)["errors"][0]["context"] == {
        "requiredGranularScopes": ["tickets"]
    }


def test_the_daily_limit_shows_in_headers_except_on_search_and_ends_in_429(
    fake: FakeHubSpot,
) -> None:
    fake.daily_limit = 3
    client = fake.client()
    listed = client.crm.objects.basic_api.get_page("deals", _preload_content=False)
    assert listed.headers["X-HubSpot-RateLimit-Daily"] == "3"
    assert listed.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "2"
    searched = client.crm.objects.search_api.do_search("deals", SEARCH, _preload_content=False)
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in searched.headers
    listed = client.crm.objects.basic_api.get_page("deals", _preload_content=False)
    assert listed.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    with pytest.raises(ApiException) as caught:
        client.crm.objects.basic_api.get_page("deals")
    assert caught.value.status == 429
    assert json.loads(caught.value.body)["policyName"] == "DAILY"
    fake.reset_daily_usage()
    client.crm.objects.basic_api.get_page("deals")


def test_faults_can_be_aimed_at_one_kind_of_request(fake: FakeHubSpot) -> None:
    client = fake.client()
    fake.fail_next(1, 502, path="/search")
    fake.fail_next(1, 503, path="archived=True")
    client.crm.objects.basic_api.get_page("deals")  # not aimed at: passes
    with pytest.raises(ApiException) as caught:
        client.crm.objects.basic_api.get_page("deals", archived=True)
    assert caught.value.status == 503
    with pytest.raises(ApiException) as caught:
        client.crm.objects.search_api.do_search("deals", SEARCH)
    assert caught.value.status == 502
    assert [r.status for r in fake.request_log] == [200, 503, 502]
