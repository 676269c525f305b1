"""The write endpoints of FakeHubSpot (tests/fakes/hubspot_writes.py), through the real client.

What qmon's writeback will call, each driven by ``hubspot-api-client`` 12 over a real socket,
so that what is pinned is what the library sends and makes of the answer: the model or the
exception class per status (a 207 is *not* an exception: ``batch_api.update`` returns a
``BatchResponseSimplePublicObjectWithErrors``), the bodies of 400/403/404/409/429, and that a
write is seen by the reads the sync uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
)
from hubspot.crm.objects.exceptions import ApiException as ObjectsError
from hubspot.crm.objects.tasks import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObject,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.tasks.exceptions import ApiException as TasksError
from hubspot.crm.objects.tasks.exceptions import NotFoundException as TaskNotFound
from hubspot.crm.properties import (
    ModelProperty,
    OptionInput,
    PropertyCreate,
    PropertyGroup,
    PropertyGroupCreate,
)
from hubspot.crm.properties.exceptions import ApiException as PropertiesError
from hubspot.crm.properties.exceptions import ForbiddenException
from hubspot.crm.properties.exceptions import NotFoundException as PropertyNotFound

from tests.fakes.hubspot import FakeHubSpot, hubspot_datetime
from tests.fakes.hubspot_writes import BATCH_LIMIT_MESSAGE, BATCH_UPDATE_LIMIT

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
DUE = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)

#: The fields the specs mark required in each answer the write side gives (read, not copied,
#: from PublicApiSpecs/CRM/{Properties,Objects}/... of HubSpot-public-api-spec-collection).
REQUIRED: dict[str, set[str]] = {
    "PropertyGroup": {"archived", "displayOrder", "label", "name"},
    "Property": {"description", "fieldType", "groupName", "label", "name", "options", "type"},
    "PropertyModificationMetadata": {"archivable", "readOnlyDefinition", "readOnlyValue"},
    "SimplePublicObject": {"archived", "createdAt", "id", "properties", "updatedAt"},
    "BatchResponseSimplePublicObject": {"completedAt", "results", "startedAt", "status"},
    "StandardError": {"category", "context", "errors", "links", "message", "status"},
    "Error": {"category", "correlationId", "message"},
}


def lacks(schema: str, body: dict[str, Any]) -> set[str]:
    return REQUIRED[schema] - body.keys()


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(search_rate_limit=None) as server:
        server.write_clock = lambda: T1
        yield server


@pytest.fixture
def client(fake: FakeHubSpot) -> HubSpot:
    return fake.client()


def call(fake: FakeHubSpot, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A raw request without retries: for bodies the client's models would refuse to send."""
    answer = urllib3.request(
        method,
        fake.base_url + path,
        json=body,
        retries=False,
        headers={"Authorization": f"Bearer {fake.access_token}"},
    )
    return answer.status, json.loads(answer.data) if answer.data else None


def body_of(error: Exception) -> dict[str, Any]:
    return json.loads(error.body)  # type: ignore[attr-defined]


def add_deal(fake: FakeHubSpot, **properties: object) -> str:
    return fake.add(
        "deals",
        {"dealname": "Big deal", "dealstage": "qualifiedtobuy", **properties},
        created_at=T0,
        updated_at=T0,
    )


def batch(*inputs: tuple[str, dict[str, str]]) -> BatchInputSimplePublicObjectBatchInput:
    return BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in inputs]
    )


def qmon_status(fake: FakeHubSpot, object_type: str = "deals") -> None:
    """The enumeration writeback writes, made through the API in a group of its own."""
    client = fake.client()
    client.crm.properties.groups_api.create(
        object_type, PropertyGroupCreate(name="qmon", label="qmon", display_order=1)
    )
    client.crm.properties.core_api.create(
        object_type,
        PropertyCreate(
            name="qmon_status",
            label="Promise status",
            type="enumeration",
            field_type="select",
            group_name="qmon",
            options=[
                OptionInput(label=v, value=v, hidden=False, display_order=n)
                for n, v in enumerate(("kept", "at_risk", "broken"))
            ],
        ),
    )


def task_input(
    deal_or_ticket: str, type_id: int = 216, **properties: str
) -> SimplePublicObjectInputForCreate:
    return SimplePublicObjectInputForCreate(
        properties={
            "hs_timestamp": hubspot_datetime(DUE),
            "hs_task_subject": "Send the quote",
            **properties,
        },
        associations=[
            PublicAssociationsForObject(
                to=PublicObjectId(id=deal_or_ticket),
                types=[
                    AssociationSpec(
                        association_category="HUBSPOT_DEFINED", association_type_id=type_id
                    )
                ],
            )
        ],
    )


