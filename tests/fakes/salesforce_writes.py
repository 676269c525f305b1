"""Writes through the API for :class:`tests.fakes.salesforce.FakeSalesforce`.

:class:`SalesforceWrites` is a mixin the fake org inherits. It answers what qmon's writeback
sends: sObject Collections update, single-record create and update, the Tooling API's
``CustomField`` (create and query), the setup objects that grant field-level security
(``PermissionSet``, ``FieldPermissions``, ``PermissionSetAssignment``) and the OpenID Connect
UserInfo endpoint that tells a client its own user id. Every call under ``/services/data``
goes through the fake's usual routing, so it counts one API request, answers
``Sforce-Limit-Info``, meets injected faults (``fail_next``) first and lands in the request
log, exactly as reads do.

Where each shape comes from
---------------------------
REST API Developer Guide:

- *Update Records Using sObject Collections* (``PATCH /services/data/vXX.X/composite/sobjects``):
  ``allOrNone`` (default false) and ``records``; "up to 200 records"; every record needs
  ``attributes.type`` and an ``id``; results are SaveResults "in the order in which the update
  requests were specified"; a request that "isn't well formed" is a 400, otherwise 200 with
  ``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}`` per record.
- *allOrNone Parameters in Composite and Collections Requests* and the SOAP
  *AllOrNoneHeader*: with allOrNone every change is rolled back when one record fails; records
  without an error of their own say so with ``ALL_OR_NONE_OPERATION_ROLLED_BACK`` and the message
  "Record rolled back because not all records were valid and the request was using AllOrNone
  header" (the sObject Collections create example).
- *Create a Record* (``POST .../sobjects/Task/``): 201 ``{"id", "success": true, "errors": []}``;
  *Update a Record* (``PATCH .../sobjects/Task/{id}``): 204 without a body;
  *Status Codes and Error Responses*: an error body is a JSON list of
  ``{"message", "errorCode", "fields"}``; 404 "The requested resource does not exist"; 405.
- The error codes are the SOAP API ``StatusCode`` values the REST API reuses:
  ``ENTITY_IS_DELETED`` ("entity is deleted"), ``INVALID_CROSS_REFERENCE_KEY`` ("invalid cross
  reference id"), ``MALFORMED_ID`` (the documented "Contact ID: id value of incorrect type:
  001xx000003DGb2999" with ``fields: ["Id"]``), ``INVALID_FIELD_FOR_INSERT_UPDATE`` ("Unable to
  create/update fields: X. Please check the security settings of this field and verify that it
  is read/write for your profile or permission set."), ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``
  ("X: bad value for restricted picklist field: v"), ``REQUIRED_FIELD_MISSING`` ("Required fields
  are missing: [X]"), ``FIELD_INTEGRITY_EXCEPTION`` ("Name ID: id value of incorrect type: 001..."
  for a Task's WhoId naming an Account), ``STRING_TOO_LONG``, ``NUMBER_OUTSIDE_VALID_RANGE``,
  ``DUPLICATE_VALUE``, ``DUPLICATE_DEVELOPER_NAME`` ("You cannot create a custom object or custom
  field with a duplicate developer name"), ``INACTIVE_OWNER_OR_USER``, ``EXCEEDED_ID_LIMIT``
  ("record limit reached. cannot submit more than 200 records into this call"),
  ``MISSING_ARGUMENT`` ("Id not specified in an update call") and
  ``INVALID_TYPE_FOR_OPERATION``. The message texts are the ones orgs answer, as quoted in
  client libraries' issue threads (jsforce, restforce, simple-salesforce); a field that does
  not exist is ``INVALID_FIELD`` "No such column 'X' on sobject of type Y".

Tooling API Developer Guide: the ``CustomField`` object (``DeveloperName`` is the name without
``__c``; ``FullName`` like ``Opportunity.Qmon_Status__c``; ``Metadata`` is CustomFieldMetadata:
``label``, ``type``, ``length``, ``precision``, ``scale``, ``externalId``, ``valueSet``...;
``TableEnumOrId``), created with ``POST .../tooling/sobjects/CustomField/`` (201
``{"id", "success", "errors", "warnings", "infos"}``) and read with ``GET .../tooling/query/?q=``
(the query envelope plus ``size``, ``queryLocator`` and ``entityTypeName``). Custom fields of
Task and Event live on Activity (``Activity.Qmon_Key__c``), while their field-level security
is set per object (``Task.Qmon_Key__c``).

Object Reference: ``FieldPermissions`` (``Field`` is a restricted picklist of
``SobjectType.FieldName``; ``PermissionsEdit`` "Requires PermissionsRead for the same field to
be true"; "A FieldPermissions record must have at minimum PermissionsRead set to true, or it
will be deleted"; ``ParentId``, ``SobjectType`` and ``Field`` are create-only),
``PermissionSet`` (``Name``, ``Label``), ``PermissionSetAssignment`` (``AssigneeId``,
``PermissionSetId``), ``Task`` (``Status`` and ``Priority`` defaulted on create, ``IsClosed``
and ``CompletedDateTime`` set by the org, ``TaskSubtype`` a create-only restricted picklist).
A custom field made through the Tooling (or Metadata) API is readable and editable by nobody
until a permission set grants it; an unreadable field is absent from describe and unknown to
SOQL and to writes, just as in an org.

The API user's id: ``GET /services/oauth2/userinfo`` (OpenID Connect UserInfo; help article
*Query for User Information*) answers ``user_id`` (and ``organization_id``, ``sub``...); with
simple-salesforce that is ``sf.oauth2("userinfo")["user_id"]``. The token endpoint's ``id``
(``.../id/<org id>/<user id>``, the *Identity URL*) ends with the same id. A token the identity
service does not accept is a 403 with the plain text ``Bad_OAuth_Token``.

simple-salesforce 1.12 (``api.py``): ``sf.restful(path, method=..., json=...)`` returns the
decoded JSON (None for a 204); ``sf.Task.create(data)`` returns the decoded 201 body;
``sf.Task.update(id, data)`` returns the status code (204); ``sf.toolingexecute(action,
method="GET", data=None, **kwargs)`` sends ``data`` as JSON to ``.../tooling/<action>`` and
returns the decoded body; ``sf.oauth2(path)`` GETs ``/services/oauth2/<path>``. Every status
of 300 or more raises through ``exception_handler``: 400 ``SalesforceMalformedRequest``, 401
``SalesforceExpiredSession``, 403 ``SalesforceRefusedRequest``, 404
``SalesforceResourceNotFound``, anything else ``SalesforceGeneralError``.

Assumptions (not stated in the documentation; a test leaning on one leans on a guess)
-------------------------------------------------------------------------------------
- An unknown or unreadable field, or a value of the wrong JSON type, fails the whole request
  (400 ``INVALID_FIELD`` / ``JSON_PARSER_ERROR``), also in a collection: the body is read
  before any record is saved. A record without ``attributes.type`` or of an unknown type is a
  400 ``INVALID_TYPE``.
- In a collection a well-formed id of the right object that matches no record is
  ``INVALID_CROSS_REFERENCE_KEY`` (a soft-deleted one ``ENTITY_IS_DELETED``); a failed record's
  SaveResult has no ``id``, a rolled-back one keeps its ``id``. Duplicate ids in one collection
  and the ten-chunk limit are not checked.
- A single-record PATCH of an id that matches nothing is 404 ``NOT_FOUND``; of a malformed id
  or one of another object, 404 ``NOT_FOUND`` "Provided external ID field does not exist or
  is not accessible: <id>"; of a soft-deleted record, 404 ``ENTITY_IS_DELETED``.
- A record answers the first error it meets, in this order: fields it may not write, required
  fields, each value (restricted picklist, length, numeric range, references), then rules of
  the object (duplicates, FieldPermissions consistency).
- References: a malformed id is ``MALFORMED_ID``; an id of an object the field cannot point to
  (an OwnerId that is no user, a WhoId that is no Contact or Lead, ...) is
  ``FIELD_INTEGRITY_EXCEPTION``; an id of a modelled object that matches no record is
  ``INVALID_CROSS_REFERENCE_KEY`` (an unknown user as owner: "<label>: owner cannot be blank");
  ids of objects the fake does not model (001 Account, 003 Contact, ...) are accepted unchecked.
  Users are the API user and those made with :meth:`SalesforceWrites.add_user`.
- Task statuses are the default org's (Not Started, In Progress, Completed, Waiting on someone
  else, Deferred; only Completed is closed) and are not a restricted picklist; closing a task
  sets ``CompletedDateTime`` to the org clock, reopening it clears it.
- Tooling: ``TableEnumOrId`` is the object's name (``Activity`` for activity fields; a real org
  gives a custom object's 01I id instead); ``Task.X__c`` and ``Event.X__c`` are refused with
  ``FIELD_INTEGRITY_EXCEPTION``, as is any other bad Metadata (missing label, Text without
  length, Number without precision/scale, Picklist without values, Checkbox without
  defaultValue, a name without ``__c``); an unknown Metadata ``type`` is ``JSON_PARSER_ERROR``.
  A duplicate PermissionSet ``Name`` is ``DUPLICATE_DEVELOPER_NAME`` and a second
  FieldPermissions for one (permission set, field) or a second assignment ``DUPLICATE_VALUE``;
  Edit without Read is ``FIELD_INTEGRITY_EXCEPTION``. Tooling queries answer in one page, and
  selecting ``FullName`` or ``Metadata`` needs a query of at most one row (``MALFORMED_QUERY``).
- The UserInfo endpoint does not count as an API request (like the token endpoint).

Not modelled: collection create, upsert and delete, record GET and DELETE, composite and batch
requests, validation rules, triggers, sharing, profiles, permission set groups and Tooling
updates or deletes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.salesforce import FieldSpec, SObjectSpec, _Response

MAX_COLLECTION_RECORDS = 200
"""sObject Collections: "The list can contain up to 200 objects"."""

USERINFO_PATH = "/services/oauth2/userinfo"
USER_PREFIX = "005"
CUSTOM_FIELD_PREFIX = "00N"
API_USERNAME = "integration@fake-salesforce.example"

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}

TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_CLOSED_STATUSES = frozenset({"Completed"})
TASK_PRIORITIES = ("High", "Normal", "Low")
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")

# Fields the org sets itself, on any object.
_READ_ONLY = frozenset(
    {
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "IsClosed",
        "IsWon",
        "IsArchived",
        "CompletedDateTime",
        "CaseNumber",
        "QuoteNumber",
        "IsSyncing",
        "GrandTotal",
        "ExpectedRevenue",
    }
)
_OBJECT_READ_ONLY = frozenset(
    {
        ("permissionset", "isownedbyprofile"),
        ("permissionsetassignment", "isactive"),
    }
)
_CREATE_ONLY = frozenset(
    {
        ("fieldpermissions", "parentid"),
        ("fieldpermissions", "sobjecttype"),
        ("fieldpermissions", "field"),
        ("permissionsetassignment", "assigneeid"),
        ("permissionsetassignment", "permissionsetid"),
        ("task", "tasksubtype"),
        ("event", "eventsubtype"),
    }
)
# History rows are written by the org, record types through metadata.
_NOT_WRITABLE = frozenset(
    {"opportunityhistory", "casehistory", "opportunityfieldhistory", "recordtype"}
)
_REQUIRED = {
    "opportunity": ("Name", "StageName", "CloseDate"),
    "quote": ("Name", "OpportunityId"),
    "task": ("Status", "Priority"),
    "permissionset": ("Name", "Label"),
    "fieldpermissions": ("ParentId", "SobjectType", "Field"),
    "permissionsetassignment": ("AssigneeId", "PermissionSetId"),
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "task": {"Status": "Not Started", "Priority": "Normal"},
    "fieldpermissions": {"PermissionsRead": False, "PermissionsEdit": False},
    "permissionset": {"IsOwnedByProfile": False},
    "permissionsetassignment": {"IsActive": True},
}
# (object, field) -> (values, restricted) for standard picklists the fake knows the values of.
_STANDARD_PICKLISTS = {
    ("task", "status"): (TASK_STATUSES, False),
    ("task", "priority"): (TASK_PRIORITIES, False),
    ("task", "tasksubtype"): (TASK_SUBTYPES, True),
}
_LABELS = {
    ("task", "ownerid"): "Assigned To ID",
    ("event", "ownerid"): "Assigned To ID",
    ("task", "whatid"): "Related To ID",
    ("event", "whatid"): "Related To ID",
    ("task", "whoid"): "Name ID",
    ("event", "whoid"): "Name ID",
    ("fieldpermissions", "field"): "Field Name",
    ("fieldpermissions", "sobjecttype"): "SObject Type Name",
    ("fieldpermissions", "parentid"): "Parent ID",
    ("fieldpermissions", "permissionsread"): "Read Field",
    ("fieldpermissions", "permissionsedit"): "Edit Field",
}
_HUMAN_PREFIXES = frozenset({"003", "00Q"})  # Contact, Lead: what a WhoId names
# Key prefixes a reference may name; "*" is any object.
_TARGETS: dict[tuple[str, str], frozenset[str]] = {
    ("*", "ownerid"): frozenset({USER_PREFIX}),
    ("case", "ownerid"): frozenset({USER_PREFIX, "00G"}),
    ("task", "whoid"): _HUMAN_PREFIXES,
    ("event", "whoid"): _HUMAN_PREFIXES,
    ("*", "accountid"): frozenset({"001"}),
    ("*", "contactid"): frozenset({"003"}),
    ("*", "opportunityid"): frozenset({"006"}),
    ("*", "caseid"): frozenset({"500"}),
    ("*", "quoteid"): frozenset({"0Q0"}),
    ("permissionsetassignment", "assigneeid"): frozenset({USER_PREFIX}),
    ("permissionsetassignment", "permissionsetid"): frozenset({"0PS"}),
    ("fieldpermissions", "parentid"): frozenset({"0PS"}),
}
# What a WhatId can never name: people.
_NOT_WHAT = _HUMAN_PREFIXES | {USER_PREFIX}

# Metadata API FieldType -> the type describe reports.
TOOLING_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Number": "double",
    "Percent": "percent",
    "Currency": "currency",
    "Checkbox": "boolean",
    "Date": "date",
    "DateTime": "datetime",
    "Url": "url",
    "Email": "email",
    "Phone": "phone",
    "Picklist": "picklist",
}
_NUMERIC_TOOLING = frozenset({"Number", "Percent", "Currency"})
_EXTERNAL_ID_TOOLING = frozenset({"Text", "Number", "Email"})
_DEVELOPER_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_JSON_TYPE_NAMES = {
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "date": "date",
    "datetime": "datetime",
    "id": "id",
    "reference": "id",
}


class _Refusal(Exception):
    """One record's save refused: an entry of a SaveResult's ``errors``, or a 400 body."""

    def __init__(self, code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields)

    def save_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


class _BadRequest(Exception):
    """The whole request refused: HTTP status and the one error of its body."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            error["fields"] = self.fields
        return [error]


