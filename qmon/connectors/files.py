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

import codecs
import csv
import io
import json
import math
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from qmon.errors import InputError, Problem
from qmon.events import CORE_FIELDS, REQUIRED_FIELDS, Event
from qmon.safeio import open_regular, size_text
from qmon.textsafe import stored_text_problem
from qmon.timeutil import END_US, FIRST_US, instant_problem, parse_instant

#: How often (in lines) `on_progress` hears how far the reading is: often enough for a
#: smooth bar, rarely enough to cost nothing.
PROGRESS_EVERY_LINES = 4096
#: The longest line read: a row of any export is a few kB, and a file without line ends
#: (a binary file, a dump on one line) must not be held in memory whole.
MAX_LINE_BYTES = 1 << 20
#: The answers a survey's `score` may be: NPS 0-10, CSAT 1-5, CES 1-7 (the usual scales).
SURVEY_SCALES: dict[str, tuple[int, int]] = {
    "survey.nps": (0, 10), "survey.csat": (1, 5), "survey.ces": (1, 7),
}  # fmt: skip

_CSV_SUFFIXES = frozenset({".csv"})
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
_CORE = frozenset(CORE_FIELDS)
_INTEGER_OK = frozenset({"id", "subject_id"})  # CRMs number their records
_INTEGER_SLOTS = tuple(CORE_FIELDS.index(name) for name in sorted(_INTEGER_OK))
_ABSENT = ("",) * len(CORE_FIELDS)  # what a JSON object's missing core fields read
#: What may follow a JSON value on its line.
_LINE_ENDS = frozenset({"", "\n", "\r\n"})

#: csv module errors that deserve words a spreadsheet user knows.
_CSV_REASONS = {"unexpected end of data": "a quoted cell is still open at the end of the file"}

#: What `_event` counts instants from, and in (as `qmon.timeutil` does).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

ProgressHook = Callable[[int], None]
Numbered = tuple[int, Event | Problem]


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
        read = _read_csv
    elif suffix in _JSONL_SUFFIXES:
        read = _read_jsonl
    else:
        what = f"unknown file type '{suffix}'" if suffix else "no file extension"
        raise InputError([Problem(file, None, f"{what}: use .csv or .jsonl")])
    try:
        raw = _LineCapped(open_regular(path))
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
        progress = _Progress(buffered, on_progress)
        keep = None if attributes is None else frozenset(attributes)
        try:
            yield from read(_Lines(stream, file), source, assume_tz, progress, keep)
        except _LineTooLong:
            message = f"a line longer than {size_text(MAX_LINE_BYTES)}: is this a {suffix} file?"
            raise InputError([Problem(file, raw.long_line, message)]) from None
        progress.report()


class _LineTooLong(Exception):
    """`_LineCapped` read more than `MAX_LINE_BYTES` without a line end."""


