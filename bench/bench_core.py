"""Benchmark: `qmon import` and `qmon audit` against raw executemany and hand-written SQL.

    python bench/bench_core.py                       # 1M events, SQLite (+ PostgreSQL if
                                                     # QMON_BENCH_POSTGRES_URL is set)
    python bench/bench_core.py --events 10000000 --only audit-memory
    QMON_BENCH_POSTGRES_URL=... python bench/bench_core.py --events 10000000 --only scale

Measured side by side, in one run, on the same rows and the same database files:
- import: `qmon.ingest.import_files` (what `qmon import` runs: parse, validate, upsert)
  against `executemany` of the same rows, already parsed, into the same table and indexes;
- audit: `qmon.reports.audit.run_audit` for the 24-hour wall-clock promise against the
  hand-written window query in `bench/window_sql.py` (their counts must agree);
- peak memory (max RSS) of a `qmon audit` process over the store;
- `--only scale` (PostgreSQL): the same import, audit and memory at scale in a schema kept
  between runs (`bench_scale_<events>`), and a `qmon check` before and after 1,000 new events.
Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import astuple
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from synthetic import write_events  # noqa: E402
from window_sql import counts as sql_counts  # noqa: E402

from qmon.config import load_config  # noqa: E402
from qmon.ingest import import_files  # noqa: E402
from qmon.reports.audit import AuditQuery, run_audit  # noqa: E402
from qmon.store import Store  # noqa: E402
from qmon.timeutil import to_us  # noqa: E402

AS_OF = "2026-11-01T00:00:00+00:00"
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
  - id: quote-segmented
    title: Quote per priority, for e-mail and web requests
    phase: sales
    start: quote.requested
    stop: quote.sent
    when: {{channel: [email, web]}}
    targets:
      - {{when: {{priority: urgent}}, within: 4h}}
      - {{when: {{priority: high}}, within: 12h}}
      - {{within: 24h}}
  - id: quote-by-priority
    title: Quote per priority, the when on the record's own attribute
    phase: sales
    start: quote.requested
    stop: quote.sent
    when: {{priority: {{not: low}}}}
    targets:
      - {{when: {{priority: urgent}}, within: 4h}}
      - {{when: {{priority: high}}, within: 12h}}
      - {{within: 24h}}
"""


def parsed_rows(csv_path: Path) -> list[tuple]:
    """The file's rows as the store's tuples, parsed outside any timing (baseline input)."""
    rows = []
    with csv_path.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for eid, at, typ, st, sid, acct, owner, chan, priority in reader:
            us = to_us(datetime.fromisoformat(at))
            attrs = json.dumps({"priority": priority}) if priority else None
            rows.append(("file", eid, us, typ, st, sid, acct, owner, chan, None, attrs))
    return rows


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def best_of(n: int, fn):
    runs = [timed(fn) for _ in range(n)]
    return min(t for t, _ in runs), runs[-1][1]


def write_config(out: Path, name: str, url: str) -> Path:
    path = out / f"{name}.yaml"
    path.write_text(CONFIG.format(url=url))
    return path


def bench_import(kind: str, url_for, csv_path: Path, rows: list[tuple]) -> dict:
    """qmon import vs raw executemany, each into a fresh, identical store."""
    baseline_url = url_for("baseline")
    store = Store.open(baseline_url)
    raw = store.engine.raw_connection()
    sql = (
        "INSERT INTO events (source, event_id, occurred_us, type, subject_type, subject_id, "
        "account, owner, channel, link, attributes) VALUES "
    )
    if kind == "sqlite":
        sql += "(" + ", ".join("?" * 11) + ")"
    else:
        sql += "(" + ", ".join(["%s"] * 11) + ")"

    def baseline():
        cur = raw.cursor()
        cur.executemany(sql, rows)
        raw.commit()

    t_base, _ = timed(baseline)
    raw.close()
    store.close()

    qmon_url = url_for("qmon")
    store = Store.open(qmon_url)
    t_qmon, summary = timed(lambda: import_files(store, [csv_path]))
    store.close()
    assert summary.inserted == len(rows), summary
    return {"baseline_s": t_base, "qmon_s": t_qmon, "url": qmon_url}