@dataclass
class ApiField:
    """A custom field created through the Tooling API, on one object (Task and Event each
    get one for an Activity field). Readable only while a permission set grants it."""

    id: str
    sobject: str
    spec: FieldSpec
    label: str
    tooling_type: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    values: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    default_value: Any = None
    restricted: bool = False
    external_id: bool = False

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class _Plan:
    """One record of a write, checked: what to change, or why not."""

    spec: SObjectSpec
    record: dict[str, Any] | None
    values: dict[str, Any] = field(default_factory=dict)
    refusal: _Refusal | None = None


def _bad_json(detail: str) -> _BadRequest:
    return _BadRequest(400, "JSON_PARSER_ERROR", detail)


def _read_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8") if body else "")
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_json(f"Unable to parse the request body: {exc}") from None


def _token(value: Any) -> str:
    """Jackson's name for a JSON value, as Salesforce's deserialisation errors give it."""
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


def _id18(value: Any) -> str | None:
    """The 18-character form of a well-formed id, or None (a 15-character id is extended)."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    suffix = base.id_checksum(value[:15])
    if len(value) == 18 and value[15:].upper() != suffix:
        return None
    return value[:15] + suffix


class SalesforceWrites:
    """The write side of the fake org (mixed into FakeSalesforce, which provides the records,
    schema, lock, clock and routing). See the module docstring for sources and assumptions."""

    # attributes FakeSalesforce provides
    _sobjects: dict[str, SObjectSpec]
    _records: dict[str, dict[str, dict[str, Any]]]
    _sessions: set[str]
    _counter: int
    user_id: str
    org_id: str

    # -- test-side controls ------------------------------------------------------------------

    def deny_edit(self, sobject: str, field_name: str) -> None:
        """Make ``sobject.field_name`` read-only for the API user (field-level security).

        Describe then reports ``updateable``/``createable`` false and writes of the field
        answer ``INVALID_FIELD_FOR_INSERT_UPDATE``, whatever permission sets grant. Test-side
        methods (``update_record``...) still change it.

        Raises:
            KeyError: no such object or field (visible or created through the Tooling API).
        """
        with self._lock:  # type: ignore[attr-defined]
            spec = self.sobject(sobject)  # type: ignore[attr-defined]
            key = (spec.name.lower(), field_name.lower())
            if spec.field(field_name) is None and key not in self._api_fields:
                raise KeyError(f"{spec.name} has no field {field_name!r}")
            self._edit_denied.add(key)

    def add_user(self, *, active: bool = True) -> str:
        """Another user of the org (a record owner, say); returns its ``005`` id.

        Only the API user and users added here are users to the fake: an OwnerId or AssigneeId
        naming any other ``005`` id is refused as it would be in an org without that user.
        """
        with self._lock:  # type: ignore[attr-defined]
            self._counter += 1
            user_id = base.salesforce_id(USER_PREFIX, self._counter)
            self._users[user_id] = active
            return user_id

    @property
    def custom_fields(self) -> list[ApiField]:
        """Fields created through the Tooling API (one per object), oldest first."""
        with self._lock:  # type: ignore[attr-defined]
            return list(self._api_fields.values())

    # -- set-up, called by FakeSalesforce.__init__ ---------------------------------------------

    def _init_writes(self) -> None:
        self._users: dict[str, bool] = {self.user_id: True}
        self._edit_denied: set[tuple[str, str]] = set()
        self._api_fields: dict[tuple[str, str], ApiField] = {}
        for spec in setup_sobjects():
            if spec.name.lower() not in self._sobjects:
                self._sobjects[spec.name.lower()] = spec
                self._records.setdefault(spec.name.lower(), {})
        self._tooling = {spec.name.lower(): spec for spec in tooling_sobjects()}
        self._tooling_records: dict[str, dict[str, dict[str, Any]]] = {
            name: {} for name in self._tooling
        }

    # -- routing, called by FakeSalesforce ---------------------------------------------------

    def _write_resource(
        self,
        method: str,
        version: str,
        segments: list[str],
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> _Response | None:
        """Answer the resources this mixin models, or None to let the read side answer."""
        self._refresh_visibility()  # test-side changes to the setup objects count at once
        head = segments[0] if segments else ""
        try:
            if segments == ["composite", "sobjects"] and method == "PATCH":
                return self._collection_update(body)
            if head == "sobjects" and len(segments) == 2:
                if method == "POST":
                    return self._create(segments[1], body)
                if method in ("PATCH", "PUT", "DELETE") and self._known(segments[1]):
                    return base._method_not_allowed(method, "HEAD,GET,POST")
            if head == "sobjects" and len(segments) == 3:
                if segments[2] == "describe":
                    return (
                        self._describe_writable(version, segments[1]) if method == "GET" else None
                    )
                if method == "PATCH":
                    return self._update_one(segments[1], segments[2], body)
            if segments == ["tooling", "query"]:
                if method != "GET":
                    return base._method_not_allowed(method, "GET,HEAD")
                return self._tooling_query(version, query)
            if segments == ["tooling", "sobjects", "CustomField"] and method == "POST":
                return self._tooling_create_field(body)
        except _BadRequest as exc:
            return base._json(exc.status, exc.body())
        return None

    def _userinfo(self, method: str, headers: Mapping[str, str]) -> _Response:
        """``/services/oauth2/userinfo`` for the token's user (not counted as API usage)."""
        if method not in ("GET", "POST"):
            return base._method_not_allowed(method, "GET,POST")
        if self._bearer(headers) not in self._sessions:  # type: ignore[attr-defined]
            return base._Response(403, b"Bad_OAuth_Token", {"Content-Type": "text/plain"})
        return base._json(
            200,
            {
                "sub": f"https://login.salesforce.com/id/{self.org_id}/{self.user_id}",
                "user_id": self.user_id,
                "organization_id": self.org_id,
                "preferred_username": API_USERNAME,
                "nickname": "integration",
                "name": "Integration User",
                "email": API_USERNAME,
                "email_verified": True,
                "given_name": "Integration",
                "family_name": "User",
                "zoneinfo": "GMT",
                "active": True,
                "user_type": "STANDARD",
                "language": "en_US",
                "locale": "en_US",
                "utcOffset": 0,
                "is_app_installed": True,
            },
        )

    def _known(self, name: str) -> bool:
        return name.lower() in self._sobjects

    # -- sObject Collections update ----------------------------------------------------------

    def _collection_update(self, body: bytes) -> _Response:
        payload = _read_json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
            raise _bad_json("The request body must be an object with a 'records' list")
        all_or_none = payload.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            raise _bad_json(
                f"Cannot deserialize instance of boolean from "
                f"{_token(all_or_none)} value {all_or_none}"
            )
        items = payload["records"]
        if len(items) > MAX_COLLECTION_RECORDS:
            raise _BadRequest(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit "
                f"more than {MAX_COLLECTION_RECORDS} records into this call",
            )
        read: list[tuple[SObjectSpec, Any, dict[str, Any]]] = []
        for item in items:
            if not isinstance(item, dict):
                raise _bad_json(f"Cannot deserialize instance of SObject from {_token(item)}")
            attributes = item.get("attributes")
            type_name = attributes.get("type") if isinstance(attributes, dict) else None
            if not isinstance(type_name, str) or not type_name:
                raise _BadRequest(
                    400, "INVALID_TYPE", "Each record needs an attributes map with a type"
                )
            spec = self._sobjects.get(type_name.lower())
            if spec is None:
                raise _BadRequest(
                    400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported."
                )
            raw_id = next((v for k, v in item.items() if k.lower() == "id"), None)
            fields = {k: v for k, v in item.items() if k != "attributes" and k.lower() != "id"}
            read.append((spec, raw_id, self._deserialize(spec, fields)))
        plans = []
        for spec, raw_id, values in read:
            plan = _Plan(spec, None, values)
            try:
                plan.record = self._target(spec, raw_id)
                self._check_save(spec, values, plan.record)
            except _Refusal as refusal:
                plan.refusal = refusal
            plans.append(plan)
        failed = any(plan.refusal for plan in plans)
        results: list[dict[str, Any]] = []
        for plan in plans:
            if plan.refusal is not None:
                results.append({"success": False, "errors": [plan.refusal.save_error()]})
            elif all_or_none and failed:
                assert plan.record is not None
                results.append(
                    {"id": plan.record["Id"], "success": False, "errors": [dict(ROLLED_BACK)]}
                )
            else:
                assert plan.record is not None
                self._apply_update(plan.spec, plan.record, plan.values)
                results.append({"id": plan.record["Id"], "success": True, "errors": []})
        self._after_write()
        return base._json(200, results)

    def _target(self, spec: SObjectSpec, raw_id: Any) -> dict[str, Any]:
        """The live record an update names, or the refusal a collection gives for it."""
        if raw_id is None or raw_id == "":
            raise _Refusal("MISSING_ARGUMENT", "Id not specified in an update call")
        record_id = _id18(raw_id)
        if record_id is None or record_id[:3] != spec.key_prefix:
            raise _Refusal(
                "MALFORMED_ID",
                f"{_object_id_label(spec)}: id value of incorrect type: {raw_id}",
                ["Id"],
            )
        if spec.name.lower() in _NOT_WRITABLE:
            raise _Refusal(
                "INVALID_TYPE_FOR_OPERATION",
                f"entity type cannot be updated: {base._label(spec.name)}",
            )
        record = self._records[spec.name.lower()].get(record_id)
        if record is None:
            raise _Refusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if record.get("IsDeleted"):
            raise _Refusal("ENTITY_IS_DELETED", "entity is deleted")
        return record

    # -- single records ----------------------------------------------------------------------

    def _create(self, name: str, body: bytes) -> _Response:
        spec = self._sobjects.get(name.lower())
        if spec is None:
            return base._error(404, "NOT_FOUND", "The requested resource does not exist")
        values = self._values_to_save(spec, body, None, "inserted")
        if isinstance(values, base._Response):
            return values
        record_id = self._insert(spec, values)
        self._after_write()
        return base._json(201, {"id": record_id, "success": True, "errors": []})

    def _values_to_save(
        self, spec: Any, body: bytes, record: dict[str, Any] | None, verb: str
    ) -> dict[str, Any] | _Response:
        """A create's or update's fields, checked as Salesforce checks them; or the 400."""
        payload = _read_json(body)
        if not isinstance(payload, dict):
            raise _bad_json(f"Cannot deserialize instance of {spec.name} from {_token(payload)}")
        values = self._deserialize(spec, {k: v for k, v in payload.items() if k != "attributes"})
        try:
            if spec.name.lower() in _NOT_WRITABLE:
                raise _Refusal(
                    "INVALID_TYPE_FOR_OPERATION",
                    f"entity type cannot be {verb}: {base._label(spec.name)}",
                )
            self._check_save(spec, values, record)
        except _Refusal as refusal:
            return base._json(400, refusal.body())
        return values

    def _update_one(self, name: str, raw_id: str, body: bytes) -> _Response:
        spec = self._sobjects.get(name.lower())
        if spec is None:
            return base._error(404, "NOT_FOUND", "The requested resource does not exist")
        record_id = _id18(raw_id)
        if record_id is None or record_id[:3] != spec.key_prefix:
            return base._error(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {raw_id}",
            )
        record = self._records[spec.name.lower()].get(record_id)
        if record is None:
            return base._error(404, "NOT_FOUND", "The requested resource does not exist")
        if record.get("IsDeleted"):
            return base._json(404, _Refusal("ENTITY_IS_DELETED", "entity is deleted").body())
        values = self._values_to_save(spec, body, record, "updated")
        if isinstance(values, base._Response):
            return values
        self._apply_update(spec, record, values)
        self._after_write()
        return base._Response(204)

    # -- reading a body ----------------------------------------------------------------------

    def _deserialize(self, spec: SObjectSpec, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Field values by canonical name, as Python values; the whole request fails (400) for
        a field the user cannot see or a value of the wrong JSON type."""
        values: dict[str, Any] = {}
        for name, raw in payload.items():
            field_spec = spec.field(name)
            if field_spec is None:
                raise _BadRequest(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {spec.name}"
                )
            values[field_spec.name] = _json_value(field_spec, raw)
        return values

    # -- checking a save ---------------------------------------------------------------------

    def _check_save(
        self, spec: SObjectSpec, values: dict[str, Any], record: dict[str, Any] | None
    ) -> None:
        """Raise the first refusal of this save (``record`` None: a create). Normalises
        reference ids to 18 characters and rounds numbers to their scale, in ``values``."""
        creating = record is None
        locked = [name for name in values if not self._editable(spec, name, creating=creating)]
        if locked:
            raise _Refusal(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                (
                    f"Unable to create/update fields: {', '.join(locked)}. Please check the "
                    "security settings of this field and verify that it is read/write for your "
                    "profile or permission set."
                ),
                locked,
            )
        obj = spec.name.lower()
        required = _REQUIRED.get(obj, ())
        if creating:
            merged = {**_DEFAULTS.get(obj, {}), **self._field_defaults(spec), **values}
            missing = [name for name in required if merged.get(name) in (None, "")]
        else:
            missing = [name for name in required if name in values and values[name] in (None, "")]
        if missing:
            raise _Refusal(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for name, value in list(values.items()):
            if value is not None:
                values[name] = self._checked_value(spec, name, value)
        self._check_object_rules(spec, values, record)

    def _checked_value(self, spec: SObjectSpec, name: str, value: Any) -> Any:
        field_spec = spec.fields[name.lower()]
        meta = self._api_fields.get((spec.name.lower(), name.lower()))
        label = self._field_label(spec, name)
        if field_spec.type == "picklist":
            allowed, restricted = self._picklist(spec, name)
            if restricted and value not in allowed:
                raise _Refusal(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{label}: bad value for restricted picklist field: {value}",
                    [name],
                )
        if isinstance(value, str) and field_spec.type in base.STRING_TYPES:
            limit = (
                meta.length
                if meta is not None and meta.length
                else (None if field_spec.type in ("textarea", "anyType") else 255)
            )
            if limit is not None and len(value) > limit:
                raise _Refusal(
                    "STRING_TOO_LONG",
                    f"{label}: data value too large: {value} (max length={limit})",
                    [name],
                )
        if meta is not None and meta.precision is not None and isinstance(value, float):
            scale = meta.scale or 0
            value = round(value, scale)
            if abs(value) >= 10 ** (meta.precision - scale):
                raise _Refusal(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    f"{label}: value outside of valid range on numeric field: {value}",
                    [name],
                )
        if field_spec.type == "reference":
            value = self._checked_reference(spec, name, value, label)
        return value

    def _checked_reference(self, spec: SObjectSpec, name: str, value: Any, label: str) -> str:
        record_id = _id18(value)
        if record_id is None:
            raise _Refusal("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [name])
        prefix, obj, key = record_id[:3], spec.name.lower(), name.lower()
        allowed = _TARGETS.get((obj, key), _TARGETS.get(("*", key)))
        wrong = (
            (prefix not in allowed)
            if allowed is not None
            else (key == "whatid" and prefix in _NOT_WHAT)
        )
        if wrong:
            raise _Refusal(
                "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", [name]
            )
        if prefix == USER_PREFIX:
            active = self._users.get(record_id)
            if active is None:
                if key == "ownerid":
                    raise _Refusal(
                        "INVALID_CROSS_REFERENCE_KEY", f"{label}: owner cannot be blank", [name]
                    )
                raise _Refusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            if not active and key == "ownerid":
                raise _Refusal(
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{record_id}] as owner of {obj}",
                )
            return record_id
        targets = [s for s in self._sobjects.values() if s.key_prefix == prefix]
        if not targets:
            return record_id  # an object the fake does not model: accepted unchecked
        found = next(
            (
                self._records[s.name.lower()][record_id]
                for s in targets
                if record_id in self._records[s.name.lower()]
            ),
            None,
        )
        if found is None:
            raise _Refusal("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if found.get("IsDeleted"):
            raise _Refusal("ENTITY_IS_DELETED", "entity is deleted")
        return record_id

    def _check_object_rules(
        self, spec: SObjectSpec, values: dict[str, Any], record: dict[str, Any] | None
    ) -> None:
        obj = spec.name.lower()
        base_values = record if record is not None else _DEFAULTS.get(obj, {})
        merged = {**base_values, **values}
        others = [
            r for r in self._records[obj].values() if record is None or r["Id"] != record["Id"]
        ]
        if obj == "permissionset" and "Name" in values:
            taken = {str(r.get("Name") or "").lower() for r in others}
            if str(values["Name"]).lower() in taken:
                raise _Refusal(
                    "DUPLICATE_DEVELOPER_NAME",
                    f"The API Name you entered is already in use: {values['Name']}",
                    ["Name"],
                )
        if obj == "fieldpermissions":
            self._check_field_permissions(values, merged, others)
        if obj == "permissionsetassignment":
            pair = (merged.get("AssigneeId"), merged.get("PermissionSetId"))
            if any((r.get("AssigneeId"), r.get("PermissionSetId")) == pair for r in others):
                raise _Refusal(
                    "DUPLICATE_VALUE",
                    "duplicate value found: <unknown> duplicates "
                    "value on record with id: <unknown>",
                )

    def _check_field_permissions(
        self, values: dict[str, Any], merged: dict[str, Any], others: list[dict[str, Any]]
    ) -> None:
        if "SobjectType" in values:
            target = self._sobjects.get(str(values["SobjectType"]).lower())
            if target is None:
                raise _Refusal(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "SObject Type Name: bad "
                    f"value for restricted picklist field: {values['SobjectType']}",
                    ["SobjectType"],
                )
            values["SobjectType"] = merged["SobjectType"] = target.name
        if "Field" in values:
            canonical = self._fls_field(str(values["Field"]))
            if canonical is None:
                raise _Refusal(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Field Name: bad value for restricted picklist field: {values['Field']}",
                    ["Field"],
                )
            values["Field"] = merged["Field"] = canonical
        if str(merged.get("Field") or "").split(".")[0] != merged.get("SobjectType"):
            raise _Refusal(
                "FIELD_INTEGRITY_EXCEPTION",
                f"Field Name: {merged.get('Field')} is not a field of {merged.get('SobjectType')}",
                ["Field"],
            )
        if merged.get("PermissionsEdit") and not merged.get("PermissionsRead"):
            raise _Refusal(
                "FIELD_INTEGRITY_EXCEPTION",
                "Permission Edit Field depends on permission(s): Read Field",
                ["PermissionsRead"],
            )
        pair = (merged.get("ParentId"), str(merged.get("Field")).lower())
        if any((r.get("ParentId"), str(r.get("Field")).lower()) == pair for r in others):
            raise _Refusal(
                "DUPLICATE_VALUE",
                "duplicate value found: <unknown> duplicates value on record with id: <unknown>",
            )

    def _fls_field(self, text: str) -> str | None:
        """``Object.Field`` spelled canonically, if field-level security can be set on it."""
        obj_name, _, field_name = text.partition(".")
        spec = self._sobjects.get(obj_name.lower())
        if spec is None or not field_name:
            return None
        meta = self._api_fields.get((spec.name.lower(), field_name.lower()))
        found = meta.spec if meta is not None else spec.field(field_name)
        if found is None or found.name in _READ_ONLY:
            return None
        return f"{spec.name}.{found.name}"

    # -- permissions -------------------------------------------------------------------------

    def _editable(self, spec: SObjectSpec, name: str, *, creating: bool) -> bool:
        key = (spec.name.lower(), name.lower())
        if key in self._edit_denied or key in _OBJECT_READ_ONLY:
            return False
        field_spec = spec.field(name)
        if field_spec is None or field_spec.name in _READ_ONLY:
            return False
        if not creating and key in _CREATE_ONLY:
            return False
        meta = self._api_fields.get(key)
        return meta is None or self._fls(spec.name, meta.name)[1]

    def _fls(self, sobject: str, field_name: str) -> tuple[bool, bool]:
        """(read, edit) the API user's permission sets grant on a Tooling-created field."""
        assigned = {
            r.get("PermissionSetId")
            for r in self._records["permissionsetassignment"].values()
            if r.get("AssigneeId") == self.user_id
        }
        wanted = f"{sobject}.{field_name}".lower()
        read = edit = False
        for row in self._records["fieldpermissions"].values():
            if row.get("ParentId") in assigned and str(row.get("Field")).lower() == wanted:
                read = read or bool(row.get("PermissionsRead"))
                edit = edit or bool(row.get("PermissionsEdit"))
        return read, read and edit

    def _refresh_visibility(self) -> None:
        """Show each Tooling-created field to the API user while it may read it, else hide it
        (from describe, SOQL and writes alike)."""
        for (obj, key), meta in self._api_fields.items():
            spec = self._sobjects.get(obj)
            if spec is None:
                continue
            if self._fls(spec.name, meta.name)[0]:
                spec.fields.setdefault(key, meta.spec)
            else:
                spec.fields.pop(key, None)

    # -- saving ------------------------------------------------------------------------------

    def _field_defaults(self, spec: SObjectSpec) -> dict[str, Any]:
        return {
            meta.name: meta.default_value
            for (obj, _), meta in self._api_fields.items()
            if obj == spec.name.lower()
            and meta.default_value is not None
            and spec.field(meta.name) is not None
        }

    def _insert(self, spec: SObjectSpec, values: dict[str, Any]) -> str:
        obj = spec.name.lower()
        merged = {**_DEFAULTS.get(obj, {}), **self._field_defaults(spec), **values}
        record_id = self.add_record(spec.name, merged)  # type: ignore[attr-defined]
        record = self._records[obj][record_id]
        self._derive(spec, record, merged)
        return record_id

    def _apply_update(
        self, spec: SObjectSpec, record: dict[str, Any], values: dict[str, Any]
    ) -> None:
        record.update(values)
        self._derive(spec, record, values)
        self._touch(spec, record, {})  # type: ignore[attr-defined]
        if spec.field("LastModifiedById"):
            record["LastModifiedById"] = self.user_id

    def _derive(
        self, spec: SObjectSpec, record: dict[str, Any], written: Mapping[str, Any]
    ) -> None:
        """What the org sets when a task's status is written: IsClosed, CompletedDateTime."""
        if spec.name != "Task" or "Status" not in written:
            return
        closed = record.get("Status") in TASK_CLOSED_STATUSES
        if closed and not (record.get("IsClosed") and record.get("CompletedDateTime")):
            record["CompletedDateTime"] = base.to_utc_datetime(self.clock())  # type: ignore[attr-defined]
        if not closed:
            record["CompletedDateTime"] = None
        record["IsClosed"] = closed

    def _after_write(self) -> None:
        """FieldPermissions without Read or Edit are deleted (Object Reference); then the
        API user's view of the Tooling-created fields follows the grants."""
        rows = self._records["fieldpermissions"]
        for record_id in [
            k
            for k, r in rows.items()
            if not r.get("PermissionsRead") and not r.get("PermissionsEdit")
        ]:
            del rows[record_id]
        self._refresh_visibility()

    # -- describe ----------------------------------------------------------------------------

    def _describe_writable(self, version: str, name: str) -> _Response:
        """The read side's describe, with what a writer needs: per field ``updateable``,
        ``createable``, ``picklistValues``, ``restrictedPicklist``, ``externalId``, the
        Tooling label, length, precision and scale; per object ``createable``/``updateable``."""
        response = self._describe(version, name)  # type: ignore[attr-defined]
        if response.status != 200:
            return response
        payload = json.loads(response.body)
        spec = self._sobjects[name.lower()]
        writable = spec.name.lower() not in _NOT_WRITABLE
        payload["createable"] = payload["updateable"] = writable
        for entry in payload["fields"]:
            entry.update(self._field_description(spec, entry["name"], writable))
        return base._json(200, payload)

    def _field_description(self, spec: SObjectSpec, name: str, writable: bool) -> dict[str, Any]:
        key = (spec.name.lower(), name.lower())
        meta = self._api_fields.get(key)
        values, restricted = self._picklist(spec, name)
        labels = meta.labels if meta is not None else {}
        default = meta.default_value if meta is not None else _DEFAULTS.get(key[0], {}).get(name)
        out: dict[str, Any] = {
            "updateable": writable and self._editable(spec, name, creating=False),
            "createable": writable and self._editable(spec, name, creating=True),
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == default,
                    "label": labels.get(value, value),
                    "validFor": None,
                    "value": value,
                }
                for value in values
            ],
            "restrictedPicklist": restricted,
            "externalId": bool(meta and meta.external_id),
            "defaultedOnCreate": default is not None,
            "precision": 0,
            "scale": 0,
        }
        if meta is not None:
            out["label"] = meta.label
            if meta.length is not None:
                out["length"] = meta.length
            if meta.precision is not None:
                out["precision"], out["scale"] = meta.precision, meta.scale or 0
        return out

    def _picklist(self, spec: SObjectSpec, name: str) -> tuple[tuple[str, ...], bool]:
        key = (spec.name.lower(), name.lower())
        meta = self._api_fields.get(key)
        if meta is not None:
            return meta.values, meta.restricted
        return _STANDARD_PICKLISTS.get(key, ((), False))

    def _field_label(self, spec: SObjectSpec, name: str) -> str:
        key = (spec.name.lower(), name.lower())
        meta = self._api_fields.get(key)
        if meta is not None:
            return meta.label
        if key in _LABELS:
            return _LABELS[key]
        return re.sub(r" Id$", " ID", base._label(name))

    # -- Tooling API -------------------------------------------------------------------------

    def _tooling_query(self, version: str, params: dict[str, list[str]]) -> _Response:
        text = (params.get("q") or [""])[0]
        if not text.strip():
            return base._error(400, "MALFORMED_QUERY", "A query string parameter 'q' is required")
        try:
            parsed = base.parse_soql(text, self._tooling)
        except base.SoqlError as exc:
            return base._error(400, exc.error_code, exc.message)
        spec = self._tooling[parsed.sobject.lower()]
        rows = base.select_rows(
            parsed, spec, self._tooling_records[spec.name.lower()].values(), include_deleted=False
        )
        if len(rows) > 1 and {"FullName", "Metadata"} & set(parsed.fields):
            return base._error(
                400,
                "MALFORMED_QUERY",
                (
                    "When retrieving results with Metadata or FullName fields, the query "
                    "qualifications must specify no more than one row for retrieval. Result size: "
                    f"{len(rows)}"
                ),
            )
        records = []
        for row in rows:
            out = self._rest_record(spec, parsed.fields, row, version)  # type: ignore[attr-defined]
            out["attributes"]["url"] = (
                f"/services/data/v{version}/tooling/sobjects/{spec.name}/{row['Id']}"
            )
            records.append(out)
        return base._json(
            200,
            {
                "size": len(records),
                "totalSize": len(records),
                "done": True,
                "queryLocator": None,
                "entityTypeName": spec.name,
                "records": records,
            },
        )

    def _tooling_create_field(self, body: bytes) -> _Response:
        payload = _read_json(body)
        if not isinstance(payload, dict):
            raise _bad_json(f"Cannot deserialize instance of CustomField from {_token(payload)}")
        metadata = payload.get("Metadata")
        if not isinstance(metadata, dict):
            raise _bad_json(
                "Cannot deserialize instance of CustomFieldMetadata from "
                f"{_token(metadata)} value {metadata}"
            )
        full_name = payload.get("FullName", metadata.get("fullName"))
        try:
            objects, developer_name = self._tooling_target(full_name)
            meta = _field_metadata(metadata)
        except _Refusal as refusal:
            return base._json(400, refusal.body())
        name = f"{developer_name}__c"
        for spec in objects:
            key = (spec.name.lower(), name.lower())
            if spec.field(name) is not None or key in self._api_fields:
                return base._json(
                    400,
                    _Refusal(
                        "DUPLICATE_DEVELOPER_NAME",
                        (f"There is already a field named {developer_name} on {spec.name}."),
                    ).body(),
                )
        self._counter += 1
        field_id = base.salesforce_id(CUSTOM_FIELD_PREFIX, self._counter)
        tooling_type = meta["type"]
        describe_type = TOOLING_TYPES[tooling_type]
        for spec in objects:
            field_spec = base.FieldSpec(
                name,
                describe_type,
                filterable=describe_type != "textarea" or tooling_type == "TextArea",
                sortable=tooling_type != "LongTextArea",
            )
            self._api_fields[(spec.name.lower(), name.lower())] = ApiField(
                id=field_id,
                sobject=spec.name,
                spec=field_spec,
                label=meta["label"],
                tooling_type=tooling_type,
                length=meta.get("length"),
                precision=meta.get("precision"),
                scale=meta.get("scale"),
                values=meta.get("values", ()),
                labels=meta.get("labels", {}),
                default_value=meta.get("default"),
                restricted=meta.get("restricted", False),
                external_id=meta.get("externalId", False),
            )
        table = "Activity" if len(objects) > 1 else objects[0].name
        now = base.to_utc_datetime(self.clock())  # type: ignore[attr-defined]
        self._tooling_records["customfield"][field_id] = {
            "Id": field_id,
            "DeveloperName": developer_name,
            "TableEnumOrId": table,
            "FullName": f"{table}.{name}",
            "NamespacePrefix": None,
            "ManageableState": "unmanaged",
            "Metadata": dict(metadata),
            "CreatedDate": now,
            "CreatedById": self.user_id,
            "LastModifiedDate": now,
            "LastModifiedById": self.user_id,
            "SystemModstamp": now,
            "IsDeleted": False,
        }
        self._refresh_visibility()
        return base._json(
            201, {"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []}
        )

    def _tooling_target(self, full_name: Any) -> tuple[list[SObjectSpec], str]:
        """The objects a new field's FullName puts it on, and its developer name."""
        if not isinstance(full_name, str) or not full_name:
            raise _Refusal(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName]", ["FullName"]
            )
        obj_name, _, field_name = full_name.partition(".")
        if obj_name.lower() in ("task", "event"):
            raise _Refusal(
                "FIELD_INTEGRITY_EXCEPTION",
                (
                    f"Custom fields of {obj_name} are created on Activity: use FullName "
                    f"Activity.{field_name}"
                ),
                ["FullName"],
            )
        if obj_name.lower() == "activity":
            objects = [self._sobjects[n] for n in ("task", "event") if n in self._sobjects]
        else:
            objects = (
                [self._sobjects[obj_name.lower()]] if obj_name.lower() in self._sobjects else []
            )
        if not objects:
            raise _Refusal(
                "FIELD_INTEGRITY_EXCEPTION",
                f"Cannot find an object named {obj_name!r} for {full_name}",
                ["FullName"],
            )
        developer_name = field_name.removesuffix("__c")
        if (
            not field_name.endswith("__c")
            or not _DEVELOPER_NAME_RE.match(developer_name)
            or len(developer_name) > 40
        ):
            raise _Refusal(
                "FIELD_INTEGRITY_EXCEPTION",
                (
                    f"{full_name}: a custom field's name ends with __c; before it, at most 40 "
                    "letters, digits and underscores, starting with a letter, without two "
                    "underscores in a row and not ending with one"
                ),
                ["FullName"],
            )
        return objects, developer_name


