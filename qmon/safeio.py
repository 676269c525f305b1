"""Opening the files a user names, so that none of them can hang qmon or exhaust its memory.

A config, a secret file or an import file is expected to be a regular file. A device
(`/dev/zero`, `/dev/urandom`), a named pipe or a socket would be read forever or block, so
each is refused with words, as is a file larger than its kind can sensibly be. Every refusal
is an `OSError` whose `strerror` says what is wrong, so the callers' existing
`except OSError as exc: ... exc.strerror` paths report it in one line.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from typing import BinaryIO

#: A config of a few hundred promises is tens of kB; YAML is slow to parse past this size.
CONFIG_LIMIT = 1 << 20
#: A token, a password or a PEM private key is a few kB at most.
SECRET_LIMIT = 64 << 10


class FileRefused(OSError):
    """A file that is not one qmon will read: not regular, or too large."""


def size_text(limit: int) -> str:
    """`1 MiB`, `64 KiB`: a limit as people read it."""
    if limit >= 1 << 20:
        return f"{limit >> 20} MiB"
    return f"{limit >> 10} KiB"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading in binary, refusing anything else without blocking.

    `O_NONBLOCK` keeps the open of a named pipe without a writer from hanging; a regular file
    reads as it always does.

    Raises:
        FileNotFoundError, PermissionError, ...: as `open` does.
        FileRefused: a folder, a device, a pipe or a socket.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise FileRefused(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(mode):
            raise FileRefused(
                errno.EINVAL, "is not a regular file (a device, pipe or socket cannot be read)"
            )
        os.set_blocking(fd, True)
        return io.open(fd, "rb", closefd=True)  # noqa: UP020 - from a descriptor
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Raises:
        OSError: it cannot be opened; FileRefused: not a regular file, or larger than `limit`
            (checked on what is read, not only on the size the file claims).
    """
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(errno.EFBIG, f"is larger than {size_text(limit)}")
    return data


def read_secret_file(path: str | os.PathLike[str]) -> str:
    """A secret from its file: UTF-8 text of at most `SECRET_LIMIT` bytes, stripped.

    Raises:
        OSError: it cannot be read, is not a regular file, is too large or is not UTF-8
            text; `strerror` says which, and never quotes the file's contents.
    """
    data = read_regular(path, SECRET_LIMIT)
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise FileRefused(errno.EINVAL, "is not UTF-8 text") from None


__all__ = [
    "CONFIG_LIMIT",
    "SECRET_LIMIT",
    "FileRefused",
    "open_regular",
    "read_regular",
    "read_secret_file",
    "size_text",
]


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` whole or not at all: into a temporary file beside it,
    flushed to disk, then renamed over it. A full disk or a write that fails half-way leaves
    `path` as it was (absent, or its old content), never a truncated file.

    Raises:
        OSError: the file could not be written; the temporary file is gone again.
    """
    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    handle, temporary = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
