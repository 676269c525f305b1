"""Reading and checking a large import in a second process while the first one writes.

Parsing and checking a row costs about as much Python time as the database takes to store
it, and Python runs one thread at a time (a writer thread was tried: sqlite3 gives up the
interpreter for every row it steps, and the two threads then queue for it). So a child
process (`python -m qmon.ingest_worker`) runs `qmon.ingest.read_checked` and writes each batch
of rows, ready for the store, as a length-prefixed pickle to its stdout; the parent only
unpickles and writes, and the two halves of an import run on two cores. The pipe's buffer
keeps memory flat: a child that runs ahead waits for the writer.

A plain subprocess, not `multiprocessing`: its "spawn" re-imports the caller's main module,
and "fork" is unsafe in a process with threads (the CLI's progress bar is one).
The result is the same as in one process: the same rows, counts, problems (with their
lines), progress calls, and the same `InputError` for a file that cannot be read.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from qmon.errors import InputError
from qmon.ingest import ImportSummary, ProgressHook, read_checked

_LENGTH = struct.Struct("<Q")


def read_in_background(
    paths: Sequence[Path],
    summary: ImportSummary,
    *,
    source: str = "file",
    assume_tz: ZoneInfo | None = None,
    on_progress: ProgressHook | None = None,
    attributes: Collection[str] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """`read_checked`, run in a child process; `summary` is filled in when it is done."""
    keep = json.dumps(None if attributes is None else sorted(attributes))
    command = [sys.executable, "-m", "qmon.ingest_worker", source, assume_tz.key if assume_tz
               else "", keep, *(str(p) for p in paths)]  # fmt: skip
    # A process group of its own: Ctrl-C in a terminal interrupts the whole foreground group,
    # and the child would print a KeyboardInterrupt traceback. The finally below stops it.
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, process_group=0
    )
    assert child.stdout is not None
    try:
        while True:
            kind, payload = _receive(child.stdout)
            if kind == "rows":
                yield payload
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(paths[payload[0]], payload[1])
            elif kind == "summary":
                summary.read, summary.duplicates, summary.problems = payload
                return
            elif kind == "error":
                raise InputError(*payload)
            else:
                raise RuntimeError(f"reading the input failed in the reader process: {payload}")
    finally:
        child.stdout.close()
        if child.poll() is None:
            child.terminate()
        child.wait()


def _receive(stream: IO[bytes]) -> tuple[str, Any]:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise RuntimeError("the reader process ended unexpectedly")
    (size,) = _LENGTH.unpack(header)
    message: tuple[str, Any] = pickle.loads(stream.read(size))
    return message


def _serve(source: str, zone: str, keep: list[str] | None, paths: list[Path]) -> None:
    """The child's side: read and check, write messages to stdout."""
    out = sys.stdout.buffer
    index = {path: n for n, path in enumerate(paths)}

    def send(kind: str, payload: Any) -> None:
        data = pickle.dumps((kind, payload), pickle.HIGHEST_PROTOCOL)
        out.write(_LENGTH.pack(len(data)))
        out.write(data)

    summary = ImportSummary()
    try:
        for batch in read_checked(
            paths,
            summary,
            source=source,
            assume_tz=ZoneInfo(zone) if zone else None,
            on_progress=lambda path, n: send("progress", (index[path], n)),
            attributes=keep,
        ):
            send("rows", batch)
        send("summary", (summary.read, summary.duplicates, summary.problems))
    except InputError as exc:
        send("error", (exc.problems, exc.summary))
    except Exception as exc:  # reported by the parent, which owns the terminal
        send("crash", f"{type(exc).__name__}: {exc}")
    finally:
        out.flush()


def _main() -> None:
    try:
        _serve(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), [Path(p) for p in sys.argv[4:]])
    except BrokenPipeError:
        # The importing process is gone (killed, say by SIGKILL) and nobody reads the rows:
        # stop without a traceback on the terminal it shared, and without a second one
        # when Python flushes stdout on exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    _main()
