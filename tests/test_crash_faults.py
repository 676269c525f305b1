"""SIGKILL during `qmon import`, `qmon sync` and `qmon check`, then a rerun: no event lost or
doubled, cursors consistent, no alert lost or posted twice (tests/faults.py has the harness
and says what each kind must keep). Two kill points per kind and database, drawn from fixed
seeds over the duration of a run that was not killed; bench/bench_faults.py runs many more.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import SMALL, FaultHarness, fractions, run_qmon, run_qmon_killed_at_statement

SEEDS = {"import": 5, "sync": 12, "check": 17}  # kill points at 0.62/0.74, 0.47/0.66, 0.52/0.81


@pytest.mark.parametrize("kind", ["import", "sync", "check"])
def test_killed_at_any_moment_and_run_again_it_loses_and_doubles_nothing(
    kind: str, database_url: str, tmp_path: Path
) -> None:
    with FaultHarness(kind, database_url, tmp_path, SMALL) as harness:
        trials = [harness.trial(f) for f in fractions(SEEDS[kind], 2)]
    report = "\n".join(t.line() for t in trials)
    print(f"\nreference run {harness.reference_seconds:.2f} s\n{report}")
    assert all(t.ok for t in trials), report
    assert all(t.rerun_exit == 0 for t in trials), report


def test_a_store_killed_while_it_is_being_created_can_be_used_afterwards(
    database_url: str, tmp_path: Path
) -> None:
    """The first command on an empty store creates its schema (`Store.open`); killed after
    its third CREATE TABLE, the next command must find an empty store, not half a schema
    (which on SQLite, before the migration ran in one transaction, was refused as a store
    'from before migrations' until `qmon db upgrade`)."""
    config = tmp_path / "qmon.yaml"
    config.write_text(f"version: 1\ndatabase: {database_url}\n")
    events = tmp_path / "events.csv"
    events.write_text("id,occurred_at,type,subject_type,subject_id\n"
                      "e-1,2026-11-20T09:00:00Z,quote.requested,deal,D-1\n")  # fmt: skip
    killed = run_qmon_killed_at_statement(
        ["import", str(events)], config, tmp_path, r"^\s*CREATE TABLE", 3
    )
    assert killed.exit == -9, killed.stderr
    again = run_qmon(["import", str(events)], config, tmp_path, None)
    assert again.exit == 0, again.stderr
    assert "1 inserted" in again.stdout
