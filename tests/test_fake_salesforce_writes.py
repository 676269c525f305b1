"""The write contract qmon's writeback relies on, pinned with the real simple-salesforce.

Each test drives simple-salesforce 1.12 against :class:`tests.fakes.salesforce.FakeSalesforce`
(its write side is :mod:`tests.fakes.salesforce_writes`) over TLS on 127.0.0.1: sObject
Collections update, single-record create and update, the Tooling API's CustomField, the
permission-set objects that grant field-level security, and the UserInfo endpoint. What is
asserted is what the library returns or raises for each answer, so these tests are the list of
behaviours the writeback may assume.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from qmon.connectors.salesforce.connector import SObjectStream
from qmon.connectors.salesforce.mapping import SOBJECTS, SalesforceMapper, csv_row
from qmon.connectors.salesforce.spec import SalesforceMappingSpec
from tests.fakes.salesforce import FakeSalesforce, salesforce_id
from tests.fakes.salesforce_writes import ROLLED_BACK

API = "/services/data/v59.0"
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
STATUS = "Opportunity.Qmon_Status__c"
STATUS_METADATA = {
    "label": "Qmon status",
    "type": "Picklist",
    "valueSet": {
        "restricted": True,
        "valueSetDefinition": {
            "value": [
                {"fullName": "kept", "label": "Kept", "default": False},
                {"fullName": "at_risk", "label": "At risk", "default": False},
                {"fullName": "breached", "label": "Breached", "default": False},
            ]
        },
    },
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeSalesforce]:
    with FakeSalesforce(clock=clock) as fake:
        yield fake


@pytest.fixture
def http(fake: FakeSalesforce) -> Iterator[requests.Session]:
    with closing(fake.make_session()) as session:
        yield session


@pytest.fixture
def sf(fake: FakeSalesforce, http: requests.Session) -> Salesforce:
    return Salesforce(instance=fake.instance, session_id=fake.session_id, session=http)


def update(sf: Salesforce, records: list[dict[str, Any]], *, all_or_none: bool = False) -> Any:
    """sObject Collections update, as the writeback sends it."""
    body = {"allOrNone": all_or_none, "records": records}
    return sf.restful("composite/sobjects", method="PATCH", json=body)


def opp(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Opportunity"}, "id": record_id, **fields}


def create_field(sf: Salesforce, full_name: str, metadata: dict[str, Any]) -> Any:
    return sf.toolingexecute(
        "sobjects/CustomField/", method="POST", data={"FullName": full_name, "Metadata": metadata}
    )


def tooling_query(sf: Salesforce, soql: str) -> Any:
    return sf.toolingexecute("query/", params={"q": soql})


def grant(sf: Salesforce, *fields: str, edit: bool = True, name: str = "Qmon_Writeback") -> str:
    """What the writeback's set-up does: a permission set granting `fields`, assigned to the
    API user (found through UserInfo). Returns the permission set's id."""
    found = sf.query(f"SELECT Id FROM PermissionSet WHERE Name = '{name}'")["records"]
    if found:
        permission_set = found[0]["Id"]
    else:
        permission_set = sf.PermissionSet.create({"Name": name, "Label": "Qmon writeback"})["id"]
        user_id = sf.oauth2("userinfo")["user_id"]
        assignment = {"AssigneeId": user_id, "PermissionSetId": permission_set}
        sf.PermissionSetAssignment.create(assignment)
    for full in fields:
        sf.FieldPermissions.create({
            "ParentId": permission_set,
            "SobjectType": full.split(".")[0],
            "Field": full,
            "PermissionsRead": True,
            "PermissionsEdit": edit,
        })  # fmt: skip
    return permission_set


def described(sf: Salesforce, sobject: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in getattr(sf, sobject).describe()["fields"]}


def writable_status(fake: FakeSalesforce, sf: Salesforce) -> str:
    """An opportunity and a Qmon_Status__c picklist the API user may edit."""
    create_field(sf, STATUS, STATUS_METADATA)
    grant(sf, STATUS)
    return fake.add_record("Opportunity", {"Name": "Acme", "StageName": "Prospecting"})


# --- sObject Collections update ---------------------------------------------------------------


