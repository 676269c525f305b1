"""qmon's fields on HubSpot records, and tasks for owners (`qmon.writeback`).

Every call goes through `HubSpotApi` (the official client, paced by the same limiter as the
sync, 429 and `Retry-After` honoured, errors without secrets):

- `write`: `POST /crm/v3/objects/{type}/batch/update`, 100 records a call. HubSpot answers
  200, or 207 with `errors` naming the refused ids (`context.ids`); a record it neither took
  nor named is reported as unanswered, never assumed written.
- tasks: `POST /crm/v3/objects/tasks` with `hs_timestamp` (due), `hs_task_subject`,
  `hs_task_body` (HTML: the text is escaped), `hs_task_priority`, `hubspot_owner_id`, the
  key in the custom property `qmon_key`, and the association to the record (task to deal
  216, to ticket 230, to company 192, to contact 204); found again by searching `qmon_key`.
- `setup`: the property group `qmon` and the properties in it, per object type
  (`POST /crm/v3/properties/{type}/groups`, `POST /crm/v3/properties/{type}`); an existing
  property of the same name with another type is an error that names it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from qmon.connectors.base import Finding, SyncError
from qmon.connectors.hubspot.api import HubSpotApi, MissingScopes, Rejected
from qmon.connectors.registry import SourceConfig
from qmon.errors import QmonError
from qmon.writeback.protocol import Outcome, TaskRequest, Update, WriteRefused
from qmon.writeback.values import STATES

BATCH_UPDATE_MAX = 100
GROUP = "qmon"
TASK_KEY = "qmon_key"
#: HubSpot-defined association type ids, task -> record.
TASK_ASSOCIATIONS = {"deals": 216, "tickets": 230, "companies": 192, "contacts": 204}
_LABELS = {
    "breached": "Breached",
    "at_risk": "At risk",
    "on_track": "On track",
    "paused": "Paused",
    "met": "Met",
}
#: canonical field -> (type, fieldType, label) of its HubSpot property
PROPERTY_TYPES: dict[str, tuple[str, str, str]] = {
    "status": ("enumeration", "select", "qmon status"),
    "next_due": ("datetime", "date", "qmon next due"),
    "breaches": ("number", "number", "qmon breaches (90 days)"),
    "promise": ("string", "text", "qmon promise"),
    "link": ("string", "text", "qmon link"),
}
_SCOPES_PAGE = "Settings > Integrations > Private apps > your app > Scopes"
TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
#: The scopes that let a private app write each object type (any one), and its properties.
WRITE_SCOPES = {
    "deals": ("crm.objects.deals.write",),
    "tickets": ("tickets",),
    "companies": ("crm.objects.companies.write",),
    "contacts": ("crm.objects.contacts.write",),
}
TASK_WRITE_SCOPES = ("crm.objects.contacts.write",)
SCHEMA_WRITE_SCOPES = {
    "deals": ("crm.schemas.deals.write",),
    "tickets": ("crm.schemas.tickets.write", "tickets"),
    "companies": ("crm.schemas.companies.write",),
    "contacts": ("crm.schemas.contacts.write",),
}


class HubSpotWriter:
    batch_size = BATCH_UPDATE_MAX

    def __init__(self, source: SourceConfig, fields: dict[str, str]) -> None:
        self._source = source
        self._fields = fields
        self._api_made: HubSpotApi | None = None

    @property
    def _api(self) -> HubSpotApi:
        if self._api_made is None:
            self._api_made = HubSpotApi(self._source.spec)
        return self._api_made

    # -- records ----------------------------------------------------------------------------

    def write(self, object_type: str, updates: Sequence[Update]) -> list[Outcome]:
        api = self._api
        batch = api.client.crm.objects.batch_api
        body = {
            "inputs": [
                {"id": u.record_id, "properties": self.properties(u.values)} for u in updates
            ]
        }
        what = f"update {len(updates)} {object_type}"
        try:
            answer = api.call(
                what,
                lambda: batch.update(
                    object_type, body, _preload_content=False, _request_timeout=api.timeout
                ),
            )
        except MissingScopes as exc:
            raise WriteRefused(_scopes(exc, f"crm.objects.{object_type}.write")) from None
        except Rejected as exc:
            if exc.status == 400:
                raise WriteRefused(
                    f"HubSpot refused qmon's fields on {object_type}: "
                    f"{_message(exc.body)}; run `qmon crm setup --source {self._source.name}`"
                ) from None
            raise
        taken = {str(r.get("id")) for r in answer.get("results") or [] if isinstance(r, dict)}
        refused: dict[str, str] = {}
        for error in answer.get("errors") or []:
            if not isinstance(error, dict):
                continue
            why = f"{error.get('category', 'ERROR')}: {str(error.get('message', ''))[:200]}"
            for record_id in (error.get("context") or {}).get("ids") or []:
                refused[str(record_id)] = why
        return [
            Outcome(u.record_id, True)
            if u.record_id in taken and u.record_id not in refused
            else Outcome(u.record_id, False, refused.get(u.record_id, "not in HubSpot's answer"))
            for u in updates
        ]

    def properties(self, values: dict[str, Any]) -> dict[str, str]:
        """Canonical values as HubSpot property values ("" empties a property)."""
        out: dict[str, str] = {}
        for name, value in values.items():
            prop = self._fields[name]
            if value is None:
                out[prop] = ""
            elif name == "next_due":
                out[prop] = str(int(value) // 1000)  # epoch milliseconds
            else:
                out[prop] = str(value)
        return out

    # -- tasks ------------------------------------------------------------------------------

    def find_task(self, key: str) -> str | None:
        api = self._api
        search = api.client.crm.objects.search_api
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": TASK_KEY, "operator": "EQ", "value": key}]}
            ],
            "properties": [TASK_KEY],
            "limit": 1,
        }
        try:
            answer = api.call(
                "search tasks by qmon_key",
                lambda: search.do_search(
                    "tasks", body, _preload_content=False, _request_timeout=api.timeout
                ),
                search=True,
            )
        except MissingScopes as exc:
            raise WriteRefused(_scopes(exc, "crm.objects.contacts.read")) from None
        for result in answer.get("results") or []:
            if isinstance(result, dict) and result.get("id") is not None:
                return str(result["id"])
        return None

    def create_task(self, task: TaskRequest) -> str:
        api = self._api
        basic = api.client.crm.objects.basic_api
        properties = {
            "hs_timestamp": str(task.due_us // 1000),
            "hs_task_subject": task.title,
            "hs_task_body": _html(task.body),
            "hs_task_priority": task.priority.upper(),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
            TASK_KEY: task.key,
        }
        if task.owner:
            properties["hubspot_owner_id"] = task.owner
        body: dict[str, Any] = {"properties": properties, "associations": []}
        association = TASK_ASSOCIATIONS.get(task.object_type)
        if association is not None:
            body["associations"].append(
                {
                    "to": {"id": task.record_id},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association}
                    ],
                }
            )
        try:
            answer = api.call(
                f"create a task on {task.object_type}/{task.record_id}",
                lambda: basic.create(
                    "tasks", body, _preload_content=False, _request_timeout=api.timeout
                ),
            )
        except MissingScopes as exc:
            raise WriteRefused(_scopes(exc, "crm.objects.contacts.write")) from None
        except Rejected as exc:
            raise WriteRefused(f"HubSpot refused a task: {_message(exc.body)}") from None
        return str(answer["id"])

    def update_task(self, task_id: str, task: TaskRequest) -> None:
        api = self._api
        basic = api.client.crm.objects.basic_api
        body = {"properties": {"hs_task_subject": task.title, "hs_task_body": _html(task.body)}}
        try:
            api.call(
                f"update task {task_id}",
                lambda: basic.update(
                    "tasks", task_id, body, _preload_content=False, _request_timeout=api.timeout
                ),
            )
        except MissingScopes as exc:
            raise WriteRefused(_scopes(exc, "crm.objects.contacts.write")) from None
        except Rejected as exc:
            if exc.status == 404:  # deleted in HubSpot: nothing left to update
                return
            raise WriteRefused(
                f"HubSpot refused to update task {task_id}: {_message(exc.body)}"
            ) from None

    # -- sources check ----------------------------------------------------------------------

    def check(self, objects: Sequence[str], *, tasks: bool) -> list[Finding]:
        """Whether the private app may write qmon's fields (and tasks), and whether the
        fields exist: from the token's own scopes (the private-apps "access token info"
        call) and a read of each property."""
        api = self._api
        api_client = api.client.crm.objects.basic_api.api_client
        try:
            info = api.call("read the token's scopes", lambda: api_client.call_api(
                TOKEN_INFO_PATH, "POST", header_params={"Accept": "application/json",
                "Content-Type": "application/json"}, body={"tokenKey": api.token},
                auth_settings=["oauth2"], _preload_content=False,
                _request_timeout=api.timeout))  # fmt: skip
            scopes: set[str] | None = {str(s) for s in info.get("scopes") or []}
        except SyncError:
            scopes = None  # HubSpot would not say: the writes will tell
        findings: list[Finding] = []
        wanted = [(obj, WRITE_SCOPES.get(obj, ()), f"{obj} writable by qmon") for obj in objects]
        if tasks:
            wanted.append(("tasks", TASK_WRITE_SCOPES, "tasks creatable by qmon"))
        for _obj, needed, what in wanted:
            if scopes is None or not needed or scopes & set(needed):
                findings.append(Finding(True, what))
            else:
                findings.append(Finding(False, what, f"the private app lacks the scope "
                                        f"{needed[0]}: add it under {_SCOPES_PAGE}"))  # fmt: skip
        for obj in [*objects, *(["tasks"] if tasks else [])]:
            names = [TASK_KEY] if obj == "tasks" else [self._fields[n] for n in PROPERTY_TYPES]
            try:
                missing = [n for n in names if self._get(f"/{n}", obj) is None]
            except WriteRefused as exc:
                findings.append(Finding(False, f"{obj} qmon properties", str(exc)))
                continue
            if missing:
                schema = SCHEMA_WRITE_SCOPES.get(obj, ("crm.schemas.contacts.write",))[0]
                advice = f"run `qmon crm setup` (needs the scope {schema})"
                detail = f"missing {', '.join(missing)}: {advice}"
                findings.append(Finding(False, f"{obj} qmon properties", detail))
            else:
                findings.append(Finding(True, f"{obj} qmon properties"))
        return findings

    # -- setup ------------------------------------------------------------------------------

    def setup(self, objects: Sequence[str], *, tasks: bool, dry_run: bool) -> list[str]:
        done: list[str] = []
        problems: list[str] = []
        wanted = {
            obj: [(self._fields[n], *PROPERTY_TYPES[n]) for n in PROPERTY_TYPES] for obj in objects
        }
        if tasks:
            wanted["tasks"] = [(TASK_KEY, "string", "text", "qmon key")]
        verb = "would create" if dry_run else "created"
        for obj, props in wanted.items():
            if self._get(f"/groups/{GROUP}", obj) is None:
                if not dry_run:
                    self._post(obj, "/groups", {"name": GROUP, "label": "qmon", "displayOrder": -1})
                done.append(f"{verb} property group {obj}.{GROUP}")
            for name, type_, field_type, label in props:
                found = self._get(f"/{name}", obj)
                if found is not None:
                    have = (found.get("type"), found.get("fieldType"))
                    if found.get("type") != type_:
                        problems.append(
                            f"HubSpot already has a property {obj}.{name} of type {have[0]} "
                            f"({have[1]}); qmon needs {type_} ({field_type}): rename it, or "
                            f"name another field in writeback.{self._source.name}.fields"
                        )
                        continue
                    if type_ == "enumeration":
                        options = {o.get("value") for o in found.get("options") or []}
                        missing = [s for s in STATES if s not in options]
                        if missing:
                            problems.append(
                                f"HubSpot's property {obj}.{name} lacks the options "
                                f"{', '.join(missing)}; add them, or remove the property"
                            )
                            continue
                    done.append(f"exists: property {obj}.{name} ({type_})")
                    continue
                body: dict[str, Any] = {
                    "name": name,
                    "label": label,
                    "type": type_,
                    "fieldType": field_type,
                    "groupName": GROUP,
                    "description": "Written by qmon; do not edit.",
                }
                if type_ == "enumeration":
                    body["options"] = [
                        {"label": _LABELS[s], "value": s, "displayOrder": n, "hidden": False}
                        for n, s in enumerate(STATES)
                    ]
                if not dry_run:
                    self._post(obj, "", body)
                done.append(f"{verb} property {obj}.{name} ({type_})")
        if problems:
            raise SetupError("\n".join([*done, *problems]))
        return done

    def _get(self, rest: str, object_type: str) -> dict[str, Any] | None:
        api = self._api
        client = api.client.crm.properties
        if rest.startswith("/groups/"):
            send = lambda: client.groups_api.get_by_name(  # noqa: E731
                object_type,
                rest.removeprefix("/groups/"),
                _preload_content=False,
                _request_timeout=api.timeout,
            )
        else:
            send = lambda: client.core_api.get_by_name(  # noqa: E731
                object_type,
                rest.removeprefix("/"),
                _preload_content=False,
                _request_timeout=api.timeout,
            )
        try:
            return api.call(f"read {object_type} property{rest}", send)
        except MissingScopes as exc:
            raise WriteRefused(_scopes(exc, f"crm.schemas.{object_type}.read")) from None
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise

    def _post(self, object_type: str, rest: str, body: dict[str, Any]) -> None:
        api = self._api
        client = api.client.crm.properties
        if rest == "/groups":
            send = lambda: client.groups_api.create(  # noqa: E731
                object_type, body, _preload_content=False, _request_timeout=api.timeout
            )
        else:
            send = lambda: client.core_api.create(  # noqa: E731
                object_type, body, _preload_content=False, _request_timeout=api.timeout
            )
        try:
            api.call(f"create {object_type} property{rest} {body['name']}", send)
        except MissingScopes as exc:
            raise WriteRefused(_scopes(exc, f"crm.schemas.{object_type}.write")) from None
        except Rejected as exc:
            raise SetupError(
                f"HubSpot refused to create {object_type} property{rest} "
                f"{body['name']}: {_message(exc.body)}"
            ) from None

    def close(self) -> None:
        return None


class SetupError(QmonError):
    """`qmon crm setup` found something it must not change (a property of another type)."""


def make_writer(source: SourceConfig, fields: dict[str, str], zone: ZoneInfo) -> HubSpotWriter:
    del zone  # HubSpot takes instants; it shows them in each user's zone
    return HubSpotWriter(source, fields)


def _html(text: str) -> str:
    """Plain text as HubSpot's rich-text task body: escaped, lines as `<br>`."""
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def _message(body: dict[str, Any]) -> str:
    return str(body.get("message") or "no details")[:300]


def _scopes(exc: MissingScopes, fallback: str) -> str:
    scopes = ", ".join(exc.scopes or [fallback])
    return f"the private app lacks the scope {scopes}: add it under {_SCOPES_PAGE}"
