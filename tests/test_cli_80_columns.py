"""Every table qmon prints reads well at 80 columns, the width of many terminals and pipes.

Real `qmon` processes with COLUMNS=80 on the demo company's data: no line is wider than 80,
nothing is cut with an ellipsis, and no value (an id, a count, a description) is spread
over more than two lines.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

WIDTH = 80


def _qmon(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMON_")}
    env["COLUMNS"] = str(WIDTH)
    done = subprocess.run(["qmon", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo80")
    _qmon("demo", "--dir", "d", "--months", "2", cwd=root)
    return root


def _ids(config: Path) -> list[str]:
    return [p["id"] for p in yaml.safe_load(config.read_text())["promises"]]


def _assert_fits(output: str, values: list[str]) -> None:
    lines = output.splitlines()
    too_wide = [line for line in lines if len(line) > WIDTH]
    assert too_wide == []
    assert "…" not in output
    for value in values:
        words = value.split()
        starts = [i for i, line in enumerate(lines) if words[0] in line.split()]
        assert starts, f"{value!r} not shown"
        # Some line where the value starts holds it whole, or it and the next line do.
        assert any(" ".join(" ".join(lines[i:i + 2]).split()).count(" ".join(words))
                   for i in starts), f"{value!r} is cut into more than two lines"  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ("audit",),
        ("audit", "--by", "owner"),
        ("audit", "--by", "target"),
        ("promises", "list"),
        ("status",),
        ("actions", "list"),
        ("check", "--dry-run"),
    ],
    ids=" ".join,
)
def test_output_fits_80_columns(demo: Path, args: tuple[str, ...]) -> None:
    config = demo / "d" / "qmon.yaml"
    output = _qmon("--config", config, *args, cwd=demo)
    values = _ids(config) if args[0] in ("audit", "promises") else []
    if args[0] == "actions":
        values = ["quote-24h", "corrective",
                  "Offertesjablonen in het CRM en dagelijkse controle op openstaande aanvragen"]
    _assert_fits(output, values)


def test_wide_adds_phase_and_title(demo: Path) -> None:
    config = demo / "d" / "qmon.yaml"
    word = "binnen"  # in most of the demo's (Dutch) titles

    def header(output: str) -> str:
        return next(line for line in output.splitlines() if line.startswith("promise "))

    narrow = _qmon("--config", config, "audit", cwd=demo)
    assert "phase" not in header(narrow).split()
    assert word not in narrow.split()
    wide = _qmon("--config", config, "audit", "--wide", cwd=demo)
    assert "phase" in header(wide).split()
    assert word in wide.split()
