"""Every answer of the fake HubSpot carries the fields HubSpot's OpenAPI specs mark required.

The list below is written by hand from ``HubSpot/HubSpot-public-api-spec-collection``
(``PublicApiSpecs/Account/Account Info/Rollouts/144923/v3/accountInfo.json``,
``PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json``,
``PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json``): per schema, its
``required`` fields, and which fields hold further schemas. It is not a copy of the specs; it
is what the fake must keep giving, so that a connector tested against it does not lean on an
answer HubSpot never sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import urllib3

from tests.fakes.hubspot import FakeHubSpot

#: schema -> (required fields, {field: (shape, schema)}); shape is "one", "list" or
#: "map of lists" (``propertiesWithHistory``: property name -> entries).
SCHEMAS: dict[str, tuple[set[str], dict[str, tuple[str, str]]]] = {
    "PortalInformationResponse": ({
        "accountType", "additionalCurrencies", "companyCurrency", "dataHostingLocation",
        "portalId", "timeZone", "uiDomain", "utcOffset", "utcOffsetMilliseconds"}, {}),
    "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging": (
        {"results"},
        {"results": ("list", "SimplePublicObjectWithAssociations"),
         "paging": ("one", "ForwardPaging")}),
    "CollectionResponseWithTotalSimplePublicObjectForwardPaging": (
        {"results", "total"},
        {"results": ("list", "SimplePublicObject"), "paging": ("one", "ForwardPaging")}),
    "ForwardPaging": (set(), {"next": ("one", "NextPage")}),
    "NextPage": ({"after"}, {}),
    "SimplePublicObject": (
        {"archived", "createdAt", "id", "properties", "updatedAt"},
        {"propertiesWithHistory": ("map of lists", "ValueWithTimestamp")}),
    "SimplePublicObjectWithAssociations": (
        {"archived", "createdAt", "id", "properties", "updatedAt"},
        {"propertiesWithHistory": ("map of lists", "ValueWithTimestamp")}),
    "ValueWithTimestamp": ({"sourceType", "timestamp", "value"}, {}),
    "BatchResponseSimplePublicObject": (
        {"completedAt", "results", "startedAt", "status"},
        {"results": ("list", "SimplePublicObject")}),
    "BatchResponseSimplePublicObjectWithErrors": (
        {"completedAt", "results", "startedAt", "status"},
        {"results": ("list", "SimplePublicObject"), "errors": ("list", "StandardError")}),
    "StandardError": (
        {"category", "context", "errors", "links", "message", "status"},
        {"errors": ("list", "ErrorDetail")}),
    "ErrorDetail": ({"message"}, {}),
    "BatchResponsePublicAssociationMultiWithLabel": (
        {"completedAt", "results", "startedAt", "status"},
        {"results": ("list", "PublicAssociationMultiWithLabel")}),
    "PublicAssociationMultiWithLabel": (
        {"from", "to"},
        {"from": ("one", "PublicObjectId"), "to": ("list", "MultiAssociatedObjectWithLabel"),
         "paging": ("one", "ForwardPaging")}),
    "PublicObjectId": ({"id"}, {}),
    "MultiAssociatedObjectWithLabel": (
        {"associationTypes", "toObjectId"},
        {"associationTypes": ("list", "AssociationSpecWithLabel")}),
    "AssociationSpecWithLabel": ({"category", "typeId"}, {}),
    "Error": ({"category", "correlationId", "message"}, {"errors": ("list", "ErrorDetail")}),
}
ACCOUNT_TYPES = {"APP_DEVELOPER", "DEVELOPER_TEST", "SANDBOX", "STANDARD"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def missing(schema: str, value: Any, where: str = "$") -> Iterator[str]:
    """Where `value` lacks a field `schema` requires, as JSON paths."""
    required, nested = SCHEMAS[schema]
    if not isinstance(value, dict):
        yield f"{where}: not an object ({schema})"
        return
    yield from (f"{where}.{name} ({schema})" for name in sorted(required - value.keys()))
    for name, (shape, inner) in nested.items():
        if name not in value:
            continue
        if shape == "one":
            yield from missing(inner, value[name], f"{where}.{name}")
        elif shape == "list":
            for n, item in enumerate(value[name]):
                yield from missing(inner, item, f"{where}.{name}[{n}]")
        else:
            for key, items in value[name].items():
                for n, item in enumerate(items):
                    yield from missing(inner, item, f"{where}.{name}.{key}[{n}]")


@pytest.fixture()
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(retry_after=0) as fake:
        deal = fake.add("deals", {"dealname": "Big deal", "dealstage": "appointmentscheduled"},
                        created_at=T0, updated_at=T0)
        quote = fake.add("quotes", {"hs_status": "DRAFT"}, created_at=T0, updated_at=T0)
        fake.associate("quotes", quote, "deals", deal)
        gone = fake.add("deals", {"dealname": "Lost"}, created_at=T0, updated_at=T0)
        fake.archive("deals", gone, archived_at=T0)
        for n in range(3):
            fake.add("deals", {"dealname": f"Deal {n}"}, created_at=T0, updated_at=T0)
        fake.deal, fake.quote = deal, quote  # type: ignore[attr-defined]
        yield fake


def call(fake: FakeHubSpot, method: str, path: str, body: Any = None,
         token: str | None = None) -> tuple[int, Any]:
    answer = urllib3.request(
        method, fake.base_url + path, json=body, retries=False,
        headers={"Authorization": f"Bearer {token or fake.access_token}"})
    return answer.status, json.loads(answer.data)


def answers(fake: FakeHubSpot) -> Iterator[tuple[str, str, int, Any]]:
    """(request, schema, status, body) of every kind of answer the connector can get."""
    deal = fake.deal  # type: ignore[attr-defined]
    quote = fake.quote  # type: ignore[attr-defined]
    history = "?propertiesWithHistory=dealstage"
    search = {"filterGroups": [], "limit": 2,
              "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]}
    batch = {"inputs": [{"id": deal}], "properties": ["dealname"],
             "propertiesWithHistory": ["dealstage"]}
    requests = [
        ("GET", "/account-info/v3/details", None, "PortalInformationResponse"),
        ("GET", "/crm/v3/objects/deals?limit=2",
         None, "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"),
        ("GET", "/crm/v3/objects/deals?archived=true",
         None, "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"),
        ("GET", f"/crm/v3/objects/deals/{deal}{history}",
         None, "SimplePublicObjectWithAssociations"),
        ("POST", "/crm/v3/objects/deals/search",
         search, "CollectionResponseWithTotalSimplePublicObjectForwardPaging"),
        ("POST", "/crm/v3/objects/deals/batch/read", batch, "BatchResponseSimplePublicObject"),
        ("POST", "/crm/v3/objects/deals/batch/read",
         {**batch, "inputs": [{"id": deal}, {"id": "999999"}]},
         "BatchResponseSimplePublicObjectWithErrors"),
        ("POST", "/crm/v4/associations/quotes/deals/batch/read",
         {"inputs": [{"id": quote}]}, "BatchResponsePublicAssociationMultiWithLabel"),
        ("GET", "/crm/v3/objects/deals/999999", None, "Error"),
        ("GET", "/crm/v3/objects/unicorns", None, "Error"),
        ("GET", "/crm/v9/nothing", None, "Error"),
        ("DELETE", "/crm/v3/objects/deals", None, "Error"),
        ("POST", "/crm/v3/objects/deals/search", {"limit": 0}, "Error"),
    ]
    for method, path, body, schema in requests:
        status, answer = call(fake, method, path, body)
        yield f"{method} {path}", schema, status, answer
    yield ("wrong token", "Error", *call(fake, "GET", "/crm/v3/objects/deals", token="pat-x"))
    fake.fail_next(1, 503)
    yield ("injected 503", "Error", *call(fake, "GET", "/crm/v3/objects/deals"))
    fake.fail_next(1, 429)
    yield ("injected 429", "Error", *call(fake, "GET", "/crm/v3/objects/deals"))
    fake.granted_scopes = set()
    yield ("missing scopes", "Error", *call(fake, "GET", "/crm/v3/objects/deals"))


def test_every_answer_has_the_fields_the_spec_requires(fake: FakeHubSpot) -> None:
    seen = {}
    problems = []
    for request, schema, status, body in answers(fake):
        seen[request] = status
        problems.extend(f"{request} (HTTP {status}): {where}" for where in missing(schema, body))
    assert problems == []
    # Each request got the kind of answer it was meant to check.
    assert seen["POST /crm/v3/objects/deals/batch/read"] == 207  # the last one, with errors
    assert seen["GET /crm/v3/objects/deals/999999"] == seen["GET /crm/v9/nothing"] == 404
    assert (seen["wrong token"], seen["injected 503"], seen["injected 429"],
            seen["missing scopes"]) == (401, 503, 429, 403)  # fmt: skip


def test_account_info_names_a_documented_account_type(fake: FakeHubSpot) -> None:
    status, body = call(fake, "GET", "/account-info/v3/details")
    assert status == 200 and body["accountType"] in ACCOUNT_TYPES


def test_the_checker_finds_a_missing_required_field() -> None:
    """The check itself: a field left out, also deep inside, is reported with its path."""
    answer = {"status": "COMPLETE", "startedAt": "", "completedAt": "", "results": [
        {"from": {"id": "1"}, "to": [{"toObjectId": "2", "associationTypes": [{"typeId": 4}]}]}]}
    assert list(missing("BatchResponsePublicAssociationMultiWithLabel", answer)) == [
        "$.results[0].to[0].associationTypes[0].category (AssociationSpecWithLabel)"
    ]
    assert list(missing("PortalInformationResponse", {"portalId": 1}))[0] == (
        "$.accountType (PortalInformationResponse)"
    )
