"""Reading bounded lines: a file's bytes capped per line, its lines, and progress reports.

Both readers share what is here: nothing in it knows CSV from JSON.
"""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import IO, Any

from qmon.errors import Problem
from qmon.events import Event

#: How often (in lines) `on_progress` hears how far the reading is: often enough for a
#: smooth bar, rarely enough to cost nothing.
PROGRESS_EVERY_LINES = 4096
#: The longest line read: a row of any export is a few kB, and a file without line ends
#: (a binary file, a dump on one line) must not be held in memory whole.
MAX_LINE_BYTES = 1 << 20

ProgressHook = Callable[[int], None]
Numbered = tuple[int, Event | Problem]


class LineTooLong(Exception):
    """`LineCapped` read more than `MAX_LINE_BYTES` without a line end."""


class LineCapped(io.RawIOBase):
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
            raise LineTooLong
        return size

    def tell(self) -> int:
        return self._handle.tell()

    def close(self) -> None:
        self._handle.close()
        super().close()


class Progress:
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


def has_bad_bytes(text: str) -> bool:
    """Whether `text` holds bytes that were not UTF-8 (the decoder made them surrogates).

    Call it only for text that is not ASCII: `str.isascii()` is much cheaper, and true for
    nearly every row.
    """
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


class Lines:
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
