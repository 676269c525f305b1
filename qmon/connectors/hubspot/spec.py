"""`sources.<name>` and `mappings.<name>` for a HubSpot portal, as the user writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from qmon.config.spec import Duration, Strict, did_you_mean
from qmon.connectors.attributes import attribute_name
from qmon.connectors.hubspot.attributes import merged, property_refs, wanted
from qmon.safeio import read_secret_file
from qmon.urls import outbound_url

OBJECT_TYPES: tuple[str, ...] = (
    "deals", "tickets", "quotes", "calls", "emails", "meetings", "notes", "tasks",
    "feedback_submissions",
)  # fmt: skip
ObjectType = Literal[
    "deals", "tickets", "quotes", "calls", "emails", "meetings", "notes", "tasks",
    "feedback_submissions",
]  # fmt: skip

#: The event types the connector makes whatever the mapping says (see mapping.py).
FIXED_TYPES: tuple[str, ...] = (
    "deal.created", "deal.stage_changed", "case.opened", "case.first_response", "case.closed",
    "quote.created", "call.logged", "note.added", "deal.changed", "case.changed",
    "account.changed",
)  # fmt: skip


def _page_size(value: int) -> int:
    if not 1 <= value <= 200:
        raise ValueError("page_size must be between 1 and 200 (HubSpot search's maximum)")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError("burst_limit must be at least 1 call per 10 seconds")
    return value


def _rate(value: float) -> float:
    if not value > 0:
        raise ValueError("search_rate must be more than 0 requests per second")
    return value


def _url(value: str, info: ValidationInfo) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{info.field_name} '{value}' must be a URL like https://api.hubapi.com")
    return value.strip().rstrip("/")


def _base_url(value: str) -> str:
    outbound_url(value, "base_url", "https://api.hubapi.com")
    return value.strip().rstrip("/")


def _event_type(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"event type {value!r} must be a word like 'quote.sent', without spaces")
    return value


EventType = Annotated[str, AfterValidator(_event_type)]
AttributeName = Annotated[str, AfterValidator(attribute_name)]
PropertyRefs = Annotated[tuple[str, ...] | None, BeforeValidator(property_refs)]


class HubSpotSourceSpec(Strict):
    """A HubSpot portal reached with a private app token.

    The token comes from `access_token` (write `${HUBSPOT_TOKEN}`) or from a secret file
    (`access_token_file`), never from the config text itself in production.
    """

    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    base_url: Annotated[str, AfterValidator(_base_url)] = "https://api.hubapi.com"
    portal_id: int | None = None  # for record links; asked from account-info when absent
    app_url: Annotated[str, AfterValidator(_url)] = "https://app.hubspot.com"
    objects: list[ObjectType] = list(OBJECT_TYPES)
    page_size: Annotated[int, AfterValidator(_page_size)] = 200
    search_rate: Annotated[float, AfterValidator(_rate)] = 5.0  # requests per second
    burst_limit: Annotated[int, AfterValidator(_positive)] = 100  # other calls per 10 s
    lookback: Duration | None = None  # None: the sync's default, 10 minutes
    retries: Annotated[int, Field(ge=0)] = 5  # after a 5xx or a network error
    backoff_seconds: Annotated[float, Field(ge=0)] = 1.0  # first wait; doubles each time
    max_wait_seconds: Annotated[float, Field(ge=0)] = 120.0  # longest Retry-After to wait
    timeout_seconds: Annotated[float, Field(gt=0)] = 120.0  # per request

    @model_validator(mode="after")
    def _one_token(self) -> HubSpotSourceSpec:
        if (self.access_token is None) == (self.access_token_file is None):
            raise ValueError(
                "a hubspot source needs exactly one of 'access_token' or 'access_token_file'"
            )
        return self

    def token(self) -> str:
        """The token, read from its file when given so (secrets files may be rotated)."""
        if self.access_token is not None:
            return self.access_token.get_secret_value()
        assert self.access_token_file is not None
        return read_secret_file(self.access_token_file)


class StageChange(Strict):
    """Event types for entering and/or leaving a pipeline stage."""

    enter: EventType | None = None
    leave: EventType | None = None


class HubSpotMappingSpec(Strict):
    """How HubSpot records become events. Every default is documented (with an example of
    overriding it) in docs/connectors/hubspot.md; stage ids are the internal ids of your
    pipelines' stages, statuses and outcomes HubSpot's internal values.

    A dictionary given in the config replaces the default one as a whole.
    """

    # deal stage id -> an extra event on entering it (besides deal.stage_changed)
    deal_stage_events: dict[str, EventType] = {}
    # ticket stage id -> events on entering and leaving it ("2": "Waiting on contact")
    ticket_stage_events: dict[str, StageChange] = {
        "2": StageChange(enter="case.waiting_on_customer", leave="case.customer_replied"),
    }
    ticket_closed_stages: list[str] = ["4"]  # entering one is case.closed
    first_reply_property: str = "first_agent_reply_date"  # its value is case.first_response
    # quote hs_status -> event on reaching it (APPROVAL_NOT_NEEDED, APPROVED: published)
    quote_status_events: dict[str, EventType] = {
        "APPROVAL_NOT_NEEDED": "quote.sent",
        "APPROVED": "quote.sent",
    }
    # e-mail hs_email_direction -> event (FORWARDED_EMAIL is not mapped: its direction is unknown)
    email_direction_events: dict[str, EventType] = {
        "EMAIL": "email.sent",
        "INCOMING_EMAIL": "email.received",
    }
    meeting_outcome_events: dict[str, EventType] = {"COMPLETED": "meeting.held"}
    task_status_events: dict[str, EventType] = {"COMPLETED": "task.completed"}
    survey_type_events: dict[str, EventType] = {
        "NPS": "survey.nps",
        "CSAT": "survey.csat",
        "CES": "survey.ces",
    }
    survey_score_property: str = "hs_value"  # kept as the event's `score` attribute
    stage_phases: dict[str, str] = {}  # deal or ticket stage id -> journey phase
    # attribute -> property (or a list of them), *added* to DEFAULT_ATTRIBUTES (null: drop
    # one): `deal.x`, `ticket.x`, `company.x`, or `x` for deals and tickets alike
    attributes: dict[AttributeName, PropertyRefs] = {}
    rename: dict[str, EventType | None] = {}  # a type this mapping makes -> yours (null: drop)

    @field_validator("rename")
    @classmethod
    def _renames_known_types(
        cls, rename: dict[str, str | None], info: ValidationInfo
    ) -> dict[str, str | None]:
        made = produced_types(info.data)
        for old in rename:
            if old not in made:
                raise ValueError(
                    f"rename: '{old}' is not an event type this mapping makes"
                    f"{did_you_mean(old, sorted(made))}"
                )
        return rename

    def attribute_properties(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Per object type, the properties read with history and the attributes they feed."""
        return wanted(self.attributes)

    def event_types(self) -> set[str]:
        """Every event type this mapping can make, before `rename`."""
        return produced_types(self.__dict__)


def produced_types(fields: dict[str, object]) -> set[str]:
    """The event types a mapping with these (validated) fields makes, before `rename`."""
    made = set(FIXED_TYPES)
    for name in (
        "deal_stage_events", "quote_status_events", "email_direction_events",
        "meeting_outcome_events", "task_status_events", "survey_type_events",
    ):  # fmt: skip
        made.update((fields.get(name) or {}).values())  # type: ignore[attr-defined]
    for change in (fields.get("ticket_stage_events") or {}).values():  # type: ignore[attr-defined]
        made.update(t for t in (change.enter, change.leave) if t)
    return made


def provided_attributes(mapping: HubSpotMappingSpec) -> set[str]:
    """The attribute names a HubSpot source with this mapping provides (defaults + mapping),
    for `qmon promises validate`'s warning about a `when` on an attribute nobody maps."""
    return set(merged(mapping.attributes))
