"""What a CRM harness offers the shared connector conformance suite.

`tests/test_connector_conformance.py` runs the same behaviour tests (paging, cursors, deletes,
retries, resume after a crash) against every connector, through `qmon sync` and the store,
with the real client library talking to a fake server on 127.0.0.1. Each CRM provides one
harness class implementing `SourceHarness` (e.g. `tests/harness_salesforce.py`); the suite
knows nothing about the CRM beyond it.

A harness is a context manager that owns its fake server: `with HubSpotHarness() as h:` starts
it on 127.0.0.1 and stops it on exit. "Records" are CRM records as the connector keys them
(`Event.record`, e.g. `Case/500...` or `tickets/1001`); each record a harness creates must
produce at least one event with the default mapping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class SourceHarness(Protocol):
    def __enter__(self) -> SourceHarness: ...

    def __exit__(self, *exc_info: object) -> None: ...

    #: The source name used in the config (also `Event.source`).
    source: str

    def source_config(self) -> dict[str, Any]:
        """The `sources:` entry (a dict, written to YAML by the suite) that points the connector
        at the fake, with a small page size (`page_size`) so that a few dozen records span
        several pages."""
        ...

    def create(self, count: int, *, at: datetime) -> list[str]:
        """Create `count` records modified at `at` (all with the same stamp); their keys."""
        ...

    def change(self, record: str, *, at: datetime) -> None:
        """Change a record at `at` so that its events change (e.g. a new status)."""
        ...

    def delete(self, record: str, *, at: datetime) -> None:
        """Delete (Salesforce) or archive (HubSpot) a record at `at`."""
        ...

    def live_records(self) -> set[str]:
        """Keys of the records that exist (not deleted) in the fake and produce events."""
        ...

    def fail_next(self, count: int, status: int = 503) -> None:
        """Make the next `count` API requests fail with `status`."""
        ...

    def clear_faults(self) -> None:
        """Forget injected failures (paging faults too) that have not been used up."""
        ...

    def repeat_cursor(self) -> None:
        """Make the fake answer the pages of a listing with a next-page cursor it gave before
        (HubSpot: the same `paging.next.after` on every page; Salesforce: the same
        `nextRecordsUrl`), for a bounded number of answers."""
        ...

    def stall_paging(self) -> None:
        """Make the fake answer pages that do not advance (HubSpot: a keyset search that
        ignores its filters; Salesforce: empty pages that still offer a next page), for a
        bounded number of answers."""
        ...

    def request_count(self) -> int:
        """API requests the fake has answered so far."""
        ...


class FakeServerHarness:
    """What every harness does the same way with its fake: start and stop it, inject and
    forget faults. A subclass sets `self.fake` and writes the CRM-specific methods."""

    fake: Any

    def __enter__(self) -> Any:
        self.fake.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.fake.stop()

    def fail_next(self, count: int, status: int = 503) -> None:
        self.fake.fail_next(count, status)

    def clear_faults(self) -> None:
        self.fake.clear_faults()

    def repeat_cursor(self) -> None:
        self.fake.loop_paging("repeat")

    def stall_paging(self) -> None:
        self.fake.loop_paging("stall")
