"""Running the real `qmon` command line in-process, the way a user types it."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

os.environ.setdefault("COLUMNS", "200")  # rich reads it when qmon.cli creates its consoles

from qmon.cli import app  # noqa: E402


def qmon(*args: str | Path, env: dict[str, str] | None = None):
    """Invoke `qmon ARGS...`; returns the result with exit_code, stdout and stderr."""
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], env=env)