# --- property groups -------------------------------------------------------------------------


def test_a_group_is_created_201_read_back_and_a_second_create_is_409(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    made = client.crm.properties.groups_api.create(
        "deals", PropertyGroupCreate(name="qmon", label="qmon", display_order=3)
    )
    assert isinstance(made, PropertyGroup)
    assert (made.name, made.label, made.display_order, made.archived) == ("qmon", "qmon", 3, False)
    assert fake.request_log[-1].status == 201
    read = client.crm.properties.groups_api.get_by_name("deals", "qmon")
    assert read.to_dict() == made.to_dict()

    with pytest.raises(PropertiesError) as caught:
        client.crm.properties.groups_api.create(
            "deals", PropertyGroupCreate(name="qmon", label="again")
        )
    assert caught.value.status == 409
    assert body_of(caught.value)["category"] == "OBJECT_ALREADY_EXISTS"
    # Groups are per object type, and every type has its built-in one.
    client.crm.properties.groups_api.create(
        "tickets", PropertyGroupCreate(name="qmon", label="qmon")
    )
    built_in = client.crm.properties.groups_api.get_by_name("tasks", "taskinformation")
    assert built_in.archived is False


def test_a_missing_group_is_404_with_hubspots_error_body(client: HubSpot) -> None:
    with pytest.raises(PropertyNotFound) as caught:
        client.crm.properties.groups_api.get_by_name("deals", "nothing_here")
    body = body_of(caught.value)
    assert caught.value.status == 404
    assert lacks("Error", body) == set() and body["category"] == "OBJECT_NOT_FOUND"


def test_a_group_create_names_the_missing_field_and_answers_in_the_specs_shape(
    fake: FakeHubSpot,
) -> None:
    status, body = call(fake, "POST", "/crm/v3/properties/deals/groups", {"name": "qmon"})
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "[label]" in body["message"]
    status, body = call(
        fake, "POST", "/crm/v3/properties/deals/groups", {"name": "qmon", "label": "qmon"}
    )
    assert status == 201 and lacks("PropertyGroup", body) == set()
    assert body["displayOrder"] == -1  # the spec's "display after any positive values"


# --- properties -----------------------------------------------------------------------------


def test_built_in_properties_answer_with_plausible_definitions(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    core = client.crm.properties.core_api
    stage = core.get_by_name("deals", "dealstage")
    assert isinstance(stage, ModelProperty)
    assert (stage.type, stage.field_type, stage.group_name) == (
        "enumeration",
        "radio",
        "dealinformation",
    )
    assert stage.hubspot_defined and stage.external_options and stage.options == []
    owner = core.get_by_name("tickets", "hubspot_owner_id")
    assert owner.referenced_object_type == "OWNER"
    modified = core.get_by_name("tasks", "hs_lastmodifieddate")
    assert (modified.type, modified.modification_metadata.read_only_value) == ("datetime", True)
    status = core.get_by_name("tasks", "hs_task_status")
    assert {"NOT_STARTED", "COMPLETED"} <= {o.value for o in status.options}
    assert core.get_by_name("tasks", "hs_timestamp").type == "datetime"
    assert core.get_by_name("tasks", "hs_task_subject").type == "string"
    # A property a test put on a record exists too, as text.
    fake.add("notes", {"my_note_tag": "x"}, created_at=T0, updated_at=T0)
    tag = core.get_by_name("notes", "my_note_tag")
    assert (tag.type, tag.field_type, tag.hubspot_defined) == ("string", "text", False)
    status_code, raw = call(fake, "GET", "/crm/v3/properties/deals/amount")
    assert status_code == 200 and lacks("Property", raw) == set()
    assert lacks("PropertyModificationMetadata", raw["modificationMetadata"]) == set()


def test_an_unknown_property_is_404(client: HubSpot) -> None:
    with pytest.raises(PropertyNotFound) as caught:
        client.crm.properties.core_api.get_by_name("deals", "qmon_status")
    assert body_of(caught.value)["category"] == "OBJECT_NOT_FOUND"
    with pytest.raises(PropertyNotFound):  # archived=true: only archived ones, and none are
        client.crm.properties.core_api.get_by_name("deals", "dealname", archived=True)


def test_a_created_property_is_201_readable_and_writable(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    client.crm.properties.groups_api.create("deals", PropertyGroupCreate(name="qmon", label="qmon"))
    made = client.crm.properties.core_api.create(
        "deals",
        PropertyCreate(
            name="qmon_status",
            label="Promise status",
            type="enumeration",
            field_type="select",
            group_name="qmon",
            description="Set by qmon",
            options=[
                OptionInput(label="Kept", value="kept", hidden=False, display_order=0),
                OptionInput(label="Broken", value="broken", hidden=False, display_order=1),
            ],
        ),
    )
    assert isinstance(made, ModelProperty)
    assert fake.request_log[-1].status == 201
    assert (made.name, made.type, made.field_type, made.group_name) == (
        "qmon_status",
        "enumeration",
        "select",
        "qmon",
    )
    assert [o.value for o in made.options] == ["kept", "broken"]
    assert made.hubspot_defined is False and made.has_unique_value is False
    assert made.modification_metadata.read_only_value is False
    assert made.created_at == T1
    read = client.crm.properties.core_api.get_by_name("deals", "qmon_status")
    assert read.to_dict() == made.to_dict()

    deal = add_deal(fake)
    answer = client.crm.objects.batch_api.update("deals", batch((deal, {"qmon_status": "kept"})))
    assert answer.results[0].properties["qmon_status"] == "kept"
    assert fake.get("deals", deal).properties["qmon_status"] == "kept"


def test_property_create_answers_location_and_the_specs_fields(fake: FakeHubSpot) -> None:
    answer = urllib3.request(
        "POST",
        fake.base_url + "/crm/v3/properties/tasks",
        retries=False,
        json={
            "name": "qmon_key",
            "label": "qmon key",
            "type": "string",
            "fieldType": "text",
            "groupName": "taskinformation",
        },
        headers={"Authorization": f"Bearer {fake.access_token}"},
    )
    assert answer.status == 201
    assert answer.headers["Location"].endswith("/crm/v3/properties/tasks/qmon_key")
    assert lacks("Property", json.loads(answer.data)) == set()


@pytest.mark.parametrize("absent", ["name", "label", "type", "fieldType", "groupName"])
def test_property_create_names_a_missing_required_field(fake: FakeHubSpot, absent: str) -> None:
    body = {
        "name": "qmon_due",
        "label": "Next due",
        "type": "datetime",
        "fieldType": "date",
        "groupName": "dealinformation",
    }
    del body[absent]
    status, answer = call(fake, "POST", "/crm/v3/properties/deals", body)
    assert status == 400 and answer["category"] == "VALIDATION_ERROR"
    assert f"[{absent}]" in answer["message"]


@pytest.mark.parametrize(("change", "needle"), [
    ({"type": "enumeration", "fieldType": "select"}, "Options are required"),
    ({"type": "number", "fieldType": "select"}, "not valid for a property of type number"),
    ({"type": "text"}, "type 'text'"),
    ({"fieldType": "dropdown"}, "fieldType 'dropdown'"),
    ({"groupName": "no_such_group"}, "no_such_group"),
    ({"name": "Qmon Status"}, "Invalid property name"),
    ({"type": "enumeration", "fieldType": "checkbox", "options": [{"label": "A"}]}, "[value]"),
])  # fmt: skip
def test_property_create_refuses_bad_definitions(
    fake: FakeHubSpot, change: dict[str, Any], needle: str
) -> None:
    body = {
        "name": "qmon_status",
        "label": "Status",
        "type": "string",
        "fieldType": "text",
        "groupName": "dealinformation",
        **change,
    }
    status, answer = call(fake, "POST", "/crm/v3/properties/deals", body)
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    assert needle in answer["message"]
    with pytest.raises(PropertyNotFound):
        fake.client().crm.properties.core_api.get_by_name("deals", "qmon_status")


def test_property_create_is_409_for_a_name_that_exists(fake: FakeHubSpot, client: HubSpot) -> None:
    qmon_status(fake)
    for name in ("qmon_status", "dealname", "hs_lastmodifieddate"):
        with pytest.raises(PropertiesError) as caught:
            client.crm.properties.core_api.create(
                "deals",
                PropertyCreate(
                    name=name, label="x", type="string", field_type="text", group_name="qmon"
                ),
            )
        assert caught.value.status == 409, name
        assert body_of(caught.value)["category"] == "OBJECT_ALREADY_EXISTS"
    # The same name on another object type is another property.
    client.crm.properties.core_api.create(
        "tickets",
        PropertyCreate(
            name="qmon_status",
            label="x",
            type="string",
            field_type="text",
            group_name="ticketinformation",
        ),
    )


# --- batch update ---------------------------------------------------------------------------


def test_batch_update_200_writes_stamps_and_records_history(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    qmon_status(fake)
    first, second = add_deal(fake), add_deal(fake, qmon_status="kept")
    answer = client.crm.objects.batch_api.update(
        "deals",
        batch((first, {"qmon_status": "at_risk", "amount": "1200"}), (second, {"qmon_status": ""})),
    )

    assert isinstance(answer, BatchResponseSimplePublicObject)
    assert answer.status == "COMPLETE" and answer.started_at == answer.completed_at == T1
    assert [r.id for r in answer.results] == [first, second]
    assert answer.results[0].properties["qmon_status"] == "at_risk"
    assert answer.results[0].properties["amount"] == "1200"
    assert answer.results[0].properties["hs_lastmodifieddate"] == hubspot_datetime(T1)
    assert (answer.results[0].created_at, answer.results[0].updated_at) == (T0, T1)
    assert answer.results[0].archived is False
    assert answer.results[1].properties["qmon_status"] == ""  # "" clears (the spec)
    assert "amount" not in answer.results[1].properties  # each result: its input's properties

    stored = fake.get("deals", first)
    assert stored.updated_at == T1
    assert stored.history["qmon_status"][0] == {
        "value": "at_risk",
        "timestamp": hubspot_datetime(T1),
        "sourceType": "INTEGRATION",
        "sourceId": "3000001",
    }
    assert stored.history["dealname"][0]["timestamp"] == hubspot_datetime(T0)  # not rewritten
    # The sync's reads see it: the modified-since search and the history on get.
    found = client.crm.objects.search_api.do_search(
        "deals",
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(
                            property_name="hs_lastmodifieddate",
                            operator="GT",
                            value=hubspot_datetime(T0),
                        )
                    ]
                )
            ],
            properties=["qmon_status"],
        ),
    )
    assert sorted(r.id for r in found.results) == sorted([first, second])
    read = client.crm.objects.basic_api.get_by_id(
        "deals", first, properties_with_history=["qmon_status"]
    )
    assert read.properties_with_history["qmon_status"][0].value == "at_risk"
    # The request log has the write like any other request.
    logged = fake.request_log[-3]
    assert (logged.method, logged.path, logged.status) == (
        "POST",
        "/crm/v3/objects/deals/batch/update",
        200,
    )
    assert logged.body["inputs"][0] == {
        "id": first,
        "properties": {"qmon_status": "at_risk", "amount": "1200"},
    }


