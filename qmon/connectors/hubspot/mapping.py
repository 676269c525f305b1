"""HubSpot records to canonical events: pure functions, tested with tables.

A record arrives as HubSpot's JSON (`properties`, `propertiesWithHistory`, `createdAt`...)
together with the ids of the deals and tickets it is associated with. Which events it makes
is documented in docs/connectors/hubspot.md; every stage and status name comes from the
mapping (`HubSpotMappingSpec`), because they differ per portal.

Journey subjects: deals are `deal`, tickets are `case`. Quotes belong to their deal;
engagements and survey responses to their ticket, else their deal. An engagement that belongs
to neither makes no event: no promise could be about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qmon.connectors.base import Found, record_events
from qmon.connectors.hubspot.attributes import SUBJECT_TYPES, attribute_history
from qmon.connectors.hubspot.spec import HubSpotMappingSpec
from qmon.events import Event
from qmon.textsafe import ascii_digits
from qmon.timeutil import to_us

#: HubSpot's object type ids, for record links (`/record/{typeId}/{id}`).
TYPE_IDS: Mapping[str, str] = {
    "deals": "0-3",
    "tickets": "0-5",
    "quotes": "0-14",
    "calls": "0-48",
    "emails": "0-49",
    "meetings": "0-47",
    "notes": "0-46",
    "tasks": "0-27",
    "feedback_submissions": "0-19",
    "companies": "0-2",
}


@dataclass(frozen=True)
class ObjectKind:
    """What the connector reads of one object type to map it."""

    properties: tuple[str, ...]
    history: tuple[str, ...] = ()
    associations: tuple[str, ...] = ()


_ENGAGEMENT = ("hs_timestamp", "hubspot_owner_id")
KINDS: Mapping[str, ObjectKind] = {
    "deals": ObjectKind(
        ("dealstage", "pipeline", "hubspot_owner_id", "createdate"), ("dealstage",)
    ),
    "tickets": ObjectKind(
        ("hs_pipeline_stage", "hs_pipeline", "hubspot_owner_id", "createdate", "source_type"),
        ("hs_pipeline_stage",),
    ),
    "quotes": ObjectKind(
        ("hs_status", "hubspot_owner_id", "hs_createdate"), ("hs_status",), ("deals",)
    ),
    "calls": ObjectKind(_ENGAGEMENT, (), ("tickets", "deals")),
    "emails": ObjectKind((*_ENGAGEMENT, "hs_email_direction"), (), ("tickets", "deals")),
    "meetings": ObjectKind((*_ENGAGEMENT, "hs_meeting_outcome"), (), ("tickets", "deals")),
    "notes": ObjectKind(_ENGAGEMENT, (), ("tickets", "deals")),
    "tasks": ObjectKind(
        (*_ENGAGEMENT, "hs_task_status", "hs_task_completion_date"), (), ("tickets", "deals")
    ),
    "feedback_submissions": ObjectKind(
        ("hs_survey_type", "hs_submission_timestamp", "hs_createdate"), (), ("tickets", "deals")
    ),
    # read only for the attributes a mapping names (`company.<property>`)
    "companies": ObjectKind(("createdate",)),
}

_CHANNELS = {"calls": "phone", "emails": "email", "meetings": "meeting"}


def parse_time(value: Any) -> int | None:
    """A HubSpot datetime (ISO with `Z`, or epoch milliseconds) in UTC microseconds."""
    if value in (None, ""):
        return None
    text = str(value)
    if ascii_digits(text):
        return int(text) * 1000
    return to_us(datetime.fromisoformat(text.replace("Z", "+00:00")))


class HubSpotMapper:
    """Turns records of one portal into events, with its mapping and its record links."""

    def __init__(self, source: str, mapping: HubSpotMappingSpec, link_base: str | None) -> None:
        self.source = source
        self.mapping = mapping
        self.link_base = link_base  # e.g. https://app.hubspot.com/contacts/62515/record
        self._attributes = mapping.attribute_properties()

    def properties(self, object_type: str) -> list[str]:
        """The properties to read for a type: what the mapping looks at."""
        extra = {
            "tickets": [self.mapping.first_reply_property],
            "feedback_submissions": [self.mapping.survey_score_property],
        }.get(object_type, [])
        extra += list(self._attributes.get(object_type, {}))
        return list(dict.fromkeys([*KINDS[object_type].properties, *extra, "hs_lastmodifieddate"]))

    def history(self, object_type: str) -> list[str]:
        """The properties to read with their history (`propertiesWithHistory`)."""
        attributes = self._attributes.get(object_type, {})
        return list(dict.fromkeys([*KINDS[object_type].history, *attributes]))

    def reads_companies(self) -> bool:
        """Whether a `company.<property>` attribute asks for the companies stream."""
        return bool(self._attributes.get("companies"))

    def events(
        self, object_type: str, record: Mapping[str, Any], linked: Mapping[str, list[str]]
    ) -> list[Event]:
        """The events of one record; `linked` maps `deals`/`tickets` to associated ids."""
        props: Mapping[str, Any] = record.get("properties") or {}
        history: Mapping[str, list[dict[str, Any]]] = record.get("propertiesWithHistory") or {}
        rid = str(record["id"])
        key = f"{object_type}/{rid}"
        link = f"{self.link_base}/{TYPE_IDS[object_type]}/{rid}" if self.link_base else None
        owner = props.get("hubspot_owner_id") or None
        created = parse_time(props.get("createdate") or props.get("hs_createdate")) or parse_time(
            record.get("createdAt")
        )

        if object_type == "deals":
            subject = ("deal", rid)
            found = [("created", "deal.created", created, {})]
            found += self._stage_events(history.get("dealstage"), props.get("dealstage"), created)
        elif object_type == "tickets":
            subject = ("case", rid)
            found = [("opened", "case.opened", created, {})]
            reply = parse_time(props.get(self.mapping.first_reply_property))
            if reply is not None:
                found.append(("first-reply", "case.first_response", reply, {}))
            found += self._ticket_events(history.get("hs_pipeline_stage"))
        elif object_type == "companies":
            subject = ("account", rid)
            found = []
        else:
            parent = _subject(object_type, linked)
            if parent is None:
                return []
            subject = parent
            found = self._activity_events(object_type, props, history, created)
        if object_type in SUBJECT_TYPES:
            found = self._with_attributes(object_type, record, created, found)

        channel = _CHANNELS.get(object_type) or props.get("source_type") or None
        return record_events(self.source, key, subject, found, rename=self.mapping.rename,
                             link=link, owner=owner, channel=channel)  # fmt: skip

    # -- per kind ------------------------------------------------------------------------------

    def _with_attributes(
        self, object_type: str, record: Mapping[str, Any], created: int | None, found: list[Found]
    ) -> list[Found]:
        """The findings with the attribute values: the initial ones on the creation event
        (or on a `.changed` event at the creation instant when that is dropped or absent),
        each later change as a `.changed` event."""
        wanted = self._attributes.get(object_type)
        if not wanted:
            return found
        subject_type = SUBJECT_TYPES[object_type]
        initial, changes = attribute_history(subject_type, wanted, record, created, parse_time)
        if initial:
            first = found[0] if found else None
            if first is not None and first[0] in ("created", "opened") and (
                self.mapping.rename.get(first[1], first[1])
            ):
                found = [(first[0], first[1], first[2], {**first[3], **initial}), *found[1:]]
            elif created is not None:
                found = [*found, (f"changed@{created // 1000}", f"{subject_type}.changed",
                                  created, initial)]  # fmt: skip
        return [*found, *changes]

    def _stage_events(
        self, entries: list[dict[str, Any]] | None, current: Any, created: int | None
    ) -> list[Found]:
        """deal.stage_changed per stage history entry (oldest first), plus mapped types."""
        if not entries and current:
            entries = [{"value": current, "timestamp": None}]
        found = []
        previous = None
        for entry in reversed(entries or []):
            stage, at = entry.get("value"), parse_time(entry.get("timestamp")) or created
            if not stage or at is None or stage == previous:
                continue
            previous = stage
            attributes = {"stage": stage, **self._phase(stage)}
            found.append((f"stage@{at // 1000}", "deal.stage_changed", at, attributes))
            extra = self.mapping.deal_stage_events.get(stage)
            if extra:
                found.append((f"{extra}@{at // 1000}", extra, at, attributes))
        return found

    def _ticket_events(
        self, entries: list[dict[str, Any]] | None
    ) -> list[Found]:
        """Entering/leaving mapped stages, and closing, from the stage history."""
        found = []
        previous = None
        for entry in reversed(entries or []):
            stage, at = entry.get("value"), parse_time(entry.get("timestamp"))
            if not stage or at is None or stage == previous:
                continue
            attributes = {"stage": stage, **self._phase(stage)}
            left = self.mapping.ticket_stage_events.get(previous) if previous else None
            if left and left.leave:
                found.append((f"left-{previous}@{at // 1000}", left.leave, at, attributes))
            entered = self.mapping.ticket_stage_events.get(stage)
            if entered and entered.enter:
                found.append((f"entered-{stage}@{at // 1000}", entered.enter, at, attributes))
            if stage in self.mapping.ticket_closed_stages:
                found.append((f"closed@{at // 1000}", "case.closed", at, attributes))
            previous = stage
        return found

    def _activity_events(
        self,
        object_type: str,
        props: Mapping[str, Any],
        history: Mapping[str, list[dict[str, Any]]],
        created: int | None,
    ) -> list[Found]:
        at = parse_time(props.get("hs_timestamp")) or created
        mapping = self.mapping
        if object_type == "quotes":
            found = [("created", "quote.created", created, {})]
            previous = None
            for entry in reversed(history.get("hs_status") or []):
                status = entry.get("value")
                event_type = mapping.quote_status_events.get(status or "")
                when = parse_time(entry.get("timestamp"))
                if event_type and when is not None and status != previous:
                    found.append((f"{event_type}@{when // 1000}", event_type, when,
                                  {"status": status}))  # fmt: skip
                previous = status
            return found
        if object_type == "calls":
            return [("logged", "call.logged", at, {})]
        if object_type == "emails":
            direction = props.get("hs_email_direction") or ""
            event_type = mapping.email_direction_events.get(direction)
            return [("email", event_type, at, {"direction": direction})] if event_type else []
        if object_type == "meetings":
            outcome = props.get("hs_meeting_outcome") or ""
            event_type = mapping.meeting_outcome_events.get(outcome)
            return [("meeting", event_type, at, {"outcome": outcome})] if event_type else []
        if object_type == "notes":
            return [("added", "note.added", at, {})]
        if object_type == "tasks":
            status = props.get("hs_task_status") or ""
            event_type = mapping.task_status_events.get(status)
            if event_type is None:
                return []
            done = parse_time(props.get("hs_task_completion_date")) or at
            return [("task", event_type, done, {"status": status})]
        # feedback_submissions
        survey = str(props.get("hs_survey_type") or "")
        event_type = mapping.survey_type_events.get(survey)
        if event_type is None:
            return []
        when = parse_time(props.get("hs_submission_timestamp")) or created
        score = props.get(mapping.survey_score_property)
        attributes = {"survey_type": survey, **({"score": _number(score)} if score else {})}
        return [("response", event_type, when, attributes)]

    def _phase(self, stage: str) -> dict[str, str]:
        phase = self.mapping.stage_phases.get(stage)
        return {"phase": phase} if phase else {}


def _subject(object_type: str, linked: Mapping[str, list[str]]) -> tuple[str, str] | None:
    """The journey object a quote, engagement or survey belongs to (lowest id first)."""
    for to_type, subject_type in (("tickets", "case"), ("deals", "deal")):
        if object_type == "quotes" and to_type == "tickets":
            continue
        ids = linked.get(to_type)
        if ids:
            return subject_type, min(ids, key=lambda i: (len(i), i))
    return None


def _number(value: Any) -> float | str:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