def test_collection_update_answers_save_results_in_order_and_stamps_the_records(fake, sf, clock):
    first = writable_status(fake, sf)
    second = fake.add_record("Opportunity", {"Name": "Globex", "StageName": "Prospecting"})
    clock.advance(minutes=5)
    fake.clear_request_log()
    used = fake.api_requests_used

    results = update(sf, [opp(second, Qmon_Status__c="breached"), opp(first, Amount=99)])

    assert results == [
        {"id": second, "success": True, "errors": []},
        {"id": first, "success": True, "errors": []},
    ]
    stored = fake.get_record("Opportunity", second)
    assert stored["Qmon_Status__c"] == "breached"
    assert stored["SystemModstamp"] == stored["LastModifiedDate"] == clock.now
    assert stored["LastModifiedById"] == fake.user_id
    assert fake.get_record("Opportunity", first)["Amount"] == 99.0
    # One request, one API call, its usage in the header as for reads.
    assert [(e.method, e.path, e.status) for e in fake.request_log] == [
        ("PATCH", f"{API}/composite/sobjects", 200)
    ]
    assert fake.api_requests_used == used + 1
    assert sf.api_usage["api-usage"].used == used + 1
    # The sync sees the change: the record's stamp moved past the last read.
    rows = sf.query_all(
        "SELECT Id, Qmon_Status__c FROM Opportunity WHERE SystemModstamp >= 2026-01-01T09:05:00Z"
    )["records"]
    assert [(r["Id"], r["Qmon_Status__c"]) for r in rows] == [(first, None), (second, "breached")]


def test_collection_update_reports_each_failure_with_its_code(fake, sf):
    good = writable_status(fake, sf)
    deleted = fake.add_record("Opportunity", {"Name": "Gone"})
    fake.delete_record("Opportunity", deleted)
    fake.add_field("Opportunity", "Qmon_Link__c", "url")
    fake.deny_edit("Opportunity", "Qmon_Link__c")
    unknown = salesforce_id("006", 9999)
    a_case = fake.add_record("Case", {"Subject": "not an opportunity"})

    results = update(sf, [
        opp(deleted, Qmon_Status__c="kept"),
        opp(unknown, Qmon_Status__c="kept"),
        opp(good, Qmon_Link__c="https://qmon.example/i/1"),
        opp(good, Qmon_Status__c="Breached!"),
        opp(good, IsClosed=True),
        opp(a_case, Qmon_Status__c="kept"),
        {"attributes": {"type": "Opportunity"}, "Qmon_Status__c": "kept"},
        opp(good, Qmon_Status__c="at_risk"),
    ])  # fmt: skip

    assert results[:7] == [
        {"success": False, "errors": [
            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]},
        {"success": False, "errors": [{"statusCode": "INVALID_CROSS_REFERENCE_KEY",
                                       "message": "invalid cross reference id", "fields": []}]},
        {"success": False, "errors": [{
            "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "message": "Unable to create/update fields: Qmon_Link__c. Please check the security "
                       "settings of this field and verify that it is read/write for your "
                       "profile or permission set.",
            "fields": ["Qmon_Link__c"]}]},
        {"success": False, "errors": [{
            "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Qmon status: bad value for restricted picklist field: Breached!",
            "fields": ["Qmon_Status__c"]}]},
        {"success": False, "errors": [{
            "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
            "message": "Unable to create/update fields: IsClosed. Please check the security "
                       "settings of this field and verify that it is read/write for your "
                       "profile or permission set.",
            "fields": ["IsClosed"]}]},
        {"success": False, "errors": [{
            "statusCode": "MALFORMED_ID",
            "message": f"Opportunity ID: id value of incorrect type: {a_case}", "fields": ["Id"]}]},
        {"success": False, "errors": [{"statusCode": "MISSING_ARGUMENT",
                                       "message": "Id not specified in an update call",
                                       "fields": []}]},
    ]  # fmt: skip
    # allOrNone false: the one valid record is saved all the same.
    assert results[7] == {"id": good, "success": True, "errors": []}
    assert fake.get_record("Opportunity", good)["Qmon_Status__c"] == "at_risk"
    assert fake.get_record("Opportunity", good).get("Qmon_Link__c") is None


def test_all_or_none_rolls_every_record_back_when_one_fails(fake, sf, clock):
    good = writable_status(fake, sf)
    other = fake.add_record("Opportunity", {"Name": "Globex"})
    deleted = fake.add_record("Opportunity", {"Name": "Gone"})
    fake.delete_record("Opportunity", deleted)
    before = fake.get_record("Opportunity", good)
    clock.advance(minutes=1)

    results = update(
        sf,
        [opp(good, Qmon_Status__c="kept"), opp(deleted, Qmon_Status__c="kept"),
         opp(other, Qmon_Status__c="kept")],
        all_or_none=True,
    )  # fmt: skip

    assert results == [
        {"id": good, "success": False, "errors": [ROLLED_BACK]},
        {"success": False, "errors": [
            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]},
        {"id": other, "success": False, "errors": [ROLLED_BACK]},
    ]  # fmt: skip
    assert ROLLED_BACK["message"] == (
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header"
    )
    assert fake.get_record("Opportunity", good) == before  # not even the stamp moved
    assert fake.get_record("Opportunity", other)["Qmon_Status__c"] is None

    # The same batch without the bad record goes through whole.
    results = update(sf, [opp(good, Qmon_Status__c="kept"), opp(other, Qmon_Status__c="kept")],
                     all_or_none=True)  # fmt: skip
    assert [r["success"] for r in results] == [True, True]


