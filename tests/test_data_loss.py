"""Data that must never be lost (issue 14), on SQLite and PostgreSQL: a purge date in the
future is refused and the purge date is shown and can be lowered; an instant, a day or a
duration outside what qmon stores is refused where it enters, and one already stored makes
no reader crash; a NUL or a lone surrogate is one bad row; two imports at once count right;
`explain` of a subject without events, `--out` on a full disk, an SMTP refusal."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from qmon.connectors.base import RecordChange
from qmon.events import Event
from qmon.store import Store
from tests.clihelp import qmon

EVENTS = """id,occurred_at,type,subject_type,subject_id
e-1,2026-11-20T09:00:00Z,quote.requested,deal,D-1
e-2,2026-11-20T10:00:00Z,quote.sent,deal,D-1
"""
#: 0001-01-01T00:00:00+05:00 and 9999-12-31T23:59:59-05:00: what an old qmon stored.
OUT_OF_RANGE_US = (-62135614800000000, 253402318799000000)
RANGE = "(1900-01-01 to 2999-12-31, UTC)"


def _setup(tmp_path: Path, database_url: str, promises: str = "") -> Path:
    config = tmp_path / "qmon.yaml"
    config.write_text(
        f"version: 1\ndatabase: {database_url}\ntimezone: Europe/Amsterdam\npromises:\n"
        "  - {id: quote-24h, title: Q, phase: sales, start: quote.requested, stop: quote.sent,"
        " within: 24h}\n" + promises
    )
    (tmp_path / "events.csv").write_text(EVENTS)
    assert qmon("--config", config, "import", tmp_path / "events.csv").exit_code == 0
    return config


def _run(config: Path, *args: str | Path):
    result = qmon("--config", config, *args)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    return result, output


def _count(database_url: str, sql: str = "SELECT count(*) FROM events") -> int:
    store = Store.open(database_url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        store.close()


# --- The purge date --------------------------------------------------------------------


@pytest.mark.parametrize("before, message", [
    ("2999-01-01", "--before: 2999-01-01 is in the future: a purge would remove every event"),
    ("0001-01-01", f"--before: 0001-01-01 is outside the dates qmon stores {RANGE}"),
    ("1899-12-31", f"--before: 1899-12-31 is outside the dates qmon stores {RANGE}"),
])  # fmt: skip
def test_a_purge_date_in_the_future_or_out_of_range_is_refused_and_changes_nothing(
    tmp_path: Path, database_url: str, before: str, message: str
) -> None:
    config = _setup(tmp_path, database_url)
    result, output = _run(config, "purge", "--before", before, "--yes")
    assert result.exit_code == 2, output
    assert output.strip() == message + (
        " and refuse every later import of them" if "future" in message else ""
    )
    assert _count(database_url) == 2
    status = json.loads(_run(config, "status", "--format", "json")[0].stdout)
    assert status["purged_before"] is None


def test_the_purge_date_is_shown_and_can_be_lowered_or_removed(
    tmp_path: Path, database_url: str
) -> None:
    config = _setup(tmp_path, database_url)
    result, output = _run(config, "purge", "--before", "2026-11-21", "--yes")
    assert result.exit_code == 0, output
    assert _count(database_url) == 0
    status = json.loads(_run(config, "status", "--format", "json")[0].stdout)
    assert status["purged_before"] == "2026-11-20T23:00:00Z"
    table = _run(config, "status")[0].stdout
    assert "purged before: 2026-11-20T23:00:00Z" in " ".join(table.split())
    # A re-import is refused as older than the purge date...
    again = _run(config, "import", tmp_path / "events.csv")[0].stdout
    assert "0 inserted" in again
    # ...until the date is lowered: that brings nothing back by itself, a later import does.
    raised, output = _run(config, "purge", "--reset-cut", "--before", "2027-01-01")
    assert raised.exit_code == 2
    assert "--before: 2027-01-01 is later than the purge date 2026-11-20T23:00:00Z" in output
    lowered, output = _run(config, "purge", "--reset-cut", "--before", "2026-11-20")
    assert lowered.exit_code == 0, output
    assert "purge date 2026-11-20T23:00:00Z lowered to 2026-11-19T23:00:00Z" in output
    assert "nothing was deleted and nothing comes back" in " ".join(output.split())
    assert _count(database_url) == 0
    assert "2 inserted" in _run(config, "import", tmp_path / "events.csv")[0].stdout
    removed, output = _run(config, "purge", "--reset-cut")
    assert removed.exit_code == 0 and "purge date 2026-11-19T23:00:00Z removed" in output
    status = json.loads(_run(config, "status", "--format", "json")[0].stdout)
    assert status["purged_before"] is None
    assert "there is no purge date" in _run(config, "purge", "--reset-cut")[1]


# --- Instants, days and durations out of range -------------------------------------------


def test_an_instant_out_of_range_is_refused_at_import_with_its_line(
    tmp_path: Path, database_url: str
) -> None:
    config = _setup(tmp_path, database_url)
    (tmp_path / "far.jsonl").write_text("".join(
        json.dumps({"id": f"f-{i}", "occurred_at": at, "type": "quote.requested",
                    "subject_type": "deal", "subject_id": "D-9"}) + "\n"
        for i, at in enumerate(("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
                                "2999-12-31T23:59:59Z"))
    ))  # fmt: skip
    result, output = _run(config, "import", tmp_path / "far.jsonl")
    assert result.exit_code == 2, output
    assert (f"far.jsonl:1: occurred_at: '0001-01-01T00:00:00+05:00' is outside the instants "
            f"qmon stores {RANGE}") in output  # fmt: skip
    assert "far.jsonl:2: occurred_at: '9999-12-31T23:59:59-05:00' is outside" in output
    assert "far.jsonl:3" not in output
    assert _count(database_url) == 2


def _store_out_of_range(database_url: str) -> None:
    """Rows an older qmon let in: an event at each end, and an action dated 9999-12-31."""
    store = Store.open(database_url)
    with store.engine.begin() as conn:
        for number, at in enumerate(OUT_OF_RANGE_US):
            conn.execute(text(
                "INSERT INTO events (source, event_id, occurred_us, type, subject_type,"
                " subject_id) VALUES ('file', :e, :t, 'quote.requested', 'deal', :s)"
            ), {"e": f"old-{number}", "t": at, "s": f"D-{8 + number}"})  # fmt: skip
        conn.execute(text(
            "INSERT INTO actions (promise_id, kind, description, day, created_us)"
            " VALUES ('quote-24h', 'corrective', 'from an old qmon', '9999-12-31', 0)"
        ))  # fmt: skip
    store.close()


def test_readers_skip_what_an_old_store_holds_out_of_range_with_a_warning(
    tmp_path: Path, database_url: str
) -> None:
    config = _setup(tmp_path, database_url)
    _store_out_of_range(database_url)
    as_of = ("--as-of", "2026-12-01T00:00:00Z")
    audit, output = _run(config, "audit", "--instances", "--format", "json", *as_of)
    assert audit.exit_code == 0, output
    assert [i["subject_id"] for i in json.loads(audit.stdout)["instances"]] == ["D-1"]
    for subject in ("D-8", "D-9"):
        explain, output = _run(config, "explain", "quote-24h", subject, *as_of)
        assert explain.exit_code == 0, output
        assert (f"warning: 1 stored event(s) of '{subject}' are outside the instants qmon "
                f"stores {RANGE} and are left out") in output  # fmt: skip
        assert "No instances of this promise" in output
    status = json.loads(_run(config, "status", "--format", "json")[0].stdout)
    assert status["events_out_of_range"] == 2
    listed, output = _run(config, "actions", "list")
    assert listed.exit_code == 0, output
    assert ("warning: action 1 is dated '9999-12-31', outside the dates qmon stores "
            f"{RANGE}; it is left out (qmon actions remove 1)") in output  # fmt: skip
    weekly, output = _run(config, "report", "weekly", "--week", "2026-W47", *as_of)
    assert weekly.exit_code == 0, output
    assert _run(config, "check", "--dry-run", *as_of)[0].exit_code == 0
    removed, output = _run(config, "actions", "remove", "1")
    assert removed.exit_code == 0 and "action 1 removed" in output
    assert "warning" not in _run(config, "actions", "list")[1]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "3000-01-01"])
def test_an_action_dated_out_of_range_is_refused(
    tmp_path: Path, database_url: str, day: str
) -> None:
    config = _setup(tmp_path, database_url)
    result, output = _run(config, "actions", "add", "quote-24h", "x", "--kind", "corrective",
                          "--date", day)  # fmt: skip
    assert result.exit_code == 2
    assert output.strip() == f"--date: {day} is outside the dates qmon stores {RANGE}"
    assert _count(database_url, "SELECT count(*) FROM actions") == 0


def test_actions_remove_takes_the_id_actions_list_shows(tmp_path: Path, database_url: str):
    config = _setup(tmp_path, database_url)
    for what in ("first", "second"):
        _run(config, "actions", "add", "quote-24h", what, "--kind", "recovery",
             "--date", "2026-11-02")  # fmt: skip
    listed = json.loads(_run(config, "actions", "list", "--format", "json")[0].stdout)
    assert [(a["id"], a["description"]) for a in listed] == [(1, "first"), (2, "second")]
    assert _run(config, "actions", "remove", "1")[0].exit_code == 0
    missing, output = _run(config, "actions", "remove", "1")
    assert missing.exit_code == 2
    assert output.strip() == "ACTION_ID: there is no action 1 (qmon actions list)"
    listed = json.loads(_run(config, "actions", "list", "--format", "json")[0].stdout)
    assert [a["id"] for a in listed] == [2]


# --- NUL bytes and lone surrogates ----------------------------------------------------------

BAD_TEXT = {
    "a NUL in a JSON value": (
        "bad.jsonl",
        '{"id": "n-1", "occurred_at": "2026-11-20T09:00:00Z", "type": "quote.requested", '
        '"subject_type": "deal", "subject_id": "D-\\u0000x"}\n',
        "bad.jsonl:1: field 'subject_id' holds a NUL character (U+0000), which is not text",
    ),
    "a lone surrogate in a JSON value": (
        "bad.jsonl",
        '{"id": "n-1", "occurred_at": "2026-11-20T09:00:00Z", "type": "quote.requested", '
        '"subject_type": "deal", "subject_id": "D-3", "owner": "an\\ud800"}\n',
        "bad.jsonl:1: field 'owner' holds a lone surrogate (U+D800), which is not text",
    ),
    "a NUL byte in a CSV cell": (
        "bad.csv",
        "id,occurred_at,type,subject_type,subject_id,channel\n"
        "n-1,2026-11-20T09:00:00Z,quote.requested,deal,D-3,e\0mail\n",
        "bad.csv:2: field 'channel' holds a NUL character (U+0000), which is not text",
    ),
}


@pytest.mark.parametrize("name, content, message", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_a_nul_or_a_lone_surrogate_is_a_bad_row_on_either_store(
    tmp_path: Path, database_url: str, name: str, content: str, message: str
) -> None:
    config = _setup(tmp_path, database_url)
    (tmp_path / name).write_bytes(content.encode())
    result, output = _run(config, "import", tmp_path / name)
    assert result.exit_code == 2, output
    assert message in output
    skipped, output = _run(config, "import", "--skip-invalid", tmp_path / name)
    assert skipped.exit_code == 2 and message in output
    assert "0 inserted" in output and "1 skipped" in output
    assert _count(database_url) == 2


def test_a_crm_value_with_a_nul_or_a_lone_surrogate_is_stored_cleaned(database_url: str):
    store = Store.open(database_url)
    try:
        event = Event("hubspot", "tickets/1/opened", 1_790_000_000_000_000, "case.opened",
                      "case", "T-\x001", owner="an\ud800na", attributes={"stage": "x\ud800"},
                      record="tickets/1")  # fmt: skip
        store.apply_page("hubspot", "tickets", [RecordChange("tickets/1", [event])], None)
        again = store.apply_page("hubspot", "tickets", [RecordChange("tickets/1", [event])],
                                 None)  # fmt: skip
        with store.engine.connect() as conn:
            row = conn.execute(text("SELECT subject_id, owner, attributes FROM events")).one()
    finally:
        store.close()
    assert tuple(row) == ("T-1", "an\ufffdna", '{"stage": "x\ufffd"}')
    assert again.unchanged == 1


# --- Counts of two imports at once -----------------------------------------------------------


def test_two_imports_at_once_count_what_each_did(tmp_path: Path, database_url: str) -> None:
    config = _setup(tmp_path, database_url)
    rows = "".join(f"m-{i},2026-11-20T09:00:00Z,quote.requested,deal,M-{i}\n"
                   for i in range(60_000))  # fmt: skip
    (tmp_path / "many.csv").write_text("id,occurred_at,type,subject_type,subject_id\n" + rows)
    command = [sys.executable, "-m", "qmon", "--config", str(config), "import", "many.csv"]
    runs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    summaries = sorted(" ".join(out.split()) for out in outputs)
    assert summaries == [
        "read 60,000 rows: 0 inserted, 0 updated, 60,000 unchanged, 0 skipped",
        "read 60,000 rows: 60,000 inserted, 0 updated, 0 unchanged, 0 skipped",
    ]
    assert _count(database_url) == 60_002


# --- explain ----------------------------------------------------------------------------------


def test_explain_of_a_subject_without_events_is_bad_input(tmp_path: Path, database_url: str):
    config = _setup(tmp_path, database_url)
    result, output = _run(config, "explain", "quote-24h", "D-404")
    assert result.exit_code == 2
    assert output.strip() == ("SUBJECT_ID: no events of a subject 'D-404' are stored, of any "
                              "type: is the id right, and imported or synced?")  # fmt: skip
    csv, output = _run(config, "explain", "quote-24h", "D-1", "--format", "csv")
    assert csv.exit_code == 2
    assert output.strip() == "--format: explain writes a table or json, not csv"


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("within, line", [("99999999999999999999d", 5), ("36501d", 5)])
def test_a_duration_past_a_hundred_years_is_refused_with_its_line(
    tmp_path: Path, within: str, line: int
) -> None:
    config = tmp_path / "qmon.yaml"
    config.write_text("version: 1\npromises:\n  - id: q\n    phase: sales\n"
                      f"    within: {within}\n    start: a\n    stop: b\n")  # fmt: skip
    result, output = _run(config, "promises", "validate")
    assert result.exit_code == 2
    assert (f"qmon.yaml:{line}: duration '{within}' is longer than qmon supports (at most "
            "36500d, 100 years)") in output  # fmt: skip


# --- --out on a full disk ---------------------------------------------------------------------


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))  # the report: ~54 kB


def test_a_report_that_cannot_be_written_whole_leaves_the_old_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: the write fails part-way (EFBIG, as ENOSPC)."""
    config = _setup(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    out = tmp_path / "weekly.html"
    out.write_text("last week's report")
    done = subprocess.run(
        [sys.executable, "-m", "qmon", "--config", str(config), "report", "weekly", "--week",
         "2026-W47", "--as-of", "2026-12-01T00:00:00Z", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=_small_files,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    assert f"--out: cannot write {out}: File too large" in done.stderr
    assert out.read_text() == "last week's report"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".weekly")) == []
    folder = tmp_path / "missing"
    result, output = _run(config, "report", "weekly", "--week", "2026-W47", "--as-of",
                          "2026-12-01T00:00:00Z", "--out", folder / "weekly.html")  # fmt: skip
    assert result.exit_code == 2
    assert f"--out: cannot write {folder / 'weekly.html'}: No such file or directory" in output
