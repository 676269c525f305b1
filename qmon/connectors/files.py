"""Files to canonical events: CSV with a header row, or JSON Lines.

Every CRM can export a report as CSV and every script can write JSON Lines, so these two
formats let any system feed qmon without a connector of its own. The extension picks the
format: `.csv`, or `.jsonl` / `.ndjson` (one JSON object per line).

Fields (CSV columns or JSON keys; names are case-sensitive):

- required: `id`, `occurred_at`, `type`, `subject_type`, `subject_id`;
- optional: `source` (a row's own value wins over the import's), `account`, `owner`,
  `channel`, `link`; empty means absent;
- anything else is kept in `attributes`: CSV cells as strings, empty ones dropped; JSON
  values as they are, nulls dropped.

`occurred_at` is ISO-8601 with `Z` or an offset; one without is read in `assume_tz`, or is a
bad row. `type` and `subject_type` are single words such as `quote.requested`. In JSON Lines
`id` and `subject_id` may be integers; the other fields must be strings. Whitespace around
field values is ignored. Text is UTF-8 (a BOM is fine); blank lines are skipped; CSV cells may
hold quoted newlines. A CSV row may have fewer cells than the header (the rest are empty) but
not more.

CSV::

    id,occurred_at,type,subject_type,subject_id,owner,amount
    e-1,2026-11-20T09:12:00+01:00,quote.requested,deal,D-1042,anna,1200
    e-2,2026-11-20T15:40:00Z,quote.sent,deal,D-1042,anna,

JSON Lines (each object on one line in the file; wrapped here)::

    {"id": 881, "occurred_at": "2026-11-20T08:15:00Z", "type": "case.opened",
     "subject_type": "case", "subject_id": 20871, "priority": "high", "tags": ["vip"]}
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from qmon.errors import InputError, Problem
from qmon.events import CORE_FIELDS, REQUIRED_FIELDS, Event
from qmon.timeutil import parse_instant

#: How often (in lines) `on_progress` hears how far the reading is: often enough for a
#: smooth bar, rarely enough to cost nothing.
PROGRESS_EVERY_LINES = 4096

_CSV_SUFFIXES = frozenset({".csv"})
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
_CORE = frozenset(CORE_FIELDS)
_INTEGER_OK = frozenset({"id", "subject_id"})  # CRMs number their records
_INTEGER_SLOTS = tuple(CORE_FIELDS.index(name) for name in sorted(_INTEGER_OK))

#: csv module errors that deserve words a spreadsheet user knows.
_CSV_REASONS = {"unexpected end of data": "a quoted cell is still open at the end of the file"}

ProgressHook = Callable[[int], None]
Numbered = tuple[int, Event | Problem]


def iter_file(
    path: Path,
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    on_progress: ProgressHook | None = None,
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

    Returns:
        A lazy iterator over, in file order, an `Event` per good row and a `Problem` per bad
        one, whose `line` is the physical line (1-based) where the row starts.

    Raises:
        InputError: on the first `next()`, if the extension is unknown or the file cannot be
            opened.
    """
    numbered = iter_file_numbered(
        path, source=source, assume_tz=assume_tz, on_progress=on_progress
    )
    return map(itemgetter(1), numbered)  # no Python frame per row


def iter_file_numbered(
    path: Path,
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    on_progress: ProgressHook | None = None,
) -> Iterator[Numbered]:
    """Like `iter_file`, with the line where each row starts: `(line, event_or_problem)`.

    An `Event` does not know where it came from, yet a caller that finds something wrong
    with it later (say, an id seen twice) must point the user at the row.
    """
    file = str(path)
    suffix = path.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        read = _read_csv
    elif suffix in _JSONL_SUFFIXES:
        read = _read_jsonl
    else:
        what = f"unknown file type '{suffix}'" if suffix else "no file extension"
        raise InputError([Problem(file, None, f"{what}: use .csv or .jsonl")])
    try:
        stream = path.open("rb")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError([Problem(file, None, f"cannot read the file: {reason}")]) from None
    with stream:
        reader = _LineReader(stream, on_progress)
        yield from read(reader, file, source, assume_tz)
        reader.report_progress()


