"""`serve:`: the dashboard and the CRM cards (`qmon serve`).

Only `public_url` exists so far: where the dashboard is reached from outside, for the links
qmon puts in Slack alerts, the weekly report and the CRM's `qmon_link` field.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from qmon.config.fields import Strict


def _public_url(value: str) -> str:
    """An http(s) URL without spaces, query or fragment; no secret goes there, so plain http
    on an intranet host is allowed."""
    text = value.strip()
    parts = urlsplit(text) if text.isprintable() and " " not in text else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{text}' is not a URL like https://qmon.example.com")
    if parts.query or parts.fragment:
        raise ValueError(f"'{text}' must not have a query or fragment")
    return text.rstrip("/")


class ServeSpec(Strict):
    """`serve`: how the dashboard is served and reached."""

    public_url: Annotated[str, AfterValidator(_public_url)] | None = None
