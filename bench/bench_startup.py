"""Start-up of the `qmon` command line, side by side with a bare interpreter.

    python bench/bench_startup.py [--runs 15]

Each command runs as a real process `--runs` times; the best and the median wall-clock time
are shown next to `python -c pass`, the floor any Python program pays. `qmon audit` runs on a
small store (the demo company's month, written to bench/out/startup/ once), so that its time
is mostly start-up. Which modules each command imports is checked, deterministically, by
tests/test_cli_startup.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "startup"


def _qmon() -> list[str]:
    """This interpreter's `qmon` script (a version manager's shim on PATH, like pyenv's, would
    add its own start-up), else the first on PATH, else `python -m qmon`."""
    beside = Path(sys.executable).with_name("qmon")
    found = str(beside) if beside.exists() else shutil.which("qmon")
    return [found] if found else [sys.executable, "-m", "qmon"]


def _time(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=True)  # warm caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMON_")}
    qmon = _qmon()
    demo = OUT / "demo"
    if not (demo / "qmon.db").exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run([*qmon, "demo", "--dir", str(demo), "--months", "1"], env=env,
                       stdout=subprocess.DEVNULL, check=True)  # fmt: skip
    cases = [
        ("baseline: python -c pass", [sys.executable, "-c", "pass"]),
        ("qmon --help", [*qmon, "--help"]),
        ("qmon promises validate (config/qmon.yaml)", [*qmon, "promises", "validate"]),
        ("qmon audit (demo, 1 month)", [*qmon, "--config", str(demo / "qmon.yaml"), "audit"]),
    ]
    print(f"{os.cpu_count()} cores; best and median of {runs} runs, wall clock\n")
    print("| command | best | median | best − baseline |\n|---|---|---|---|")
    base = None
    for name, argv in cases:
        times = _time(argv, runs, env)
        best = min(times)
        base = best if base is None else base
        print(f"| {name} | {best:.3f} s | {statistics.median(times):.3f} s | "
              f"{best - base:+.3f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
