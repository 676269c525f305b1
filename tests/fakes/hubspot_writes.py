"""The write side of :class:`tests.fakes.hubspot.FakeHubSpot`: what qmon's writeback calls.

:class:`HubSpotWrites` is a mixin of ``FakeHubSpot``; ``hubspot.py`` only hands these paths to
:meth:`HubSpotWrites._route_writes`, after the token check and the daily limit, so every
answer here also carries the daily headers and lands in the request log. Each endpoint checks
the private app's scopes (403 ``MISSING_SCOPES`` as for reads) and goes through the
ten-secondly limiter (``_admit(token, False)``: 429 with ``Retry-After``):

* ``GET  /crm/v3/properties/{objectType}/groups/{groupName}`` -- 200 ``PropertyGroup``, 404.
* ``POST /crm/v3/properties/{objectType}/groups`` -- ``PropertyGroupCreate``; 201, 409.
* ``GET  /crm/v3/properties/{objectType}/{propertyName}`` -- 200 ``Property``, 404.
* ``POST /crm/v3/properties/{objectType}`` -- ``PropertyCreate``; 201, 400, 409.
* ``POST /crm/v3/objects/{objectType}/batch/update`` --
  ``BatchInputSimplePublicObjectBatchInput``; 200 ``BatchResponseSimplePublicObject``, 207
  ``BatchResponseSimplePublicObjectWithErrors``, 400.
* ``POST /crm/v3/objects/tasks`` -- ``SimplePublicObjectInputForCreate``; 201
  ``SimplePublicObject``, 400.
* ``PATCH /crm/v3/objects/{objectType}/{objectId}`` -- ``SimplePublicObjectInput``; 200
  ``SimplePublicObject``, 400, 404 (qmon patches tasks; every writable type answers).

Where the shapes come from (read, not copied), in ``HubSpot/HubSpot-public-api-spec-collection``
at commit ``99893791383254f52aa07662baeb98aad65cc710``:

* ``PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json``: the four property
  paths; ``PropertyGroupCreate`` (``name``, ``label`` required, ``displayOrder``),
  ``PropertyGroup`` (``name``, ``label``, ``displayOrder``, ``archived`` required),
  ``PropertyCreate`` (``name``, ``label``, ``type``, ``fieldType``, ``groupName`` required;
  the ``type`` and ``fieldType`` enums; "options ... required for enumerated properties"),
  ``Property`` (``name``, ``label``, ``type``, ``fieldType``, ``groupName``, ``description``,
  ``options`` required; ``modificationMetadata`` is ``PropertyModificationMetadata``:
  ``archivable``, ``readOnlyDefinition``, ``readOnlyValue`` required), ``Option``; the 201
  answers' ``Location`` header; and the security requirements (see :data:`SCHEMA_READ_SCOPES`).
* ``PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json``: batch update (200 and 207),
  ``SimplePublicObjectBatchInput`` (``id``, ``properties`` required), ``StandardError``
  (``status``, ``category``, ``message``, ``context``, ``errors``, ``links`` required),
  ``numErrors``; PATCH's description: "Read-only and non-existent properties will result in
  an error. Properties values can be cleared by passing an empty string."
* ``PublicApiSpecs/CRM/Tasks/Rollouts/424/v3/tasks.json``: ``POST /crm/v3/objects/tasks``
  (201 ``SimplePublicObject``), ``SimplePublicObjectInputForCreate`` with
  ``PublicAssociationsForObject`` (``to.id``, ``types``) and ``AssociationSpec``
  (``associationCategory`` enum, ``associationTypeId``); ``crm.objects.contacts.write`` for
  every task write.
* The object specs of deals, tickets, companies, quotes, calls, emails, meetings and notes
  (``PublicApiSpecs/CRM/<Object>/Rollouts/424/v3/``): the write scopes in
  :data:`OBJECT_WRITE_SCOPES`. Feedback submissions have no write operations there, so the
  fake refuses writes to them (405, as it does for any method it does not serve).

From HubSpot's guides and changelog, and integrators' captures of HubSpot's answers:

* Tasks guide (developers.hubspot.com/docs/api/crm/tasks): ``hs_timestamp`` is "Required"
  and may be epoch milliseconds or UTC ISO 8601; ``hs_task_status`` COMPLETED or NOT_STARTED
  (its own example sends WAITING), ``hs_task_priority`` LOW, MEDIUM, HIGH, ``hs_task_type``
  EMAIL, CALL, TODO; associations as ``{to: {id}, types: [{associationCategory,
  associationTypeId}]}``. The type ids (216 task to deal, 230 task to ticket) are
  ``ASSOCIATION_TYPE_IDS`` of ``hubspot.py``.
* Changelog "Simplifying batch update response codes for CRM v3 APIs": batch update answers
  200 "when batch updates are fully successful or a 207 Multi-Status response when one or
  more of the batch operations fails".
* A property that does not exist, or an enumeration value that is not an option, fails the
  whole request with 400 ``VALIDATION_ERROR`` and the message ``Property values were not
  valid: [{"isValid":false,"message":...,"error":"PROPERTY_DOESNT_EXIST"|"INVALID_OPTION",
  "name":...}]``, as integrators log it (hubspot-net/HubSpot.NET issue 50; a whole batch
  upsert failing on one bad value: Atlas-Authority/marketing-automation issue 174; HubSpot's
  legacy batch docs: "If there are any errors in the request, the entire request will fail").
  Writing a calculated property fails the same way (mautic/mautic PR 8785: "... is a
  calculated property; its value cannot be set"; HubSpot/ui-extensions-examples issue 77).
* ``No properties found to update, please provide at least one.`` (400, context
  ``{"properties": ["{}"]}``): HubSpot/hubspot-api-ruby issue 121.
* Missing required fields: ``Invalid input JSON ... Some required fields were not set:
  [associationCategory, associationTypeId]`` (HubSpot/hubspot-api-nodejs issue 307); the
  fake drops the line and column.
* An association to an object that does not exist: 400 ``One or more associations are
  invalid`` with ``context`` ``INVALID_OBJECT_IDS`` (``"CONTACT=38374264688 is not valid"``),
  ``objectId``, ``objectType`` (HubSpot/hubspot-api-nodejs issue 646).
* Pipeline stages and owners are enumerations whose options live outside the property
  (``externalOptions``, empty ``options``: botpress/botpress PR 15354), so the fake does not
  check ``dealstage``, ``pipeline``, ``hs_pipeline``, ``hs_pipeline_stage`` or
  ``hubspot_owner_id`` values.
* Legacy property docs (developers.hubspot.com/docs/methods/contacts/v2/create_contacts_property):
  "Returns a 409 Conflict error if there is already a property with the 'name' you used" and
  400 "if there is any other problem". The category ``OBJECT_ALREADY_EXISTS`` is what public
  integrations' code expects of that 409 (assumed, not seen in a capture).
* The properties guide's table of ``type`` and the ``fieldType`` values each allows
  (:data:`FIELD_TYPES`).

Where the fake assumes (tests should assert statuses and the named field, not these texts):
the texts and categories of the 404s and 409s, of the 400 for more than 100 inputs
(:data:`BATCH_LIMIT_MESSAGE`), for a missing ``hs_timestamp``, a bad datetime or number, a
wrong association type and duplicate ids; the rule for new property names, and that a
property's group must exist (400); that the v4 body for an unknown association target also
holds for a v3 create; the 207's per-input wording; which scope a task or
engagement property write needs (the properties spec names none, see
:data:`SCHEMA_WRITE_SCOPES`); the default property groups' names; the types and options of the
default properties in :func:`default_schema` beyond the guides' lists; that a property a test
put on an object with ``add``/``update`` exists as a text property; that writes are recorded
in the history with ``sourceType: INTEGRATION``; and that a datetime written as epoch
milliseconds reads back as ISO 8601. :meth:`HubSpotWrites.refuse_writes` is a test device: a
real portal refuses single records in a batch for reasons the fake does not model.

Deliberately not modelled: listing, updating and archiving properties and groups, batch create
and upsert, ``idProperty``, creating objects other than tasks, association writes other than
a task's own at creation, ``objectWriteTraceId``, unique-value properties, contacts (the fake
serves no contacts), and the lag before a write is searchable.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.hubspot import StoredObject, _Response

BATCH_UPDATE_LIMIT = 100
"""Inputs per batch update (the spec's guide figure; HubSpot's docs say 100 per batch)."""

BATCH_LIMIT_MESSAGE = (
    "The maximum number of inputs supported in a batch request is 100. Please reduce the "
    "number of items and try again"
)
"""ASSUMED wording, modelled on the message integrators log for batch reads with history
("... for property histories is 50. Please reduce the number of items and try again",
activepieces PR 9359, PipedreamHQ/pipedream PR 8462). The status (400) is what tests may
rely on."""

API_SOURCE_TYPE = "INTEGRATION"
"""``sourceType`` of the history entries an API write leaves (assumed for private apps)."""

PRIVATE_APP_ID = "3000001"
"""``sourceId`` of those entries: the fake's private app (an invented id)."""

