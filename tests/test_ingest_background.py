"""Large imports read in a second process give exactly what a one-process import gives.

`import_files(..., background_from_bytes=0)` forces the reader process on small files, so
both paths run on the same inputs and their results are compared whole.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qmon.errors import InputError
from qmon.ingest import import_files
from qmon.store import Store

GOOD = (
    "id,occurred_at,type,subject_type,subject_id,owner,amount\n"
    + "".join(
        f"e-{n},2026-11-{1 + n % 28:02d}T09:{n % 60:02d}:00,quote.requested,deal,D-{n % 97},"
        f"anna,{n}\n"
        for n in range(3000)
    )
    + "e-1,2026-11-02T09:01:00,quote.requested,deal,D-1,anna,1\n"  # a verbatim repeat
)
BAD = GOOD + "e-7,2026-11-30T09:00:00,quote.sent,deal,D-7,anna,\nx,not-a-time,a,b,c,,\n"


def run(database_url: str, paths: list[Path], background: bool, **options):
    store = Store.open(database_url)
    progress: list[tuple[str, int]] = []
    try:
        summary = import_files(
            store,
            paths,
            background_from_bytes=0 if background else 10**12,
            on_progress=lambda p, n: progress.append((p.name, n)),
            assume_tz=ZoneInfo("Europe/Amsterdam"),
            **options,
        )
        rows = list(store.role_events(["quote.requested", "quote.sent"], 2**62))
        return summary, progress, rows
    finally:
        store.close()


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_both_paths_give_the_same_result(tmp_path, database_url, skip_invalid):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(BAD.replace("e-", "b-"))
    results = []
    for background in (False, True):
        url = database_url if background else f"sqlite:///{tmp_path / 'one.db'}"
        try:
            results.append(run(url, [good, bad], background, skip_invalid=skip_invalid))
        except InputError as exc:
            results.append(str(exc))
    one, two = results
    assert one == two
    if skip_invalid:
        summary = one[0]
        assert (summary.read, summary.duplicates, summary.skipped, summary.inserted) == (
            6004, 2, 2, 6000
        )
        assert one[1][-1] == ("bad.csv", bad.stat().st_size)
    else:
        assert "2 bad row(s); nothing was imported" in one
        assert "bad.csv:3003: id 'b-7' appears again with different content" in one


def test_an_unreadable_file_is_the_same_error(tmp_path, database_url):
    missing = tmp_path / "missing.csv"
    errors = []
    for background in (False, True):
        with pytest.raises(InputError) as caught:
            run(database_url, [missing], background)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "missing.csv: cannot read the file" in errors[0]
