"""`qmon sync` and `qmon sources check`: what they say before any CRM is involved.

The syncs themselves are tested per CRM (tests/test_salesforce_*.py, tests/test_hubspot_*.py)
and in the shared conformance suite (tests/test_connector_conformance.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clihelp import qmon


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "qmon.yaml"
    path.write_text(f"version: 1\ndatabase: sqlite:///{tmp_path / 'q.db'}\n")
    return path


@pytest.mark.parametrize("command", [["sync"], ["sources", "check"]])
def test_without_sources_it_says_what_to_add(config: Path, command: list[str]) -> None:
    result = qmon("--config", config, *command)
    assert result.exit_code == 2
    assert "has no `sources:` section" in result.stderr


def test_an_unknown_source_or_contradicting_options_are_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"version: 1\ndatabase: sqlite:///{tmp_path / 'q.db'}\n"
        "sources:\n  hubspot:\n    access_token: pat-x\n"
    )
    result = qmon("--config", path, "sync", "--source", "salesforce")
    assert result.exit_code == 2 and "unknown source 'salesforce'" in result.stderr
    result = qmon("--config", path, "sync", "--full", "--since", "2026-01-01")
    assert result.exit_code == 2 and "either --full or --since" in result.stderr
    result = qmon("--config", path, "sync", "--since", "yesterday")
    assert result.exit_code == 2 and "not a date" in result.stderr


def test_help_explains_the_commands() -> None:
    result = qmon("sync", "--help")
    assert result.exit_code == 0
    assert "--since" in result.stdout and "Exit codes" in result.stdout
    result = qmon("sources", "check", "--help")
    assert result.exit_code == 0 and "permissions" in result.stdout
