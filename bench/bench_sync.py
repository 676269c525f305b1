"""Benchmark: `qmon sync` throughput against the fake CRMs enforcing their documented limits.

    python bench/bench_sync.py                  # 20,000 HubSpot tickets and 20,000 Salesforce Cases
    python bench/bench_sync.py --records 5000 --only hubspot

HubSpot: search is limited to 5 requests per second and returns at most 200 records a
request, so no client can sync more than 1,000 records/s; the other calls (the batch read of
ticket stage histories, 2 per page) share the private app's burst limit of 100 per 10 s. The
benchmark reports records/s as a share of that ceiling. Salesforce has no per-second limit;
the daily request limit is what counts, so it reports records/s and records per API call,
for REST and for a Bulk API 2.0 job.
Both verify that every record arrived exactly once. Run from the project root after
`pip install '.[dev]'` (the fakes live in tests/).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qmon.config import load_config  # noqa: E402
from qmon.store import Store  # noqa: E402
from qmon.sync import run_sync  # noqa: E402
from tests.fakes.hubspot import FakeHubSpot  # noqa: E402
from tests.fakes.salesforce import FakeSalesforce  # noqa: E402

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SEARCH_CEILING = 5 * 200  # records/s: 5 searches a second, 200 records each


def run(folder: Path, name: str, source: str, settings: dict) -> tuple[float, int, int]:
    path = folder / f"{name}.yaml"
    config = {"version": 1, "database": f"sqlite:///{folder / name}.db",
              "sources": {source: settings}}  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(path)
    store = Store.open(loaded.database_url)
    began = time.perf_counter()
    report = run_sync(loaded, store)
    seconds = time.perf_counter() - began
    assert report.ok, report.sources[0].error
    stored = len(store.record_events(source))
    store.close()
    return seconds, stored, report.sources[0].usage.calls


def bench_hubspot(records: int, folder: Path) -> str:
    with FakeHubSpot(general_rate_limit=100, general_rate_window=10.0) as fake:
        for n in range(records):  # a ticket modified every ~3 seconds over a day
            moment = T0 + timedelta(seconds=3 * n)
            fake.add("tickets", {"hs_pipeline_stage": "1"}, created_at=moment,
                     updated_at=moment)  # fmt: skip
        settings = {"access_token": fake.access_token, "base_url": fake.base_url,
                    "portal_id": 1, "objects": ["tickets"]}  # fmt: skip
        seconds, stored, calls = run(folder, "hubspot", "hubspot", settings)
        assert stored == records, f"{stored} of {records} tickets stored"
        rate = records / seconds
        return (
            f"| HubSpot tickets (search 5/s, burst 100/10 s) | {records:,} | {seconds:.1f} s "
            f"| {rate:,.0f} records/s = {rate / SEARCH_CEILING:.0%} of the 1,000/s ceiling "
            f"| {calls:,} calls, {fake.rate_limited_count} answered 429 | 0 lost, 0 doubled |"
        )


def bench_salesforce(records: int, folder: Path) -> list[str]:
    lines = []
    with FakeSalesforce(daily_api_limit=1_000_000) as fake:
        for n in range(records):
            moment = T0 + timedelta(seconds=3 * n)
            fake.add_record("Case", {"Status": "New", "Origin": "Email", "CreatedDate": moment,
                                     "SystemModstamp": moment})  # fmt: skip
        base = {"instance_url": fake.instance_url, "login_url": fake.instance_url,
                "auth": {"method": "client_credentials", "consumer_key": "k",
                         "consumer_secret": "s"},
                "ca_bundle": fake.ca_cert_path, "objects": ["Case"]}  # fmt: skip
        runs = {
            "REST queryAll, 2,000 a page": {**base, "bulk_threshold": None},
            "Bulk API 2.0, 10,000 a page": {**base, "bulk_threshold": 2000,
                                            "bulk_poll_seconds": 0.2},
        }  # fmt: skip
        for n, (name, settings) in enumerate(runs.items()):
            seconds, stored, calls = run(folder, f"salesforce{n}", "salesforce", settings)
            assert stored == records, f"{stored} of {records} cases stored"
            lines.append(
                f"| Salesforce Cases ({name}) | {records:,} | {seconds:.1f} s "
                f"| {records / seconds:,.0f} records/s | {calls:,} calls "
                f"({records / calls:,.0f} records a call) | 0 lost, 0 doubled |"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--only", choices=["all", "hubspot", "salesforce"], default="all")
    args = ap.parse_args()
    print("| source | records | time | throughput | API calls | check |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="qmon-bench-sync-") as tmp:
        if args.only in ("all", "hubspot"):
            print(bench_hubspot(args.records, Path(tmp)), flush=True)
        if args.only in ("all", "salesforce"):
            print("\n".join(bench_salesforce(args.records, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