PROPERTY_TYPES: tuple[str, ...] = (
    "bool", "date", "datetime", "enumeration", "number", "phone_number", "string",
)  # fmt: skip
"""``PropertyCreate.type``'s enum in the properties spec."""

FIELD_TYPES: Mapping[str, frozenset[str]] = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset(
        {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}
    ),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset(
        {"file", "text", "textarea", "html", "phonenumber", "calculation_equation"}
    ),
    "number": frozenset({"number", "calculation_equation"}),
    "phone_number": frozenset({"phonenumber"}),
}
"""The ``fieldType`` values each ``type`` allows, after the properties guide's table (the spec
only lists ``fieldType``'s enum). Checked loosely: a pair outside this table is a 400."""

ALL_FIELD_TYPES = frozenset().union(*FIELD_TYPES.values())

ASSOCIATION_CATEGORIES = frozenset(
    {"HUBSPOT_DEFINED", "INTEGRATOR_DEFINED", "USER_DEFINED", "WORK"}
)
"""``AssociationSpec.associationCategory``'s enum."""

WRITABLE_TYPES: tuple[str, ...] = (
    "deals", "tickets", "quotes", "calls", "emails", "meetings", "notes", "tasks", "companies",
)  # fmt: skip
"""The fake's object types with write operations in their specs (not feedback submissions)."""

OBJECT_WRITE_SCOPES: Mapping[str, tuple[str, ...]] = {
    "deals": ("crm.objects.deals.write",),
    "tickets": ("tickets",),
    "quotes": ("crm.objects.quotes.write", "e-commerce"),
    "calls": ("crm.objects.contacts.write",),
    "emails": ("crm.objects.contacts.write", "sales-email-read"),
    "meetings": ("crm.objects.contacts.write",),
    "notes": ("crm.objects.contacts.write",),
    "tasks": ("crm.objects.contacts.write",),
    "companies": ("crm.objects.companies.write",),
}
"""Scopes that allow writing an object type (any one of them will do): the security
requirements of batch update, create and PATCH in each object's spec, which list
alternatives (quotes: ``crm.objects.quotes.write`` or ``e-commerce``)."""

SCHEMA_READ_SCOPES: Mapping[str, tuple[str, ...]] = {
    "deals": ("crm.schemas.deals.read", "crm.objects.deals.read", "crm.objects.deals.write"),
    "tickets": ("crm.schemas.tickets.read", "tickets"),
    "quotes": (
        "crm.schemas.quotes.read",
        "crm.objects.quotes.read",
        "crm.objects.quotes.write",
        "cpq.quotes.read",
        "cpq.quotes.write",
        "e-commerce",
    ),
    "calls": ("crm.schemas.calls.read", "crm.objects.calls.read"),
    "emails": ("crm.schemas.emails.read", "crm.objects.emails.read"),
    "meetings": ("crm.schemas.meetings.read", "crm.objects.meetings.read"),
    "notes": ("crm.schemas.notes.read", "crm.objects.notes.read"),
    "tasks": ("crm.schemas.tasks.read", "crm.objects.tasks.read"),
    "feedback_submissions": ("crm.objects.feedback_submissions.read",),
    "companies": (
        "crm.schemas.companies.read",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
    ),
}
"""Scopes that allow reading a property or group of an object type (any one will do). The
properties spec gives one list of 100 alternatives for all object types; the fake takes, per
type, those that name it (and ``tickets``, ``e-commerce`` for the types whose object specs use
them). That the others do not count for a type is an assumption."""

