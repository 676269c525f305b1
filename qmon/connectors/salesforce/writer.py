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
- `check` and `setup`: `qmon.connectors.salesforce.crm_setup` (the fields and the permission set
  granting them). `qmon crm setup --emit-metadata DIR` writes the same as SFDX source instead
  (`qmon.writeback.metadata`), for admins who deploy metadata with the Salesforce CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from qmon.connectors.base import Finding, SourceAuthError
from qmon.connectors.registry import SourceConfig
from qmon.connectors.salesforce import crm_setup
from qmon.connectors.salesforce.api import SalesforceApi
from qmon.connectors.salesforce.crm_setup import TASK_KEY
from qmon.connectors.salesforce.wire import Rejected, soql_string
from qmon.writeback.protocol import Outcome, TaskRequest, Update, WriteRefused

COLLECTION_MAX = 200
_PRIORITIES = {"high": "High", "medium": "Normal", "low": "Low"}
#: Objects whose tasks point at them with WhoId (people), not WhatId.
_WHO_OBJECTS = frozenset({"Contact", "Lead"})


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

    # -- sources check and setup (`qmon.connectors.salesforce.crm_setup`) ---------------------

    def check(self, objects: Sequence[str], *, tasks: bool) -> list[Finding]:
        return crm_setup.check_fields(self._api, self._fields, objects, tasks=tasks)

    def setup(self, objects: Sequence[str], *, tasks: bool, dry_run: bool) -> list[str]:
        return crm_setup.create_fields(self._api, self._fields, self._source.name, objects,
                                       tasks=tasks, dry_run=dry_run)  # fmt: skip

    def close(self) -> None:
        if self._api_made is not None:
            self._api_made.close()


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
