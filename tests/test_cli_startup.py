"""`qmon --help` and `qmon promises validate` import only what they use.

Which modules a real `qmon` process imported is deterministic, unlike its start-up time
(that is measured in bench/bench_startup.py): the store (SQLAlchemy), the charts
(matplotlib), the CRM connectors and Slack are imported inside the commands that use them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Module prefixes these commands must not import.
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "psycopg",
    "matplotlib",
    "jinja2",
    "slack_sdk",
    "httpx",
    "simple_salesforce",
    "hubspot",
    "apscheduler",
    "prometheus_client",
    "qmon.store",
    "qmon.connectors.salesforce",
    "qmon.connectors.hubspot",
    "qmon.connectors.files",
    "qmon.alerts",
    "qmon.reports",
    "holidays.countries",
)

#: Runs the console script's `main` as `qmon ARGS` would, then lists sys.modules.
PROBE = """
import json, sys
from qmon.cli import main
sys.argv = ["qmon", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\n" + json.dumps(sorted(sys.modules)))
"""


def _imported(*args: str, **env_vars: str) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMON_")} | env_vars
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = json.loads(done.stderr.rsplit("\n", 1)[-1])
    return done.returncode, modules


#: Light modules under a heavy prefix: the table style every command shares.
LIGHT = ("qmon.reports", "qmon.reports.tables")


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules
            if m not in LIGHT and any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize(
    "args",
    [("--help",), ("promises", "validate"), ("promises", "--help"), ("audit", "--help")],
    ids=" ".join,
)
def test_light_commands_import_no_heavy_module(args: tuple[str, ...]) -> None:
    code, modules = _imported(*args)
    assert code == 0
    assert "qmon.cli" in modules
    assert _heavy(modules) == []


@pytest.mark.parametrize("args", [("--help",), ("audit", "--help")], ids=" ".join)
def test_help_is_plain_text_without_rich(args: tuple[str, ...]) -> None:
    """Help is click's plain text (qmon.cli.helptext): typer's rich rendering would import
    rich's markdown, syntax and traceback modules, about 80 ms of every `qmon --help`."""
    code, modules = _imported(*args)
    assert code == 0
    assert [m for m in modules if m.split(".")[0] in ("rich", "markdown_it", "pygments")] == []


def test_validate_reads_the_config() -> None:
    """The probe sees a real validation: the config loader ran, on the project's config."""
    code, modules = _imported("promises", "validate")
    assert code == 0
    assert "qmon.config.loader" in modules


def test_the_probe_sees_heavy_modules_when_a_command_uses_them(tmp_path: Path) -> None:
    code, modules = _imported("promises", "list")
    assert code == 0
    assert "qmon.store" not in modules
    code, modules = _imported("db", "current", QMON_DATABASE_URL=f"sqlite:///{tmp_path}/q.db")
    assert code == 0
    assert "sqlalchemy" in modules
    assert "qmon.store" in modules
