"""Files to canonical events: CSV with a header row, or JSON Lines.

Every CRM can export a report as CSV and every script can write JSON Lines, so these two
formats let any system feed qmon without a connector of its own. The extension picks the
format: `.csv`, or `.jsonl` / `.ndjson` (one JSON object per line).

Fields (CSV columns or JSON keys; names are case-sensitive):

- required: `id`, `occurred_at`, `type`, `subject_type`, `subject_id`;
- optional: `source` (a row's own value wins over the import's), `account`, `owner`,
  `channel`, `link`; empty means absent;
- anything else is kept in `attributes` (only the names in `attributes=`, when given): CSV
  cells as strings, empty ones dropped; JSON values as they are, nulls dropped.

`occurred_at` is ISO-8601 with `Z` or an offset; one without is read in `assume_tz`, or is a
bad row. `type` and `subject_type` are single words such as `quote.requested`. In JSON Lines
`id` and `subject_id` may be integers; the other fields must be strings. Whitespace around
field values is ignored. Text is UTF-8 (a BOM is fine); blank lines are skipped; CSV cells may
hold quoted newlines. A CSV row may have fewer cells than the header (the rest are empty) but
not more.

Hostile files are refused in words, in bounded memory: only a regular file is read (not a
device or a pipe), a line may hold at most `MAX_LINE_BYTES`, a JSON object may not name a key
twice nor nest past what the decoder can follow, and an empty CSV file (without even its
header) is a problem, not an import of nothing. A survey's `score` (on `survey.nps`,
`survey.csat`, `survey.ces`) that is a number must be a finite one on its scale
(`SURVEY_SCALES`).

CSV::

    id,occurred_at,type,subject_type,subject_id,owner,amount
    e-1,2026-11-20T09:12:00+01:00,quote.requested,deal,D-1042,anna,1200
    e-2,2026-11-20T15:40:00Z,quote.sent,deal,D-1042,anna,

JSON Lines (each object on one line in the file; wrapped here)::

    {"id": 881, "occurred_at": "2026-11-20T08:15:00Z", "type": "case.opened",
     "subject_type": "case", "subject_id": 20871, "priority": "high", "tags": ["vip"]}
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterator
from operator import itemgetter
from pathlib import Path
from zoneinfo import ZoneInfo

from qmon.connectors.files.csv_reader import read_csv
from qmon.connectors.files.jsonl import read_jsonl
from qmon.connectors.files.lines import (
    MAX_LINE_BYTES,
    PROGRESS_EVERY_LINES,
    LineCapped,
    Lines,
    LineTooLong,
    Numbered,
    Progress,
    ProgressHook,
)
from qmon.connectors.files.rows import SURVEY_SCALES
from qmon.errors import InputError, Problem
from qmon.events import Event
from qmon.safeio import open_regular, size_text

_CSV_SUFFIXES = frozenset({".csv"})
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


def iter_file(
    path: Path,
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    on_progress: ProgressHook | None = None,
    attributes: Collection[str] | None = None,
) -> Iterator[Event | Problem]:
    """Stream a CSV or JSON Lines file as events, and a problem for each bad row.

    Bad rows do not stop the reading, so a caller can report them all at once and decide
    itself whether the good rows are worth keeping. Nothing is loaded whole: a file of
    millions of rows reads in constant memory.

    Args:
        path: a `.csv`, `.jsonl` or `.ndjson` file.
        source: the source of rows that do not name their own.
        assume_tz: the zone of timestamps written without an offset; without it they are
            bad rows, because guessing a zone silently shifts every deadline.
        on_progress: called with the bytes read so far every few thousand lines and once at
            the end (then with the file's size), to drive a progress bar.
        attributes: the attribute names to keep (None: all); other non-core fields are
            dropped as they are read, so that what a promise does not need is never stored.

    Returns:
        A lazy iterator over, in file order, an `Event` per good row and a `Problem` per bad
        one, whose `line` is the physical line (1-based) where the row starts.

    Raises:
        InputError: on the first `next()`, if the extension is unknown or the file cannot be
            opened.
    """
    numbered = iter_file_numbered(path, source=source, assume_tz=assume_tz,
                                  on_progress=on_progress, attributes=attributes)  # fmt: skip
    return map(itemgetter(1), numbered)  # no Python frame per row


def iter_file_numbered(
    path: Path,
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    on_progress: ProgressHook | None = None,
    attributes: Collection[str] | None = None,
) -> Iterator[Numbered]:
    """Like `iter_file`, with the line where each row starts: `(line, event_or_problem)`.

    An `Event` does not know where it came from, yet a caller that finds something wrong
    with it later (say, an id seen twice) must point the user at the row.
    """
    file = str(path)
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        read = read_csv
    elif suffix in _JSONL_SUFFIXES:
        read = read_jsonl
    else:
        what = f"unknown file type '{suffix}'" if suffix else "no file extension"
        raise InputError([Problem(file, None, f"{what}: use .csv or .jsonl")])
    try:
        raw = LineCapped(open_regular(path))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError([Problem(file, None, f"cannot read the file: {reason}")]) from None
    # Text mode decodes in large chunks, which costs far less per row than decoding line by
    # line. newline="\n" ends lines exactly where the bytes have b"\n", as a count of the
    # bytes would (a lone CR stays inside its line), and leaves "\r\n" as it is, as the csv
    # module wants. surrogateescape turns bytes that are not UTF-8 into lone surrogates: one
    # bad row, not a crash.
    buffered = io.BufferedReader(raw, buffer_size=1 << 16)
    stream = io.TextIOWrapper(buffered, encoding="utf-8", errors="surrogateescape", newline="\n")
    with stream:
        progress = Progress(buffered, on_progress)
        keep = None if attributes is None else frozenset(attributes)
        try:
            yield from read(Lines(stream, file), source, assume_tz, progress, keep)
        except LineTooLong:
            message = f"a line longer than {size_text(MAX_LINE_BYTES)}: is this a {suffix} file?"
            raise InputError([Problem(file, raw.long_line, message)]) from None
        progress.report()


__all__ = [
    "MAX_LINE_BYTES", "PROGRESS_EVERY_LINES", "SURVEY_SCALES", "iter_file", "iter_file_numbered",
]  # fmt: skip
