"""What a database error means for the user, in one line, without a password.

SQLite and PostgreSQL report a damaged file, a read-only store or a lock in their own words;
`describe` keeps the driver's first line and adds what to do, so that `Store.open` and the
CLI's error handling (`qmon.cli.common.handle_errors`) say it alike, and every store fault
ends with one line and exit 3 instead of a traceback.
"""

from __future__ import annotations

import sys

from qmon.urls import redact

#: A piece of the driver's message -> what it means and what to do.
_HINTS: tuple[tuple[str, str], ...] = (
    ("file is not a database", "the file is not a qmon store (not an SQLite database)"),
    ("database disk image is malformed",
     "the store file is damaged (truncated or overwritten); restore it from a backup"),
    ("readonly database", "the store is read-only; qmon needs to write it (check the file's "
     "and its folder's permissions)"),
    ("read-only transaction", "the database is read-only (default_transaction_read_only, or a "
     "standby); point qmon at one it may write"),
    ("database is locked", "another process holds the store's lock beyond the 30 s wait; "
     "try again when it is done"),
    ("lock timeout", "another process holds a lock on the store beyond the wait; try again"),
    ("disk is full", "the disk is full; nothing was changed"),
    ("no space left", "the disk is full; nothing was changed"),
    ("unable to open database file", "the store file cannot be opened or created (does its "
     "folder exist, and may qmon write there?)"),
)  # fmt: skip


#: Where the error classes live, by module: SQLAlchemy's wrapper, and the drivers' own for
#: the raw cursors of the bulk writers.
_ERROR_CLASSES = (("sqlalchemy.exc", "DBAPIError"), ("sqlite3", "Error"), ("psycopg", "Error"))


def is_database_error(exc: BaseException) -> bool:
    """Whether `exc` came from the database or its driver (without importing either)."""
    for module_name, class_name in _ERROR_CLASSES:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def reason(exc: BaseException) -> str:
    """The driver's own first line, redacted."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return redact(lines[0] if lines else type(orig).__name__)


def describe(exc: BaseException) -> str:
    """One line: the driver's reason and, where known, what it means and what to do."""
    said = reason(exc)
    low = said.lower()
    for piece, hint in _HINTS:
        if piece in low:
            return f"{said}: {hint}"
    return said


__all__ = ["describe", "is_database_error", "reason"]
