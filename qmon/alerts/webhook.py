"""The generic JSON webhook channel (e.g. a Microsoft Teams incoming webhook), with httpx.

Each alert is one POST of `{"text": ..., "kind": ..., "promise": ..., "subject": ...}`; Teams
shows `text`, other receivers can use the fields. The URL is a secret (it carries the
webhook's key) and never appears in messages.
"""

from __future__ import annotations

from typing import Any

import httpx

from qmon.alerts.slack import DeliveryError


def post_json(url: str, payload: dict[str, Any], timeout: float = 10.0) -> None:
    try:
        response = httpx.post(url, json=payload, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook failed: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"webhook failed: HTTP {response.status_code}")