SCHEMA_WRITE_SCOPES: Mapping[str, tuple[str, ...]] = {
    "deals": ("crm.schemas.deals.write",),
    "tickets": ("crm.schemas.tickets.write", "tickets"),
    "quotes": ("crm.schemas.quotes.write", "e-commerce"),
    "companies": ("crm.schemas.companies.write",),
    **{
        engagement: ("crm.schemas.contacts.write",)
        for engagement in ("calls", "emails", "meetings", "notes", "tasks")
    },
}
"""Scopes that allow creating a property or group (any one will do), from the create
operations' list of 26 alternatives. That list has no ``crm.schemas.tasks.write`` (nor one for
any engagement): the fake ASSUMES ``crm.schemas.contacts.write`` there, as the engagement
object specs take the contacts scopes for their writes."""

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
"""The private-apps guide's "view access token information" call: POST with
``{"tokenKey": <token>}``, answered with the token's ``userId``, ``hubId``, ``appId`` and
``scopes`` (the field names as the guide shows them; the fake's ids are invented)."""

MISSING_SCOPES_DETAIL = "One or more of the following scopes are required."
_SCOPES_LINK = {"scopes": "https://developers.hubspot.com/scopes"}

DEFAULT_GROUPS: Mapping[str, tuple[str, str]] = {
    "deals": ("dealinformation", "Deal information"),
    "tickets": ("ticketinformation", "Ticket information"),
    "quotes": ("quoteinformation", "Quote information"),
    "calls": ("callinformation", "Call information"),
    "emails": ("emailinformation", "Email information"),
    "meetings": ("meetinginformation", "Meeting information"),
    "notes": ("noteinformation", "Note information"),
    "tasks": ("taskinformation", "Task information"),
    "feedback_submissions": ("feedbacksubmissioninformation", "Feedback submission information"),
    "companies": ("companyinformation", "Company information"),
}
"""Each type's built-in group, after the spec example's ``contactinformation`` (the names
other than deals', tickets' and companies' are assumed)."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_EPOCH_MS_RE = re.compile(r"^-?\d+$")
_PROPERTY_PATH = re.compile(
    r"^/crm/v3/properties/(?P<type>[^/]+)(?:/(?P<first>[^/]+)(?:/(?P<second>[^/]+))?)?/?$"
)
_BATCH_UPDATE_PATH = re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)/batch/update/?$")
_OBJECT_PATH = re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)(?:/(?P<id>[^/]+))?/?$")


# --- property definitions -------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyDefinition:
    """One property of an object type, as ``GET /crm/v3/properties/{objectType}/{name}`` shows it.

    ``read_only`` is ``modificationMetadata.readOnlyValue``: writing it is a 400. An
    enumeration with ``external_options`` takes any value (its options live elsewhere).
    """

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    options: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    display_order: int = -1
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    hubspot_defined: bool = False
    read_only: bool = False
    calculated: bool = False
    external_options: bool = False
    referenced_object_type: str | None = None
    created_at: datetime | None = None

    def render(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "formField": self.form_field,
            "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hubspotDefined": self.hubspot_defined,
            "archived": False,
            "dataSensitivity": "non_sensitive",
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyOptions": self.external_options or self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
        }
        if self.referenced_object_type is not None:
            rendered["referencedObjectType"] = self.referenced_object_type
        if self.created_at is not None:
            stamp = _hubspot.hubspot_datetime(self.created_at)
            rendered["createdAt"] = rendered["updatedAt"] = stamp
        return rendered

    def option_values(self) -> set[str]:
        return {str(option["value"]) for option in self.options}


def _options(*values: str) -> list[dict[str, Any]]:
    return [
        {"label": v.replace("_", " ").title(), "value": v, "displayOrder": n, "hidden": False}
        for n, v in enumerate(values)
    ]


def _builtin(
    object_type: str, name: str, label: str, type_: str, field_type: str, **extra: Any
) -> PropertyDefinition:
    return PropertyDefinition(
        name,
        label,
        type_,
        field_type,
        DEFAULT_GROUPS[object_type][0],
        hubspot_defined=True,
        **extra,
    )


def _external(
    object_type: str, name: str, label: str, field_type: str = "select", **extra: Any
) -> PropertyDefinition:
    return _builtin(
        object_type, name, label, "enumeration", field_type, external_options=True, **extra
    )


_OWN: Mapping[str, tuple[tuple[Any, ...], ...]] = {
    "deals": (
        ("dealname", "Deal Name", "string", "text"),
        ("amount", "Amount", "number", "number"),
        ("closedate", "Close Date", "datetime", "date"),
        ("pipeline", "Pipeline", None, "select"),
        ("dealstage", "Deal Stage", None, "radio"),
    ),
    "tickets": (
        ("subject", "Ticket name", "string", "text"),
        ("content", "Ticket description", "string", "textarea"),
        ("hs_pipeline", "Pipeline", None, "select"),
        ("hs_pipeline_stage", "Ticket status", None, "select"),
        (
            "hs_ticket_category",
            "Category",
            "enumeration",
            "checkbox",
            _options("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST", "GENERAL_INQUIRY"),
        ),
        (
            "hs_ticket_priority",
            "Priority",
            "enumeration",
            "select",
            _options("LOW", "MEDIUM", "HIGH", "URGENT"),
        ),
    ),
    "quotes": (
        ("hs_title", "Quote name", "string", "text"),
        ("hs_status", "Quote approval status", "string", "text"),
    ),
    "calls": (
        ("hs_timestamp", "Activity date", "datetime", "date"),
        ("hs_call_title", "Call Title", "string", "text"),
        ("hs_call_body", "Call notes", "string", "html"),
        (
            "hs_call_direction",
            "Call direction",
            "enumeration",
            "select",
            _options("INBOUND", "OUTBOUND"),
        ),
    ),
    "emails": (
        ("hs_timestamp", "Activity date", "datetime", "date"),
        ("hs_email_subject", "Email subject", "string", "text"),
        ("hs_email_text", "Email body", "string", "textarea"),
        (
            "hs_email_direction",
            "Email direction",
            "enumeration",
            "select",
            _options("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
        ),
    ),
    "meetings": (
        ("hs_timestamp", "Activity date", "datetime", "date"),
        ("hs_meeting_title", "Meeting name", "string", "text"),
        ("hs_meeting_body", "Meeting description", "string", "html"),
        ("hs_meeting_start_time", "Start Time", "datetime", "date"),
        ("hs_meeting_end_time", "End Time", "datetime", "date"),
    ),
    "notes": (
        ("hs_timestamp", "Activity date", "datetime", "date"),
        ("hs_note_body", "Note body", "string", "html"),
    ),
    "tasks": (
        ("hs_timestamp", "Due date", "datetime", "date"),
        ("hs_task_subject", "Task Title", "string", "text"),
        ("hs_task_body", "Notes", "string", "html"),
        (
            "hs_task_status",
            "Task Status",
            "enumeration",
            "select",
            _options("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        ),
        (
            "hs_task_priority",
            "Priority",
            "enumeration",
            "select",
            _options("LOW", "MEDIUM", "HIGH"),
        ),
        ("hs_task_type", "Task Type", "enumeration", "select", _options("EMAIL", "CALL", "TODO")),
    ),
    "feedback_submissions": (),
    "companies": (
        ("name", "Company name", "string", "text"),
        ("domain", "Company Domain Name", "string", "text"),
    ),
}


@functools.cache
def default_schema(object_type: str) -> Mapping[str, PropertyDefinition]:
    """The built-in properties of an object type: the system properties every record carries
    (``FakeHubSpot.system_properties``; read-only), the owner, and the type's own: the default
    properties the objects spec lists, the tasks guide's task properties and a few plausible
    ones per engagement (types and options beyond the guides' lists are assumed). A ``type``
    of None in the table is an enumeration with external options."""
    created = ("createdate",) if object_type in _hubspot._CREATEDATE_TYPES else ()
    found: list[PropertyDefinition] = [
        _builtin(
            object_type,
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            read_only=True,
            calculated=True,
        ),
        _builtin(object_type, "hs_createdate", "Create Date", "datetime", "date", read_only=True),
        *(
            _builtin(object_type, name, "Create Date", "datetime", "date", read_only=True)
            for name in created
        ),
        _builtin(
            object_type,
            "hs_lastmodifieddate",
            "Last Modified Date",
            "datetime",
            "date",
            read_only=True,
            calculated=True,
        ),
    ]
    if object_type in WRITABLE_TYPES:
        found.append(
            _external(object_type, "hubspot_owner_id", "Owner", referenced_object_type="OWNER")
        )
    for name, label, type_, field_type, *options in _OWN[object_type]:
        if type_ is None:
            found.append(_external(object_type, name, label, field_type))
        else:
            found.append(
                _builtin(
                    object_type,
                    name,
                    label,
                    type_,
                    field_type,
                    options=options[0] if options else [],
                )
            )
    return {p.name: p for p in found}


@dataclass(frozen=True)
class _Refusal:
    object_type: str
    property: str | None
    ids: frozenset[str] | None

    def refuses(self, object_type: str, object_id: str | None, name: str) -> bool:
        return (
            object_type == self.object_type
            and (self.property is None or self.property == name)
            and (self.ids is None or (object_id is not None and object_id in self.ids))
        )


@dataclass
class _PropertyProblem:
    name: str
    code: str
    message: str

    def as_result(self) -> dict[str, Any]:
        """One entry of the ``Property values were not valid: [...]`` list."""
        return {
            "isValid": False,
            "message": self.message,
            "error": self.code,
            "name": self.name,
            "localizedErrorMessage": self.message,
        }


# --- the mixin -------------------------------------------------------------------------------


class HubSpotWrites:
    """Write endpoints and their test-side controls; ``FakeHubSpot`` inherits them.

    Attributes:
        write_clock: When an API write happens (aware UTC datetimes); the wall clock by
            default. An update stamps ``updatedAt``/``hs_lastmodifieddate`` with it, or 1 ms
            after the record's previous stamp when that is later, so stamps never go back
            and an incremental sync always sees the change. Tests set a fixed clock.
    """

    if TYPE_CHECKING:
        _objects: dict[str, dict[str, StoredObject]]
        _lock: threading.RLock
        granted_scopes: set[str] | None

        @property
        def base_url(self) -> str: ...

        def _admit(self, token: str, is_search: bool) -> _Response | None: ...

        def _render(
            self,
            record: StoredObject,
            properties: list[str],
            with_history: Iterable[str],
            *,
            search: bool = False,
        ) -> dict[str, Any]: ...

        def _changed(self) -> None: ...

        @staticmethod
        def _stamp(record: StoredObject) -> None: ...

        def add(
            self,
            object_type: str,
            properties: Mapping[str, object] | None = None,
            *,
            created_at: datetime,
            updated_at: datetime,
            history: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
            source_type: str = "CRM_UI",
            source_id: str | None = None,
        ) -> str: ...

        def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None: ...

    def _init_writes(self) -> None:
        """State of the write side; ``FakeHubSpot.__init__`` calls this."""
        self.write_clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._groups: dict[str, dict[str, dict[str, Any]]] = {
            t: {name: {"name": name, "label": label, "displayOrder": -1, "archived": False}}
            for t, (name, label) in DEFAULT_GROUPS.items()
        }
        self._custom_properties: dict[str, dict[str, PropertyDefinition]] = {
            t: {} for t in DEFAULT_GROUPS
        }
        self._refusals: list[_Refusal] = []

    # -- test-side controls ------------------------------------------------------------------

    def refuse_writes(
        self, object_type: str, *, property: str | None = None, ids: Iterable[str] | None = None
    ) -> None:
        """Make API writes to ``object_type`` fail: only ``property`` if given, only on
        ``ids`` if given (both: that property on those records; neither: every write).

        In a batch update each refused input fails alone, in the 207's ``errors``
        (``VALIDATION_ERROR``, ``READ_ONLY_VALUE`` in the message, ``context.ids``); the
        others are written. A PATCH, or a task create setting a refused property, gets that
        error as a 400. Calls add up; :meth:`clear_refusals` ends them.
        """
        with self._lock:
            self._refusals.append(
                _Refusal(object_type, property, None if ids is None else frozenset(map(str, ids)))
            )

    def clear_refusals(self) -> None:
        """Let every write through again."""
        with self._lock:
            self._refusals.clear()

    def define_property(
        self,
        object_type: str,
        name: str,
        *,
        type: str = "string",
        field_type: str = "text",
        label: str | None = None,
        group_name: str | None = None,
        options: Iterable[str] = (),
        read_only: bool = False,
    ) -> None:
        """Create a custom property without the API, as if an admin had (a portal that is
        already set up). ``options`` are the enumeration's values; ``read_only`` makes API
        writes of it a 400, as for HubSpot's calculated properties."""
        with self._lock:
            group = group_name or DEFAULT_GROUPS[object_type][0]
            if group not in self._groups[object_type]:
                raise ValueError(f"no property group {group!r} on {object_type}")
            if self._definition(object_type, name) is not None:
                raise ValueError(f"{object_type} already has a property {name!r}")
            self._custom_properties[object_type][name] = PropertyDefinition(
                name,
                label or name,
                type,
                field_type,
                group,
                _options(*options),
                read_only=read_only,
                created_at=self.write_clock(),
            )

    def _token_info(self, token: str, body: Any) -> _Response:
        """The token's app and scopes; every scope the fake knows when none are configured."""
        if not isinstance(body, dict) or body.get("tokenKey") != token:
            raise _hubspot._validation_error("tokenKey must be the access token")
        granted = self.granted_scopes
        if granted is None:
            tables = (_hubspot.READ_SCOPES, OBJECT_WRITE_SCOPES, SCHEMA_READ_SCOPES,
                      SCHEMA_WRITE_SCOPES)  # fmt: skip
            granted = {scope for table in tables for scopes in table.values() for scope in scopes}
        return _hubspot._Response(200, {"userId": 4000001, "hubId": 62515, "appId": 3000001,
                                        "scopes": sorted(granted)})  # fmt: skip

    # -- routing -----------------------------------------------------------------------------

    def _route_writes(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        token: str,
        body: Any,
        body_error: str | None,
    ) -> _Response | None:
        """The answer if ``path`` is a write endpoint (or a property path), else None."""
        if path.rstrip("/") == TOKEN_INFO_PATH and method == "POST":
            return self._token_info(token, body)
        match = _PROPERTY_PATH.match(path)
        if match is not None:
            return self._route_properties(method, path, match, query, token, body, body_error)
        match = _BATCH_UPDATE_PATH.match(path)
        if match is not None:
            if method != "POST":
                return _not_served(method, path)
            object_type = self._writable(match.group("type"), method, path)
            if isinstance(object_type, _hubspot._Response):
                return object_type
            return (
                self._refuse_unless_any(OBJECT_WRITE_SCOPES[object_type])
                or _body_ok(body_error)
                or self._admit(token, False)
                or self._batch_update(object_type, body)
            )
        match = _OBJECT_PATH.match(path)
        if match is None or method not in ("POST", "PATCH"):
            return None
        object_id = match.group("id")
        if method == "POST" and (object_id is not None or match.group("type") != "tasks"):
            return None  # other creates: the read side's 405
        if method == "PATCH" and object_id is None:
            return None
        object_type = self._writable(match.group("type"), method, path)
        if isinstance(object_type, _hubspot._Response):
            return object_type
        refused = (
            self._refuse_unless_any(OBJECT_WRITE_SCOPES[object_type])
            or _body_ok(body_error)
            or self._admit(token, False)
        )
        if refused is not None:
            return refused
        if method == "POST":
            return self._create_task(body)
        if "idProperty" in query:
            raise _hubspot._validation_error("FakeHubSpot does not support idProperty")
        return self._patch(object_type, object_id or "", body)

    def _route_properties(
        self,
        method: str,
        path: str,
        match: re.Match[str],
        query: dict[str, list[str]],
        token: str,
        body: Any,
        body_error: str | None,
    ) -> _Response:
        object_type, first, second = match.group("type", "first", "second")
        if object_type not in self._objects:
            raise _hubspot._validation_error(f"Unable to infer object type from: {object_type}")
        if first == "groups" or second is not None:
            if first != "groups":
                return _hubspot._error(404, "resource not found", _hubspot.NOT_FOUND)
            if second is None and method == "POST":
                return (
                    self._schema_write_scopes(object_type, method, path)
                    or _body_ok(body_error)
                    or self._admit(token, False)
                    or self._create_group(object_type, body)
                )
            if second is not None and method == "GET":
                return (
                    self._refuse_unless_any(SCHEMA_READ_SCOPES[object_type])
                    or self._admit(token, False)
                    or self._get_group(object_type, second)
                )
            return _not_served(method, path)
        if first is None and method == "POST":
            return (
                self._schema_write_scopes(object_type, method, path)
                or _body_ok(body_error)
                or self._admit(token, False)
                or self._create_property(object_type, body)
            )
        if first is not None and method == "GET":
            return (
                self._refuse_unless_any(SCHEMA_READ_SCOPES[object_type])
                or self._admit(token, False)
                or self._get_property(object_type, first, query)
            )
        return _not_served(method, path)

    def _writable(self, object_type: str, method: str, path: str) -> str | _Response:
        if object_type not in self._objects:
            raise _hubspot._validation_error(f"Unable to infer object type from: {object_type}")
        if object_type not in WRITABLE_TYPES:
            return _not_served(method, path)
        return object_type

    def _schema_write_scopes(self, object_type: str, method: str, path: str) -> _Response | None:
        if object_type not in SCHEMA_WRITE_SCOPES:
            return _not_served(method, path)
        return self._refuse_unless_any(SCHEMA_WRITE_SCOPES[object_type])

    def _refuse_unless_any(self, alternatives: tuple[str, ...]) -> _Response | None:
        """403 ``MISSING_SCOPES`` unless the app has one of ``alternatives``; the body is the
        read side's, listing the alternatives in ``requiredGranularScopes``."""
        if self.granted_scopes is None or any(s in self.granted_scopes for s in alternatives):
            return None
        return _hubspot._error(
            403,
            _hubspot.MISSING_SCOPES_MESSAGE,
            "MISSING_SCOPES",
            errors=[
                {
                    "message": MISSING_SCOPES_DETAIL,
                    "context": {"requiredGranularScopes": list(alternatives)},
                }
            ],
            links=dict(_SCOPES_LINK),
        )

    # -- property groups and properties ------------------------------------------------------

    def _get_group(self, object_type: str, name: str) -> _Response:
        group = self._groups[object_type].get(name)
        if group is None:
            return _hubspot._error(
                404, f"Property group {name} does not exist", "OBJECT_NOT_FOUND"
            )  # assumed text
        return _hubspot._Response(200, dict(group))

    def _create_group(self, object_type: str, body: Any) -> _Response:
        body = _object_body(body)
        _require(body, ("name", "label"))
        name, label = body["name"], body["label"]
        if not isinstance(name, str) or not isinstance(label, str) or not name:
            raise _hubspot._validation_error("Invalid input JSON: name and label are strings")
        order = _int_field(body, "displayOrder", -1)
        if name in self._groups[object_type]:
            return _hubspot._error(
                409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )  # assumed text
        group = {"name": name, "label": label, "displayOrder": order, "archived": False}
        self._groups[object_type][name] = group
        response = _hubspot._Response(201, dict(group))
        response.headers["Location"] = (
            f"{self.base_url}/crm/v3/properties/{object_type}/groups/{name}"
        )
        return response

    def _get_property(self, object_type: str, name: str, query: dict[str, list[str]]) -> _Response:
        definition = (
            None if _hubspot._query_bool(query, "archived") else self._definition(object_type, name)
        )
        if definition is None:
            return _hubspot._error(
                404, f"Property {name} does not exist", "OBJECT_NOT_FOUND"
            )  # assumed text
        return _hubspot._Response(200, definition.render())

    def _create_property(self, object_type: str, body: Any) -> _Response:
        body = _object_body(body)
        _require(body, ("name", "label", "type", "fieldType", "groupName"))
        name, type_, field_type = body["name"], body["type"], body["fieldType"]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise _hubspot._validation_error(
                f"Invalid property name {name!r}: use lowercase letters, digits and "
                "underscores, starting with a letter"
            )  # assumed text
        if type_ not in PROPERTY_TYPES:
            raise _hubspot._validation_error(
                f"Invalid input JSON: type {type_!r} is not one of {list(PROPERTY_TYPES)}"
            )
        if field_type not in ALL_FIELD_TYPES:
            raise _hubspot._validation_error(
                f"Invalid input JSON: fieldType {field_type!r} is not one of "
                f"{sorted(ALL_FIELD_TYPES)}"
            )
        if field_type not in FIELD_TYPES[type_]:
            raise _hubspot._validation_error(
                f"fieldType {field_type} is not valid for a property of type {type_}; use one "
                f"of {sorted(FIELD_TYPES[type_])}"
            )
        group = body["groupName"]
        if group not in self._groups[object_type]:
            raise _hubspot._validation_error(
                f"Property group {group} does not exist"
            )  # assumed text and status
        external = bool(body.get("externalOptions"))
        options = _option_inputs(
            body.get("options"), required=type_ == "enumeration" and not external
        )
        if self._definition(object_type, name) is not None:
            return _hubspot._error(
                409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )  # assumed text
        definition = PropertyDefinition(
            name,
            str(body["label"]),
            type_,
            field_type,
            group,
            options,
            description=str(body.get("description") or ""),
            display_order=_int_field(body, "displayOrder", -1),
            has_unique_value=bool(body.get("hasUniqueValue")),
            hidden=bool(body.get("hidden")),
            form_field=bool(body.get("formField")),
            external_options=external,
            referenced_object_type=body.get("referencedObjectType"),
            created_at=self.write_clock(),
        )
        self._custom_properties[object_type][name] = definition
        response = _hubspot._Response(201, definition.render())
        response.headers["Location"] = f"{self.base_url}/crm/v3/properties/{object_type}/{name}"
        return response

    def _definition(self, object_type: str, name: str) -> PropertyDefinition | None:
        """A property of the type: built in, created, or implied by a stored record."""
        found = default_schema(object_type).get(name) or self._custom_properties[object_type].get(
            name
        )
        if found is not None:
            return found
        if any(name in record.properties for record in self._objects[object_type].values()):
            # A property a test set with add()/update(): assumed to be a text property.
            return PropertyDefinition(name, name, "string", "text", DEFAULT_GROUPS[object_type][0])
        return None

    # -- object writes -----------------------------------------------------------------------

    def _batch_update(self, object_type: str, body: Any) -> _Response:
        """``POST /crm/v3/objects/{objectType}/batch/update``; see the module docstring.

        The whole request is checked first (shape, at most 100 inputs, duplicate ids, every
        property name and value): any problem is a 400 and nothing is written. Then each
        input succeeds or fails alone: a missing or archived id is ``OBJECT_NOT_FOUND`` (one
        error naming all such ids, as batch read reports them), a refused write
        (:meth:`refuse_writes`) is one error per input.
        """
        body = _object_body(body)
        _require(body, ("inputs",))
        inputs = body["inputs"]
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise _hubspot._validation_error("Invalid input JSON: inputs must be a list")
        if len(inputs) > BATCH_UPDATE_LIMIT:
            raise _hubspot._validation_error(BATCH_LIMIT_MESSAGE)
        for item in inputs:
            _require(item, ("id", "properties"))
            if item.get("idProperty"):
                raise _hubspot._validation_error("FakeHubSpot does not support idProperty")
        ids = [str(item["id"]) for item in inputs]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise _hubspot._validation_error(  # assumed text
                f"Duplicate IDs found in batch input: {repeated}. IDs must be unique"
            )
        changes = [self._checked_values(object_type, item["properties"]) for item in inputs]
        started = _hubspot.hubspot_datetime(self.write_clock())
        store = self._objects[object_type]
        written: list[tuple[StoredObject, list[str]]] = []
        missing: list[str] = []
        errors: list[dict[str, Any]] = []
        for object_id, values in zip(ids, changes, strict=True):
            record = store.get(object_id)
            if record is None or record.archived:
                missing.append(object_id)
                continue
            refused = self._refused(object_type, object_id, values)
            if refused:
                context = {"ids": [object_id], "propertyName": [p.name for p in refused]}
                errors.append(
                    _standard_error("VALIDATION_ERROR", _values_message(refused), context)
                )
                continue
            self._write(record, values)
            written.append((record, list(values)))
        if missing:
            errors.insert(
                0,
                _standard_error(
                    "OBJECT_NOT_FOUND",
                    "Could not update some objects, they may be deleted or not exist.",
                    {"ids": missing},
                ),
            )  # assumed text
        if written:
            self._changed()
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": [self._render(r, names, ()) for r, names in written],
            "startedAt": started,
            "completedAt": _hubspot.hubspot_datetime(self.write_clock()),
        }
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
            return _hubspot._Response(207, payload)
        return _hubspot._Response(200, payload)

    def _patch(self, object_type: str, object_id: str, body: Any) -> _Response:
        """``PATCH /crm/v3/objects/{objectType}/{objectId}``: 404 for a missing or archived
        object (the read side's 404 body), 400 as batch update's whole-request checks."""
        body = _object_body(body)
        _require(body, ("properties",))
        record = self._objects[object_type].get(object_id)
        if record is None or record.archived:
            return _hubspot._error(404, "resource not found", _hubspot.NOT_FOUND)
        values = self._checked_values(object_type, body["properties"])
        refused = self._refused(object_type, object_id, values)
        if refused:
            raise _property_error(refused)
        self._write(record, values)
        self._changed()
        return _hubspot._Response(200, self._render(record, list(values), ()))

    def _create_task(self, body: Any) -> _Response:
        """``POST /crm/v3/objects/tasks``: the task, then its associations (both directions,
        as :meth:`FakeHubSpot.associate` makes them), all or nothing."""
        body = _object_body(body)
        _require(body, ("properties",))
        values = self._checked_values("tasks", body["properties"], creating=True)
        if not values.get("hs_timestamp"):
            raise _property_error(
                [
                    _PropertyProblem(
                        "hs_timestamp",
                        "MISSING_REQUIRED_PROPERTY",
                        "hs_timestamp is required for tasks",
                    )
                ]
            )  # assumed text and code
        refused = self._refused("tasks", None, values)
        if refused:
            raise _property_error(refused)
        links = self._checked_associations("tasks", body.get("associations"))
        now = self.write_clock()
        task_id = self.add(
            "tasks",
            values,
            created_at=now,
            updated_at=now,
            source_type=API_SOURCE_TYPE,
            source_id=PRIVATE_APP_ID,
        )
        for to_type, to_id in links:
            self.associate("tasks", task_id, to_type, to_id)
        record = self._objects["tasks"][task_id]
        return _hubspot._Response(201, self._render(record, list(values), ()))

    def _checked_values(
        self, object_type: str, raw: Any, *, creating: bool = False
    ) -> dict[str, str]:
        """The values to write, normalised as HubSpot stores them; 400 naming every property
        that does not exist, is read-only or has a value its type refuses."""
        if not isinstance(raw, dict):
            raise _hubspot._validation_error("Invalid input JSON: properties must be an object")
        if not raw and not creating:
            raise _hubspot._RequestError(
                400,
                "No properties found to update, please provide at least one.",
                "VALIDATION_ERROR",
                context={"properties": ["{}"]},
            )
        values: dict[str, str] = {}
        problems: list[_PropertyProblem] = []
        for name, value in raw.items():
            text = "" if value is None else _hubspot.property_value(value) or ""
            definition = self._definition(object_type, str(name))
            if definition is None:
                problems.append(
                    _PropertyProblem(
                        name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                    )
                )
            elif definition.read_only:
                problems.append(
                    _PropertyProblem(
                        name,
                        "READ_ONLY_VALUE",
                        f'"{name}" is a read only property; its value cannot be set.',
                    )
                )
            else:
                normalised = _normalised(definition, text)
                if isinstance(normalised, _PropertyProblem):
                    problems.append(normalised)
                else:
                    values[name] = normalised
        if problems:
            raise _property_error(problems)
        return values

    def _checked_associations(self, from_type: str, raw: Any) -> list[tuple[str, str]]:
        """``PublicAssociationsForObject`` items as (to type, to id); 400 when one is
        malformed, names a type id that does not lead from ``from_type``, or an object that
        does not exist (HubSpot/hubspot-api-nodejs issue 646's body)."""
        if raw is None:
            return []  # the spec marks associations required; HubSpot and the fake accept none
        if not isinstance(raw, list):
            raise _hubspot._validation_error("Invalid input JSON: associations must be a list")
        by_type_id = {
            type_id: to
            for (source, to), type_id in _hubspot.ASSOCIATION_TYPE_IDS.items()
            if source == from_type and type_id
        }
        links: list[tuple[str, str]] = []
        bad_types: list[str] = []
        bad_ids: list[tuple[str, str]] = []
        for item in raw:
            _require(item, ("to", "types"))
            _require(item["to"], ("id",))
            kinds = item["types"]
            if not isinstance(kinds, list) or not kinds:
                raise _hubspot._validation_error("Invalid input JSON: types must be a list")
            to_id = str(item["to"]["id"])
            for kind in kinds:
                _require(kind, ("associationCategory", "associationTypeId"))
                category, type_id = kind["associationCategory"], kind["associationTypeId"]
                if category not in ASSOCIATION_CATEGORIES:
                    raise _hubspot._validation_error(
                        f"Invalid input JSON: associationCategory {category!r} is not one of "
                        f"{sorted(ASSOCIATION_CATEGORIES)}"
                    )
                to_type = by_type_id.get(type_id) if category == "HUBSPOT_DEFINED" else None
                if to_type is None:
                    bad_types.append(
                        f"{category} {type_id} is not valid from {_singular(from_type)}"
                    )
                    continue
                record = self._objects[to_type].get(to_id)
                if record is None or record.archived:
                    bad_ids.append((to_type, to_id))
                elif (to_type, to_id) not in links:
                    links.append((to_type, to_id))
        if bad_types:
            raise _hubspot._RequestError(  # assumed context key
                400,
                "One or more associations are invalid",
                "VALIDATION_ERROR",
                context={"INVALID_ASSOCIATION_TYPES": bad_types},
            )
        if bad_ids:
            raise _hubspot._RequestError(
                400,
                "One or more associations are invalid",
                "VALIDATION_ERROR",
                context={
                    "INVALID_OBJECT_IDS": [f"{_singular(t)}={i} is not valid" for t, i in bad_ids],
                    "objectId": [i for _, i in bad_ids],
                    "objectType": [_singular(t) for t, _ in bad_ids],
                },
            )
        return links

    def _refused(
        self, object_type: str, object_id: str | None, values: Mapping[str, str]
    ) -> list[_PropertyProblem]:
        return [
            _PropertyProblem(
                name, "READ_ONLY_VALUE", f'Property "{name}" is read-only for this app'
            )
            for name in values
            if any(r.refuses(object_type, object_id, name) for r in self._refusals)
        ]

    def _write(self, record: StoredObject, values: Mapping[str, str]) -> None:
        """Set the values as an integration's write: history entries for the ones that
        change, and a new stamp (see :attr:`write_clock`), as ``FakeHubSpot.update`` does."""
        when = _hubspot._aware(self.write_clock())
        if when <= record.updated_at:
            when = record.updated_at + timedelta(milliseconds=1)
        for name, value in values.items():
            if name in record.properties and record.properties[name] == value:
                continue
            record.set(name, value)
            record.history.setdefault(name, []).insert(
                0, {"value": value, **_hubspot._entry(when, API_SOURCE_TYPE, PRIVATE_APP_ID)}
            )
        record.updated_at = when
        self._stamp(record)