class _LineReader:
    """Decoded lines of a binary stream, remembering where the current record started.

    Decoding line by line, rather than opening the file as text, keeps the byte position
    available for progress and lets an undecodable line be one bad row, not a crash.
    """

    def __init__(self, stream: IO[bytes], on_progress: ProgressHook | None) -> None:
        self.stream = stream
        self.on_progress = on_progress
        #: The number of the first line handed out since the caller last set this to 0.
        self.start = 0
        #: The first line that was not UTF-8 since the caller last set this to None.
        self.bad: tuple[int, str] | None = None

    def lines(self) -> Iterator[str]:
        """Every physical line, blank ones included (they may sit inside a quoted cell)."""
        on_progress = self.on_progress
        number = 0
        for raw in self.stream:
            number += 1
            try:
                text = raw.decode()
            except UnicodeDecodeError as exc:
                if self.bad is None:
                    self.bad = (number, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
                text = raw.decode(errors="replace")
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not self.start:
                self.start = number
            if on_progress is not None and number % PROGRESS_EVERY_LINES == 0:
                on_progress(self.stream.tell())
            yield text

    def report_progress(self) -> None:
        """Tell `on_progress` how far the reading got (the file's size once it is done)."""
        if self.on_progress is not None:
            self.on_progress(self.stream.tell())

    def bad_line(self, file: str) -> Numbered:
        """The pending undecodable line as a problem, forgetting it."""
        assert self.bad is not None
        line, message = self.bad
        self.bad = None
        return line, Problem(file, line, message)


def _read_jsonl(
    reader: _LineReader, file: str, source: str, tz: ZoneInfo | None
) -> Iterator[Numbered]:
    decode = json.JSONDecoder(parse_constant=_refuse_constant).decode
    for line, text in enumerate(reader.lines(), 1):
        if reader.bad is not None:
            yield reader.bad_line(file)
            continue
        if text.isspace():
            continue
        try:
            obj = decode(text)
        except ValueError:
            yield line, Problem(file, line, _json_problem(decode, text))
            continue
        if type(obj) is dict:
            item = _json_event(obj, source, tz)
        else:
            item = f"expected a JSON object, got {_json_type(obj)}"
        yield line, (Problem(file, line, item) if type(item) is str else item)


def _json_problem(decode: Callable[[str], Any], text: str) -> str:
    """Why a line is not JSON, with a column that ignores the line's end."""
    try:
        decode(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except ValueError as exc:  # NaN or Infinity
        return f"not valid JSON: {exc}"
    return "not valid JSON"  # unreachable: the line failed once already


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: the store could not write them back out."""
    raise ValueError(f"{name} is not a JSON value")


def _json_event(obj: dict[str, Any], source: str, tz: ZoneInfo | None) -> Event | str:
    """A JSON object as an event, or what is wrong with it."""
    values = list(map(obj.get, CORE_FIELDS))
    for i in _INTEGER_SLOTS:
        if type(values[i]) is int:
            values[i] = str(values[i])
    try:
        fields = [value.strip() if value is not None else "" for value in values]
    except AttributeError:  # a number, boolean, array or object where text belongs
        return _type_problem(values)
    attributes = {k: v for k, v in obj.items() if v is not None and k not in _CORE}
    return _event(fields, attributes, source, tz)


def _type_problem(values: list[Any]) -> str:
    """Which core field of a JSON object is neither text nor absent."""
    for name, value in zip(CORE_FIELDS, values, strict=True):
        if value is not None and type(value) is not str:
            kind = "a string or an integer" if name in _INTEGER_OK else "a string"
            return f"field {name!r} must be {kind}, not {_json_type(value)}"
    raise AssertionError("called for a row whose fields are all text")


def _json_type(value: Any) -> str:
    """A Python value's JSON type, as the user would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _read_csv(
    reader: _LineReader, file: str, source: str, tz: ZoneInfo | None
) -> Iterator[Numbered]:
    # strict: a stray or unclosed quote is a bad row, not a silently mangled cell
    rows = csv.reader(reader.lines(), strict=True)
    header: _CsvHeader | None = None
    while True:
        reader.start = 0
        try:
            row = next(rows, None)
        except csv.Error as exc:
            reason = _CSV_REASONS.get(str(exc), str(exc).split(" - ")[0])  # no Python hints
            yield reader.start, Problem(file, reader.start, f"not valid CSV: {reason}")
            reader.bad = None  # one problem per bad record is enough
            if header is None:
                return
            continue
        if row is None:
            return
        line = reader.start
        if reader.bad is not None:
            yield reader.bad_line(file)
            if header is None:  # column names we cannot read make every row doubtful
                return
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = _CsvHeader(row)
            if header.problem:
                yield line, Problem(file, line, header.problem)
                return
            continue
        item = header.event(row, source, tz)
        yield line, (Problem(file, line, item) if type(item) is str else item)


class _CsvHeader:
    """What each column of a CSV file means, worked out once so that rows are cheap."""

    def __init__(self, cells: list[str]) -> None:
        names = [cell.strip() for cell in cells]
        self.width = len(names)
        # Rows are padded with empty cells to one past the header; absent columns read that.
        self._padding = [""] * (self.width + 1)
        positions = [names.index(f) if f in names else self.width for f in CORE_FIELDS]
        self._core = itemgetter(*positions)
        self._attributes = [(i, name) for i, name in enumerate(names) if name and name not in _CORE]
        self._unnamed = [i for i, name in enumerate(names) if not name]
        missing = sorted(set(REQUIRED_FIELDS) - set(names))
        repeated = sorted({name for name in names if name and names.count(name) > 1})
        self.problem = ""
        if missing:
            self.problem = f"missing column(s): {', '.join(missing)}"
        elif repeated:
            self.problem = f"repeated column(s): {', '.join(repeated)}"

    def event(self, row: list[str], source: str, tz: ZoneInfo | None) -> Event | str:
        """A row as an event, or what is wrong with it."""
        cells = len(row)
        if cells > self.width:
            return f"{cells} cells but the header has {self.width} columns"
        row += self._padding[cells:]
        for i in self._unnamed:
            if row[i].strip():
                return f"a value in column {i + 1}, which has no name in the header"
        fields = [cell.strip() for cell in self._core(row)]
        attributes = {name: row[i] for i, name in self._attributes if row[i]}
        return _event(fields, attributes, source, tz)


def _event(
    fields: list[str], attributes: dict[str, Any], default_source: str, tz: ZoneInfo | None
) -> Event | str:
    """The event that core `fields` and `attributes` describe, or what is wrong with them.

    `fields` are stripped, in `CORE_FIELDS` order, "" when absent. This runs once per row,
    so a good row costs a few cheap checks; which field is wrong is worked out only for the
    rare bad row.
    """
    source, event_id, occurred_at, event_type, subject_type, subject_id = fields[:6]
    account, owner, channel, link = fields[6:]
    if not (event_id and occurred_at and event_type and subject_type and subject_id):
        missing = next(f for f in REQUIRED_FIELDS if not fields[CORE_FIELDS.index(f)])
        return f"missing required field {missing!r}"
    # isprintable() is False for tabs and newlines, which would be spaces too
    if " " in event_type or not event_type.isprintable():
        return f"field 'type' must not contain spaces: {event_type!r}"
    if " " in subject_type or not subject_type.isprintable():
        return f"field 'subject_type' must not contain spaces: {subject_type!r}"
    try:
        occurred_us = parse_instant(occurred_at, tz)
    except ValueError as exc:
        return f"occurred_at: {exc}"
    return Event(
        source=source or default_source,
        id=event_id,
        occurred_us=occurred_us,
        type=event_type,
        subject_type=subject_type,
        subject_id=subject_id,
        account=account or None,
        owner=owner or None,
        channel=channel or None,
        link=link or None,
        attributes=attributes,
    )


__all__ = ["PROGRESS_EVERY_LINES", "iter_file", "iter_file_numbered"]