def test_collection_update_takes_200_records_and_refuses_201(fake, sf):
    ids = [fake.add_record("Opportunity", {"Name": f"deal {n}"}) for n in range(201)]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        update(sf, [opp(i, Amount=1) for i in ids])
    assert caught.value.status == 400
    assert caught.value.content == [{
        "message": "record limit reached. cannot submit more than 200 records into this call",
        "errorCode": "EXCEEDED_ID_LIMIT",
    }]  # fmt: skip
    assert all(fake.get_record("Opportunity", i)["Amount"] is None for i in ids)

    results = update(sf, [opp(i, Amount=1) for i in ids[:200]])
    assert [r["id"] for r in results] == ids[:200]
    assert all(r["success"] for r in results)


def test_a_request_the_org_cannot_read_is_refused_whole(fake, sf):
    deal = fake.add_record("Opportunity", {"Name": "Acme"})
    fake.add_field("Opportunity", "Qmon_Breaches__c", "double")

    cases = [
        ([opp(deal, Amount=1), opp(deal, Nope__c="x")], "INVALID_FIELD",
         "No such column 'Nope__c' on sobject of type Opportunity"),
        ([opp(deal, Qmon_Breaches__c="three")], "JSON_PARSER_ERROR",
         "Cannot deserialize instance of double from VALUE_STRING value three or request may "
         "be missing a required field"),
        ([{"attributes": {"type": "Nope__c"}, "id": deal}], "INVALID_TYPE",
         "sObject type 'Nope__c' is not supported."),
        ([{"id": deal, "Amount": 1}], "INVALID_TYPE",
         "Each record needs an attributes map with a type"),
    ]  # fmt: skip
    for records, code, message in cases:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            update(sf, records)
        assert caught.value.content == [{"message": message, "errorCode": code}]
    assert fake.get_record("Opportunity", deal)["Amount"] is None
    # Numbers may come as JSON numbers or numeric strings, as Salesforce reads them.
    assert update(sf, [opp(deal, Qmon_Breaches__c="3", Amount=12)])[0]["success"]
    assert fake.get_record("Opportunity", deal)["Qmon_Breaches__c"] == 3.0


# --- single records: Task create and update -----------------------------------------------------


def test_task_create_answers_201_with_the_id_and_the_org_fills_in_the_rest(fake, sf, clock):
    deal = fake.add_record("Opportunity", {"Name": "Acme"})
    owner = fake.add_user()
    fake.clear_request_log()

    created = sf.Task.create({"Subject": "Quote overdue", "WhatId": deal, "OwnerId": owner,
                              "ActivityDate": "2026-01-02", "Priority": "High"})  # fmt: skip

    assert created == {"id": created["id"], "success": True, "errors": []}
    assert created["id"].startswith("00T")
    assert [(e.method, e.path, e.status) for e in fake.request_log] == [
        ("POST", f"{API}/sobjects/Task/", 201)
    ]
    task = fake.get_record("Task", created["id"])
    assert (task["Status"], task["Priority"], task["IsClosed"]) == ("Not Started", "High", False)
    assert (task["OwnerId"], task["CreatedById"], task["WhatId"]) == (owner, fake.user_id, deal)
    assert task["CreatedDate"] == task["SystemModstamp"] == clock.now
    assert task["CompletedDateTime"] is None

    clock.advance(hours=2)
    assert sf.Task.update(created["id"], {"Status": "Completed"}) == 204
    task = fake.get_record("Task", created["id"])
    assert (task["IsClosed"], task["CompletedDateTime"]) == (True, clock.now)
    assert task["SystemModstamp"] == task["LastModifiedDate"] == clock.now
    assert sf.restful(f"sobjects/Task/{created['id']}", method="PATCH",
                      json={"Status": "In Progress"}) is None  # fmt: skip
    assert fake.get_record("Task", created["id"])["IsClosed"] is False
    assert fake.get_record("Task", created["id"])["CompletedDateTime"] is None


