"""How long the weekly report takes on a store with years of history.

The demo company (`qmon demo`'s generator) over `--months` of activity is imported into a
fresh SQLite store (and PostgreSQL when QMON_BENCH_POSTGRES_URL is set); then, for the last
complete week, each step of the report is timed (best of three): counting the figures (one
audit over twelve weeks), rendering the text, drawing the charts and rendering the HTML.

    python bench/bench_report.py                # 24 months
    QMON_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python bench/bench_report.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qmon.config import load_config  # noqa: E402
from qmon.demo.generator import generate_events, write_demo  # noqa: E402
from qmon.reports.weekly import build, last_complete_week, render  # noqa: E402
from qmon.store import Store  # noqa: E402
from qmon.timeutil import to_us  # noqa: E402

END = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)


def best(step, runs: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench(url: str, folder: Path, months: int) -> None:
    files = write_demo(folder, end=END, months=months)
    os.environ["QMON_DATABASE_URL"] = url
    config = load_config(files.config_path)
    store = Store.open(url)
    try:
        events = list(generate_events(end=END, months=months))
        start = time.perf_counter()
        store.ingest(events)
        imported = time.perf_counter() - start
        as_of = to_us(END)
        week = last_complete_week(as_of, config.timezone)
        counting, figures = best(lambda: build(config, store, week, as_of))
        text, _ = best(lambda: render(config, figures, charts=False))
        charts, report = best(lambda: render(config, figures))
        html, page = best(lambda: report.html("data"))
    finally:
        store.close()
    name = url.split(":", 1)[0]
    print(
        f"{name:10} {len(events):>9,} events (import {imported:5.1f} s):"
        f" figures {counting:.2f} s,"
        f" text {text:.3f} s, charts {charts:.2f} s ({len(report.charts)} PNGs,"
        f" {sum(len(c.png) for c in report.charts) // 1024} KiB), html {html:.3f} s"
        f" ({len(page) // 1024} KiB with embedded charts)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp) / "sqlite", args.months)
    pg = os.environ.get("QMON_BENCH_POSTGRES_URL")
    if pg:
        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS qmon_bench_report CASCADE")
            conn.execute("CREATE SCHEMA qmon_bench_report")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                sep = "&" if "?" in pg else "?"
                bench(f"{pg}{sep}options=-csearch_path%3Dqmon_bench_report", Path(tmp),
                      args.months)  # fmt: skip
        finally:
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute("DROP SCHEMA qmon_bench_report CASCADE")


if __name__ == "__main__":
    main()