def test_an_update_never_moves_the_stamp_back(fake: FakeHubSpot, client: HubSpot) -> None:
    deal = fake.add("deals", {"dealname": "x"}, created_at=T0, updated_at=T1 + timedelta(1))
    client.crm.objects.batch_api.update("deals", batch((deal, {"dealname": "y"})))
    assert fake.get("deals", deal).updated_at == T1 + timedelta(days=1, milliseconds=1)


def test_a_207_is_returned_not_raised_and_names_the_failed_inputs(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    """hubspot-api-client maps 207 to ``BatchResponseSimplePublicObjectWithErrors`` and
    returns it: a caller that only catches exceptions misses the failed records."""
    qmon_status(fake)
    good, gone, guarded = add_deal(fake), add_deal(fake), add_deal(fake)
    fake.archive("deals", gone, archived_at=T0)
    fake.refuse_writes("deals", property="qmon_status", ids=[guarded])
    answer = client.crm.objects.batch_api.update(
        "deals",
        batch(
            (good, {"qmon_status": "broken"}),
            ("424242", {"qmon_status": "broken"}),
            (gone, {"qmon_status": "broken"}),
            (guarded, {"qmon_status": "broken"}),
        ),
    )

    assert isinstance(answer, BatchResponseSimplePublicObjectWithErrors)
    assert fake.request_log[-1].status == 207
    assert answer.status == "COMPLETE" and answer.num_errors == 2
    assert [r.id for r in answer.results] == [good]
    not_found, refused = answer.errors
    assert (not_found.status, not_found.category) == ("error", "OBJECT_NOT_FOUND")
    assert not_found.context == {"ids": ["424242", gone]}
    assert refused.category == "VALIDATION_ERROR"
    assert refused.context == {"ids": [guarded], "propertyName": ["qmon_status"]}
    assert "READ_ONLY_VALUE" in refused.message
    assert fake.get("deals", good).properties["qmon_status"] == "broken"
    assert "qmon_status" not in fake.get("deals", guarded).properties
    assert fake.get("deals", guarded).updated_at == T0
    raw = json.loads(
        client.crm.objects.batch_api.update(
            "deals", batch(("424242", {"dealname": "x"})), _preload_content=False
        ).data
    )
    assert lacks("BatchResponseSimplePublicObject", raw) == set() and raw["results"] == []
    assert lacks("StandardError", raw["errors"][0]) == set()


def test_refuse_writes_by_record_by_property_or_all(fake: FakeHubSpot, client: HubSpot) -> None:
    a, b = add_deal(fake), add_deal(fake)

    def failed(*inputs: tuple[str, dict[str, str]]) -> list[str]:
        answer = client.crm.objects.batch_api.update("deals", batch(*inputs))
        errors = getattr(answer, "errors", None) or []  # a 200's model has no errors at all
        return [i for e in errors for i in e.context["ids"]]

    fake.refuse_writes("deals", ids=[a])  # any property of a
    assert failed((a, {"amount": "1"}), (b, {"amount": "1"})) == [a]
    fake.clear_refusals()
    fake.refuse_writes("deals", property="amount")  # amount on every deal
    assert failed((a, {"amount": "2"}), (b, {"dealname": "ok"})) == [a]
    fake.refuse_writes("tickets")  # another type: no effect on deals
    assert failed((b, {"dealname": "fine"})) == []
    fake.clear_refusals()
    assert failed((a, {"amount": "3"}), (b, {"amount": "3"})) == []


@pytest.mark.parametrize(("properties", "code"), [
    ({"qmon_nothing": "x"}, "PROPERTY_DOESNT_EXIST"),
    ({"qmon_status": "maybe"}, "INVALID_OPTION"),
    ({"hs_lastmodifieddate": "2026-01-01T00:00:00Z"}, "READ_ONLY_VALUE"),
    ({"amount": "a lot"}, "INVALID_FLOAT"),
])  # fmt: skip
def test_a_bad_property_fails_the_whole_batch_with_400(
    fake: FakeHubSpot, client: HubSpot, properties: dict[str, str], code: str
) -> None:
    """HubSpot refuses the request, not the input (the module docstring's sources)."""
    qmon_status(fake)
    fine, bad = add_deal(fake), add_deal(fake)
    with pytest.raises(ObjectsError) as caught:
        client.crm.objects.batch_api.update(
            "deals", batch((fine, {"qmon_status": "kept"}), (bad, properties))
        )
    body = body_of(caught.value)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: [")
    [result] = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert (result["isValid"], result["error"], result["name"]) == (
        False,
        code,
        next(iter(properties)),
    )
    assert body["errors"][0]["code"] == code
    assert "qmon_status" not in fake.get("deals", fine).properties  # nothing written
    assert fake.get("deals", fine).updated_at == T0


def test_batch_update_takes_100_inputs_and_refuses_101(fake: FakeHubSpot, client: HubSpot) -> None:
    ids = [add_deal(fake) for _ in range(BATCH_UPDATE_LIMIT + 1)]
    inputs = [(i, {"dealname": "renamed"}) for i in ids]
    with pytest.raises(ObjectsError) as caught:
        client.crm.objects.batch_api.update("deals", batch(*inputs))
    assert caught.value.status == 400
    assert body_of(caught.value)["message"] == BATCH_LIMIT_MESSAGE
    assert fake.get("deals", ids[0]).properties["dealname"] == "Big deal"
    answer = client.crm.objects.batch_api.update("deals", batch(*inputs[:BATCH_UPDATE_LIMIT]))
    assert len(answer.results) == BATCH_UPDATE_LIMIT


@pytest.mark.parametrize(("body", "needle"), [
    ({}, "[inputs]"),
    ({"inputs": [{"id": "1"}]}, "[properties]"),
    ({"inputs": [{"properties": {"dealname": "x"}}]}, "[id]"),
    ({"inputs": [{"id": "DEAL", "properties": {}}]}, "No properties found to update"),
    ({"inputs": [{"id": "DEAL", "properties": {"dealname": "a"}},
                 {"id": "DEAL", "properties": {"dealname": "b"}}]}, "Duplicate IDs"),
    ({"inputs": [{"id": "DEAL", "idProperty": "email", "properties": {"dealname": "a"}}]},
     "idProperty"),
])  # fmt: skip
def test_batch_update_refuses_malformed_bodies(
    fake: FakeHubSpot, body: dict[str, Any], needle: str
) -> None:
    deal = add_deal(fake)
    body = json.loads(json.dumps(body).replace("DEAL", deal))
    status, answer = call(fake, "POST", "/crm/v3/objects/deals/batch/update", body)
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    assert needle in answer["message"]


def test_feedback_submissions_take_no_writes(fake: FakeHubSpot) -> None:
    status, answer = call(
        fake, "POST", "/crm/v3/objects/feedback_submissions/batch/update", {"inputs": []}
    )
    assert status == 405 and lacks("Error", answer) == set()
    status, answer = call(fake, "POST", "/crm/v3/objects/unicorns/batch/update", {"inputs": []})
    assert status == 400 and "unicorns" in answer["message"]


# --- tasks ----------------------------------------------------------------------------------


def test_a_created_task_is_seen_by_every_read_the_sync_uses(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    client.crm.properties.core_api.create(
        "tasks",
        PropertyCreate(
            name="qmon_key",
            label="qmon key",
            type="string",
            field_type="text",
            group_name="taskinformation",
        ),
    )
    deal = add_deal(fake)
    made = client.crm.objects.tasks.basic_api.create(
        task_input(deal, qmon_key="quote-24h:1001", hs_task_priority="HIGH")
    )

    assert isinstance(made, SimplePublicObject)
    assert fake.request_log[-1].status == 201
    assert made.properties["hs_timestamp"] == hubspot_datetime(DUE)
    assert made.properties["qmon_key"] == "quote-24h:1001"
    assert made.created_at == made.updated_at == T1
    # A task added by the test side, for comparison: the API's is read back the same way.
    seeded = fake.add(
        "tasks", {"hs_timestamp": DUE, "hs_task_subject": "Seeded"}, created_at=T1, updated_at=T1
    )
    fake.associate("tasks", seeded, "deals", deal)

    listed = client.crm.objects.basic_api.get_page("tasks", properties=["qmon_key"])
    assert [t.id for t in listed.results] == [made.id, seeded]
    read = client.crm.objects.batch_api.read(
        "tasks",
        {
            "inputs": [{"id": made.id}],
            "properties": ["hs_task_subject"],
            "propertiesWithHistory": ["hs_task_subject"],
        },
    )
    assert read.results[0].properties["hs_task_subject"] == "Send the quote"
    assert read.results[0].properties_with_history["hs_task_subject"][0].source_type == (
        "INTEGRATION"
    )
    found = client.crm.objects.search_api.do_search(
        "tasks",
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name="qmon_key", operator="EQ", value="quote-24h:1001")
                    ]
                )
            ],
            properties=["qmon_key"],
        ),
    )
    assert [t.id for t in found.results] == [made.id]
    links = client.crm.associations.v4.batch_api.get_page(
        "tasks", "deals", {"inputs": [{"id": made.id}, {"id": seeded}]}, _preload_content=False
    )
    [ours, theirs] = json.loads(links.data)["results"]
    assert (
        ours["to"]
        == theirs["to"]
        == [
            {
                "toObjectId": int(deal),
                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 216, "label": None}],
            }
        ]
    )
    back = client.crm.associations.v4.batch_api.get_page(
        "deals", "tasks", {"inputs": [{"id": deal}]}, _preload_content=False
    )
    assert [t["toObjectId"] for t in json.loads(back.data)["results"][0]["to"]] == [
        int(made.id),
        int(seeded),
    ]


