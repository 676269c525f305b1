"""Links into qmon's dashboard (`qmon serve`), for every part of qmon that shows them.

Slack alerts, the webhook, the weekly report and the CRM's `qmon_link` field point at the
dashboard's pages under `serve.public_url`. The paths live here, not in `qmon.web`, so that
`qmon check` or `qmon report` never import the web stack. Each id is one percent-encoded
path segment (`/record/deal/D%2F1042` for `D/1042`); the dashboard's routes take them so.
Without `serve.public_url` there are no links: qmon does not know how people reach it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from qmon.config import QmonConfig


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


def record_path(subject_type: str, subject_id: str) -> str:
    """`/record/{subject_type}/{subject_id}`: also the CRM field `qmon_link`; keep it as it
    is, CRM records hold it."""
    return f"/record/{_segment(subject_type)}/{_segment(subject_id)}"


def instance_path(promise_id: str, subject_type: str, subject_id: str, cycle: int) -> str:
    """`/instance/{promise_id}/{subject_type}/{subject_id}/{cycle}`: one instance explained;
    `cycle` is the engine's `Instance.cycle` (from 1)."""
    return (
        f"/instance/{_segment(promise_id)}/{_segment(subject_type)}/"
        f"{_segment(subject_id)}/{_segment(cycle)}"
    )


def promise_path(promise_id: str) -> str:
    """`/promise/{promise_id}`: one promise's page."""
    return f"/promise/{_segment(promise_id)}"


def absolute(base: str, path: str) -> str:
    """`path` under `base` (a public URL or a request's own), without a doubled `/`."""
    return base.rstrip("/") + path


def public_url(config: QmonConfig) -> str | None:
    """`serve.public_url`, or None when it is not set."""
    serve = config.extra.get("serve")
    return getattr(serve, "public_url", None) if serve is not None else None
