"""Benchmark: crash faults. `qmon import`, `qmon sync` and `qmon check` SIGKILLed at random
moments, run again, and checked against a run that was never killed.

    python bench/bench_faults.py                       # 50 trials on SQLite, and 50 more on
                                                       # PostgreSQL with QMON_BENCH_POSTGRES_URL
    python bench/bench_faults.py --trials 90 --seed 7 --kinds sync,check

Trial i is of kind i mod 3 (import, sync, check); its kill point is a fraction of the
duration of that kind's reference run, uniform and drawn from `--seed`. After each kill the
harness (tests/faults.py) checks what the kill left, reruns the command to completion and
compares with the reference: every event once and as it should be, cursors that cover what
is stored and a rerun that stores nothing new, every alert once in the ledger and in exactly
one Slack message. It prints a line per trial, then a table per store and kind; it exits 1
if any invariant was broken. PostgreSQL runs in a schema of its own, dropped afterwards.
Run from the project root after `pip install '.[dev]'` (the harness and fakes live in tests/).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults import (  # noqa: E402
    KINDS,
    SMALL,
    FaultHarness,
    Sizes,
    Trial,
    fractions,
    private_schema,
)


def run_store(
    name: str, url: str, folder: Path, kinds: list[str], count: int, seed: int, sizes: Sizes
) -> list[Trial]:
    trials: list[Trial] = []
    with ExitStack() as stack:
        harnesses = {}
        for kind in kinds:
            began = time.perf_counter()
            harness = stack.enter_context(FaultHarness(kind, url, folder / name, sizes))
            harness.reference()
            harnesses[kind] = harness
            print(f"{name} {kind}: reference run {harness.reference_seconds:.2f} s "
                  f"(scenario built in {time.perf_counter() - began:.1f} s)",
                  flush=True)  # fmt: skip
        for n, fraction in enumerate(fractions(seed, count)):
            trial = harnesses[kinds[n % len(kinds)]].trial(fraction)
            trials.append(trial)
            print(f"{n + 1:3} {trial.line()}  ({trial.seconds:.1f} s)", flush=True)
    return trials


def table(trials: list[Trial]) -> list[str]:
    lines = [
        "| store | kind | trials | killed | kill points, ms (min / median / max) "
        "| what the kill left | violations |",
        "|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[Trial]] = {}
    for trial in trials:
        groups.setdefault((trial.database, trial.kind), []).append(trial)
    for (database, kind), group in groups.items():
        points = [t.killed_ms for t in group if t.killed_ms is not None]
        first = len(group) - len(points)
        killed = f"{len(points)}" + (f" ({first} ended first)" if first else "")
        spread = (
            f"{min(points):,.0f} / {statistics.median(points):,.0f} / {max(points):,.0f}"
            if points
            else "-"
        )
        phases = Counter(t.phase for t in group if t.killed_ms is not None)
        left = ", ".join(f"{phase} {n}" for phase, n in phases.most_common())
        broken = sum(len(t.violations) for t in group)
        lines.append(
            f"| {database} | {kind} | {len(group)} | {killed} | {spread} | {left} | {broken} |"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=50, help="trials per store (default 50)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill points (default 1)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="import,sync,check (default all)")
    ap.add_argument("--small", action="store_true", help="the test's smaller scenarios")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        ap.error(f"unknown kind(s) {', '.join(unknown)}; kinds: {', '.join(KINDS)}")
    sizes = SMALL if args.small else Sizes()
    print(f"sizes: {sizes}; seed {args.seed}", flush=True)
    trials: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="qmon-bench-faults-") as tmp:
        folder = Path(tmp)
        stores = [("sqlite", nullcontext(f"sqlite:///{folder / 'faults.db'}"))]
        pg = os.environ.get("QMON_BENCH_POSTGRES_URL")
        if pg:
            stores.append(("postgresql", private_schema(pg)))
        for name, context in stores:
            with context as url:
                trials += run_store(name, url, folder, kinds, args.trials, args.seed, sizes)
    print()
    print("\n".join(table(trials)))
    broken = [t for t in trials if not t.ok]
    print(f"\n{len(trials)} trials, {len(broken)} with a broken invariant")
    for trial in broken:
        print(f"  {trial.line()}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
