"""The HubSpot side of the connector conformance suite (see tests/conformance.py).

Records are tickets: each makes a `case.opened` event, entering "waiting on contact" makes
more, and archiving one removes them. The fake enforces HubSpot's search rate limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conformance import FakeServerHarness
from tests.fakes.hubspot import FakeHubSpot


class HubSpotHarness(FakeServerHarness):
    source = "hubspot"

    def __init__(self) -> None:
        self.fake = FakeHubSpot(retry_after=0)

    def source_config(self) -> dict[str, Any]:
        return {
            "access_token": self.fake.access_token,
            "base_url": self.fake.base_url,
            "objects": ["tickets"],
            "page_size": 5,
            "backoff_seconds": 0.01,
        }

    def create(self, count: int, *, at: datetime) -> list[str]:
        return [
            "tickets/"
            + self.fake.add(
                "tickets",
                {"subject": f"Ticket {n}", "hs_pipeline_stage": "1", "source_type": "EMAIL"},
                created_at=at,
                updated_at=at,
            )
            for n in range(count)
        ]

    def change(self, record: str, *, at: datetime) -> None:
        self.fake.update("tickets", record.split("/")[1], {"hs_pipeline_stage": "2"}, updated_at=at)

    def delete(self, record: str, *, at: datetime) -> None:
        self.fake.archive("tickets", record.split("/")[1], archived_at=at)

    def live_records(self) -> set[str]:
        return {f"tickets/{o.id}" for o in self.fake.objects("tickets") if not o.archived}

    def request_count(self) -> int:
        return self.fake.request_count
