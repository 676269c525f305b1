"""Benchmark: qmon's writes into the CRM (`writeback:`), against each CRM's rate limit, and
what writeback adds to a steady-state `qmon check`.

    python bench/bench_writeback.py                    # 10,000 records, a 1M-event store
    python bench/bench_writeback.py --records 2000 --events 100000   # quicker

1. **Throughput.** 10,000 CRM records whose values changed, written by one `qmon check`
   (`run_check`, full) to the fake servers in `tests/fakes/`, which enforce the limits:
   - HubSpot: 100 non-search calls per 10 seconds (private apps on most plans), 100 records
     per batch update. So that the limit binds (100 calls would fit one 10-second window),
     the fake and qmon's limiter both use the same rate in 1-second windows (10 calls a
     second); the floor is then (calls / 10 - 1) seconds, and the share of the limit is that
     floor over the time taken.
   - Salesforce: no per-second limit, the daily API requests (`api_quota_share` of them);
     200 records per sObject Collections call, so the floor is records / 200 calls.
   It checks that every record ends with the values wanted (no loss) and that no 429 was
   answered.
2. **Steady state.** A store of `--events` synthetic events (source `hubspot`), checked once
   in full and its CRM writes settled; then seven rounds of 1,000 new events that change no
   promise (notes on existing subjects) and an incremental `qmon check`, with and without
   `writeback:` in the config, interleaved (both record alerts, to a local webhook).
   Writeback must write 0 records and add under 10 % to the check's time (median of the
   rounds).
Prints Markdown tables for the README.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic import write_events  # noqa: E402

from qmon.alerts import check as check_module  # noqa: E402
from qmon.alerts.check import run_check  # noqa: E402
from qmon.config import load_config  # noqa: E402
from qmon.connectors.hubspot import api as hubspot_api  # noqa: E402
from qmon.events import Event  # noqa: E402
from qmon.ingest import import_files  # noqa: E402
from qmon.store import Store  # noqa: E402
from qmon.timeutil import to_us  # noqa: E402
from qmon.writeback.crm import writer  # noqa: E402
from tests.fakes.hubspot import FakeHubSpot  # noqa: E402
from tests.fakes.salesforce import FakeSalesforce  # noqa: E402

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PROMISE = """promises:
  - id: reply-4h
    title: First reply within 4 hours
    phase: after-sales
    start: case.opened
    stop: case.first_response
    within: 4h
