"""HubSpot's refusals in words: the errors qmon raises for them, and what is read from an
error answer (its JSON body's fields, `Retry-After`), never its headers or its whole body."""

from __future__ import annotations

import json
from typing import Any

from qmon.connectors.base import SourceAuthError, SyncError


class MissingScopes(SourceAuthError):
    """HubSpot refused a call because the private app lacks scopes (403 `MISSING_SCOPES`).

    Attributes:
        scopes: the scopes HubSpot named as required (may be empty if it named none).
    """

    def __init__(self, message: str, scopes: list[str]) -> None:
        super().__init__(message)
        self.scopes = scopes


class Rejected(SyncError):
    """HubSpot refused a call for what it asked (HTTP 4xx other than 401, 403, 429).

    Attributes:
        status: the HTTP status.
        category: HubSpot's error category (`OBJECT_NOT_FOUND`, `VALIDATION_ERROR`...).
        body: the error body's JSON (empty when it was none); never shown whole.
    """

    def __init__(self, message: str, status: int, category: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status, self.category, self.body = status, category, body


def retry_after(headers: Any) -> float | None:
    """`Retry-After` in seconds (HubSpot sends seconds); None without a usable one."""
    value = (headers or {}).get("Retry-After")
    try:
        return None if value is None else max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def error_body(body: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def error_field(body: Any, name: str) -> str:
    """A field of a HubSpot error body (`message`, `category`...), or a placeholder; never
    headers."""
    value = error_body(body).get(name)
    return str(value)[:300] if value is not None else "no details"


def required_scopes(body: Any) -> list[str]:
    """The scopes a 403 `MISSING_SCOPES` names (`requiredGranularScopes`, or the older
    `requiredScopes`), in order, once each."""
    found: list[str] = []
    for error in error_body(body).get("errors") or []:
        context = (error or {}).get("context") or {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            found.extend(str(s) for s in context.get(key) or [])
    return list(dict.fromkeys(found))


def refused(status: int, body: Any, what: str) -> SyncError:
    if status == 401:
        return SourceAuthError(
            f"HubSpot refused the access token (HTTP 401) for {what}: check that the private "
            "app token is current and not revoked"
        )
    scopes = required_scopes(body)
    if error_field(body, "category") == "MISSING_SCOPES" or scopes:
        named = ", ".join(scopes) if scopes else "the scope it needs"
        return MissingScopes(
            f"HubSpot refused {what} (HTTP 403): the private app lacks {named}; add it under "
            "Settings > Integrations > Private apps > Scopes (see docs/connectors/hubspot.md)",
            scopes,
        )
    return SourceAuthError(
        f"HubSpot refused {what} (HTTP 403): {error_field(body, 'message')}; check the "
        "private app's scopes (see docs/connectors/hubspot.md)"
    )