def test_a_task_for_a_ticket_uses_type_230(fake: FakeHubSpot, client: HubSpot) -> None:
    ticket = fake.add("tickets", {"subject": "Broken"}, created_at=T0, updated_at=T0)
    made = client.crm.objects.tasks.basic_api.create(task_input(ticket, 230))
    links = client.crm.associations.v4.batch_api.get_page(
        "tasks", "tickets", {"inputs": [{"id": made.id}]}, _preload_content=False
    )
    assert json.loads(links.data)["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 230


def test_hs_timestamp_is_required_and_read_back_as_iso(fake: FakeHubSpot, client: HubSpot) -> None:
    deal = add_deal(fake)
    no_due = task_input(deal)
    del no_due.properties["hs_timestamp"]
    with pytest.raises(TasksError) as caught:
        client.crm.objects.tasks.basic_api.create(no_due)
    assert caught.value.status == 400 and "hs_timestamp" in body_of(caught.value)["message"]
    assert fake.objects("tasks") == []
    # Epoch milliseconds, as the tasks guide allows, read back in ISO 8601.
    made = client.crm.objects.tasks.basic_api.create(
        task_input(deal, hs_timestamp=str(int(DUE.timestamp() * 1000)))
    )
    assert made.properties["hs_timestamp"] == hubspot_datetime(DUE)
    with pytest.raises(TasksError) as caught:
        client.crm.objects.tasks.basic_api.create(task_input(deal, hs_timestamp="next week"))
    assert caught.value.status == 400


@pytest.mark.parametrize(("target", "type_id", "needle"), [
    ("424242", 216, "INVALID_OBJECT_IDS"),
    ("DEAL", 230, "INVALID_OBJECT_IDS"),  # 230 leads to tickets; no ticket has that id
    ("DEAL", 999, "INVALID_ASSOCIATION_TYPES"),
])  # fmt: skip
def test_an_invalid_association_is_400_and_creates_nothing(
    fake: FakeHubSpot, client: HubSpot, target: str, type_id: int, needle: str
) -> None:
    deal = add_deal(fake)
    with pytest.raises(TasksError) as caught:
        client.crm.objects.tasks.basic_api.create(
            task_input(deal if target == "DEAL" else target, type_id)
        )
    body = body_of(caught.value)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert body["message"] == "One or more associations are invalid"
    assert needle in body["context"]
    assert fake.objects("tasks") == []


def test_task_create_validates_its_body(fake: FakeHubSpot) -> None:
    deal = add_deal(fake)
    cases = [
        ({"associations": []}, "[properties]"),
        (
            {"properties": {"hs_timestamp": "2026-03-05T17:00:00Z", "qmon_key": "k"}},
            "PROPERTY_DOESNT_EXIST",
        ),
        (
            {"properties": {"hs_timestamp": "2026-03-05T17:00:00Z", "hs_task_status": "SOON"}},
            "INVALID_OPTION",
        ),
        (
            {
                "properties": {"hs_timestamp": "2026-03-05T17:00:00Z"},
                "associations": [{"to": {"id": deal}, "types": [{"associationTypeId": 216}]}],
            },
            "[associationCategory]",
        ),
        (
            {
                "properties": {"hs_timestamp": "2026-03-05T17:00:00Z"},
                "associations": [
                    {
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}
                        ]
                    }
                ],
            },
            "[to]",
        ),
    ]
    for body, needle in cases:
        status, answer = call(fake, "POST", "/crm/v3/objects/tasks", body)
        assert (status, answer["category"]) == (400, "VALIDATION_ERROR"), body
        assert needle in answer["message"], body
    assert fake.objects("tasks") == []
    # No associations at all is a task on its own.
    status, answer = call(
        fake,
        "POST",
        "/crm/v3/objects/tasks",
        {"properties": {"hs_timestamp": "2026-03-05T17:00:00Z"}},
    )
    assert status == 201 and lacks("SimplePublicObject", answer) == set()


