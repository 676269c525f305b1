"""The reader process of a large import: same results as one process, and never left behind.

`import_files(..., background_from_bytes=0)` forces the reader process (`qmon.ingest_worker`)
on small files, `background_from_bytes=10**12` keeps everything in this process; each test
runs both on the same inputs and the same store and compares what they give whole: summary,
problems, progress calls, error and stored rows. (`test_ingest_background.py` has the basic
cases: a bad row, --skip-invalid, a missing file.) Nothing here depends on timing.
"""

from __future__ import annotations

import codecs
import importlib.resources
import json
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from qmon.errors import InputError
from qmon.ingest import import_files
from qmon.store import Store
from qmon.store.writer import EventWriter

HEADER = "id,occurred_at,type,subject_type,subject_id,owner,note\n"


def csv_rows(prefix: str, count: int, *, naive: bool = False) -> str:
    offset = "" if naive else "+01:00"
    return "".join(
        f"{prefix}{n},2026-11-{1 + n % 28:02d}T09:{n % 60:02d}:00{offset},quote.requested,"
        f"deal,D-{n % 97},anna,{n}\n"
        for n in range(count)
    )


def run(url: str, paths: list[Path], background: bool, **options) -> tuple:
    """One import into the store at `url`, which it leaves empty: what it gave and stored."""
    store = Store.open(url)
    progress: list[tuple[str, int]] = []
    try:
        try:
            summary = import_files(
                store,
                paths,
                background_from_bytes=0 if background else 10**12,
                on_progress=lambda p, n: progress.append((p.name, n)),
                **options,
            )
        except InputError as exc:
            return "error", str(exc), exc.problems, progress
        with store.engine.begin() as conn:
            rows = conn.execute(text("SELECT * FROM events ORDER BY source, event_id")).all()
            conn.execute(text("DELETE FROM events"))
        return summary, progress, [tuple(row) for row in rows]
    finally:
        store.close()


def both(url: str, paths: list[Path], **options) -> tuple:
    """The result of the one-process import, having checked the reader process's is equal."""
    here = run(url, paths, background=False, **options)
    there = run(url, paths, background=True, **options)
    assert there == here
    return here


@pytest.fixture
def mixed(tmp_path: Path) -> list[Path]:
    """Both formats and what each can get wrong, with repeats within and across files."""
    first = tmp_path / "first.csv"
    first.write_bytes(
        codecs.BOM_UTF8
        + (
            HEADER
            + csv_rows("c-", 5000)
            + 'q-1,2026-11-03T10:00:00Z,case.opened,case,C-1,"bo\nb","multi\nline, quoted"\n'
            + "c-3,2026-11-04T09:03:00+01:00,quote.requested,deal,D-3,anna,3\n"  # a repeat
            + "c-4,2026-11-30T09:00:00+01:00,quote.sent,deal,D-4,anna,\n"  # same id, new content
            + "x-1,yesterday,quote.sent,deal,D-1,,\n"
            + "x-2,2026-11-05T09:00:00,quote.sent,deal,D-2,,\n"  # no offset
            + ",,,,,,\n"
            + "x-3,2026-11-05T09:00:00Z,quote sent,deal,D-2,,\n"
        ).encode()
        + b"x-4,2026-11-05T09:00:00Z,quote.sent,deal,D-\xff,,\n"
    )
    events = [
        {"id": n, "occurred_at": "2026-11-06T08:00:00Z", "type": "case.opened",
         "subject_type": "case", "subject_id": n % 13, "tags": ["vip"], "priority": None}
        for n in range(3000)
    ]  # fmt: skip
    second = tmp_path / "second.jsonl"
    second.write_bytes(
        "".join(json.dumps(e) + "\n" for e in events).encode()
        + b'{"id": 1, "occurred_at": "2026-11-06T08:00:00Z", "type": "case.opened", '
        b'"subject_type": "case", "subject_id": 1, "tags": ["vip"]}\n'  # a repeat
        + b"not json\n\n[1, 2]\n"
        + b'{"id": "j-\xe9", "occurred_at": "2026-11-06T08:00:00Z"}\n'
        + b'{"id": 2, "occurred_at": "2026-11-06T08:00:00Z", "type": "case.closed", '
        b'"subject_type": "case", "subject_id": 2}\n'  # same id, new content
    )
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    return [first, second, empty, first]  # the first again: every row of it a repeat


