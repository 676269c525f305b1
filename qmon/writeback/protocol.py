"""What a CRM writer offers the outbox (HubSpot's and Salesforce's implement it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from qmon.connectors.base import Finding
from qmon.errors import QmonError
from qmon.exit_codes import ExitCode


@dataclass(frozen=True)
class Update:
    """New values for one record's qmon fields, by their canonical names (`status`,
    `next_due` in UTC microseconds, `breaches`, `promise` as its title, `link`); None
    empties a field."""

    record_id: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What the CRM said to one record's update: taken, or refused and why."""

    record_id: str
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class TaskRequest:
    """A task for a record's owner about a broken promise.

    `key` goes into the task itself (`qmon_key` / `Qmon_Key__c`), so that a task created by a
    try whose answer was lost is found instead of made twice."""

    key: str
    object_type: str
    record_id: str
    owner: str | None
    title: str
    body: str
    due_us: int
    priority: str  # high | medium | low


class WriteRefused(QmonError):
    """The CRM refused a whole request for a reason retrying will not mend soon: a missing
    scope or permission, fields that do not exist (run `qmon crm setup`). The check warns,
    once per cause, and tries again later."""

    exit_code = ExitCode.SOURCE_FAILED


class Writer(Protocol):
    """One CRM source's writing side."""

    #: records one `write` call may carry (HubSpot 100, Salesforce 200)
    batch_size: int

    def write(self, object_type: str, updates: Sequence[Update]) -> list[Outcome]:
        """Set the fields of these records of one object type, in one request; a record the
        CRM refuses is an `Outcome` with its reason, the others are written."""
        ...

    def find_task(self, key: str) -> str | None:
        """The id of the task carrying `key`, if one exists."""
        ...

    def create_task(self, task: TaskRequest) -> str:
        """Create the task, associated with its record; its id."""
        ...

    def update_task(self, task_id: str, task: TaskRequest) -> None:
        """Replace the task's title and body (the promise was kept late)."""
        ...

    def setup(self, objects: Sequence[str], *, tasks: bool, dry_run: bool) -> list[str]:
        """Create the fields (and the task key field when `tasks`) that are missing, as
        lines saying what was (or, with `dry_run`, would be) done."""
        ...

    def check(self, objects: Sequence[str], *, tasks: bool) -> list[Finding]:
        """For `qmon sources check`: whether qmon may write there, and the fields exist."""
        ...

    def close(self) -> None: ...