def bench_audit(kind: str, url: str, out: Path) -> dict:
    """run_audit for the 24 h promise vs the hand-written window query; counts must agree."""
    config = load_config(write_config(out, f"audit-{kind}", url))
    promise = config.promises[0]
    as_of = to_us(datetime.fromisoformat(AS_OF))
    store = Store.open(url)
    raw = store.engine.raw_connection()
    cur = raw.cursor()
    style = "qmark" if kind == "sqlite" else "pyformat"
    # Best of three for the window query (the audits below best of five): one run of under a
    # second is at the mercy of the machine.
    t_sql, expected = best_of(
        3, lambda: sql_counts(cur, style, "quote.requested", "quote.sent", as_of, promise.within_us)
    )
    raw.close()
    # The plain promise and the same promise with a `when` and three targets (the general
    # path), in interleaved rounds, best of five each: a busy moment then slows all alike
    # instead of skewing one side of the ratio.
    ids = ("quote-24h", "quote-segmented", "quote-by-priority")
    best = dict.fromkeys(ids, float("inf"))
    found = {}
    for _ in range(5):
        for pid in ids:
            query = AuditQuery(as_of_us=as_of, promise_ids=(pid,))
            seconds, found[pid] = timed(lambda query=query: run_audit(config, store, query))
            best[pid] = min(best[pid], seconds)
    tally = found["quote-24h"].promises[0][1]
    got = (tally.met, tally.breached, tally.open)
    assert got == expected, f"qmon {got} != SQL {expected}"
    general = {pid: (best[pid], sum(astuple(found[pid].promises[0][1])[:3])) for pid in ids[1:]}
    store.close()
    return {"sql_s": t_sql, "qmon_s": best["quote-24h"], "counts": got, "general": general}


