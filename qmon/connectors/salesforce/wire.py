"""Salesforce's wire format as qmon reads and writes it beside the client: SOQL string
literals, a query page's next URL, the REST error body (a list of `errorCode` and
`message`), and the errors they become."""

from __future__ import annotations

from typing import Any

from qmon.connectors.base import SourceUnreachable, SyncError


def soql_string(value: str) -> str:
    """A SOQL string literal: quoted, with every character SOQL treats specially escaped.

    Values go into queries only through this (record ids in `IN` lists), so none can end the
    literal and change the query.
    """
    escaped = (
        value.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
    )
    return f"'{escaped}'"


class Rejected(SyncError):
    """Salesforce refused a call for what it asked (HTTP 400 or 404).

    Attributes:
        code: Salesforce's `errorCode` (`INVALID_FIELD`, `NOT_FOUND`...).
        detail: its message, without secrets.
        status: the HTTP status.
    """

    def __init__(self, message: str, code: str, detail: str, status: int) -> None:
        super().__init__(message)
        self.code, self.detail, self.status = code, detail, status


class BulkJobFailed(Exception):
    """A Bulk 2.0 query job ended Failed or Aborted (the caller reads with REST instead)."""


def next_records_url(answer: dict[str, Any]) -> str | None:
    """The `nextRecordsUrl` of a query page, or None when it was the last (`done`).

    Raises:
        SourceUnreachable: the page says it is not the last but gives no `nextRecordsUrl`.
    """
    if answer.get("done", True):
        return None
    url = answer.get("nextRecordsUrl")
    if not url:
        raise SourceUnreachable(
            "Salesforce answered a query page with done: false but no nextRecordsUrl; is "
            "instance_url Salesforce's?"
        )
    return str(url)


def error_code(content: Any) -> str:
    """The `errorCode` of an error body (a list of {errorCode, message}), or "UNKNOWN"."""
    try:
        return str(content[0]["errorCode"])
    except (TypeError, KeyError, IndexError):
        return "UNKNOWN"


def error_message(content: Any) -> str:
    """The first `message` of an error body, cut at 300 characters, or "no details"."""
    try:
        return str(content[0]["message"])[:300]
    except (TypeError, KeyError, IndexError):
        return "no details"
