"""`writeback:`: qmon's verdicts written onto the CRM's own records (`qmon.writeback`).

Keyed by source name; off for every source not named::

    writeback:
      hubspot:
        objects: [deals, tickets]
        tasks: {on: [breached], due: 1 business day, calendar: office-nl}
      salesforce:
        objects: [Opportunity, Case]
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from qmon.config.fields import Duration, Strict, Within, _non_blank
from qmon.promises.conditions import BusinessDays

FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")]
"""A CRM field's API name: letters, digits and `_`, starting with a letter."""

DAY_US = 24 * 3600_000_000


def _some(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("name at least one object")
    if len(set(value)) != len(value):
        raise ValueError("an object is named twice")
    return value


class FieldNames(Strict):
    """`writeback.<source>.fields`: the CRM field names, where not the defaults
    (`qmon_status`... in HubSpot, `Qmon_Status__c`... in Salesforce)."""

    status: FieldName | None = None
    next_due: FieldName | None = None
    breaches: FieldName | None = None
    promise: FieldName | None = None
    link: FieldName | None = None


class TaskSpec(Strict):
    """`writeback.<source>.tasks`: a task for the record's owner when an instance breaks."""

    on: list[Literal["breached"]] = ["breached"]
    due: Within = BusinessDays(1)
    calendar: str | None = None  # None: round the clock (business days need a calendar)
    priority: Literal["high", "medium", "low"] = "high"


class SourceWriteback(Strict):
    """`writeback.<source>`: which of its objects carry qmon's fields, and the tasks."""

    objects: Annotated[
        list[Annotated[str, _non_blank("an object")]],
        BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
        AfterValidator(_some),
    ]
    fields: FieldNames = FieldNames()
    tasks: TaskSpec | None = None
    #: how long a kept or broken instance still counts for `qmon_status`
    recent: Duration = 7 * DAY_US
    #: the window of `qmon_breaches`
    breaches_over: Duration = 90 * DAY_US


WritebackSpec = dict[str, SourceWriteback]