def test_patch_updates_a_task_and_is_404_for_missing_or_archived(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    deal = add_deal(fake)
    made = client.crm.objects.tasks.basic_api.create(task_input(deal))
    fake.write_clock = lambda: T1 + timedelta(hours=2)
    updated = client.crm.objects.tasks.basic_api.update(
        made.id,
        SimplePublicObjectInput(
            properties={"hs_task_subject": "Quote sent late", "hs_task_status": "COMPLETED"}
        ),
    )
    assert isinstance(updated, SimplePublicObject)
    assert updated.properties["hs_task_subject"] == "Quote sent late"
    assert updated.updated_at == T1 + timedelta(hours=2)
    assert [e["value"] for e in fake.get("tasks", made.id).history["hs_task_subject"]] == [
        "Quote sent late",
        "Send the quote",
    ]
    # The generic objects API reaches the same endpoint.
    client.crm.objects.basic_api.update("tasks", made.id, {"properties": {"hs_task_body": "x"}})
    assert fake.get("tasks", made.id).properties["hs_task_body"] == "x"

    with pytest.raises(TaskNotFound) as caught:
        client.crm.objects.tasks.basic_api.update(
            "424242", SimplePublicObjectInput(properties={"hs_task_subject": "x"})
        )
    assert body_of(caught.value)["category"] == "OBJECT_NOT_FOUND"
    fake.archive("tasks", made.id, archived_at=T1)
    with pytest.raises(TaskNotFound):
        client.crm.objects.tasks.basic_api.update(
            made.id, SimplePublicObjectInput(properties={"hs_task_subject": "x"})
        )


def test_patch_refuses_what_batch_update_refuses_but_as_400(
    fake: FakeHubSpot, client: HubSpot
) -> None:
    made = client.crm.objects.tasks.basic_api.create(task_input(add_deal(fake)))
    for properties, needle in (
        ({"hs_task_colour": "red"}, "PROPERTY_DOESNT_EXIST"),
        ({}, "No properties found to update"),
        ({"hs_object_id": "1"}, "READ_ONLY_VALUE"),
    ):
        with pytest.raises(TasksError) as caught:
            client.crm.objects.tasks.basic_api.update(
                made.id, SimplePublicObjectInput(properties=properties)
            )
        assert caught.value.status == 400 and needle in body_of(caught.value)["message"]
    fake.refuse_writes("tasks", ids=[made.id])
    with pytest.raises(TasksError) as caught:
        client.crm.objects.tasks.basic_api.update(
            made.id, SimplePublicObjectInput(properties={"hs_task_subject": "x"})
        )
    assert caught.value.status == 400 and "READ_ONLY_VALUE" in body_of(caught.value)["message"]
    assert fake.get("tasks", made.id).properties["hs_task_subject"] == "Send the quote"


# --- scopes, limits ---------------------------------------------------------------------------


def test_writes_need_the_write_scopes_the_specs_name(fake: FakeHubSpot) -> None:
    deal, ticket = add_deal(fake), fake.add("tickets", {}, created_at=T0, updated_at=T0)
    fake.granted_scopes = {"crm.objects.deals.read", "tickets", "crm.objects.contacts.read"}
    client = fake.client()

    def required(error: Exception) -> list[str]:
        body = body_of(error)
        assert body["category"] == "MISSING_SCOPES"
        assert body["errors"][0]["message"] == "One or more of the following scopes are required."
        return body["errors"][0]["context"]["requiredGranularScopes"]

    with pytest.raises(ObjectsError) as caught:
        client.crm.objects.batch_api.update("deals", batch((deal, {"dealname": "x"})))
    assert caught.value.status == 403 and required(caught.value) == ["crm.objects.deals.write"]
    with pytest.raises(TasksError) as caught:
        client.crm.objects.tasks.basic_api.create(task_input(deal))
    assert required(caught.value) == ["crm.objects.contacts.write"]
    with pytest.raises(ForbiddenException) as caught:
        client.crm.properties.core_api.create(
            "deals",
            PropertyCreate(
                name="qmon_x",
                label="x",
                type="string",
                field_type="text",
                group_name="dealinformation",
            ),
        )
    assert required(caught.value) == ["crm.schemas.deals.write"]
    with pytest.raises(ForbiddenException) as caught:
        client.crm.properties.groups_api.create("tasks", PropertyGroupCreate(name="q", label="q"))
    assert required(caught.value) == ["crm.schemas.contacts.write"]  # assumed, see the module
    with pytest.raises(ForbiddenException) as caught:
        client.crm.properties.core_api.get_by_name("tasks", "hs_task_status")
    assert required(caught.value) == ["crm.schemas.tasks.read", "crm.objects.tasks.read"]
    # Reading deal properties: crm.objects.deals.read is one of the alternatives.
    assert client.crm.properties.core_api.get_by_name("deals", "dealname").name == "dealname"
    # Tickets take the legacy "tickets" scope for writes.
    client.crm.objects.batch_api.update("tickets", batch((ticket, {"subject": "x"})))

    fake.granted_scopes |= {
        "crm.objects.deals.write",
        "crm.objects.contacts.write",
        "crm.schemas.deals.write",
        "crm.objects.tasks.read",
    }
    client.crm.objects.batch_api.update("deals", batch((deal, {"dealname": "x"})))
    client.crm.objects.tasks.basic_api.create(task_input(deal))
    client.crm.properties.core_api.get_by_name("tasks", "hs_task_status")


def test_writes_share_the_ten_secondly_limit_and_get_429_with_retry_after() -> None:
    with FakeHubSpot(general_rate_limit=3, general_rate_window=60.0, clock=lambda: 100.0) as fake:
        fake.write_clock = lambda: T1
        deal = add_deal(fake)
        client = fake.client()
        client.crm.objects.batch_api.update("deals", batch((deal, {"dealname": "a"})))
        client.crm.objects.tasks.basic_api.create(task_input(deal))
        status, _ = call(fake, "GET", "/crm/v3/properties/deals/dealname")
        assert status == 200
        with pytest.raises(ObjectsError) as caught:
            client.crm.objects.batch_api.update("deals", batch((deal, {"dealname": "b"})))
        assert caught.value.status == 429
        assert caught.value.headers["Retry-After"] == "60"
        assert body_of(caught.value)["policyName"] == "TEN_SECONDLY_ROLLING"
        with pytest.raises(TasksError) as caught:
            client.crm.objects.tasks.basic_api.create(task_input(deal))
        assert caught.value.status == 429
        status, answer = call(
            fake, "POST", "/crm/v3/properties/deals/groups", {"name": "q", "label": "q"}
        )
        assert (status, answer["errorType"]) == (429, "RATE_LIMIT")
        assert fake.get("deals", deal).properties["dealname"] == "a"
        assert len(fake.objects("tasks")) == 1
        assert fake.rate_limited_count == 3


def test_writes_count_against_the_daily_limit(fake: FakeHubSpot, client: HubSpot) -> None:
    deal = add_deal(fake)
    fake.daily_limit = 2
    answer = client.crm.objects.batch_api.update(
        "deals", batch((deal, {"dealname": "a"})), _preload_content=False
    )
    assert answer.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "1"
    client.crm.properties.core_api.get_by_name("deals", "dealname")
    with pytest.raises(TasksError) as caught:
        client.crm.objects.tasks.basic_api.create(task_input(deal))
    assert caught.value.status == 429 and body_of(caught.value)["policyName"] == "DAILY"