def test_good_and_bad_rows_of_both_formats_give_the_same_with_skip_invalid(database_url, mixed):
    summary, progress, rows = both(database_url, mixed, skip_invalid=True, source="crm")
    assert (summary.read, summary.inserted, summary.duplicates, summary.skipped) == (
        2 * 5008 + 3005 + 0,
        5001 + 3000,
        1 + 1 + (5001 + 1),
        2 * 6 + 4,
    )  # repeats: c-3, j-1, then every good row of the first file again
    assert [str(p) for p in summary.problems][6:10] == [
        f"{mixed[1]}:3002: not valid JSON: Expecting value at column 1",
        f"{mixed[1]}:3004: expected a JSON object, got an array",
        f"{mixed[1]}:3005: not valid UTF-8 (byte 11 of the line)",
        f"{mixed[1]}:3006: id '2' appears again with different content (first at line 3)",
    ]
    assert f"(first at {mixed[0]}:6)" in str(summary.problems[-6])  # c-4, the second time
    assert {name for name, _ in progress} == {"first.csv", "second.jsonl", "empty.csv"}
    assert progress[-1] == ("first.csv", mixed[0].stat().st_size)
    assert len(rows) == 8001


def test_good_and_bad_rows_of_both_formats_give_the_same_error(database_url, mixed):
    kind, message, problems, progress = both(database_url, mixed)
    assert kind == "error"
    assert message.startswith("16 bad row(s); nothing was imported")
    assert len(problems) == 16
    assert [name for name, _ in progress] == [
        "first.csv",
        "first.csv",
        "second.jsonl",
        "empty.csv",
        "first.csv",
        "first.csv",
    ]  # every 4096 lines and at the end of each file


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.csv", "cannot read the file: No such file or directory"),
        ("folder.csv", "cannot read the file: Is a directory"),
        ("events.txt", "unknown file type '.txt': use .csv or .jsonl"),
    ],
)
def test_a_file_that_cannot_be_read_is_the_same_error_after_the_others(
    tmp_path, database_url, name, message
):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + csv_rows("e-", 10_000))
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "events.txt").write_text(HEADER)
    kind, text_, problems, progress = both(database_url, [good, tmp_path / name])
    assert (kind, text_) == ("error", f"{tmp_path / name}: {message}")
    assert progress[-1] == ("good.csv", good.stat().st_size)  # read before the bad one


def test_a_zone_without_a_name_is_still_used(tmp_path, database_url):
    """The reader process gets the zone by name; one read from a file has none."""
    with (
        importlib.resources.files("tzdata.zoneinfo.Europe").joinpath("Amsterdam").open("rb") as data
    ):
        zone = ZoneInfo.from_file(data)
    assert zone.key is None
    naive = tmp_path / "naive.csv"
    naive.write_text(HEADER + csv_rows("e-", 100, naive=True))
    summary, _, rows = both(database_url, [naive], assume_tz=zone)
    assert (summary.inserted, summary.problems) == (100, [])
    assert rows[0][2] == 1793520000000000  # e-0: 2026-11-01 09:00 in Amsterdam is 08:00 UTC


@pytest.fixture
def two_batches(tmp_path: Path) -> Path:
    """More than one batch of rows: the reader is still at work when the first is written."""
    path = tmp_path / "large.csv"
    path.write_text(HEADER + csv_rows("e-", 45_000))
    return path


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_while_writing_stops_the_reader_process(
    tmp_path, monkeypatch, two_batches, failure
):
    children: list[subprocess.Popen] = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            children.append(self)

    def write(self, rows) -> None:
        raise failure

    monkeypatch.setattr(subprocess, "Popen", Recorded)
    monkeypatch.setattr(EventWriter, "write", write)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url)
    try:
        with pytest.raises(type(failure)) as caught:
            import_files(store, [two_batches], background_from_bytes=0)
        # Still referenced from here: the generator that owns the process is alive.
        assert caught.traceback
        assert len(children) == 1
        assert children[0].returncode is not None  # stopped and waited for, not left running
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
    finally:
        store.close()
