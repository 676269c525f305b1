"""The Salesforce side of the connector conformance suite (see tests/conformance.py).

Records are Cases: each makes `case.opened`, closing one adds `case.closed`, deleting one
removes them. The fake serves pages of five rows and is reached over TLS with its own CA.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conformance import FakeServerHarness
from tests.fakes.salesforce import FakeSalesforce


class SalesforceHarness(FakeServerHarness):
    source = "salesforce"

    def __init__(self) -> None:
        self.fake = FakeSalesforce(batch_size=5)

    def source_config(self) -> dict[str, Any]:
        return {
            "instance_url": self.fake.instance_url,
            "login_url": self.fake.instance_url,
            "auth": {"method": "client_credentials", "consumer_key": "3MVG9-key",
                     "consumer_secret": "not-a-real-secret"},
            "ca_bundle": self.fake.ca_cert_path,
            "objects": ["Case"],
            "page_size": 200,
            "backoff_seconds": 0.01,
        }  # fmt: skip

    def create(self, count: int, *, at: datetime) -> list[str]:
        return [
            "Case/"
            + self.fake.add_record(
                "Case",
                {
                    "Subject": f"Case {n}",
                    "Status": "New",
                    "Origin": "Email",
                    "CreatedDate": at,
                    "SystemModstamp": at,
                },
            )  # fmt: skip
            for n in range(count)
        ]

    def change(self, record: str, *, at: datetime) -> None:
        self.fake.update_record(
            "Case", record.split("/")[1],
            {"Status": "Closed", "IsClosed": True, "ClosedDate": at, "SystemModstamp": at},
        )  # fmt: skip

    def delete(self, record: str, *, at: datetime) -> None:
        self.fake.delete_record("Case", record.split("/")[1], at=at)

    def live_records(self) -> set[str]:
        return {f"Case/{r['Id']}" for r in self.fake.records("Case") if not r["IsDeleted"]}

    def request_count(self) -> int:
        return len(self.fake.request_log)