# --- small helpers ---------------------------------------------------------------------------


def _not_served(method: str, path: str) -> _Response:
    return _hubspot._error(
        405, f"{method} is not supported by FakeHubSpot on {path}", "VALIDATION_ERROR"
    )


def _body_ok(body_error: str | None) -> None:
    if body_error is not None:
        raise _hubspot._validation_error(body_error)


def _object_body(body: Any) -> dict[str, Any]:
    if body is None:
        raise _hubspot._validation_error(
            "Invalid JSON input: a request body was expected, but none found"
        )
    if not isinstance(body, dict):
        raise _hubspot._validation_error("Invalid input JSON: expected an object")
    return body


def _require(body: Any, names: Iterable[str]) -> None:
    """400 naming the required fields the body lacks (HubSpot/hubspot-api-nodejs issue 307)."""
    if not isinstance(body, dict):
        raise _hubspot._validation_error("Invalid input JSON: expected an object")
    absent = [name for name in names if body.get(name) is None]
    if absent:
        raise _hubspot._validation_error(
            f"Invalid input JSON. Some required fields were not set: [{', '.join(absent)}]"
        )


def _int_field(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _hubspot._validation_error(f"Invalid input JSON: {name} must be an integer")
    return value


def _option_inputs(raw: Any, *, required: bool) -> list[dict[str, Any]]:
    """``OptionInput`` items (``label``, ``value`` required; ``hidden`` defaults to false)."""
    if raw is None or raw == []:
        if required:
            raise _hubspot._validation_error(
                "Options are required for enumeration properties"
            )  # assumed text
        return []
    if not isinstance(raw, list):
        raise _hubspot._validation_error("Invalid input JSON: options must be a list")
    options: list[dict[str, Any]] = []
    for n, item in enumerate(raw):
        _require(item, ("label", "value"))
        options.append(
            {
                "label": str(item["label"]),
                "value": str(item["value"]),
                "description": str(item.get("description") or ""),
                "displayOrder": item.get("displayOrder", n),
                "hidden": bool(item.get("hidden")),
            }
        )
    values = [o["value"] for o in options]
    if len(set(values)) != len(values):
        raise _hubspot._validation_error("Option values must be unique")  # assumed text
    return options


def _normalised(definition: PropertyDefinition, text: str) -> str | _PropertyProblem:
    """The value as the fake stores it, or why its type refuses it. An empty string clears
    any property. Datetimes (epoch milliseconds or ISO 8601) are stored as ISO 8601 UTC;
    dates must be midnight UTC (HubSpot's timestamp FAQ) and are stored as ``YYYY-MM-DD``."""
    name = definition.name
    if text == "":
        return ""
    if definition.type == "enumeration" and not definition.external_options:
        allowed = definition.option_values()
        chosen = text.split(";") if definition.field_type == "checkbox" else [text]
        bad = [value for value in chosen if value not in allowed]
        if bad:
            return _PropertyProblem(
                name,
                "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: "
                f"[{', '.join(o['value'] for o in definition.options)}]",
            )
        return text
    if definition.type == "number":
        if not _NUMBER_RE.match(text):
            return _PropertyProblem(
                name, "INVALID_FLOAT", f"{text} was not a valid number."
            )  # assumed
        return text
    if definition.type in ("datetime", "date"):
        when = _parsed_time(text)
        if when is None:
            return _PropertyProblem(
                name,
                "INVALID_DATE",  # assumed code and text
                f"{text} is not a valid date or datetime for {name}",
            )
        if definition.type == "date":
            if when.time() != datetime.min.time():
                return _PropertyProblem(
                    name,
                    "INVALID_DATE",  # assumed code and text
                    f"{text} is not midnight UTC, as date values must be",
                )
            return when.date().isoformat()
        return _hubspot.hubspot_datetime(when)
    return text


def _parsed_time(text: str) -> datetime | None:
    if _EPOCH_MS_RE.match(text):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _values_message(problems: Iterable[_PropertyProblem]) -> str:
    results = [problem.as_result() for problem in problems]
    return f"Property values were not valid: {json.dumps(results, separators=(',', ':'))}"


def _property_error(problems: list[_PropertyProblem]) -> Exception:
    """The whole request's 400: the message integrators log, plus ``errors`` with a ``code``
    and ``context`` per property, as HubSpot's error-handling page describes for CRM object
    APIs (the ``errors`` items' exact form is assumed)."""
    return _hubspot._RequestError(
        400,
        _values_message(problems),
        "VALIDATION_ERROR",
        errors=[
            {"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}}
            for p in problems
        ],
    )


def _standard_error(category: str, message: str, context: dict[str, list[str]]) -> dict[str, Any]:
    """One ``StandardError`` of a 207 (every field the spec requires)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }


def _singular(object_type: str) -> str:
    """``DEAL``, ``TICKET``, ``TASK``: how HubSpot names object types in association errors."""
    return {"companies": "COMPANY"}.get(object_type, object_type.rstrip("s").upper())


# hubspot.py imports this module to build FakeHubSpot, so this module imports it last: by the
# time any method runs, both are complete, whichever of the two was imported first.
from tests.fakes import hubspot as _hubspot  # noqa: E402