def test_a_created_task_is_read_by_soql_and_by_the_connectors_task_query(fake, sf, clock):
    deal = fake.add_record("Opportunity", {"Name": "Acme"})
    create_field(sf, "Activity.Qmon_Key__c", {"label": "Qmon key", "type": "Text", "length": 80,
                                              "externalId": True})  # fmt: skip
    grant(sf, "Task.Qmon_Key__c")
    task = sf.Task.create({"Subject": "Quote overdue", "WhatId": deal, "Qmon_Key__c": "abc"})["id"]

    found = sf.query("SELECT Id, Status, IsClosed FROM Task WHERE Qmon_Key__c = 'abc'")
    assert [(r["Id"], r["Status"], r["IsClosed"]) for r in found["records"]] == [
        (task, "Not Started", False)
    ]

    clock.advance(minutes=30)
    sf.Task.update(task, {"Status": "Completed"})
    stream = SObjectStream(SOBJECTS["Task"], api=None, mapper=None, bulk_threshold=None)  # type: ignore[arg-type]
    rows = sf.query_all(stream.soql(None), include_deleted=True)["records"]
    assert [r["Id"] for r in rows] == [task]
    assert rows[0]["CompletedDateTime"] == "2026-01-01T09:30:00.000+0000"
    pages = list(sf.bulk2.Task.query(stream.soql(None, ordered=False), wait=0))
    bulk = [csv_row(r) for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert [(r["Id"], r["IsClosed"], r["WhatId"]) for r in bulk] == [(task, True, deal)]

    # So qmon's sync makes an event of the task the writeback created.
    mapper = SalesforceMapper("salesforce", SalesforceMappingSpec(), fake.instance_url)
    events = mapper.row_events("Task", rows[0])
    assert [(e.type, e.subject_type, e.subject_id) for e in events] == [
        ("task.completed", "deal", deal)
    ]
    assert events[0].occurred_us == int(clock.now.timestamp()) * 1_000_000


def test_task_create_refusals_carry_the_documented_codes(fake, sf):
    deal = fake.add_record("Opportunity", {"Name": "Acme"})
    gone = fake.add_record("Opportunity", {"Name": "Gone"})
    fake.delete_record("Opportunity", gone)
    retired = fake.add_user(active=False)
    nobody = salesforce_id("005", 4242)
    missing = salesforce_id("006", 4242)

    cases = [
        ({"WhatId": missing}, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", []),
        ({"WhatId": gone}, "ENTITY_IS_DELETED", "entity is deleted", []),
        ({"WhatId": "006-not-an-id"}, "MALFORMED_ID",
         "Related To ID: id value of incorrect type: 006-not-an-id", ["WhatId"]),
        ({"WhatId": fake.user_id}, "FIELD_INTEGRITY_EXCEPTION",
         f"Related To ID: id value of incorrect type: {fake.user_id}", ["WhatId"]),
        ({"WhoId": deal}, "FIELD_INTEGRITY_EXCEPTION",
         f"Name ID: id value of incorrect type: {deal}", ["WhoId"]),
        ({"OwnerId": deal}, "FIELD_INTEGRITY_EXCEPTION",
         f"Assigned To ID: id value of incorrect type: {deal}", ["OwnerId"]),
        ({"OwnerId": nobody}, "INVALID_CROSS_REFERENCE_KEY",
         "Assigned To ID: owner cannot be blank", ["OwnerId"]),
        ({"OwnerId": retired}, "INACTIVE_OWNER_OR_USER",
         f"operation performed with inactive user [{retired}] as owner of task", []),
        ({"Status": None}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Status]",
         ["Status"]),
        ({"TaskSubtype": "Fax"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
         "Task Subtype: bad value for restricted picklist field: Fax", ["TaskSubtype"]),
        ({"IsClosed": True}, "INVALID_FIELD_FOR_INSERT_UPDATE",
         "Unable to create/update fields: IsClosed. Please check the security settings of this "
         "field and verify that it is read/write for your profile or permission set.",
         ["IsClosed"]),
        ({"Subject": "x" * 256}, "STRING_TOO_LONG",
         f"Subject: data value too large: {'x' * 256} (max length=255)", ["Subject"]),
    ]  # fmt: skip
    for fields, code, message, error_fields in cases:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.Task.create({"Subject": "Quote overdue", **fields})
        assert caught.value.status == 400
        assert caught.value.content == [
            {"message": message, "errorCode": code, "fields": error_fields}
        ], fields
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x", "Qmon_Key__c": "abc"})
    assert caught.value.content == [
        {"message": "No such column 'Qmon_Key__c' on sobject of type Task",
         "errorCode": "INVALID_FIELD"}
    ]  # fmt: skip
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x", "ActivityDate": "tomorrow"})
    assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert fake.records("Task") == []
    # A 15-character id is read as its 18-character form.
    created = sf.Task.create({"Subject": "ok", "WhatId": deal[:15]})
    assert fake.get_record("Task", created["id"])["WhatId"] == deal


def test_single_record_update_refusals(fake, sf):
    task = sf.Task.create({"Subject": "Quote overdue"})["id"]
    gone = sf.Task.create({"Subject": "gone"})["id"]
    fake.delete_record("Task", gone)

    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Task.update(salesforce_id("00T", 4242), {"Status": "Completed"})
    assert caught.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Task.update(gone, {"Status": "Completed"})
    assert caught.value.content == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED", "fields": []}
    ]
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Task.update("not-an-id", {"Status": "Completed"})
    assert caught.value.content == [{
        "message": "Provided external ID field does not exist or is not accessible: not-an-id",
        "errorCode": "NOT_FOUND",
    }]  # fmt: skip
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.update(task, {"TaskSubtype": "Call"})  # create-only
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.update(task, {"Priority": ""})
    assert caught.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.restful("sobjects/Task/", method="PATCH", json={"Status": "Completed"})
    assert caught.value.status == 405
    assert caught.value.content == [{
        "message": "HTTP Method 'PATCH' not allowed. Allowed are HEAD,GET,POST",
        "errorCode": "METHOD_NOT_ALLOWED",
    }]  # fmt: skip
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.create({"Name": "x"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.CaseHistory.create({"Field": "Status"})
    assert caught.value.content[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"
    assert fake.get_record("Task", task)["Status"] == "Not Started"


# --- Tooling API: CustomField ------------------------------------------------------------------


def test_tooling_creates_a_field_that_queries_and_describe_then_show(fake, sf):
    fake.clear_request_log()
    created = create_field(sf, STATUS, STATUS_METADATA)

    assert created == {"id": created["id"], "success": True, "errors": [], "warnings": [],
                       "infos": []}  # fmt: skip
    assert created["id"].startswith("00N")
    assert [(e.method, e.path, e.status) for e in fake.request_log] == [
        ("POST", f"{API}/tooling/sobjects/CustomField/", 201)
    ]
    by_object = tooling_query(
        sf, "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField "
            "WHERE TableEnumOrId = 'Opportunity'")  # fmt: skip
    assert by_object == {
        "size": 1, "totalSize": 1, "done": True, "queryLocator": None,
        "entityTypeName": "CustomField",
        "records": [{
            "attributes": {"type": "CustomField",
                           "url": f"{API}/tooling/sobjects/CustomField/{created['id']}"},
            "Id": created["id"], "DeveloperName": "Qmon_Status", "TableEnumOrId": "Opportunity",
        }],
    }  # fmt: skip
    by_name = tooling_query(
        sf, "SELECT Id, FullName, Metadata FROM CustomField WHERE DeveloperName = 'qmon_status'"
    )
    assert by_name["records"][0]["FullName"] == STATUS
    assert by_name["records"][0]["Metadata"]["valueSet"] == STATUS_METADATA["valueSet"]
    assert tooling_query(sf, "SELECT Id FROM CustomField WHERE TableEnumOrId = 'Case'")[
        "records"] == []  # fmt: skip

    # Made through the Tooling API, the field is no one's to read yet: not in describe, not
    # in SOQL, not writable.
    assert "Qmon_Status__c" not in described(sf, "Opportunity")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, Qmon_Status__c FROM Opportunity")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    deal = fake.add_record("Opportunity", {"Name": "Acme"})
    with pytest.raises(SalesforceMalformedRequest) as caught:
        update(sf, [opp(deal, Qmon_Status__c="kept")])
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_field_level_security_before_and_after_the_permission_set(fake, sf):
    create_field(sf, STATUS, STATUS_METADATA)
    deal = fake.add_record("Opportunity", {"Name": "Acme"})

    permission_set = grant(sf, STATUS, edit=False)  # read only
    status = described(sf, "Opportunity")["Qmon_Status__c"]
    assert (status["type"], status["label"], status["custom"]) == ("picklist", "Qmon status", True)
    assert (status["updateable"], status["createable"]) == (False, False)
    assert status["restrictedPicklist"] is True
    assert [(v["value"], v["label"], v["active"]) for v in status["picklistValues"]] == [
        ("kept", "Kept", True), ("at_risk", "At risk", True), ("breached", "Breached", True)
    ]  # fmt: skip
    assert sf.query("SELECT Id, Qmon_Status__c FROM Opportunity")["records"][0][
        "Qmon_Status__c"] is None  # fmt: skip
    [result] = update(sf, [opp(deal, Qmon_Status__c="kept")])
    assert result["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"

    # Granting edit on the existing FieldPermissions row: now writable.
    row = sf.query(
        "SELECT Id, PermissionsRead, PermissionsEdit FROM FieldPermissions "
        f"WHERE ParentId = '{permission_set}' AND Field = '{STATUS}'")["records"][0]  # fmt: skip
    assert (row["PermissionsRead"], row["PermissionsEdit"]) == (True, False)
    assert sf.FieldPermissions.update(row["Id"], {"PermissionsEdit": True}) == 204
    assert described(sf, "Opportunity")["Qmon_Status__c"]["updateable"] is True
    assert update(sf, [opp(deal, Qmon_Status__c="kept")])[0]["success"] is True
    assert sf.query("SELECT Id FROM Opportunity WHERE Qmon_Status__c = 'kept'")["totalSize"] == 1

    # The test-side control revokes edit again, whatever the grants say.
    fake.deny_edit("Opportunity", "Qmon_Status__c")
    assert described(sf, "Opportunity")["Qmon_Status__c"]["updateable"] is False
    [result] = update(sf, [opp(deal, Qmon_Status__c="breached")])
    assert result["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"

    # A grant to another user gives the API user nothing.
    create_field(sf, "Opportunity.Qmon_Due__c", {"label": "Qmon next due", "type": "DateTime"})
    other = sf.PermissionSet.create({"Name": "Someone_Else", "Label": "Someone else"})["id"]
    sf.PermissionSetAssignment.create({"AssigneeId": fake.add_user(), "PermissionSetId": other})
    due = {"ParentId": other, "SobjectType": "Opportunity", "Field": "Opportunity.Qmon_Due__c"}
    sf.FieldPermissions.create({**due, "PermissionsRead": True})
    assert "Qmon_Due__c" not in described(sf, "Opportunity")


def test_the_permission_set_is_found_by_name_and_its_rows_by_query(fake, sf):
    create_field(sf, STATUS, STATUS_METADATA)
    permission_set = grant(sf, STATUS)

    found = sf.query("SELECT Id, Name, Label FROM PermissionSet WHERE Name = 'Qmon_Writeback'")
    assert [(r["Id"], r["Name"], r["Label"]) for r in found["records"]] == [
        (permission_set, "Qmon_Writeback", "Qmon writeback")
    ]
    assignments = sf.query(
        "SELECT Id, AssigneeId FROM PermissionSetAssignment "
        f"WHERE PermissionSetId = '{permission_set}'")["records"]  # fmt: skip
    assert [r["AssigneeId"] for r in assignments] == [fake.user_id]
    rows = sf.query("SELECT SobjectType, Field, PermissionsEdit FROM FieldPermissions")["records"]
    assert [(r["SobjectType"], r["Field"], r["PermissionsEdit"]) for r in rows] == [
        ("Opportunity", STATUS, True)
    ]
    described_set = sf.PermissionSet.describe()
    assert described_set["createable"] is True
    assert {f["name"]: f["createable"] for f in described_set["fields"]}["Name"] is True


def test_permission_objects_refuse_what_the_org_refuses(fake, sf):
    create_field(sf, STATUS, STATUS_METADATA)
    permission_set = grant(sf, STATUS)

    def refused(call: Any, *args: Any) -> dict[str, Any]:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            call(*args)
        return caught.value.content[0]

    fp = sf.FieldPermissions.create
    assert refused(fp, {"ParentId": permission_set, "SobjectType": "Opportunity",
                        "Field": "Opportunity.Nope__c", "PermissionsRead": True}) == {
        "message": "Field Name: bad value for restricted picklist field: Opportunity.Nope__c",
        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["Field"],
    }  # fmt: skip
    assert (
        refused(
            fp,
            {
                "ParentId": permission_set,
                "SobjectType": "Opportunity",
                "Field": STATUS,
                "PermissionsRead": True,
            },
        )["errorCode"]
        == "DUPLICATE_VALUE"
    )
    create_field(sf, "Opportunity.Qmon_Promise__c", {"label": "Qmon promise", "type": "Text",
                                                     "length": 80})  # fmt: skip
    edit_only = {"ParentId": permission_set, "SobjectType": "Opportunity",
                 "Field": "Opportunity.Qmon_Promise__c", "PermissionsEdit": True}  # fmt: skip
    assert refused(fp, edit_only)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert refused(fp, {**edit_only, "SobjectType": "Case", "PermissionsRead": True})[
        "errorCode"] == "FIELD_INTEGRITY_EXCEPTION"  # fmt: skip
    assert refused(fp, {"SobjectType": "Opportunity", "Field": STATUS}) == {
        "message": "Required fields are missing: [ParentId]",
        "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["ParentId"],
    }  # fmt: skip
    # Neither read nor edit: created, and deleted by the org at once.
    gone = fp({"ParentId": permission_set, "SobjectType": "Opportunity",
               "Field": "Opportunity.Qmon_Promise__c"})["id"]  # fmt: skip
    assert sf.query(f"SELECT Id FROM FieldPermissions WHERE Id = '{gone}'")["totalSize"] == 0

    ps = sf.PermissionSet.create
    assert refused(ps, {"Name": "qmon_writeback", "Label": "again"})["errorCode"] == (
        "DUPLICATE_DEVELOPER_NAME"
    )
    assert refused(ps, {"Name": "No_Label"})["message"] == "Required fields are missing: [Label]"
    psa = sf.PermissionSetAssignment.create
    assert refused(psa, {"AssigneeId": fake.user_id, "PermissionSetId": permission_set})[
        "errorCode"] == "DUPLICATE_VALUE"  # fmt: skip
    assert refused(psa, {"AssigneeId": permission_set, "PermissionSetId": permission_set})[
        "errorCode"] == "FIELD_INTEGRITY_EXCEPTION"  # fmt: skip
    row = sf.query("SELECT Id FROM FieldPermissions")["records"][0]["Id"]
    assert refused(sf.FieldPermissions.update, row, {"Field": "Opportunity.Amount"})[
        "errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"  # fmt: skip


def test_tooling_refuses_duplicates_and_bad_metadata(fake, sf):
    fake.add_field("Opportunity", "Qmon_Breaches__c", "double")
    create_field(sf, STATUS, STATUS_METADATA)

    def refused(full_name: str, metadata: dict[str, Any]) -> dict[str, Any]:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            create_field(sf, full_name, metadata)
        assert caught.value.status == 400
        return caught.value.content[0]

    assert refused(STATUS, STATUS_METADATA) == {
        "message": "There is already a field named Qmon_Status on Opportunity.",
        "errorCode": "DUPLICATE_DEVELOPER_NAME", "fields": [],
    }  # fmt: skip
    number = {"label": "Breaches", "type": "Number", "precision": 18, "scale": 0}
    assert refused("Opportunity.qmon_breaches__c", number)["errorCode"] == (
        "DUPLICATE_DEVELOPER_NAME"
    )
    bad = [
        ("Opportunity.Qmon_X__c", {"type": "Text", "length": 10}, "REQUIRED_FIELD_MISSING"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Formula"}, "JSON_PARSER_ERROR"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Text"}, "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Text", "length": 256},
         "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Number"}, "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Number", "precision": 5, "scale": 6},
         "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Picklist"}, "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Checkbox"},
         "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Url", "externalId": True},
         "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon_X__c", {"label": "X", "type": "Text", "length": "long"},
         "JSON_PARSER_ERROR"),
        ("Opportunity.Qmon_X", {"label": "X", "type": "Url"}, "FIELD_INTEGRITY_EXCEPTION"),
        ("Opportunity.Qmon__X__c", {"label": "X", "type": "Url"}, "FIELD_INTEGRITY_EXCEPTION"),
        ("Nope.Qmon_X__c", {"label": "X", "type": "Url"}, "FIELD_INTEGRITY_EXCEPTION"),
        ("Task.Qmon_Key__c", {"label": "X", "type": "Url"}, "FIELD_INTEGRITY_EXCEPTION"),
    ]  # fmt: skip
    for full_name, metadata, code in bad:
        assert refused(full_name, metadata)["errorCode"] == code, (full_name, metadata)
    assert len(fake.custom_fields) == 1  # nothing was created


