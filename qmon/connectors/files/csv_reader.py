"""The CSV reader: a header row, then an event or a problem per record."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from operator import itemgetter
from zoneinfo import ZoneInfo

from qmon.connectors.files.lines import Lines, Numbered, Progress, has_bad_bytes
from qmon.connectors.files.rows import may_be_long, row_event, size_fit, text_problem
from qmon.errors import Problem
from qmon.events import CORE_FIELDS, REQUIRED_FIELDS, Event

_CORE = frozenset(CORE_FIELDS)

#: csv module errors that deserve words a spreadsheet user knows.
_CSV_REASONS = {"unexpected end of data": "a quoted cell is still open at the end of the file"}


def read_csv(
    lines: Lines, source: str, tz: ZoneInfo | None, progress: Progress,
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
        if not characters.isascii() and has_bad_bytes(characters):
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
            item = text_problem(item) or item
        if type(item) is not str and may_be_long(characters):
            item = size_fit(item)
        yield line, (Problem(file, line, item) if type(item) is str else item)
    if header is None:  # not even a header: an export that failed, or the wrong file
        yield 1, Problem(file, 1, "the file is empty: a CSV file starts with its header row")


class _QuotedRecords:
    """The csv module's reading of the records that `read_csv` does not split itself.

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
        return row_event(fields, attributes, default_source, tz)
