"""Benchmark: `qmon serve` on a store of 1M events, 20 concurrent clients per page.

    python bench/bench_serve.py                  # 1M events (about two minutes to build)
    python bench/bench_serve.py --events 100000 --seconds 5 --workers 4

Builds a store of `--events` synthetic events (`synthetic.py`) and checks it once (which
keeps the dashboard's figures), starts `qmon serve` as its own process, signs in, and loads
each page with `wrk` (20 connections, 2 threads, `--seconds` each, after a warm-up), first
served by one process (the baseline), then by `--workers` processes (default: one per core):
the journey page, the promise page (this week and this quarter), an instance page, and the
HubSpot card's signed API. The targets (issue "qmon serve"): p95 under 150 ms for the journey
and promise pages, under 50 ms for an instance page, under 100 ms for the card. Then 1,000
new events and a `qmon check`, after which the pages' figures must still equal `qmon audit`
as of the check. Prints a Markdown table for the README. Needs `wrk` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic import write_events  # noqa: E402

from qmon.alerts.check import run_check  # noqa: E402
from qmon.config import load_config  # noqa: E402
from qmon.events import Event  # noqa: E402
from qmon.figures import facts, query  # noqa: E402
from qmon.ingest import import_files  # noqa: E402
from qmon.reports.audit import AuditQuery, run_audit  # noqa: E402
from qmon.store import Store  # noqa: E402
from qmon.timeutil import to_us  # noqa: E402
from qmon.web.signatures import hubspot_signature  # noqa: E402

AS_OF = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)
PASSWORD = "bench-password-123"
SECRET = "bench-session-secret-0123456789abcdef"
CARD_SECRET = "bench-hubspot-client-secret"
CARD_DEAL = "987654321"
LUA = """
done = function(summary, latency, requests)
  io.write(string.format("QMON %d %d %d %d %d\\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""
CONFIG = """version: 1
database: {url}
timezone: Europe/Amsterdam
promises:
  - id: quote-24h
    title: Quote within 24 hours
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
    warn_at: 75%
    objective: 90%
  - id: reply-8h
    title: First reply within 8 hours
    phase: after-sales
    start: case.opened
    stop: case.first_response
    pause: case.waiting_on_customer
    resume: case.customer_replied
    within: 8h
    objective: 85%
serve:
  session_secret_file: {folder}/session.secret
  users: [{{name: bench, password_hash: "{hash}"}}]
  hubspot_card: {{client_secret_file: {folder}/card.secret}}
"""


def build(folder: Path, events: int) -> Path:
    from argon2 import PasswordHasher

    (folder / "session.secret").write_text(SECRET)
    (folder / "card.secret").write_text(CARD_SECRET)
    path = folder / "qmon.yaml"
    path.write_text(CONFIG.format(url=f"sqlite:///{folder / 'qmon.db'}", folder=folder,
                                  hash=PasswordHasher().hash(PASSWORD)))  # fmt: skip
    csv = folder / "events.csv"
    write_events(csv, events)
    config = load_config(path)
    store = Store.open(config.database_url)
    began = time.perf_counter()
    import_files(store, [csv])
    at = to_us(AS_OF)
    store.ingest([Event("file", f"card-{n}", at - (30 - n) * 3600_000_000, kind, "deal",
                        CARD_DEAL) for n, kind in enumerate(
                            ["quote.requested", "quote.sent", "quote.requested"])])  # fmt: skip
    imported = time.perf_counter() - began
    began = time.perf_counter()
    run_check(config, store, at)
    print(f"built: import {imported:.0f} s, first check (figures) "
          f"{time.perf_counter() - began:.1f} s", file=sys.stderr)  # fmt: skip
    store.close()
    return path


def serve(config: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "qmon", "--config", str(config), "serve",
                             "--port", str(port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("qmon serve did not start")


def cookie(base: str) -> str:
    with httpx.Client(base_url=base) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"csrf_token": token, "username": "bench",
                                    "password": PASSWORD, "next": "/"})  # fmt: skip
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def wrk(url: str, headers: dict[str, str], seconds: int, folder: Path) -> tuple[float, ...]:
    script = folder / "report.lua"
    script.write_text(LUA)
    args = ["wrk", "-t2", "-c20", f"-d{seconds}s", "--latency", "-s", str(script)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    subprocess.run([*args[:3], "-d2s", *args[4:], url], capture_output=True, check=True)  # warm
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    p50, p95, p99, requests, errors = map(int, out.split("QMON ")[1].split())
    return p50 / 1000, p95 / 1000, p99 / 1000, requests / seconds, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--port", type=int, default=8471)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench_serve needs wrk on PATH")
    with tempfile.TemporaryDirectory(prefix="qmon-bench-serve-") as tmp:
        folder = Path(tmp)
        path = build(folder, args.events)
        base = f"http://127.0.0.1:{args.port}"
        results: dict[int, list[tuple[float, ...]]] = {}
        for workers in (1, args.workers):
            proc = serve(path, args.port, workers)
            try:
                session = {"Cookie": cookie(base)}
                pages = _pages(base, session)
                results[workers] = [wrk(base + url, headers, args.seconds, folder)
                                    for _, url, headers, _ in pages]  # fmt: skip
                if workers == args.workers:
                    after = _after_new_events(path, base, session)
            finally:
                proc.terminate()
                proc.wait(30)
        n = args.workers
        print(
            f"| page | 1 process: p95 | {n} workers: p50 | p95 | p99 | requests/s (1 → {n}) "
            "| errors | target (p95) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for (name, _, _, target), one, many in zip(pages, results[1], results[n], strict=True):
            p50, p95, p99, rps, errors = many
            mark = "met" if p95 < target and not errors + one[4] else "MISSED"
            print(
                f"| {name} | {one[1]:.1f} ms | {p50:.1f} ms | {p95:.1f} ms | {p99:.1f} ms "
                f"| {one[3]:,.0f} → {rps:,.0f} | {errors + one[4]} | < {target} ms: {mark} |"
            )
        print(after)


def _pages(base: str, session: dict[str, str]) -> list[tuple[str, str, dict[str, str], int]]:
    """(name, path, headers, p95 target in ms) of each page measured."""
    with httpx.Client(base_url=base, headers=session) as client:
        weekly = client.get("/promise/quote-24h?format=json&period=quarter").json()
        broken = weekly["breaches"][0]
    instance = (f"/instance/quote-24h/{broken['subject_type']}/{broken['subject_id']}"
                f"/{broken['cycle']}")  # fmt: skip
    card = f"/api/crm/hubspot/card?objectId={CARD_DEAL}&objectTypeId=0-3"
    stamp = str(int(time.time() * 1000))
    signed = {"X-HubSpot-Request-Timestamp": stamp,
              "X-HubSpot-Signature-v3": hubspot_signature(
                  CARD_SECRET, "GET", base + card, b"", stamp)}  # fmt: skip
    return [("journey (this week)", "/journey", session, 150),
            ("journey (this quarter)", "/journey?period=quarter", session, 150),
            ("promise quote-24h (this week)", "/promise/quote-24h", session, 150),
            ("promise quote-24h (this quarter)", "/promise/quote-24h?period=quarter",
             session, 150),
            ("instance page", instance, session, 50),
            ("HubSpot card API (signed)", card, signed, 100)]  # fmt: skip


def _after_new_events(path: Path, base: str, session: dict[str, str]) -> str:
    """1,000 new events and a check; the pages' figures must equal the audit again."""
    config = load_config(path)
    store = Store.open(config.database_url)
    at = to_us(AS_OF + timedelta(minutes=10))
    store.ingest(Event("file", f"new-{n}", at - 60_000_000 - n, "quote.requested", "deal",
                       f"NEW-{n // 2}") for n in range(1000))  # fmt: skip
    began = time.perf_counter()
    run_check(config, store, at)
    checked = time.perf_counter() - began
    as_of = facts.as_of(store)
    assert as_of == at
    with httpx.Client(base_url=base, headers=session) as client:
        page = client.get("/promise/quote-24h?format=json").json()
    day = datetime.fromisoformat(page["period"]["from"]).date()
    lo, hi = query.period_of("week", day).bounds(config.timezone)
    audit = run_audit(config, store, AuditQuery(as_of_us=at, from_us=lo, to_us=hi,
                                                promise_ids=("quote-24h",)))  # fmt: skip
    tally = audit.promises[0][1]
    store.close()
    got = page["compliance"]
    same = (got["met"], got["breached"], got["open"]) == (tally.met, tally.breached, tally.open)
    assert same, (got, tally)
    return (
        f"\nAfter 1,000 new events: `qmon check` {checked * 1000:.0f} ms (incremental, "
        f"figures updated); the promise page equals the audit as of the check: "
        f"{got['met']} kept, {got['breached']} broken, {got['open']} open — {json.dumps(same)}"
    )


if __name__ == "__main__":
    main()
