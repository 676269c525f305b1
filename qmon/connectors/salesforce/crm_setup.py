"""Salesforce's side of `qmon sources check` and `qmon crm setup` for the writeback: whether
qmon's fields exist and the integration user may edit them (describe), and creating them
through the Tooling API (`CustomField`) with a permission set `Qmon_Writeback` granting read
and edit on them (fields made through the Tooling API are visible to nobody until a
permission set grants them), assigned to the API user. `qmon.writeback.metadata` writes the
same as SFDX source, from the definitions here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qmon.connectors.base import Finding, SourceAuthError, SyncError
from qmon.connectors.salesforce.api import SalesforceApi
from qmon.connectors.salesforce.wire import Rejected, soql_string
from qmon.errors import QmonError
from qmon.writeback.protocol import WriteRefused
from qmon.writeback.values import STATES

#: The custom field on Task holding the instance's key, by which qmon finds its task again.
TASK_KEY = "Qmon_Key__c"
PERMISSION_SET = "Qmon_Writeback"
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



def check_fields(api: SalesforceApi, fields: dict[str, str], objects: Sequence[str], *,
                 tasks: bool) -> list[Finding]:  # fmt: skip
    """Whether qmon's fields exist and the integration user may edit them (describe shows
    a field only to a user who may read it, `updateable` only to one who may edit)."""
    findings: list[Finding] = []
    wanted = [(obj, [fields[n] for n in FIELD_TYPES]) for obj in objects]
    if tasks:
        wanted.append(("Task", [TASK_KEY]))
    for obj, names in wanted:
        try:
            described = {f["name"]: f for f in api.describe(obj).get("fields") or []}
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


def wanted_fields(
    fields: dict[str, str], objects: Sequence[str], tasks: bool
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(object, field API name, label, CustomField Metadata) of every field qmon needs."""
    found = [
        (obj, fields[name], label, meta)
        for obj in objects
        for name, (label, meta) in FIELD_TYPES.items()
    ]
    if tasks:
        found.append(("Task", TASK_KEY, *TASK_KEY_FIELD))
    return found


def create_fields(api: SalesforceApi, fields: dict[str, str], source: str,
                  objects: Sequence[str], *, tasks: bool, dry_run: bool) -> list[str]:  # fmt: skip
    """`qmon crm setup`: the fields qmon needs (Tooling API), and the permission set granting
    them to the API user; what it did (or, with `dry_run`, would do), a line each."""
    done: list[str] = []
    problems: list[str] = []
    verb = "would create" if dry_run else "created"
    wanted = wanted_fields(fields, objects, tasks)
    for obj in dict.fromkeys(o for o, *_ in wanted):
        table = _table(obj)
        soql = (
            "SELECT Id, DeveloperName FROM CustomField WHERE TableEnumOrId = "
            f"{soql_string(table)}"
        )
        answer = _setup_call(
            api,
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
                        f"another field in writeback.{source}.fields"
                    )
                    continue
                done.append(f"exists: field {obj}.{name} ({meta['type']})")
                continue
            if not dry_run:
                body = {
                    "FullName": f"{_table(obj)}.{name}",
                    "Metadata": {"label": label, "description": "Written by qmon", **meta},
                }
                _setup_call(
                    api,
                    f"create the field {obj}.{name}",
                    lambda sf, b=body: sf.toolingexecute(
                        "sobjects/CustomField/", method="POST", data=b
                    ),
                )
            done.append(f"{verb} field {obj}.{name} ({meta['type']})")
    if problems:
        raise SetupError("\n".join([*done, *problems]))
    done.extend(_grant(api, wanted, dry_run))
    return done


def _grant(
    api: SalesforceApi, wanted: list[tuple[str, str, str, dict[str, Any]]], dry_run: bool
) -> list[str]:
    """The permission set granting read and edit on the fields, assigned to the API
    user."""
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
        made = _setup_call(
            api,
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
            _setup_call(
                api,
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
    user = _user_id(api)
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
            _setup_call(
                api,
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


def _user_id(api: SalesforceApi) -> str:
    """The API user's id, from the OAuth userinfo endpoint (not an API request)."""
    answer = api.call("read the API user", lambda sf: sf.oauth2("userinfo"))
    return str(answer["user_id"])


def _setup_call(api: SalesforceApi, what: str, send: Any) -> Any:
    try:
        return api.call(what, send)
    except Rejected as exc:
        raise SetupError(f"Salesforce refused to {what} ({exc.code}): {exc.detail}") from None
    except SourceAuthError as exc:
        raise WriteRefused(
            f"{exc} (setting up fields needs the Customize Application "
            "and Manage Profiles and Permission Sets permissions)"
        ) from None


class SetupError(QmonError):
    """`qmon crm setup` found something it must not change, or Salesforce refused it."""


def _table(sobject: str) -> str:
    """Where a custom field of `sobject` is defined: Task and Event share Activity's."""
    return "Activity" if sobject in ("Task", "Event") else sobject
