"""`sources.<name>` and `mappings.<name>` for a HubSpot portal, as the user writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, SecretStr, model_validator

from qmon.config.spec import Duration, Strict

OBJECT_TYPES: tuple[str, ...] = (
    "deals", "tickets", "quotes", "calls", "emails", "meetings", "notes", "tasks",
    "feedback_submissions",
)  # fmt: skip
ObjectType = Literal[
    "deals", "tickets", "quotes", "calls", "emails", "meetings", "notes", "tasks",
    "feedback_submissions",
]  # fmt: skip


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


class HubSpotSourceSpec(Strict):
    """A HubSpot portal reached with a private app token.

    The token comes from `access_token` (write `${HUBSPOT_TOKEN}`) or from a secret file
    (`access_token_file`), never from the config text itself in production.
    """

    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    base_url: str = "https://api.hubapi.com"
    portal_id: int | None = None  # for record links; asked from account-info when absent
    app_url: str = "https://app.hubspot.com"
    objects: list[ObjectType] = list(OBJECT_TYPES)
    page_size: Annotated[int, AfterValidator(_page_size)] = 200
    search_rate: Annotated[float, AfterValidator(_rate)] = 5.0  # requests per second
    burst_limit: Annotated[int, AfterValidator(_positive)] = 100  # other calls per 10 s
    lookback: Duration | None = None
    retries: int = 5  # after a 5xx or a connection error; 429s wait for Retry-After
    backoff_seconds: float = 1.0  # first wait before a retry; doubles each time

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
        return self.access_token_file.read_text(encoding="utf-8").strip()


class StageChange(Strict):
    """Event types for entering and/or leaving a pipeline stage."""

    enter: str | None = None
    leave: str | None = None


class HubSpotMappingSpec(Strict):
    """How HubSpot records become events. Every default is documented in
    docs/connectors/hubspot.md; stage ids are the internal ids of your pipelines' stages.
    """

    deal_stage_events: dict[str, str] = {}  # deal stage id -> extra event type on entering it
    ticket_stage_events: dict[str, StageChange] = {
        "2": StageChange(enter="case.waiting_on_customer", leave="case.customer_replied"),
    }
    ticket_closed_stages: list[str] = ["4"]
    quote_status_events: dict[str, str] = {
        "APPROVAL_NOT_NEEDED": "quote.sent",
        "APPROVED": "quote.sent",
    }
    first_reply_property: str = "first_agent_reply_date"
    stage_phases: dict[str, str] = {}  # pipeline stage id -> journey phase
    rename: dict[str, str] = {}  # default event type -> your event type