class _LineCapped(io.RawIOBase):
    """A file's bytes, refused once a line runs past `MAX_LINE_BYTES`.

    The check runs per chunk the buffer reads (64 kB), not per line, so it costs nothing a
    row; it keeps a file without line ends from being read into one string.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._since = 0  # bytes since the last line end
        self._lines = 0  # line ends read
        #: The (1-based) line that ran too long, once it has.
        self.long_line = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        end = data.rfind(b"\n")
        if end < 0:
            self._since += size
        else:
            self._lines += data.count(b"\n")
            self._since = size - end - 1
        if self._since > MAX_LINE_BYTES:
            self.long_line = self._lines + 1
            raise _LineTooLong
        return size

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        self._handle.close()
        super().close()


class _Progress:
    """Tells `on_progress` how many bytes have been read, every few thousand lines.

    The readers compare their line number with `due` themselves, so that progress costs one
    comparison per row, and nothing more when nobody listens.
    """

    def __init__(self, stream: IO[bytes], on_progress: ProgressHook | None) -> None:
        self.stream = stream
        self.on_progress = on_progress
        #: The line at or past which to report next; out of reach without a listener.
        self.due = PROGRESS_EVERY_LINES if on_progress is not None else sys.maxsize

    def passed(self, line: int) -> None:
        """Report, now that the reading has got to `line`, at or past `due`.

        The position is that of the decoder, which reads ahead of the rows by a few kB at
        most: close enough for a progress bar.
        """
        self.report()
        self.due = line - line % PROGRESS_EVERY_LINES + PROGRESS_EVERY_LINES

    def report(self) -> None:
        """Tell `on_progress` how far the reading got (the file's size once it is done)."""
        if self.on_progress is not None:
            self.on_progress(self.stream.tell())


def _has_bad_bytes(text: str) -> bool:
    """Whether `text` holds bytes that were not UTF-8 (the decoder made them surrogates).

    Call it only for text that is not ASCII: `str.isascii()` is much cheaper, and true for
    nearly every row.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


class _Lines:
    """The lines of a file, without the byte order mark the first may start with.

    The file is decoded as plain UTF-8, not as "utf-8-sig" that would drop the mark itself,
    because a line with bytes that are not UTF-8 is reported with the place of the first,
    counted in bytes from the start of the line, mark included.
    """

    def __init__(self, stream: IO[str], file: str) -> None:
        self.file = file
        first = stream.readline()
        self._bom = first.startswith("\ufeff")
        # A file of nothing but the mark still has a first line, an empty one.
        first_line = (first.removeprefix("\ufeff"),) if first else ()
        #: Every line, blank ones included (they may sit inside a quoted cell).
        self.iterator: Iterator[str] = chain(first_line, stream)

    def bad_bytes(self, line: int, texts: Iterable[str]) -> Numbered:
        """The first of `texts`, lines from `line` on, that was not UTF-8, as a problem there.

        surrogateescape gives back the very bytes the decoder could not read.
        """
        for number, text in enumerate(texts, line):
            raw = text.encode(errors="surrogateescape")
            if number == 1 and self._bom:
                raw = codecs.BOM_UTF8 + raw
            try:
                raw.decode()
            except UnicodeDecodeError as exc:
                message = f"not valid UTF-8 (byte {exc.start + 1} of the line)"
                return number, Problem(self.file, number, message)
        raise AssertionError("called for lines that are all UTF-8")


def _read_jsonl(
    lines: _Lines, source: str, tz: ZoneInfo | None, progress: _Progress,
    keep: frozenset[str] | None,
) -> Iterator[Numbered]:  # fmt: skip
    file = lines.file
    decoder = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_no_repeats)
    decode, scan = decoder.decode, decoder.scan_once
    for line, text in enumerate(lines.iterator, 1):
        if line >= progress.due:
            progress.passed(line)
        if not text.isascii() and _has_bad_bytes(text):
            yield lines.bad_bytes(line, (text,))
            continue
        if text.isspace():
            continue
        # scan_once() is decode() without its two regular expressions for the whitespace
        # around the value, a good part of its cost. A line that is anything but one value
        # and its line end goes to decode() after all, which reads it or says what is wrong.
        try:
            obj, end = scan(text, 0)
            whole = text[end:] in _LINE_ENDS
        except (StopIteration, ValueError):
            whole = False
        except RecursionError:
            yield line, Problem(file, line, "not valid JSON: nested too deeply")
            continue
        if not whole:
            try:
                obj = decode(text)
            except ValueError:
                yield line, Problem(file, line, _json_problem(decode, text))
                continue
        if type(obj) is dict:
            item = _json_event(obj, source, tz, keep)
            if "\\u" in text and type(item) is not str:  # only an escape gives NUL or U+D800
                item = _text_problem(item) or item
        else:
            item = f"expected a JSON object, got {_json_type(obj)}"
        yield line, (Problem(file, line, item) if type(item) is str else item)


def _json_problem(decode: Callable[[str], Any], text: str) -> str:
    """Why a line is not JSON, with a column that ignores the line's end."""
    try:
        decode(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except _RepeatedKey as exc:
        return f"key {exc.args[0]!r} appears twice in one object; which should win?"
    except ValueError as exc:  # NaN or Infinity
        return f"not valid JSON: {exc}"
    return "not valid JSON"  # unreachable: the line failed once already


class _RepeatedKey(ValueError):
    """A JSON object names a key twice (`json` would silently keep the last)."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict, or `_RepeatedKey` if a key appears twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: the store could not write them back out."""
    raise ValueError(f"{name} is not a JSON value")


def _json_event(
    obj: dict[str, Any], source: str, tz: ZoneInfo | None, keep: frozenset[str] | None = None
) -> Event | str:
    """A JSON object as an event, or what is wrong with it.

    The core fields are popped off `obj`, which is the decoder's and nobody else's, so that
    what is left are the attributes, in the file's order, without a loop in Python.
    """
    values = list(map(obj.pop, CORE_FIELDS, _ABSENT))
    for i in _INTEGER_SLOTS:
        if type(values[i]) is int:
            values[i] = str(values[i])
    try:
        fields = tuple(map(str.strip, values))
    except TypeError:  # a null, as good as absent, or a number, boolean, array or object
        values = ["" if value is None else value for value in values]
        if any(type(value) is not str for value in values):
            return _type_problem(values)
        fields = tuple(map(str.strip, values))
    if keep is not None and not keep.issuperset(obj):
        obj = {name: value for name, value in obj.items() if name in keep}
    if None in obj.values():
        obj = {name: value for name, value in obj.items() if value is not None}
    return _event(fields, obj, source, tz)


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
    lines: _Lines, source: str, tz: ZoneInfo | None, progress: _Progress,
    keep: frozenset[str] | None,
) -> Iterator[Numbered]:  # fmt: skip
    """The rows of a CSV file, the first being the header.

    Parsing is the largest single cost of a row. Of a line without quotes, which nearly every
    line is, the csv module makes nothing but the pieces between its commas, once the line end
    is off; so such a line is split here, for a fraction of the cost. The csv module still
    reads the records with quotes, however many lines they span, and the lines it refuses (a
    CR inside the line, a cell longer than it allows): it alone decides what those hold, or
    what is wrong with them.
    """
    file = lines.file
    stream = lines.iterator
    quoted = _QuotedRecords(stream)
    longest = csv.field_size_limit()
    header: _CsvHeader | None = None
    last = 0  # the number of the line read last
    for text in stream:
        line = last = last + 1
        if last >= progress.due:
            progress.passed(last)
        cells = text.rstrip("\r\n")  # the csv module would take any run of CRs before the LF
        if '"' not in cells and "\r" not in cells and len(cells) <= longest:
            row = cells.split(",") if cells else []
            characters = text
        else:
            row = quoted.read(text)
            last += len(quoted.lines) - 1
            if row is None:
                yield line, Problem(file, line, f"not valid CSV: {quoted.error}")
                if header is None:
                    return
                continue
            characters = "".join(row)
        if not characters.isascii() and _has_bad_bytes(characters):
            record = (text,) if characters is text else quoted.lines  # split, or read by csv
            yield lines.bad_bytes(line, record)
            if header is None:  # column names we cannot read make every row doubtful
                return
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if header is None:
            header = _CsvHeader(row, keep)
            if header.problem:
                yield line, Problem(file, line, header.problem)
                return
            continue
        item = header.event(row, source, tz)
        if "\x00" in characters and type(item) is not str:
            item = _text_problem(item) or item
        yield line, (Problem(file, line, item) if type(item) is str else item)
    if header is None:  # not even a header: an export that failed, or the wrong file
        yield 1, Problem(file, 1, "the file is empty: a CSV file starts with its header row")


class _QuotedRecords:
    """The csv module's reading of the records that `_read_csv` does not split itself.

    One reader serves the whole file, since making one costs more than reading a record. It
    is handed each record's first line, which the caller has read already, and takes the
    lines a quoted cell goes on to from the stream itself.
    """

    def __init__(self, stream: Iterator[str]) -> None:
        self._stream = stream
        self._first: str | None = None
        # strict: a stray or unclosed quote is a bad row, not a silently mangled cell
        self._reader = csv.reader(self, strict=True)
        #: The lines of the record read last.
        self.lines: list[str] = []
        #: Why the record read last is not valid CSV, in words a spreadsheet user knows.
        self.error = ""

    def __iter__(self) -> _QuotedRecords:
        return self

    def __next__(self) -> str:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        line = next(self._stream)
        self.lines.append(line)
        return line

    def read(self, first: str) -> list[str] | None:
        """The cells of the record that starts with the line `first`; None if it is not CSV.

        After a bad record the reader starts afresh at the line after it.
        """
        self._first = first
        self.lines = [first]
        try:
            return next(self._reader)
        except csv.Error as exc:
            self.error = _CSV_REASONS.get(str(exc), str(exc).split(" - ")[0])  # no Python hints
            return None


class _CsvHeader:
    """What each column of a CSV file means, worked out once so that rows are cheap."""

    def __init__(self, cells: list[str], keep: frozenset[str] | None = None) -> None:
        names = [cell.strip() for cell in cells]
        self.width = len(names)
        # Rows get one empty cell past the header's columns; absent columns read that.
        self._padding = [""] * self.width
        positions = [names.index(f) if f in names else self.width for f in CORE_FIELDS]
        self._core = itemgetter(*positions)
        self._attributes = [(i, name) for i, name in enumerate(names) if name
                            and name not in _CORE and (keep is None or name in keep)]  # fmt: skip
        self._unnamed = [i for i, name in enumerate(names) if not name]
        missing = sorted(set(REQUIRED_FIELDS) - set(names))
        repeated = sorted({name for name in names if name and names.count(name) > 1})
        self.problem = ""
        if missing:
            self.problem = f"missing column(s): {', '.join(missing)}"
        elif repeated:
            self.problem = f"repeated column(s): {', '.join(repeated)}"

    def event(self, row: list[str], default_source: str, tz: ZoneInfo | None) -> Event | str:
        """A row as an event, or what is wrong with it."""
        cells = len(row)
        if cells > self.width:
            return f"{cells} cells but the header has {self.width} columns"
        if cells < self.width:  # the cells left out are empty
            row += self._padding[cells:]
        row.append("")  # what absent columns read
        for i in self._unnamed:
            if row[i].strip():
                return f"a value in column {i + 1}, which has no name in the header"
        # Skipped without attribute columns: even an empty comprehension costs a frame.
        attributes = (
            {name: row[i] for i, name in self._attributes if row[i]} if self._attributes else {}
        )
        (
            source, event_id, occurred_at, event_type, subject_type, subject_id,
            account, owner, channel, link,
        ) = self._core(row)  # fmt: skip
        # One call per value, written out: a loop over them, map() included, costs more
        fields = (
            source.strip(), event_id.strip(), occurred_at.strip(), event_type.strip(),
            subject_type.strip(), subject_id.strip(), account.strip(), owner.strip(),
            channel.strip(), link.strip(),
        )  # fmt: skip
        return _event(fields, attributes, default_source, tz)


def _event(
    fields: Sequence[str], attributes: dict[str, Any], default_source: str, tz: ZoneInfo | None
) -> Event | str:
    """The event that core `fields` and `attributes` describe, or what is wrong with them.

    `fields` are stripped, in `CORE_FIELDS` order, "" when absent. This runs once per row,
    so a good row costs a few cheap checks; which field is wrong is worked out only for the
    rare bad row.
    """
    (
        source, event_id, occurred_at, event_type, subject_type, subject_id,
        account, owner, channel, link,
    ) = fields  # fmt: skip
    if not (event_id and occurred_at and event_type and subject_type and subject_id):
        missing = next(f for f in REQUIRED_FIELDS if not fields[CORE_FIELDS.index(f)])
        return f"missing required field {missing!r}"
    # isprintable() is False for tabs and newlines, which would be spaces too
    if " " in event_type or not event_type.isprintable():
        return f"field 'type' must not contain spaces: {event_type!r}"
    if " " in subject_type or not subject_type.isprintable():
        return f"field 'subject_type' must not contain spaces: {subject_type!r}"
    # A shortcut past parse_instant for the usual timestamp, which has its offset: its own
    # checks cost more than the parsing here (~0.7 us a row), and cannot fail. Every other
    # timestamp, each mistake included, still goes to parse_instant, the one place that
    # decides what a timestamp means and words what is wrong with it.
    try:
        instant = datetime.fromisoformat(occurred_at)
    except ValueError:
        instant = None
    if instant is not None and instant.tzinfo is not None:
        occurred_us = (instant - _EPOCH) // _ONE_US
    else:
        try:
            occurred_us = parse_instant(occurred_at, tz)
        except ValueError as exc:
            return f"occurred_at: {exc}"
    if not FIRST_US <= occurred_us < END_US:
        return f"occurred_at: {instant_problem(occurred_us, occurred_at)}"
    if "score" in attributes and event_type in SURVEY_SCALES:
        problem = _score_problem(event_type, attributes["score"])
        if problem:
            return problem
    # Positional, in the order Event declares its fields: keywords would cost ~0.8 us a row.
    return Event(
        source or default_source,
        event_id,
        occurred_us,
        event_type,
        subject_type,
        subject_id,
        account or None,
        owner or None,
        channel or None,
        link or None,
        attributes,
    )


_TEXT_FIELDS = (
    ("source", "source"), ("id", "id"), ("type", "type"), ("subject_type", "subject_type"),
    ("subject_id", "subject_id"), ("account", "account"), ("owner", "owner"),
    ("channel", "channel"), ("link", "link"),
)  # fmt: skip


def _text_problem(event: Event) -> str:
    """What in an event cannot be stored as text (`textsafe.stored_text_problem`), or "".

    Called only for the rare row whose line has a NUL or a JSON escape: the same rule for
    both stores, where SQLite would keep a NUL and PostgreSQL refuse the whole import."""
    values = [(name, getattr(event, attr)) for name, attr in _TEXT_FIELDS]
    for name, value in event.attributes.items():
        values.append((name, name))  # a key, too, is stored
        values.append((name, value if isinstance(value, str) else
                       json.dumps(value, ensure_ascii=False)))  # as event_to_row writes it
    for name, value in values:
        problem = stored_text_problem(value) if isinstance(value, str) else ""
        if problem:
            return f"field {name!r} {problem}"
    return ""


def _score_problem(event_type: str, score: Any) -> str:
    """What is wrong with a survey's `score`, or "" if it is an answer on the scale.

    A score that is no number at all ("n/a") is kept and not counted, as the weekly report
    documents; a number off the scale, infinite or NaN would be counted, and is refused.
    """
    low, high = SURVEY_SCALES[event_type]
    if isinstance(score, int | float) and not isinstance(score, bool):
        number = float(score)
    elif isinstance(score, str):
        try:
            number = float(score.strip().replace(",", "."))
        except ValueError:
            return ""
    else:
        return ""
    if not math.isfinite(number):
        return f"field 'score' must be a number from {low} to {high}, not {score!r}"
    if not low <= number <= high:
        return f"field 'score' {score!r} is outside the {event_type} scale of {low} to {high}"
    return ""


__all__ = [
    "MAX_LINE_BYTES", "PROGRESS_EVERY_LINES", "SURVEY_SCALES", "iter_file", "iter_file_numbered",
]  # fmt: skip