def test_tooling_full_name_and_metadata_need_a_one_row_query(fake, sf):
    create_field(sf, STATUS, STATUS_METADATA)
    assert tooling_query(sf, "SELECT FullName FROM CustomField")["records"][0]["FullName"] == STATUS
    create_field(sf, "Opportunity.Qmon_Link__c", {"label": "Qmon link", "type": "Url"})

    with pytest.raises(SalesforceMalformedRequest) as caught:
        tooling_query(sf, "SELECT Id, Metadata FROM CustomField")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "no more than one row" in caught.value.content[0]["message"]
    rows = tooling_query(sf, "SELECT DeveloperName FROM CustomField ORDER BY DeveloperName")
    assert [r["DeveloperName"] for r in rows["records"]] == ["Qmon_Link", "Qmon_Status"]


def test_field_types_describe_and_check_values(fake, sf):
    fields = {
        "Qmon_Breaches__c": {"label": "Qmon breaches", "type": "Number", "precision": 4,
                             "scale": 0},
        "Qmon_Promise__c": {"label": "Qmon promise", "type": "Text", "length": 10},
        "Qmon_Link__c": {"label": "Qmon link", "type": "Url"},
        "Qmon_Due__c": {"label": "Qmon next due", "type": "DateTime"},
    }  # fmt: skip
    for name, metadata in fields.items():
        create_field(sf, f"Opportunity.{name}", metadata)
    grant(sf, *(f"Opportunity.{name}" for name in fields))
    deal = fake.add_record("Opportunity", {"Name": "Acme"})

    described_fields = described(sf, "Opportunity")
    shapes = {n: (described_fields[n]["type"], described_fields[n]["label"]) for n in fields}
    assert shapes == {
        "Qmon_Breaches__c": ("double", "Qmon breaches"),
        "Qmon_Promise__c": ("string", "Qmon promise"),
        "Qmon_Link__c": ("url", "Qmon link"),
        "Qmon_Due__c": ("datetime", "Qmon next due"),
    }
    assert (described_fields["Qmon_Breaches__c"]["precision"],
            described_fields["Qmon_Breaches__c"]["scale"]) == (4, 0)  # fmt: skip
    assert described_fields["Qmon_Promise__c"]["length"] == 10

    [long_text, too_many, ok] = update(sf, [
        opp(deal, Qmon_Promise__c="quote-within-24h"),
        opp(deal, Qmon_Breaches__c=12345),
        opp(deal, Qmon_Breaches__c=3, Qmon_Due__c="2026-01-02T17:00:00+01:00",
            Qmon_Link__c="https://qmon.example/i/1", Qmon_Promise__c="quote-24h"),
    ])  # fmt: skip
    assert long_text["errors"] == [{
        "statusCode": "STRING_TOO_LONG",
        "message": "Qmon promise: data value too large: quote-within-24h (max length=10)",
        "fields": ["Qmon_Promise__c"],
    }]  # fmt: skip
    assert too_many["errors"][0]["statusCode"] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert ok["success"] is True
    row = sf.query("SELECT Qmon_Breaches__c, Qmon_Due__c, Qmon_Link__c FROM Opportunity")[
        "records"
    ][0]
    assert (row["Qmon_Breaches__c"], row["Qmon_Due__c"], row["Qmon_Link__c"]) == (
        3.0, "2026-01-02T16:00:00.000+0000", "https://qmon.example/i/1")  # fmt: skip


