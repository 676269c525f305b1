"""Every command through the real command line: results, error paths and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qmon.cli import app
from tests.clihelp import qmon

CONFIG = """\
version: 1
database: sqlite:///qmon.db
timezone: Europe/Amsterdam
calendars:
  office-nl:
    timezone: Europe/Amsterdam
    hours:
      mon-fri: ["09:00-12:30", "13:00-17:00"]
    holidays: [NL]
promises:
  - id: quote-24h
    title: Offerte binnen 24 uur
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
    objective: 95%
    warn_at: 75%
  - id: first-reply-4bh
    title: Eerste reactie binnen 4 werkuren
    phase: after-sales
    start: case.opened
    stop: case.first_response
    pause: case.waiting_on_customer
    resume: case.customer_replied
    within: 4h
    calendar: office-nl
"""

# Local times in Europe/Amsterdam (CET, +01:00) in November 2026; Fri 2026-11-20.
EVENTS = """\
id,occurred_at,type,subject_type,subject_id,owner,channel
q1,2026-11-16T09:00:00+01:00,quote.requested,deal,D-1,anna,email
q2,2026-11-16T17:00:00+01:00,quote.sent,deal,D-1,anna,email
q3,2026-11-17T09:00:00+01:00,quote.requested,deal,D-2,bram,phone
q4,2026-11-18T12:00:00+01:00,quote.sent,deal,D-2,bram,phone
q5,2026-11-23T09:00:00+01:00,quote.requested,deal,D-3,anna,web
c1,2026-11-20T15:00:00+01:00,case.opened,case,C-1,dewi,email
c2,2026-11-23T10:30:00+01:00,case.first_response,case,C-1,dewi,email
c3,2026-11-20T15:00:00+01:00,case.opened,case,C-2,dewi,email
c4,2026-11-23T11:30:00+01:00,case.first_response,case,C-2,dewi,email
"""
AS_OF = "2026-11-24T00:00:00+01:00"


@pytest.fixture
def project(tmp_path: Path, database_url: str, monkeypatch) -> Path:
    """A config and an events file; the store is SQLite or PostgreSQL (QMON_DATABASE_URL)."""
    (tmp_path / "qmon.yaml").write_text(CONFIG)
    (tmp_path / "events.csv").write_text(EVENTS)
    monkeypatch.setenv("QMON_DATABASE_URL", database_url)
    monkeypatch.setenv("QMON_CONFIG", str(tmp_path / "qmon.yaml"))
    return tmp_path


def audit_json(*args: str) -> dict:
    result = qmon("audit", "--as-of", AS_OF, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_import_then_audit(project: Path):
    result = qmon("import", project / "events.csv")
    assert result.exit_code == 0, result.output
    assert "read 9 rows: 9 inserted, 0 updated, 0 unchanged, 0 skipped" in result.stdout
    doc = audit_json("--instances")
    by_id = {p["id"]: p for p in doc["promises"]}
    # D-1 8 h met; D-2 27 h breached; D-3 open 15 h of 24 (at risk from 18 h: not yet)
    assert by_id["quote-24h"] == {
        "id": "quote-24h",
        "phase": "sales",
        "met": 1,
        "breached": 1,
        "open": 1,
        "not_evaluated": 0,
        "compliance": 0.5,
    }
    # C-1: Fri 15-17 (2 h) + Mon 9-10:30 = 3.5 h met; C-2: 4.5 h breached
    assert by_id["first-reply-4bh"]["met"] == 1 and by_id["first-reply-4bh"]["breached"] == 1
    elapsed = {i["subject_id"]: i["elapsed_seconds"] for i in doc["instances"]}
    assert elapsed == {
        "D-1": 28800.0,
        "D-2": 97200.0,
        "D-3": 54000.0,
        "C-1": 12600.0,
        "C-2": 16200.0,
    }
    assert [p["phase"] for p in doc["phases"]] == ["sales", "after-sales"]


def test_import_is_idempotent(project: Path):
    assert qmon("import", project / "events.csv").exit_code == 0
    again = qmon("import", project / "events.csv")
    assert again.exit_code == 0
    assert "read 9 rows: 0 inserted, 0 updated, 9 unchanged, 0 skipped" in again.stdout
    changed = project / "changed.csv"
    changed.write_text(EVENTS.replace("2026-11-18T12:00:00", "2026-11-17T12:00:00"))
    result = qmon("import", changed)
    assert "0 inserted, 1 updated, 8 unchanged" in result.stdout
    assert audit_json()["promises"][0]["met"] == 2


def test_bad_rows_import_nothing_and_are_all_listed(project: Path):
    bad = project / "bad.csv"
    bad.write_text(
        EVENTS + "x1,2026-11-20 09:00,quote.requested,deal,D-9,,\n"
        "x2,2026-11-20T09:00:00Z,quote.requested,deal,,,\n"
    )
    result = qmon("import", bad)
    assert result.exit_code == 2
    assert f"{bad}:11: occurred_at:" in result.stderr
    assert "has no UTC offset" in result.stderr
    assert f"{bad}:12: missing required field 'subject_id'" in result.stderr
    assert "nothing was imported" in result.stderr
    assert audit_json()["promises"][0]["met"] == 0

    skipped = qmon("import", "--skip-invalid", bad)
    assert skipped.exit_code == 2
    assert "9 inserted" in skipped.stdout and "2 skipped" in skipped.stdout
    assert audit_json()["promises"][0]["met"] == 1


def test_assume_timezone_for_naive_timestamps(project: Path):
    naive = project / "naive.jsonl"
    naive.write_text(
        '{"id": "n1", "occurred_at": "2026-07-01T09:00:00", "type": "quote.requested", '
        '"subject_type": "deal", "subject_id": "D-7"}\n'
    )
    assert qmon("import", naive).exit_code == 2
    ok = qmon("import", "--assume-timezone", "Europe/Amsterdam", naive)
    assert ok.exit_code == 0, ok.output
    doc = audit_json("--instances", "--promise", "quote-24h")
    [inst] = [i for i in doc["instances"] if i["subject_id"] == "D-7"]
    assert inst["started_at"] == "2026-07-01T07:00:00Z"  # CEST is UTC+2
    assert qmon("import", "--assume-timezone", "Mars/Olympus", naive).exit_code == 2


def test_conflicting_duplicate_id_in_one_import_is_a_bad_row(project: Path):
    dup = project / "dup.csv"
    dup.write_text(
        EVENTS
        + "q1,2026-11-16T10:00:00+01:00,quote.requested,deal,D-1,anna,email\n"
        + "q2,2026-11-16T17:00:00+01:00,quote.sent,deal,D-1,anna,email\n"
    )
    result = qmon("import", dup)
    assert result.exit_code == 2
    assert f"{dup}:11: id 'q1' appears again with different content (first at line 2)" in (
        result.stderr
    )
    assert ":12:" not in result.stderr  # a verbatim repeat is fine


def test_audit_filters_breakdowns_and_formats(project: Path):
    qmon("import", project / "events.csv")
    doc = audit_json("--from", "2026-11-17", "--to", "2026-11-23", "--promise", "quote-24h")
    assert [(p["id"], p["met"], p["breached"], p["open"]) for p in doc["promises"]] == [
        ("quote-24h", 0, 1, 0)
    ]
    by_owner = audit_json("--by", "owner", "--phase", "sales")["breakdown"]
    assert by_owner["by"] == "owner"
    rows = {
        (r["promise"], r["owner"]): (r["met"], r["breached"], r["open"]) for r in by_owner["rows"]
    }
    assert rows[(None, "anna")] == (1, 0, 1) and rows[("quote-24h", "bram")] == (0, 1, 0)
    weeks = audit_json("--by", "week")["breakdown"]["rows"]
    assert {r["week"] for r in weeks} == {"2026-W47", "2026-W48"}

    csv_out = qmon("audit", "--as-of", AS_OF, "--format", "csv")
    assert csv_out.exit_code == 0
    assert csv_out.stdout.splitlines()[0].startswith("level,phase,promise")
    table = qmon("audit", "--as-of", AS_OF)
    assert "quote-24h" in table.stdout and "50.0 %" in table.stdout


def test_not_evaluated_is_never_100_percent(project: Path):
    doc = audit_json()  # empty store
    assert all(p["compliance"] is None for p in doc["promises"])
    assert "not evaluated" in qmon("audit", "--as-of", AS_OF).stdout


def test_fail_on_miss_exit_code(project: Path):
    qmon("import", project / "events.csv")
    assert qmon("audit", "--as-of", AS_OF, "--fail-on-miss").exit_code == 1
    assert qmon("audit", "--as-of", AS_OF).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--promise", "quote-42h"], "unknown promise 'quote-42h' (did you mean 'quote-24h'?)"),
        (["--phase", "sale"], "unknown phase 'sale' (did you mean 'sales'?)"),
        (["--from", "2026-13-01"], "--from: not a date (YYYY-MM-DD): '2026-13-01'"),
        (["--from", "2026-11-20", "--to", "2026-11-20"], "--to: must be after --from"),
        (["--as-of", "yesterday"], "--as-of: not an ISO-8601 instant: 'yesterday'"),
    ],
)
def test_audit_bad_arguments_exit_2(project: Path, args, message):
    result = qmon("audit", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_explain_shows_the_clock(project: Path):
    qmon("import", project / "events.csv")
    result = qmon("explain", "first-reply-4bh", "C-2", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "breached" in out and "outside hours" in out and "running" in out
    assert "Mon 2026-11-23 11:00:00 CET" in out  # deadline: 2 h Friday + 2 h Monday
    doc = json.loads(
        qmon("explain", "first-reply-4bh", "C-2", "--as-of", AS_OF, "-f", "json").stdout
    )
    [inst] = doc["instances"]
    assert inst["deadline"] == "2026-11-23T10:00:00Z"
    assert sum(s["counted_seconds"] for s in inst["segments"]) == inst["elapsed_seconds"] == 16200
    assert qmon("explain", "nope", "C-2").exit_code == 2


def test_compare_with_shows_the_change(project: Path):
    qmon("import", project / "events.csv")
    other = project / "proposal.yaml"
    other.write_text(CONFIG.replace("within: 24h", "within: 30h"))
    result = qmon("audit", "--as-of", AS_OF, "--compare-with", other, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    quote = next(p for p in doc["promises"] if p["id"] == "quote-24h")
    assert quote["current"]["compliance"] == 0.5 and quote["compared"]["compliance"] == 1.0
    assert quote["change"] == 0.5
    table = qmon("audit", "--as-of", AS_OF, "--compare-with", other)
    assert "+50.0 pt" in table.stdout


def test_promises_validate_and_list(project: Path):
    ok = qmon("promises", "validate")
    assert ok.exit_code == 0 and "2 promise(s)" in ok.stdout
    listed = qmon("promises", "list")
    assert "first-reply-4bh" in listed.stdout and "office-nl" in listed.stdout
    (project / "qmon.yaml").write_text(CONFIG.replace("within: 4h", "withn: 4h"))
    bad = qmon("promises", "validate")
    assert bad.exit_code == 2
    assert "qmon.yaml:26: unknown key 'withn' (did you mean 'within'?)" in bad.stderr


def test_missing_config_is_exit_2(tmp_path: Path):
    result = qmon("--config", tmp_path / "none.yaml", "audit")
    assert result.exit_code == 2
    assert "none.yaml" in result.stderr


def test_unreachable_store_is_exit_3(tmp_path: Path, monkeypatch):
    (tmp_path / "qmon.yaml").write_text(CONFIG)
    monkeypatch.setenv("QMON_DATABASE_URL", "postgresql://u:pw@127.0.0.1:1/x?connect_timeout=2")
    result = qmon("--config", tmp_path / "qmon.yaml", "audit")
    assert result.exit_code == 3
    assert "cannot open the store" in result.stderr and "pw" not in result.stderr


def test_help_explains(tmp_path: Path):
    result = qmon("--help")
    assert result.exit_code == 0 and "Exit codes" in result.stdout
    for cmd in ("import", "audit", "explain", "demo", "promises"):
        assert cmd in result.stdout
    assert "--compare-with" in qmon("audit", "--help").stdout


def _command_paths() -> list[list[str]]:
    from typer.main import get_command

    from qmon.cli import app

    found: list[list[str]] = []

    def walk(command, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def test_every_help_fits_80_columns_and_prints_its_examples_as_written():
    paths = _command_paths()
    assert ["serve", "hash-password"] in paths and len(paths) > 20
    for path in paths:
        shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=80)
        assert shown.exit_code == 0, path
        wide = [line for line in shown.stdout.splitlines() if len(line) > 80]
        assert not wide, (path, wide)
    hashing = CliRunner().invoke(app, ["serve", "hash-password", "--help"], terminal_width=80)
    assert "      serve:\n        users:\n          - {name: anna," in hashing.stdout
    audit = CliRunner().invoke(app, ["audit", "--help"], terminal_width=80)
    example = "      qmon audit --from 2026-07-01 --to 2026-10-01 -p quote-24h --by owner\n"
    assert example in audit.stdout
    assert "\b" not in audit.stdout


def test_demo_runs_end_to_end(tmp_path: Path):
    result = qmon("demo", "--dir", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    assert "Compliance per phase" in result.stdout
    assert "events imported" in result.stdout
    cfg = tmp_path / "demo" / "qmon.yaml"
    again = qmon("--config", cfg, "audit", "--format", "json")
    doc = json.loads(again.stdout)
    phases = {p["phase"] for p in doc["phases"]}
    assert phases == {"pre-sales", "sales", "after-sales", "loyalty"}
    assert all(p["compliance"] is not None for p in doc["promises"])
    assert qmon("demo", "--dir", tmp_path / "demo").exit_code == 0  # re-runnable
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert qmon("demo", "--dir", tmp_path / "mine").exit_code == 2