"""


def _config(folder: Path, name: str, url: str, source: str, writeback: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"version: 1\ndatabase: {url}\n{PROMISE}{source}{writeback}")
    return path


# -- 1. throughput ------------------------------------------------------------------------


def bench_hubspot(records: int, folder: Path) -> str:
    per_window, window = 10, 1.0  # HubSpot's 100 per 10 s, in 1-second windows
    hubspot_api.BURST_WINDOW = window
    with FakeHubSpot(general_rate_limit=per_window, general_rate_window=window, retry_after=1,
                     search_rate_limit=None) as fake:  # fmt: skip
        ids = [fake.add("tickets", {"subject": f"t{n}"}, created_at=T0, updated_at=T0)
               for n in range(records)]  # fmt: skip
        url = f"sqlite:///{folder / 'hubspot.db'}"
        source = (f"sources:\n  hubspot:\n    access_token: {fake.access_token}\n"
                  f"    base_url: {fake.base_url}\n    portal_id: 62515\n"
                  f"    burst_limit: {per_window}\n    objects: [tickets]\n")  # fmt: skip
        config = load_config(_config(folder, "hubspot", url, source,
                                     "writeback:\n  hubspot: {objects: [tickets]}\n"))  # fmt: skip
        crm = writer(config, "hubspot")
        crm.setup(["tickets"], tasks=False, dry_run=False)  # `qmon crm setup`
        time.sleep(window)  # its calls leave the window before the measured run
        store = Store.open(config.database_url)
        store.ingest(Event("hubspot", f"tickets/{i}/opened", to_us(T0), "case.opened", "case", i,
                           record=f"tickets/{i}") for i in ids)  # fmt: skip
        as_of = to_us(T0 + timedelta(hours=5))
        store.mark_synced("hubspot", "tickets", as_of)  # a current source: evaluated
        report, seconds, total = _timed_check(config, store, as_of)
        store.close()
        wrong = sum(1 for i in ids if fake.get("tickets", i).properties.get("qmon_status")
                    != "breached")  # fmt: skip
        calls = sum(1 for r in fake.request_log
                    if r.path.endswith("/batch/update") and r.status < 300)  # fmt: skip
        limited = fake.rate_limited_count
    floor = max(0.0, calls / per_window - 1) * window
    assert report.writeback.written == records and wrong == 0, (report.writeback, wrong)
    return (f"| HubSpot tickets | {records:,} | {seconds:.1f} s ({total:.1f} s) "
            f"| {records / seconds:,.0f} records/s | {calls} calls ({records / calls:.0f} a call) "
            f"| {floor:.1f} s | {floor / seconds:.0%} | {limited} | 0 lost |")  # fmt: skip


def _timed_check(config, store, as_of_us):  # type: ignore[no-untyped-def]
    """A full `run_check`; its report, the seconds of its CRM writes, and of the whole."""
    deliver = check_module.writeback_deliver.deliver
    spent = [0.0]

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        deliver(*args, **kwargs)
        spent[0] += time.perf_counter() - began

    check_module.writeback_deliver.deliver = timed
    try:
        began = time.perf_counter()
        report = run_check(config, store, as_of_us, full=True)
        return report, spent[0], time.perf_counter() - began
    finally:
        check_module.writeback_deliver.deliver = deliver


def bench_salesforce(records: int, folder: Path) -> str:
    with FakeSalesforce() as fake:
        owner = fake.add_user()
        ids = [fake.add_record("Case", {"Subject": f"c{n}", "Status": "New", "OwnerId": owner,
                                        "CreatedDate": T0, "SystemModstamp": T0})
               for n in range(records)]  # fmt: skip
        url = f"sqlite:///{folder / 'salesforce.db'}"
        source = ("sources:\n  salesforce:\n"
                  f"    instance_url: {fake.instance_url}\n    login_url: {fake.instance_url}\n"
                  "    auth: {method: client_credentials, consumer_key: k, consumer_secret: s}\n"
                  f"    ca_bundle: {fake.ca_cert_path}\n    objects: [Case]\n"
                  "    api_quota_share: 0.5\n")  # fmt: skip
        config = load_config(_config(folder, "salesforce", url, source,
                                     "writeback:\n  salesforce: {objects: [Case]}\n"))  # fmt: skip
        crm = writer(config, "salesforce")
        crm.setup(["Case"], tasks=False, dry_run=False)
        crm.close()
        store = Store.open(config.database_url)
        store.ingest(Event("salesforce", f"Case/{i}/opened", to_us(T0), "case.opened", "case",
                           i, record=f"Case/{i}") for i in ids)  # fmt: skip
        as_of = to_us(T0 + timedelta(hours=5))
        store.mark_synced("salesforce", "Case", as_of)
        calls_before = len(fake.request_log)
        report, seconds, total = _timed_check(config, store, as_of)
        store.close()
        wrong = sum(1 for i in ids if fake.get_record("Case", i).get("Qmon_Status__c")
                    != "breached")  # fmt: skip
        calls = sum(1 for r in fake.request_log[calls_before:]
                    if r.path.endswith("/composite/sobjects"))  # fmt: skip
        used = len(fake.request_log) - calls_before
    assert report.writeback.written == records and wrong == 0, (report.writeback, wrong)
    floor = -(-records // 200)
    return (f"| Salesforce Cases | {records:,} | {seconds:.1f} s ({total:.1f} s) "
            f"| {records / seconds:,.0f} records/s | {calls} calls ({records / calls:.0f} a "
            f"call; {used} requests in all) | {floor} calls | {floor / calls:.0%} | - "
            "| 0 lost |")  # fmt: skip


# -- 2. steady state ----------------------------------------------------------------------


def _none(*args: object, **kwargs: object) -> None:
    return None


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def bench_steady(events: int, folder: Path, rounds: int = 7) -> list[str]:
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    notify = f"notify:\n  webhook: {{url: 'http://127.0.0.1:{hook.server_port}/hook'}}\n"
    source = ("sources:\n  hubspot:\n    access_token: x\n    base_url: http://127.0.0.1:9\n"
              "    portal_id: 62515\n    objects: [tickets]\n")  # fmt: skip
    promise = PROMISE.replace("case.first_response", "case.first_response\n    warn_at: 75%")
    csv = folder / "events.csv"
    count = write_events(csv, events)
    prepared = folder / "prepared.db"
    url = f"sqlite:///{prepared}"
    with_wb = folder / "with.yaml"
    with_wb.write_text(f"version: 1\ndatabase: {url}\n{promise}{source}{notify}"
                       "writeback:\n  hubspot: {objects: [tickets]}\n")  # fmt: skip
    store = Store.open(url)
    import_files(store, [csv], source="hubspot")
    as_of = to_us(datetime(2026, 11, 1, tzinfo=UTC))
    config = load_config(with_wb)
    store.mark_synced("hubspot", "tickets", as_of + 3600_000_000)  # current all bench long
    deliver, check_module.writeback_deliver.deliver = check_module.writeback_deliver.deliver, _none
    first = run_check(config, store, as_of, full=True)  # plans every record's values
    check_module.writeback_deliver.deliver = deliver
    with store.engine.begin() as conn:  # as if the CRM took every write
        conn.exec_driver_sql("UPDATE writeback_records SET written = desired, pending = false")
    records = first.writeback.changed
    store.close()
    lines = []
    times: dict[str, list[float]] = {"without": [], "with": []}
    written: list[int] = []
    runs = {}
    fake = FakeHubSpot(search_rate_limit=None).start()  # takes (refuses) what time changes
    for name in ("without", "with"):
        db = folder / f"{name}.db"
        shutil.copy(prepared, db)
        path = folder / f"{name}-run.yaml"
        wb = "writeback:\n  hubspot: {objects: [tickets]}\n" if name == "with" else ""
        here = source.replace("access_token: x", f"access_token: {fake.access_token}").replace(
            "http://127.0.0.1:9", fake.base_url)  # fmt: skip
        path.write_text(f"version: 1\ndatabase: sqlite:///{db}\n{promise}{here}{notify}{wb}")
        config = load_config(path)
        runs[name] = (config, Store.open(config.database_url))
    at = as_of
    for round_ in range(rounds):  # interleaved, so that a busy moment hits both alike
        at += 5 * 60_000_000
        for name, (config, store) in runs.items():
            store.ingest(
                Event("hubspot", f"note-{round_}-{n}", at - 1_000_000, "note.added", "case",
                      f"C-{2 * (n + 1)}")
                for n in range(1000)
            )  # fmt: skip
            began = time.perf_counter()
            report = run_check(config, store, at)
            times[name].append(time.perf_counter() - began)
            if name == "with":
                written.append(report.writeback.changed)
    config, store = runs["with"]  # which records changed: the noted subjects', or by time
    with store.engine.connect() as conn:
        changed = conn.exec_driver_sql(
            "SELECT subject_id FROM writeback_records WHERE changed_us > ?", (as_of,)
        ).scalars().all()
    noted = sum(1 for subject in changed if int(subject.split("-")[1]) <= 2000)
    for _, store in runs.values():
        store.close()
    fake.stop()
    hook.shutdown()
    base, extra = statistics.median(times["without"]), statistics.median(times["with"])
    lines.append(f"| {count:,} events, {records:,} CRM records | "
                 f"{base * 1000:.0f} ms | {extra * 1000:.0f} ms | {extra / base - 1:+.0%} | "
                 f"{sum(written)} ({noted} of the noted subjects; the others changed by time "
                 "alone) |")  # fmt: skip
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["all", "throughput", "steady"], default="all")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="qmon-bench-writeback-") as tmp:
        if args.only in ("all", "throughput"):
            print("| CRM | records | time | throughput | API calls | floor at the limit "
                  "| share of the limit | 429s | check |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|---|")
            print(bench_hubspot(args.records, Path(tmp)), flush=True)
            print(bench_salesforce(args.records, Path(tmp)), flush=True)
        if args.only in ("all", "steady"):
            print("\n| store | check without writeback | with writeback | added | records "
                  "changed |")  # fmt: skip
            print("|---|---|---|---|---|")
            print("\n".join(bench_steady(args.events, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
