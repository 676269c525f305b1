"""qmon's fields on Salesforce records, and tasks for owners (`qmon.writeback`).

Every call goes through `SalesforceApi` (simple-salesforce on qmon's session: retries,
re-login, errors without secrets), and each counts against the source's `api_quota_share`
of the org's daily requests:

- `write`: `PATCH /services/data/vXX.X/composite/sobjects` with `allOrNone: false`, 200
  records a call; Salesforce answers one SaveResult per record, in order, so a refused
  record (deleted, field-level security, a value the picklist does not allow) is named with
  its `statusCode` and the others are written.
- tasks: a `Task` with `WhatId` (the record; `WhoId` for a Contact), `OwnerId` (the
  instance's owner, when it is a user id), `ActivityDate`, `Subject`, `Priority`,
  `Description` and the key in the custom field `Qmon_Key__c`; found again by SOQL on it.
- `setup`: the custom fields through the Tooling API (`CustomField`), a permission set
  `Qmon_Writeback` granting read and edit on them (fields made through the Tooling API are
  visible to nobody until a permission set grants them), and its assignment to the API
  user. `qmon crm setup --emit-metadata DIR` writes the same as SFDX source instead
  (`qmon.writeback.metadata`), for admins who deploy metadata with the Salesforce CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from qmon.connectors.base import Finding, SourceAuthError, SyncError
from qmon.connectors.registry import SourceConfig
from qmon.connectors.salesforce.api import SalesforceApi
from qmon.connectors.salesforce.wire import Rejected, soql_string
from qmon.errors import QmonError
from qmon.writeback.protocol import Outcome, TaskRequest, Update, WriteRefused
from qmon.writeback.values import STATES

COLLECTION_MAX = 200
TASK_KEY = "Qmon_Key__c"
PERMISSION_SET = "Qmon_Writeback"
_PRIORITIES = {"high": "High", "medium": "Normal", "low": "Low"}
#: Objects whose tasks point at them with WhoId (people), not WhatId.
_WHO_OBJECTS = frozenset({"Contact", "Lead"})
#: canonical field -> (label, Metadata of its CustomField)
FIELD_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "status": (
        "qmon status",
        {
            "type": "Picklist",
            "valueSet": {
                "restricted": True,
                "valueSetDefinition": {
                    "sorted": False,
                    "value": [
                        {"fullName": s, "default": False, "label": s.replace("_", " ")}
                        for s in STATES
                    ],
                },
            },
        },
    ),
    "next_due": ("qmon next due", {"type": "DateTime"}),
    "breaches": ("qmon breaches (90 days)", {"type": "Number", "precision": 6, "scale": 0}),
    "promise": ("qmon promise", {"type": "Text", "length": 255}),
    "link": ("qmon link", {"type": "Url"}),
}
TASK_KEY_FIELD = ("qmon key", {"type": "Text", "length": 40})
#: describe's `type` of each CustomField type
DESCRIBED = {
    "Picklist": "picklist",
    "DateTime": "datetime",
    "Number": "double",
    "Text": "string",
    "Url": "url",
}


class SalesforceWriter:
    batch_size = COLLECTION_MAX

    def __init__(self, source: SourceConfig, fields: dict[str, str], zone: ZoneInfo) -> None:
        self._source = source
        self._fields = fields
        self._zone = zone
        self._api_made: SalesforceApi | None = None

    @property
    def _api(self) -> SalesforceApi:
        if self._api_made is None:
            self._api_made = SalesforceApi(self._source.spec)
        return self._api_made

    # -- records ----------------------------------------------------------------------------

    def write(self, object_type: str, updates: Sequence[Update]) -> list[Outcome]:
        api = self._api
        api.stop_at_quota()
        records = [
            {"attributes": {"type": object_type}, "id": u.record_id, **self.values(u.values)}
            for u in updates
        ]
        body = {"allOrNone": False, "records": records}
        try:
            answer = api.call(
                f"update {len(updates)} {object_type}",
                lambda sf: sf.restful(
                    "composite/sobjects", method="PATCH", json=body, timeout=api.timeout
                ),
            )
        except Rejected as exc:
            raise WriteRefused(
                f"Salesforce refused qmon's fields on {object_type} ({exc.code}): "
                f"{exc.detail}; run `qmon crm setup --source {self._source.name}`"
            ) from None
        except SourceAuthError as exc:
            raise WriteRefused(str(exc)) from None
        results = answer if isinstance(answer, list) else []
        outcomes: list[Outcome] = []
        for n, update in enumerate(updates):
            result = results[n] if n < len(results) and isinstance(results[n], dict) else None
            if result is None:
                outcomes.append(Outcome(update.record_id, False, "not in Salesforce's answer"))
            elif result.get("success") is True:
                outcomes.append(Outcome(update.record_id, True))
            else:
                outcomes.append(Outcome(update.record_id, False, _errors(result)))
        return outcomes

    def values(self, values: dict[str, Any]) -> dict[str, Any]:
        """Canonical values as Salesforce field values (null empties a field)."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            field = self._fields[name]
            if value is None:
                out[field] = None
            elif name == "next_due":
                moment = datetime.fromtimestamp(int(value) / 1e6, tz=UTC)
                out[field] = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            elif name == "breaches":
                out[field] = int(value)
            else:
                out[field] = str(value)[:255]
        return out

    # -- tasks ------------------------------------------------------------------------------

    def find_task(self, key: str) -> str | None:
        api = self._api
        soql = f"SELECT Id FROM Task WHERE {TASK_KEY} = {soql_string(key)} LIMIT 1"
        answer = self._task_call(
            "find a task by its key", lambda sf: sf.query(soql, timeout=api.timeout)
        )
        records = answer.get("records") or []
        return str(records[0]["Id"]) if records else None

    def create_task(self, task: TaskRequest) -> str:
        api = self._api
        api.stop_at_quota()
        due = datetime.fromtimestamp(task.due_us / 1e6, tz=self._zone).date()
        fields: dict[str, Any] = {
            "Subject": task.title[:255],
            "Description": task.body[:32000],
            "ActivityDate": due.isoformat(),
            "Priority": _PRIORITIES.get(task.priority, "High"),
            "Status": "Not Started",
            TASK_KEY: task.key,
        }
        fields["WhoId" if task.object_type in _WHO_OBJECTS else "WhatId"] = task.record_id
        if task.owner and task.owner.startswith("005"):
            fields["OwnerId"] = task.owner
        answer = self._task_call(
            f"create a task on {task.object_type} {task.record_id}",
            lambda sf: sf.Task.create(fields),
        )
        return str(answer["id"])

    def update_task(self, task_id: str, task: TaskRequest) -> None:
        fields = {"Subject": task.title[:255], "Description": task.body[:32000]}
        try:
            self._task_call(
                f"update task {task_id}",
                lambda sf: sf.Task.update(task_id, fields),
            )
        except WriteRefused as exc:
            if "ENTITY_IS_DELETED" in str(exc) or "NOT_FOUND" in str(exc):
                return  # deleted in Salesforce: nothing left to update
            raise

    def _task_call(self, what: str, send: Any) -> Any:
        try:
            return self._api.call(what, send)
        except Rejected as exc:
            raise WriteRefused(
                f"Salesforce refused to {what} ({exc.code}): {exc.detail}"
                + (
                    "; run `qmon crm setup` for the Task field Qmon_Key__c"
                    if exc.code == "INVALID_FIELD"
                    else ""
                )
            ) from None
        except SourceAuthError as exc:
            raise WriteRefused(str(exc)) from None

    # -- sources check ----------------------------------------------------------------------

    def check(self, objects: Sequence[str], *, tasks: bool) -> list[Finding]:
        """Whether qmon's fields exist and the integration user may edit them (describe shows
        a field only to a user who may read it, `updateable` only to one who may edit)."""
        findings: list[Finding] = []
        wanted = [(obj, [self._fields[n] for n in FIELD_TYPES]) for obj in objects]
        if tasks:
            wanted.append(("Task", [TASK_KEY]))
        for obj, names in wanted:
            try:
                described = {f["name"]: f for f in self._api.describe(obj).get("fields") or []}
            except SyncError as exc:
                findings.append(Finding(False, f"{obj} qmon fields", str(exc)))
                continue
            missing = [n for n in names if n not in described]
            if missing:
                findings.append(Finding(False, f"{obj} qmon fields", f"missing "
                    f"{', '.join(missing)} (or not visible to the integration user): run "
                    "`qmon crm setup`, which creates them and grants them in the permission "
                    f"set {PERMISSION_SET}"))  # fmt: skip
                continue
            flag = "createable" if obj == "Task" else "updateable"
            locked = [n for n in names if not described[n].get(flag)]
            if locked:
                findings.append(Finding(False, f"{obj} qmon fields writable",
                    f"the integration user may not edit {', '.join(locked)}: grant edit in "
                    f"field-level security or assign {PERMISSION_SET}"))  # fmt: skip
            else:
                findings.append(Finding(True, f"{obj} qmon fields writable"))
        return findings

    # -- setup ------------------------------------------------------------------------------

    def wanted_fields(
        self, objects: Sequence[str], tasks: bool
    ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(object, field API name, label, CustomField Metadata) of every field qmon needs."""
        found = [
            (obj, self._fields[name], label, meta)
            for obj in objects
            for name, (label, meta) in FIELD_TYPES.items()
        ]
        if tasks:
            found.append(("Task", TASK_KEY, *TASK_KEY_FIELD))
        return found

    def setup(self, objects: Sequence[str], *, tasks: bool, dry_run: bool) -> list[str]:
        api = self._api
        done: list[str] = []
        problems: list[str] = []
        verb = "would create" if dry_run else "created"
        wanted = self.wanted_fields(objects, tasks)
        for obj in dict.fromkeys(o for o, *_ in wanted):
            table = _table(obj)
            soql = (
                "SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = "
                f"{soql_string(table)}"
            )
            answer = self._setup_call(
                f"list the custom fields of {table}",
                lambda sf, q=soql: sf.toolingexecute("query/", params={"q": q}),
            )
            existing = {str(r.get("DeveloperName")) for r in answer.get("records") or []}
            described = {f["name"]: f for f in api.describe(obj).get("fields") or []}
            for o, name, label, meta in wanted:
                if o != obj:
                    continue
                if name.removesuffix("__c") in existing or name in described:
                    seen = described.get(name)
                    expected = DESCRIBED[meta["type"]]
                    if seen is not None and seen.get("type") != expected:
                        problems.append(
                            f"Salesforce already has a field {obj}.{name} of type "
                            f"{seen.get('type')}; qmon needs {meta['type']}: rename it, or name "
                            f"another field in writeback.{self._source.name}.fields"
                        )
                        continue
                    done.append(f"exists: field {obj}.{name} ({meta['type']})")
                    continue
                if not dry_run:
                    body = {
                        "FullName": f"{_table(obj)}.{name}",
                        "Metadata": {"label": label, "description": "Written by qmon", **meta},
                    }
                    self._setup_call(
                        f"create the field {obj}.{name}",
                        lambda sf, b=body: sf.toolingexecute(
                            "sobjects/CustomField/", method="POST", data=b
                        ),
                    )
                done.append(f"{verb} field {obj}.{name} ({meta['type']})")
        if problems:
            raise SetupError("\n".join([*done, *problems]))
        done.extend(self._grant(wanted, dry_run))
        return done

    def _grant(
        self, wanted: list[tuple[str, str, str, dict[str, Any]]], dry_run: bool
    ) -> list[str]:
        """The permission set granting read and edit on the fields, assigned to the API
        user."""
        api = self._api
        verb = "would create" if dry_run else "created"
        done: list[str] = []
        found = api.call(
            "find the permission set",
            lambda sf: sf.query(
                f"SELECT Id FROM PermissionSet WHERE Name = {soql_string(PERMISSION_SET)}"
            ),
        )
        records = found.get("records") or []
        if records:
            permset: str | None = str(records[0]["Id"])
        elif dry_run:
            permset = None
        else:
            made = self._setup_call(
                "create the permission set",
                lambda sf: sf.PermissionSet.create(
                    {"Name": PERMISSION_SET, "Label": "qmon writeback"}
                ),
            )
            permset = str(made["id"])
        if not records:
            done.append(f"{verb} permission set {PERMISSION_SET}")
        granted: set[str] = set()
        if permset is not None:
            rows = api.call(
                "read the permission set's fields",
                lambda sf: sf.query(
                    "SELECT Field FROM FieldPermissions WHERE ParentId = "
                    f"{soql_string(permset)} AND PermissionsEdit = true"
                ),
            )
            granted = {str(r.get("Field")) for r in rows.get("records") or []}
        for obj, name, _label, _meta in wanted:
            if f"{obj}.{name}" in granted:
                continue
            if not dry_run:
                self._setup_call(
                    f"grant {obj}.{name}",
                    lambda sf, o=obj, n=name: sf.FieldPermissions.create(
                        {
                            "ParentId": permset,
                            "SobjectType": o,
                            "Field": f"{o}.{n}",
                            "PermissionsRead": True,
                            "PermissionsEdit": True,
                        }
                    ),
                )
            done.append(f"{verb} read and edit on {obj}.{name} in {PERMISSION_SET}")
        user = self._user_id()
        assigned = False
        if permset is not None:
            rows = api.call(
                "read the permission set's assignments",
                lambda sf: sf.query(
                    "SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = "
                    f"{soql_string(permset)} AND AssigneeId = {soql_string(user)}"
                ),
            )
            assigned = bool(rows.get("records"))
        if not assigned:
            if not dry_run:
                self._setup_call(
                    "assign the permission set",
                    lambda sf: sf.PermissionSetAssignment.create(
                        {"PermissionSetId": permset, "AssigneeId": user}
                    ),
                )
            done.append(
                f"{'would assign' if dry_run else 'assigned'} {PERMISSION_SET} to the "
                f"API user {user}"
            )
        return done

    def _user_id(self) -> str:
        """The API user's id, from the OAuth userinfo endpoint (not an API request)."""
        answer = self._api.call("read the API user", lambda sf: sf.oauth2("userinfo"))
        return str(answer["user_id"])

    def _setup_call(self, what: str, send: Any) -> Any:
        try:
            return self._api.call(what, send)
        except Rejected as exc:
            raise SetupError(f"Salesforce refused to {what} ({exc.code}): {exc.detail}") from None
        except SourceAuthError as exc:
            raise WriteRefused(
                f"{exc} (setting up fields needs the Customize Application "
                "and Manage Profiles and Permission Sets permissions)"
            ) from None

    def close(self) -> None:
        if self._api_made is not None:
            self._api_made.close()


class SetupError(QmonError):
    """`qmon crm setup` found something it must not change, or Salesforce refused it."""


def _table(sobject: str) -> str:
    """Where a custom field of `sobject` is defined: Task and Event share Activity's."""
    return "Activity" if sobject in ("Task", "Event") else sobject


def _errors(result: dict[str, Any]) -> str:
    errors = result.get("errors") or []
    parts = [
        f"{e.get('statusCode', 'ERROR')}: {str(e.get('message', ''))[:200]}"
        for e in errors
        if isinstance(e, dict)
    ]
    return "; ".join(parts) or "refused"


def make_writer(source: SourceConfig, fields: dict[str, str], zone: ZoneInfo) -> SalesforceWriter:
    return SalesforceWriter(source, fields, zone)
