"""`sources.<name>` and `mappings.<name>` for a Salesforce org, as the user writes them.

Both models are strict (an unknown key is an error with "did you mean") and every mapping
field has the default documented in docs/connectors/salesforce.md, so `SalesforceMappingSpec()`
is the default mapping.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from qmon.config.spec import Duration, Share, Strict
from qmon.connectors.attributes import attribute_name
from qmon.connectors.salesforce.attributes import field_refs, merged, wanted
from qmon.safeio import read_secret_file
from qmon.urls import outbound_url

OBJECTS: tuple[str, ...] = (
    "Opportunity", "OpportunityHistory", "Quote", "QuoteDocument", "Case", "CaseHistory",
    "CaseComment", "EmailMessage", "Task", "Event",
)  # fmt: skip
ObjectName = Literal[
    "Opportunity", "OpportunityHistory", "Quote", "QuoteDocument", "Case", "CaseHistory",
    "CaseComment", "EmailMessage", "Task", "Event",
]  # fmt: skip

Method = Literal["jwt", "session", "client_credentials", "password"]

#: What each login method needs; a secret may instead be given as `<name>_file`.
_NEEDS: dict[str, tuple[str, ...]] = {
    "jwt": ("username", "consumer_key", "private_key"),
    "session": ("session_id",),
    "client_credentials": ("consumer_key", "consumer_secret"),
    "password": ("username", "consumer_key", "consumer_secret", "password"),
}
#: What each method may use besides what it needs.
_MAY: dict[str, tuple[str, ...]] = {
    "jwt": ("audience",),
    "session": (),
    "client_credentials": (),
    "password": ("security_token",),
}
#: Secrets that may come from a file (`<name>_file`) instead of the setting.
FILE_SECRETS: tuple[str, ...] = (
    "consumer_secret", "password", "security_token", "session_id", "private_key",
)  # fmt: skip

_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_API_VERSION = re.compile(r"[0-9]{2,3}\.[0-9]")
#: Hosts that serve every org's login page, not one org's: not a My Domain.
SHARED_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")


def _page_size(value: int) -> int:
    if not 200 <= value <= 2000:
        raise ValueError("page_size must be between 200 and 2000 (Salesforce's batch sizes)")
    return value


def _https_url(value: str, info: ValidationInfo) -> str:
    example = "https://acme.my.salesforce.com"
    parts = outbound_url(value, str(info.field_name), example)
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(f"{info.field_name} '{value}' must be the URL of a host, like {example}")
    return f"{parts.scheme}://{parts.netloc}"


def _audience(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(
            f"audience '{value}' must be an https URL, like https://login.salesforce.com"
        )
    return value.strip().rstrip("/")


def _api_version(value: str) -> str:
    if not _API_VERSION.fullmatch(value):
        raise ValueError(f"api_version '{value}' must look like \"59.0\"")
    return value


def _event_type(value: str) -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"event type {value!r} must be a word like 'quote.sent', without spaces")
    return value


def _field_name(value: str) -> str:
    if not _FIELD_NAME.fullmatch(value):
        raise ValueError(f"'{value}' is not a Salesforce field name like Origin or Channel__c")
    return value


def _name(value: str) -> str:
    if not value.strip():
        raise ValueError("a stage or status name must not be empty")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]
EventType = Annotated[str, AfterValidator(_event_type)]
FieldName = Annotated[str, AfterValidator(_field_name)]
Name = Annotated[str, AfterValidator(_name)]
AttributeName = Annotated[str, AfterValidator(attribute_name)]
FieldRefs = Annotated[tuple[str, ...] | None, BeforeValidator(field_refs)]


class SalesforceAuth(Strict):
    """`auth`: how qmon logs in. Secrets may be given inline (write `${VAR}`) or as
    `<name>_file` (a secret file, read at each login, so it may be rotated)."""

    method: Method
    username: str | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    consumer_secret_file: Path | None = None
    private_key: SecretStr | None = None  # PEM text, e.g. from ${SF_PRIVATE_KEY}
    private_key_file: Path | None = None
    audience: Annotated[str, AfterValidator(_audience)] | None = None  # JWT `aud`
    password: SecretStr | None = None
    password_file: Path | None = None
    security_token: SecretStr | None = None
    security_token_file: Path | None = None
    session_id: SecretStr | None = None
    session_id_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> SalesforceAuth:
        given = {name for name in type(self).model_fields if getattr(self, name) is not None}
        problems: list[str] = []
        for name in FILE_SECRETS:
            if name in given and f"{name}_file" in given:
                problems.append(f"give either '{name}' or '{name}_file', not both")
        missing = [
            name
            for name in _NEEDS[self.method]
            if name not in given and f"{name}_file" not in given
        ]
        if missing:
            problems.append(
                f"auth method '{self.method}' needs {', '.join(repr(m) for m in missing)}"
            )
        allowed = {"method", *_NEEDS[self.method], *_MAY[self.method]}
        allowed |= {f"{name}_file" for name in allowed if name in FILE_SECRETS}
        unused = sorted(given - allowed)
        if unused:
            problems.append(
                f"auth method '{self.method}' does not use {', '.join(repr(u) for u in unused)}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def secret(self, name: str) -> str | None:
        """A secret's value, from the setting or its file; None when neither is given.

        Raises:
            OSError: the file cannot be read.
        """
        value = getattr(self, name)
        if value is not None:
            return str(value.get_secret_value() if isinstance(value, SecretStr) else value)
        path = getattr(self, f"{name}_file", None)
        return None if path is None else read_secret_file(path)


class SalesforceSourceSpec(Strict):
    """A Salesforce org: where it is, how to log in, what to read and how gently."""

    instance_url: HttpsUrl
    login_url: HttpsUrl = "https://login.salesforce.com"  # test.salesforce.com or My Domain
    auth: SalesforceAuth
    api_version: Annotated[str, AfterValidator(_api_version)] = "59.0"
    api_quota_share: Share | None = None  # of the org's daily API requests, per sync
    ca_bundle: Path | None = None  # PEM bundle to verify TLS (e.g. behind a proxy)
    proxy: SecretStr | None = None  # https proxy URL; secret, as it may hold a password
    objects: list[ObjectName] = list(OBJECTS)
    page_size: Annotated[int, AfterValidator(_page_size)] = 2000
    bulk_threshold: Annotated[int, Field(ge=1)] | None = 50_000  # rows; None: REST only
    bulk_page_size: Annotated[int, Field(ge=1)] = 10_000  # rows per Bulk 2.0 results call
    bulk_poll_seconds: Annotated[float, Field(ge=0)] = 2.0
    lookback: Duration | None = None  # None: the sync's default, 10 minutes
    retries: Annotated[int, Field(ge=0)] = 5
    backoff_seconds: Annotated[float, Field(ge=0)] = 1.0
    timeout_seconds: Annotated[float, Field(gt=0)] = 120.0

    @model_validator(mode="after")
    def _login_host(self) -> SalesforceSourceSpec:
        host = urlsplit(self.login_url).hostname or ""
        if self.auth.method == "client_credentials" and host in SHARED_LOGIN_HOSTS:
            raise ValueError(
                "the client_credentials login works only at your org's My Domain: set "
                "login_url to it, e.g. https://acme.my.salesforce.com"
            )
        return self


class StatusChange(Strict):
    """Event types for entering and/or leaving a status."""

    enter: EventType | None = None
    leave: EventType | None = None


#: Every event type the default mapping can produce (what `rename` may rename).
DEFAULT_TYPES: tuple[str, ...] = (
    "deal.created", "deal.stage_changed", "quote.created", "quote.sent", "case.opened",
    "case.closed", "case.first_response", "case.responded", "deal.changed", "case.changed",
)  # fmt: skip


class SalesforceMappingSpec(Strict):
    """How Salesforce records become events; defaults in docs/connectors/salesforce.md.

    A mapping given in the config replaces that setting's default as a whole (a
    `stage_events:` of your own does not keep "Proposal/Price Quote").
    """

    stage_events: dict[Name, EventType] = {"Proposal/Price Quote": "quote.requested"}
    stage_phases: dict[Name, Name] = {}  # Opportunity stage -> journey phase
    quote_status_events: dict[Name, EventType] = {
        "Presented": "quote.sent",
        "Accepted": "quote.sent",
    }
    case_status_events: dict[Name, StatusChange] = {
        "Waiting on Customer": StatusChange(
            enter="case.waiting_on_customer", leave="case.customer_replied"
        ),
    }
    case_channel_field: FieldName | None = "Origin"
    # Completed tasks by TaskSubtype, else Type; "*" for any other (null: no event).
    task_types: dict[Name, EventType | None] = {
        "Call": "call.logged",
        "Email": "email.sent",
        "Meeting": "meeting.held",
        "*": "task.completed",
    }
    # Calendar events by Type, else EventSubtype; "*" for any other (null: no event).
    event_types: dict[Name, EventType | None] = {
        "Call": "call.logged",
        "Email": "email.sent",
        "*": "meeting.held",
    }
    # attribute -> Case.<Field> or Opportunity.<Field> (or a list), *added* to the defaults
    # (priority, case_type, origin, deal_type, record_type); null drops one
    attributes: dict[AttributeName, FieldRefs] = {}
    rename: dict[str, EventType | None] = {}  # event type -> your type (null: drop it)

    @model_validator(mode="after")
    def _known_renames(self) -> SalesforceMappingSpec:
        known = self.produced_types()
        unknown = [name for name in self.rename if name not in known]
        if unknown:
            from qmon.config.spec import did_you_mean

            first = unknown[0]
            raise ValueError(
                f"rename: '{first}' is not an event type this mapping makes"
                f"{did_you_mean(first, sorted(known))}; it makes {', '.join(sorted(known))}"
            )
        return self

    def attribute_fields(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Per object (Case, Opportunity), the fields read with history and their attributes."""
        return wanted(self.attributes)

    def produced_types(self) -> set[str]:
        """Every event type the mapping can produce, before `rename`."""
        types = set(DEFAULT_TYPES) | set(self.stage_events.values())
        types |= set(self.quote_status_events.values())
        for change in self.case_status_events.values():
            types |= {t for t in (change.enter, change.leave) if t}
        types |= {t for t in self.task_types.values() if t}
        types |= {t for t in self.event_types.values() if t}
        return types


def provided_attributes(mapping: SalesforceMappingSpec) -> set[str]:
    """The attribute names a Salesforce source with this mapping provides (defaults +
    mapping), for `qmon promises validate`'s warning about a `when` nobody maps."""
    return set(merged(mapping.attributes))