def test_activity_fields_are_on_task_and_event_with_security_per_object(fake, sf):
    create_field(sf, "Activity.Qmon_Key__c", {"label": "Qmon key", "type": "Text", "length": 80})
    assert tooling_query(sf, "SELECT TableEnumOrId FROM CustomField WHERE "
                             "DeveloperName = 'Qmon_Key'")["records"][0]["TableEnumOrId"] == (
        "Activity"
    )  # fmt: skip
    assert [f.sobject for f in fake.custom_fields] == ["Task", "Event"]

    grant(sf, "Task.Qmon_Key__c")
    assert described(sf, "Task")["Qmon_Key__c"]["updateable"] is True
    assert "Qmon_Key__c" not in described(sf, "Event")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        create_field(sf, "Activity.Qmon_Key__c", {"label": "again", "type": "Url"})
    assert caught.value.content[0]["errorCode"] == "DUPLICATE_DEVELOPER_NAME"


def test_fields_added_by_the_test_stay_readable_and_editable(fake, sf):
    fake.add_field("Opportunity", "Qmon_Status__c", "picklist")
    deal = fake.add_record("Opportunity", {"Name": "Acme"})

    status = described(sf, "Opportunity")["Qmon_Status__c"]
    assert (status["updateable"], status["createable"], status["picklistValues"]) == (
        True, True, [])  # fmt: skip
    assert described(sf, "Opportunity")["Id"]["updateable"] is False
    assert update(sf, [opp(deal, Qmon_Status__c="anything")])[0]["success"] is True

    with pytest.raises(KeyError):
        fake.deny_edit("Opportunity", "Nope__c")
    with pytest.raises(KeyError):
        fake.deny_edit("Nope__c", "Name")