# --- values -----------------------------------------------------------------------------------


def _json_value(field_spec: FieldSpec, raw: Any) -> Any:
    """A JSON value as the Python value stored for ``field_spec``; 400 JSON_PARSER_ERROR when
    Salesforce could not deserialise it (scalars are coerced where Jackson coerces them)."""
    if raw is None:
        return None
    kind = field_spec.type

    def refuse() -> _BadRequest:
        shown = json.dumps(raw) if isinstance(raw, dict | list) else raw
        return _bad_json(
            f"Cannot deserialize instance of {_JSON_TYPE_NAMES.get(kind, kind)} "
            f"from {_token(raw)} value {shown} or request may be missing a "
            "required field"
        )

    if isinstance(raw, dict | list):
        raise refuse()
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise refuse()
    if kind in base.NUMBER_TYPES:
        if isinstance(raw, bool):
            raise refuse()
        try:
            number = float(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise refuse() from None
        if not isinstance(number, int | float):
            raise refuse()
        if kind == "int":
            if float(number) != int(number):
                raise refuse()
            return int(number)
        return float(number)
    if kind == "date":
        if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise refuse()
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise refuse() from None
    if kind == "datetime":
        if not isinstance(raw, str) or not _DATETIME_RE.match(raw):
            raise refuse()
        text = raw if re.search(r"(Z|[+-]\d{2}:?\d{2})$", raw) else raw + "Z"
        try:
            return base.to_utc_datetime(text)
        except ValueError:
            raise refuse() from None
    if kind in base.ID_TYPES or kind == "base64":
        if not isinstance(raw, str):
            raise refuse()
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return str(raw)
    return raw


def _field_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Check CustomFieldMetadata for the types modelled; the parts the fake keeps.

    Raises:
        _BadRequest: ``type`` is not a FieldType the fake knows, or a value has the wrong
            JSON type (JSON_PARSER_ERROR).
        _Refusal: the metadata is incomplete or inconsistent (FIELD_INTEGRITY_EXCEPTION,
            REQUIRED_FIELD_MISSING).
    """
    kind = metadata.get("type")
    if kind not in TOOLING_TYPES:
        raise _bad_json(
            f"Cannot deserialize instance of FieldType from {_token(kind)} value "
            f"{kind} or request may be missing a required field"
        )

    def number(key: str) -> int | None:
        value = metadata.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _bad_json(
                f"Cannot deserialize instance of int from {_token(value)} value "
                f"{value} or request may be missing a required field"
            )
        if isinstance(value, str):
            if not value.isdigit():
                raise _bad_json(
                    f"Cannot deserialize instance of int from VALUE_STRING value "
                    f"{value} or request may be missing a required field"
                )
            return int(value)
        return value

    def flag(key: str) -> bool:
        value = metadata.get(key, False)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _bad_json(
                f"Cannot deserialize instance of boolean from {_token(value)} "
                f"value {value} or request may be missing a required field"
            )
        return value

    def integrity(message: str, *fields: str) -> _Refusal:
        return _Refusal("FIELD_INTEGRITY_EXCEPTION", message, fields)

    label = metadata.get("label")
    if not isinstance(label, str) or not label.strip():
        raise _Refusal("REQUIRED_FIELD_MISSING", "Required fields are missing: [label]", ["label"])
    if len(label) > 40:
        raise integrity(f"label: data value too large: {label} (max length=40)", "label")
    out: dict[str, Any] = {"type": kind, "label": label, "externalId": flag("externalId")}
    if out["externalId"] and kind not in _EXTERNAL_ID_TOOLING:
        raise integrity(f"A {kind} field cannot be an external ID", "externalId")
    length, precision, scale = number("length"), number("precision"), number("scale")
    if kind == "Text":
        if length is None or not 1 <= length <= 255:
            raise integrity("Text fields need a length from 1 to 255", "length")
        out["length"] = length
    elif kind == "LongTextArea":
        if length is None or not 256 <= length <= 131072:
            raise integrity("Long text area fields need a length from 256 to 131072", "length")
        out["length"] = length
    elif kind in ("Url", "TextArea", "Email", "Phone"):
        out["length"] = 255 if kind != "Phone" else 40
    if kind in _NUMERIC_TOOLING:
        if (
            precision is None
            or scale is None
            or not 1 <= precision <= 18
            or not 0 <= scale <= precision
        ):
            raise integrity(
                f"{kind} fields need a precision from 1 to 18 and a scale from 0 to the precision",
                "precision",
                "scale",
            )
        out["precision"], out["scale"] = precision, scale
    if kind == "Checkbox":
        default = metadata.get("defaultValue")
        if isinstance(default, bool):
            default = "true" if default else "false"
        if not isinstance(default, str) or default.lower() not in ("true", "false"):
            raise integrity("Checkbox fields need a defaultValue of true or false", "defaultValue")
        out["default"] = default.lower() == "true"
    if kind == "Picklist":
        out.update(_picklist_metadata(metadata.get("valueSet"), integrity))
    return out


def _picklist_metadata(value_set: Any, integrity: Any) -> dict[str, Any]:
    """``valueSet: {restricted, valueSetDefinition: {value: [{fullName, label, default}]}}``."""
    definition = value_set.get("valueSetDefinition") if isinstance(value_set, dict) else None
    entries = definition.get("value") if isinstance(definition, dict) else None
    if not isinstance(entries, list) or not entries:
        raise integrity(
            "Picklist fields need valueSet.valueSetDefinition.value with at least one value",
            "valueSet",
        )
    values: list[str] = []
    labels: dict[str, str] = {}
    default = None
    for entry in entries:
        name = entry.get("fullName") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise integrity("Each picklist value needs a fullName", "valueSet")
        if name.lower() in (v.lower() for v in values):
            raise integrity(f"Duplicate picklist value: {name}", "valueSet")
        values.append(name)
        label = entry.get("label")
        labels[name] = label if isinstance(label, str) and label else name
        if entry.get("default") in (True, "true"):
            default = name
    restricted = value_set.get("restricted", False)
    return {
        "values": tuple(values),
        "labels": labels,
        "default": default,
        "restricted": restricted in (True, "true"),
    }


def _object_id_label(spec: SObjectSpec) -> str:
    """ "Opportunity ID", or "Record ID" for a custom object (as orgs word MALFORMED_ID)."""
    return "Record ID" if spec.custom else f"{base._label(spec.name)} ID"


# --- schema -----------------------------------------------------------------------------------


def setup_sobjects() -> list[SObjectSpec]:
    """The setup objects that grant field-level security (Object Reference field lists;
    FieldPermissions and PermissionSetAssignment carry only ``Id`` and ``SystemModstamp`` of
    the audit fields, per the Field Reference)."""
    bare = {"Id": "id", "SystemModstamp": "datetime"}
    return [
        base.make_sobject(
            "PermissionSet",
            "0PS",
            {
                "Name": "string",
                "Label": "string",
                "Description": "textarea",
                "IsOwnedByProfile": "boolean",
                "NamespacePrefix": "string",
            },
        ),
        base.make_sobject(
            "FieldPermissions",
            "01k",
            {
                "ParentId": "reference",
                "SobjectType": "picklist",
                "Field": "picklist",
                "PermissionsRead": "boolean",
                "PermissionsEdit": "boolean",
            },
            audit=bare,
        ),
        base.make_sobject(
            "PermissionSetAssignment",
            "0Pa",
            {
                "AssigneeId": "reference",
                "PermissionSetId": "reference",
                "IsActive": "boolean",
            },
            audit=bare,
        ),
    ]


def tooling_sobjects() -> list[SObjectSpec]:
    """What the Tooling API's query answers for: CustomField (``FullName`` and ``Metadata``
    can be selected, not filtered on)."""
    spec = base.make_sobject(
        "CustomField",
        CUSTOM_FIELD_PREFIX,
        {
            "DeveloperName": "string",
            "TableEnumOrId": "string",
            "NamespacePrefix": "string",
            "ManageableState": "picklist",
            "FullName": "string",
            "Metadata": "anyType",
        },
    )
    spec.add(base.FieldSpec("FullName", "string", filterable=False, sortable=False))
    spec.add(base.FieldSpec("Metadata", "anyType", filterable=False, sortable=False))
    return [spec]


# Imported last, as a module: tests.fakes.salesforce imports this module before it defines
# FakeSalesforce, and the functions above look its names up only when they are called.
from tests.fakes import salesforce as base  # noqa: E402
