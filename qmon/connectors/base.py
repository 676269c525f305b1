"""The contract between a CRM connector and the sync that drives it.

A connector knows its CRM: how to log in, which objects (streams) to read, how to page and
how to turn a CRM record into canonical events. The sync (`qmon.sync`) knows everything that
is the same for every CRM: cursors, crash-safe commits, lookback, progress and the summary.
Keeping that split means a second CRM cannot get cursors subtly wrong in its own way.

The unit of change is the **record**: one CRM row (an Opportunity, a deal, a CaseHistory row).
A record produces zero or more events; when it is read again, its events are replaced as a
set, so a record that changed (a case re-opened, a stage history rewritten) and a record that
was deleted or archived in the CRM (no events any more) are both handled by one rule. Event
ids are derived from the record (`<record>/<what>`), so re-reading a record is harmless.

Streams read in ascending order of the CRM's modification stamp (`SystemModstamp`,
`hs_lastmodifieddate`...). After each page the sync commits the page's records together with
the stream's cursor; the cursor is the page's `high_water_us`: a promise that every record
modified *before* that instant has been delivered. The next sync asks for records modified at
or after `cursor - lookback`, so records that share the last stamp, or that became visible
late, are read again rather than missed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from qmon.errors import QmonError
from qmon.events import Event
from qmon.exit_codes import ExitCode


@dataclass
class RecordChange:
    """What one CRM record says now.

    Attributes:
        record: the record's key, unique within the source, e.g. `Opportunity/0065g00000AbCdE`
            or `deals/1234`; every event it produces carries it (`Event.record`).
        events: the events the record produces now; empty when it produces none.
        deleted: the record was deleted or archived in the CRM; its events are removed.
    """

    record: str
    events: list[Event] = field(default_factory=list)
    deleted: bool = False


#: What a mapping finds in a record: (id suffix, default event type, when, attributes).
Found = tuple[str, str, int | None, dict[str, Any]]


def record_events(
    source: str,
    record: str,
    subject: tuple[str, Any],
    found: list[Found],
    *,
    rename: Mapping[str, str | None],
    link: str | None = None,
    owner: Any = None,
    account: Any = None,
    channel: Any = None,
) -> list[Event]:
    """A record's findings as events, the same way for every CRM.

    Ids are `<record>/<suffix>`, so the record's events are replaced as a set when it is read
    again; types go through the mapping's `rename` (a type renamed to null is dropped); a
    finding without a time (a date the CRM left empty) makes no event.
    """
    return [
        Event(
            source=source,
            id=f"{record}/{what}",
            occurred_us=at,
            type=renamed,
            subject_type=subject[0],
            subject_id=str(subject[1]),
            account=account or None,
            owner=owner or None,
            channel=str(channel).lower() if channel else None,
            link=link,
            attributes=attributes,
            record=record,
        )
        for what, event_type, at, attributes in found
        if at is not None and (renamed := rename.get(event_type, event_type))
    ]


@dataclass
class Page:
    """One page of a stream, committed atomically with the stream's cursor.

    Attributes:
        changes: the records read, in the order read.
        high_water_us: every record modified before this instant (UTC microseconds) has now
            been delivered; None when the page does not move the cursor (e.g. a pass over
            archived records, or a backfill that only knows its high-water mark at the end).
    """

    changes: list[RecordChange]
    high_water_us: int | None = None


class Stream(Protocol):
    """One object type of a CRM read incrementally, e.g. Salesforce `Case` or HubSpot `deals`."""

    #: Stable name, used as the cursor's key together with the source name.
    name: str

    def read(self, since_us: int | None) -> Iterator[Page]:
        """Records modified at or after `since_us` (None: all of them), oldest first, in pages.

        Raises:
            SyncError subclasses for failures that retrying did not fix.
        """
        ...


@dataclass(frozen=True)
class ApiUsage:
    """API calls a connector made in this run, and what the CRM says is left (if it says)."""

    calls: int = 0
    remaining: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Finding:
    """One line of `qmon sources check`: something verified, and whether it is fine.

    `detail` says in words what is missing and what to do; it never contains a secret.
    """

    ok: bool
    what: str
    detail: str = ""


class Connector(Protocol):
    """A configured CRM source."""

    #: The source's name in the config; it is `Event.source` of everything it produces.
    source: str

    def streams(self) -> Sequence[Stream]:
        """The streams to sync, in the order they should run."""
        ...

    def usage(self) -> ApiUsage:
        """API usage so far in this run."""
        ...

    def check(self) -> list[Finding]:
        """Verify credentials and permissions (objects and fields readable); never raises for
        a missing permission, which is a finding, but may raise `SyncError` when the CRM
        cannot be reached at all."""
        ...

    def close(self) -> None:
        """Release sessions and connections."""
        ...


class SyncError(QmonError):
    """A sync could not go on. What was committed stays committed; the cursor is where the
    last committed page left it, so the next sync resumes there.

    Messages never contain tokens, passwords or keys.
    """

    exit_code = ExitCode.SOURCE_FAILED


class SourceUnreachable(SyncError):
    """The CRM did not answer usefully, also after retries (network, 5xx, timeouts)."""


class SourceAuthError(SyncError):
    """The CRM refused the credentials (and logging in again did not help)."""


class SourceLimitReached(SyncError):
    """The CRM's API limit was reached (e.g. Salesforce REQUEST_LIMIT_EXCEEDED), or this sync
    used its configured share of it (`api_quota_share`); the sync stopped cleanly."""


class PagingLoop(SyncError):
    """The CRM answered a paged read with a cursor it had already given in this read, or with
    a page that does not advance: following it would page forever. The stream stops; what was
    stored before stays, and its cursor stays where the last stored page left it."""


CURSOR_SHOWN_MAX = 80
"""Characters of a cursor an error message shows (a hostile server may send megabytes)."""


class PageTrail:
    """Where one paged read has been, so that a read that loops stops (the one check used by
    every loop over pages in the connectors).

    singer-sdk stops a stream whose next page token equals the previous one ("Loop detected
    in pagination"); this remembers every cursor of the read, so a cycle over several pages
    (A, B, A) is caught too, and checks the two ways a page can fail to advance: an empty page
    that still offers a next cursor, and a keyset page whose last key is not past the last.

    Args:
        crm: The CRM's name for messages ("HubSpot", "Salesforce").
        stream: The stream being read (the message names it).
        call: What is paged, in words ("the archived list", "the query's nextRecordsUrl").
        redact: Removes secrets from text built from what the server sent.
    """

    def __init__(
        self,
        crm: str,
        stream: str,
        call: str,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self._where = f"{crm} {stream}: {call}"
        self._redact = redact or (lambda text: text)
        self._seen: set[Hashable] = set()
        self._key: Any = None

    def follow(self, cursor: str | None, *, records: int) -> str | None:
        """The next page's cursor, once it is known to be new; None (no next page) ends the read.

        Args:
            cursor: The next-page cursor of the page just read (None or "" when it was the last).
            records: How many records the page just read held.

        Raises:
            PagingLoop: the page was empty but offered a next cursor, or the cursor was given
                before in this read.
        """
        if not cursor:
            return None
        if records == 0:
            raise self._loop(f"answered an empty page that still offers the next-page cursor "
                             f"{self._shown(cursor)}")  # fmt: skip
        if cursor in self._seen:
            raise self._loop(f"gave the next-page cursor {self._shown(cursor)} a second time")
        self._seen.add(cursor)
        return cursor

    def advance(self, key: Any) -> Any:
        """A keyset read's next key, once it is past the previous one.

        Raises:
            PagingLoop: `key` is not greater than the key of the previous page.
        """
        if self._key is not None and not key > self._key:
            raise self._loop(f"did not advance: the next page would start at "
                             f"{self._shown(key)}, not past {self._shown(self._key)}")  # fmt: skip
        self._key = key
        return key

    def _shown(self, value: Any) -> str:
        text = self._redact(str(value))
        if len(text) > CURSOR_SHOWN_MAX:
            text = text[:CURSOR_SHOWN_MAX] + "..."
        return repr(text)  # quoted, control characters escaped

    def _loop(self, what: str) -> PagingLoop:
        return PagingLoop(
            f"{self._where} {what}; the stream stopped rather than page forever (what was "
            "stored is kept and the next sync resumes from there)"
        )


__all__ = [
    "ApiUsage",
    "Connector",
    "Finding",
    "Found",
    "Page",
    "PageTrail",
    "PagingLoop",
    "RecordChange",
    "SourceAuthError",
    "SourceLimitReached",
    "SourceUnreachable",
    "Stream",
    "SyncError",
    "record_events",
]