_MEASURE = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def audit_peak_rss(config_path: Path, *extra: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a whole `qmon audit` process (`extra` arguments).

    Measured by a small intermediate interpreter: a child forked straight from this
    (large) benchmark process would report this process's memory as its own peak.
    """
    cmd = [
        sys.executable,
        "-m",
        "qmon",
        "--config",
        str(config_path),
        "audit",
        "--as-of",
        AS_OF,
        "--format",
        "json",
        *extra,
    ]
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cmd],
        check=True,
        cwd=HERE.parent,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), int(out[1]) / 1024


def duckdb_seconds(csv_path: Path) -> tuple[float, tuple[int, int, int]] | None:
    """The window query for quote-24h in DuckDB over the same rows, loaded in memory first
    (best of three, query only), or None without the `duckdb` package (`pip install
    '.[bench]'`): a columnar engine as the yardstick for a whole `qmon audit` process."""
    try:
        import duckdb
    except ImportError:
        return None
    from window_sql import WINDOW_SQL

    db = duckdb.connect()
    db.execute(
        "CREATE TABLE events AS SELECT subject_type, subject_id, type,"
        " epoch_us(CAST(occurred_at AS TIMESTAMPTZ)) AS occurred_us"
        f" FROM read_csv('{csv_path}', header = true, all_varchar = true)"
    )
    sql = WINDOW_SQL.format(start="$start", stop="$stop", as_of="$as_of", within="$within")
    params = {"start": "quote.requested", "stop": "quote.sent",
              "as_of": to_us(datetime.fromisoformat(AS_OF)), "within": 24 * 3_600_000_000}
    seconds, row = best_of(3, lambda: db.execute(sql, params).fetchone())
    db.close()
    return seconds, tuple(int(v or 0) for v in row)  # type: ignore[return-value]


def pg_url_factory(base: str):
    import psycopg

    made: list[str] = []

    def url_for(name: str) -> str:
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        made.append(schema)
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"

    def cleanup() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in made:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    return url_for, cleanup


def bench_scale(base: str, events: int, csv_path: Path, out: Path) -> None:
    """Import (once, kept), audit vs window SQL, whole-process memory and check on PostgreSQL."""
    import psycopg

    schema = f"bench_scale_{events}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    store = Store.open(url)
    print("| step | qmon | baseline | qmon / baseline |")
    print("|---|---|---|---|")
    if store.count_events() == 0:
        t, summary = timed(lambda: import_files(store, [csv_path]))
        print(f"| import {summary.inserted:,} events (COPY) | {t:.0f} s | | |", flush=True)
    aud = bench_audit("postgresql", url, out)
    print(
        f"| audit quote-24h ({sum(aud['counts']):,} instances) | {aud['qmon_s']:.2f} s | "
        f"{aud['sql_s']:.2f} s (window SQL) | {aud['qmon_s'] / aud['sql_s']:.2f}x |",
        flush=True,
    )
    wall, rss = audit_peak_rss(write_config(out, "scale", url))
    print(f"| whole `qmon audit` process | {wall:.1f} s, peak RSS {rss:.0f} MiB | | |", flush=True)
    bench_check(store, url, out)
    store.close()


def bench_check(store: Store, url: str, out: Path) -> None:
    """`qmon check` as the agent runs it (recording, to the fake Slack): the first check
    evaluates everything and writes the incremental state; then three rounds of 1,000 new
    events and a check five minutes later, which evaluates what changed or woke."""
    from qmon.alerts.check import run_check
    from qmon.events import Event
    from tests.fakes.slack import FakeSlack

    with FakeSlack(retry_after=0) as slack:
        slack.add_channel("kwaliteit")
        path = write_config(out, "check", url)
        path.write_text(path.read_text() + (
            f"notify:\n  slack: {{token: {slack.token}, channel: '#kwaliteit',"
            f" base_url: '{slack.base_url}'}}\n"))  # fmt: skip
        config = load_config(path)
        as_of = to_us(datetime.fromisoformat(AS_OF))
        events = store.count_events()
        t_full, first = timed(lambda: run_check(config, store, as_of, full=True))
        print(f"| first `qmon check` on {events:,} events (evaluates all) | {t_full:.2f} s "
              f"({len(first.found):,} alerts) | | |", flush=True)  # fmt: skip
        rounds = []
        for round_ in range(3):
            tag = uuid.uuid4().hex[:6]
            start = as_of + round_ * 300_000_000
            store.ingest(
                Event("bench", f"new-{tag}-{i}", start + i * 300_000, "quote.requested",
                      "deal", f"NEW-{tag}-{i}")
                for i in range(1000)
            )  # fmt: skip
            rounds.append(timed(lambda s=start: run_check(config, store, s + 300_000_000)))
        times = sorted(t for t, _ in rounds)
        print(f"| `qmon check` 5 min and 1,000 new events later (3 rounds) | {times[0]:.2f} s"
              f" to {times[-1]:.2f} s | | |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--postgres", default=os.environ.get("QMON_BENCH_POSTGRES_URL"))
    ap.add_argument("--only", choices=["all", "audit-memory", "scale"], default="all")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    csv_path = out / f"events-{args.events}-v2.csv"  # v2: quote requests carry a priority
    if not csv_path.exists():
        t, n = timed(lambda: write_events(csv_path, args.events))
        print(f"generated {n:,} events in {t:.1f} s -> {csv_path}", file=sys.stderr)

    if args.only == "audit-memory":
        db = out / f"memory-{args.events}.db"
        url = f"sqlite:///{db}"
        if not db.exists():
            store = Store.open(url)
            t, _ = timed(lambda: import_files(store, [csv_path]))
            store.close()
            print(f"imported in {t:.1f} s", file=sys.stderr)
        wall, rss = audit_peak_rss(write_config(out, "memory", url))
        print(
            f"| {args.events:,} events, SQLite | `qmon audit` (all promises) | {wall:.1f} s | "
            f"peak RSS {rss:.0f} MiB |"
        )
        return

    if args.only == "scale":
        if not args.postgres:
            sys.exit("--only scale needs QMON_BENCH_POSTGRES_URL or --postgres")
        bench_scale(args.postgres, args.events, csv_path, out)
        return

    rows = parsed_rows(csv_path)
    print("| store | step | qmon | baseline | qmon / baseline |")
    print("|---|---|---|---|---|")
    kinds = [("sqlite", None)]
    if args.postgres:
        kinds.append(("postgresql", args.postgres))
    for kind, base in kinds:
        if kind == "sqlite":
            tag = uuid.uuid4().hex[:6]

            def url_for(name: str, tag=tag) -> str:
                return f"sqlite:///{out / f'{name}-{tag}.db'}"

            cleanup = lambda tag=tag: [p.unlink() for p in out.glob(f"*-{tag}.db*")]  # noqa: E731
        else:
            url_for, cleanup = pg_url_factory(base)
        try:
            imp = bench_import(kind, url_for, csv_path, rows)
            print(
                f"| {kind} | import {len(rows):,} events | {imp['qmon_s']:.1f} s | "
                f"{imp['baseline_s']:.1f} s (executemany) | "
                f"{imp['qmon_s'] / imp['baseline_s']:.2f}x |",
                flush=True,
            )
            aud = bench_audit(kind, imp["url"], out)
            print(
                f"| {kind} | audit quote-24h ({sum(aud['counts']):,} instances) | "
                f"{aud['qmon_s']:.2f} s | {aud['sql_s']:.2f} s (window SQL) | "
                f"{aud['qmon_s'] / aud['sql_s']:.2f}x |",
                flush=True,
            )
            for pid, (t_gen, n) in aud["general"].items():
                what = "when on channel" if pid == "quote-segmented" else "when on priority"
                print(
                    f"| {kind} | audit {pid} ({what}, 3 targets, {n:,} instances) | "
                    f"{t_gen:.2f} s | {aud['qmon_s']:.2f} s (quote-24h, plain within) | "
                    f"{t_gen / aud['qmon_s']:.2f}x |",
                    flush=True,
                )
            if kind == "sqlite":
                wall, rss = audit_peak_rss(write_config(out, "rss", imp["url"]))
                print(
                    f"| {kind} | whole `qmon audit` process (all three promises) | {wall:.2f} s, "
                    f"peak RSS {rss:.0f} MiB | | |",
                    flush=True,
                )
                duck = duckdb_seconds(csv_path)
                one, _ = audit_peak_rss(write_config(out, "one", imp["url"]), "--promise",
                                        "quote-24h")  # fmt: skip
                if duck is not None:
                    assert duck[1] == aud["counts"], f"DuckDB {duck[1]} != qmon {aud['counts']}"
                    print(
                        f"| {kind} | whole `qmon audit --promise quote-24h` process | "
                        f"{one:.2f} s | {duck[0]:.2f} s (DuckDB window query, loaded) | "
                        f"{one / duck[0]:.1f}x |",
                        flush=True,
                    )
        finally:
            cleanup()


if __name__ == "__main__":
    main()