# --- the API user, usage, faults -------------------------------------------------------------


def test_userinfo_names_the_api_user_and_is_not_billed(fake, sf, http):
    used = fake.api_requests_used

    info = sf.oauth2("userinfo")

    assert info["user_id"] == fake.user_id
    assert info["user_id"].startswith("005")
    assert info["organization_id"] == fake.org_id
    assert info["sub"] == f"https://login.salesforce.com/id/{fake.org_id}/{fake.user_id}"
    assert fake.api_requests_used == used
    assert fake.request_log[-1].path == "/services/oauth2/userinfo"
    # The token response's identity URL ends with the same id.
    login = {"grant_type": "client_credentials", "client_id": "k", "client_secret": "s"}
    token = http.post(fake.token_url, data=login).json()
    assert token["id"].rsplit("/", 1)[1] == fake.user_id

    fake.expire_sessions()
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.oauth2("userinfo")
    assert caught.value.status == 403
    assert caught.value.content == "Bad_OAuth_Token"


def test_writes_are_billed_faulted_and_limited_like_reads(fake, sf):
    deal = fake.add_record("Opportunity", {"Name": "Acme"})
    fake.fail_next()
    with pytest.raises(SalesforceGeneralError) as caught:
        update(sf, [opp(deal, Amount=1)])
    assert caught.value.status == 503
    assert fake.get_record("Opportunity", deal)["Amount"] is None
    assert fake.request_log[-1].method == "PATCH"
    assert fake.request_log[-1].status == 503

    fake.fail_next(status=500)
    with pytest.raises(SalesforceGeneralError):
        sf.Task.create({"Subject": "x"})
    fake.fail_next()
    with pytest.raises(SalesforceGeneralError):
        create_field(sf, STATUS, STATUS_METADATA)
    assert fake.records("Task") == [] and fake.custom_fields == []

    fake.api_requests_used = fake.daily_api_limit - 1
    assert update(sf, [opp(deal, Amount=1)])[0]["success"] is True
    assert sf.api_usage["api-usage"].used == fake.daily_api_limit
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.Task.create({"Subject": "x"})
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    with pytest.raises(SalesforceRefusedRequest):
        create_field(sf, STATUS, STATUS_METADATA)
    assert fake.records("Task") == []
