"""`sources.<name>` and `mappings.<name>` for a Salesforce org, as the user writes them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, SecretStr, model_validator

from qmon.config.spec import Duration, Share, Strict

OBJECTS: tuple[str, ...] = (
    "Opportunity", "OpportunityHistory", "Quote", "QuoteDocument", "Case", "CaseHistory",
    "CaseComment", "EmailMessage", "Task", "Event",
)  # fmt: skip
ObjectName = Literal[
    "Opportunity", "OpportunityHistory", "Quote", "QuoteDocument", "Case", "CaseHistory",
    "CaseComment", "EmailMessage", "Task", "Event",
]  # fmt: skip

#: What each login method needs (besides the optional `*_file` variants of secrets).
_NEEDS: dict[str, tuple[str, ...]] = {
    "jwt": ("username", "consumer_key", "private_key_file"),
    "session": ("session_id",),
    "client_credentials": ("consumer_key", "consumer_secret"),
    "password": ("username", "consumer_key", "consumer_secret", "password"),
}
_SECRETS = ("consumer_secret", "password", "session_id", "security_token")


def _page_size(value: int) -> int:
    if not 200 <= value <= 2000:
        raise ValueError("page_size must be between 200 and 2000 (Salesforce's batch sizes)")
    return value


class SalesforceAuth(Strict):
    """`auth`: how qmon logs in. Secrets may be given inline (from `${VAR}`) or as
    `<name>_file` (a secret file, read at login)."""

    method: Literal["jwt", "session", "client_credentials", "password"]
    username: str | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    consumer_secret_file: Path | None = None
    private_key_file: Path | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    security_token: SecretStr | None = None
    security_token_file: Path | None = None
    session_id: SecretStr | None = None
    session_id_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> SalesforceAuth:
        missing = [
            name
            for name in _NEEDS[self.method]
            if getattr(self, name) is None and getattr(self, f"{name}_file", None) is None
        ]
        if missing:
            raise ValueError(
                f"auth method '{self.method}' needs {', '.join(repr(m) for m in missing)}"
            )
        return self

    def secret(self, name: str) -> str | None:
        """A secret's value, from the setting or its file; None when neither is given."""
        value = getattr(self, name)
        if value is not None:
            return str(value.get_secret_value() if isinstance(value, SecretStr) else value)
        path = getattr(self, f"{name}_file", None)
        return None if path is None else Path(path).read_text(encoding="utf-8").strip()


class SalesforceSourceSpec(Strict):
    """A Salesforce org."""

    instance_url: str
    login_url: str = "https://login.salesforce.com"  # test.salesforce.com or your My Domain
    auth: SalesforceAuth
    api_version: str = "59.0"
    api_quota_share: Share | None = None  # of the org's daily API requests, per sync
    ca_bundle: Path | None = None  # PEM bundle to verify TLS (e.g. behind a proxy)
    objects: list[ObjectName] = list(OBJECTS)
    page_size: Annotated[int, AfterValidator(_page_size)] = 2000
    lookback: Duration | None = None
    retries: int = 5
    backoff_seconds: float = 1.0


class StatusChange(Strict):
    """Event types for entering and/or leaving a status."""

    enter: str | None = None
    leave: str | None = None


class SalesforceMappingSpec(Strict):
    """How Salesforce records become events; defaults in docs/connectors/salesforce.md."""

    stage_events: dict[str, str] = {}  # Opportunity stage -> extra event type on entering it
    stage_phases: dict[str, str] = {}  # Opportunity stage -> journey phase
    case_status_events: dict[str, StatusChange] = {
        "Waiting on Customer": StatusChange(
            enter="case.waiting_on_customer", leave="case.customer_replied"
        ),
    }
    task_types: dict[str, str] = {"Call": "call.logged", "Email": "email.sent"}  # TaskSubtype
    rename: dict[str, str] = {}  # default event type -> your event type
