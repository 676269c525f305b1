"""Importing files into the store: all or nothing, idempotent, every bad row reported.

The file connector turns each row into an `Event` or a `Problem`; this module decides what
lands. Rows stream into one transaction in batches; if any row is bad and `skip_invalid` is
off, the transaction is rolled back and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from qmon.connectors.files import iter_file_numbered
from qmon.errors import InputError, Problem
from qmon.events import event_to_row

if TYPE_CHECKING:  # the reader process imports this module: keep the database layer out
    from qmon.store import Store

BATCH_ROWS = 20_000

#: Inputs at least this large are read in a second process while this one writes; smaller
#: ones are done before a process would have started.
BACKGROUND_FROM_BYTES = 4_000_000


@dataclass
class ImportSummary:
    """What an import read and did.

    `skipped` counts bad rows left out with --skip-invalid; `duplicates` counts rows that
    repeat an earlier row of the same input verbatim (written once).
    """

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    duplicates: int = 0
    purged: int = 0  # older than `qmon purge --before`: not stored
    problems: list[Problem] = field(default_factory=list)


ProgressHook = Callable[[Path, int], None]


class _SeenIds:
    """Which (source, id) the input has had so far, compactly: 1M ids cost about 150 MB."""

    def __init__(self) -> None:
        self._first: dict[int, tuple[int, int, int]] = {}  # hash(key) -> digest, file, line
        self.files: list[str] = []

    def check(self, key: tuple[str, str], row: tuple[Any, ...], file_no: int, line: int) -> str:
        """'new', 'repeat' (same content as before) or a problem message."""
        h = hash(key)
        digest = hash(row)
        first = self._first.get(h)
        if first is None:
            self._first[h] = (digest, file_no, line)
            return "new"
        if first[0] == digest:
            return "repeat"
        where = f"line {first[2]}" if first[1] == file_no else f"{self.files[first[1]]}:{first[2]}"
        return f"id {key[1]!r} appears again with different content (first at {where})"


def read_checked(
    paths: Sequence[Path],
    summary: ImportSummary,
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    on_progress: ProgressHook | None = None,
    attributes: Collection[str] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows to store, in batches: parsed, and checked against each other (with only
    the `attributes` named, when given).

    Bad rows and repeats are counted in `summary` (read, duplicates, problems) instead.
    The same (source, id) twice in the input is fine when both rows are identical, and a
    bad row otherwise: which one should win would depend on input order.
    """
    seen = _SeenIds()
    batch: list[tuple[Any, ...]] = []
    for file_no, path in enumerate(paths):
        seen.files.append(str(path))
        hook = (lambda n, p=path: on_progress(p, n)) if on_progress else None
        for line, item in iter_file_numbered(
            path, source=source, assume_tz=assume_tz, on_progress=hook, attributes=attributes
        ):
            summary.read += 1
            if isinstance(item, Problem):
                summary.problems.append(item)
                continue
            row = event_to_row(item)
            verdict = seen.check((item.source, item.id), row, file_no, line)
            if verdict == "repeat":
                summary.duplicates += 1
            elif verdict != "new":
                summary.problems.append(Problem(str(path), line, verdict))
            else:
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    yield batch
                    batch = []
    if batch:
        yield batch


def import_files(
    store: Store,
    paths: Sequence[Path],
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    skip_invalid: bool = False,
    on_progress: ProgressHook | None = None,
    background_from_bytes: int = BACKGROUND_FROM_BYTES,
    attributes: Collection[str] | None = None,
) -> ImportSummary:
    """Import CSV / JSON Lines files into the store.

    Inputs of `background_from_bytes` or more are read and checked in a second process
    while this one writes (`qmon.ingest_worker`), unless `assume_tz` has no key (a zone read
    from a file); the result is the same either way.

    Raises:
        InputError: bad rows with `skip_invalid` off (nothing was written), or a file that
            cannot be read at all.
    """
    summary = ImportSummary()
    options = {"source": source, "assume_tz": assume_tz, "on_progress": on_progress,
               "attributes": attributes}  # fmt: skip
    # The reader process is told the zone by its key; one without (read from a file, or a
    # plain offset) is used here, where it is the very object the caller gave.
    named = assume_tz is None or bool(getattr(assume_tz, "key", None))
    if named and sum(_size(p) for p in paths) >= background_from_bytes:
        from qmon.ingest_worker import read_in_background

        batches = read_in_background(paths, summary, **options)
    else:
        batches = read_checked(paths, summary, **options)
    # closing(): however the writing ends (a database error, Ctrl-C), the reader process is
    # stopped and waited for before this returns. Otherwise it would live as long as the
    # generator, which an exception's traceback keeps alive through this frame: blocked on
    # its full pipe, then printing a BrokenPipeError when this process exits.
    with store.writer(distinct=True) as writer, closing(batches):
        for batch in batches:
            writer.write(batch)
        if summary.problems and not skip_invalid:
            raise InputError(
                summary.problems,
                summary=f"{len(summary.problems)} bad row(s); nothing was imported "
                "(fix them, or use --skip-invalid to import the good rows)",
            )
        counts = writer.commit()
    summary.skipped = len(summary.problems)
    summary.inserted = counts.inserted
    summary.updated = counts.updated
    summary.unchanged = counts.unchanged
    summary.purged = counts.purged
    return summary


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # read in this process, which says why the file cannot be read
