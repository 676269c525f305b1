"""What every command shares: the config path, opening config and store, and turning
qmon's errors into messages and documented exit codes.

Every command module is imported to build `qmon --help`, so this one and they import only
what is cheap (typer, rich, the standard library): the config loader, the store and the
reports are imported inside the functions that use them (tests/test_cli_startup.py).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import typer

from qmon.errors import InputError, Problem, QmonError
from qmon.exit_codes import ExitCode
from qmon.timeutil import now_us, to_us

if TYPE_CHECKING:
    from rich.console import Console

    from qmon.config import QmonConfig
    from qmon.store import Store

DEFAULT_CONFIG = "config/qmon.yaml"


class _LazyConsole:
    """A rich Console made when first used: importing rich.console takes about 20 ms, which
    `qmon --help` and every command that prints nothing through it need not pay."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    # Dunders are looked up on the type, not through __getattr__ (rich's Live uses these).
    def __enter__(self) -> Console:
        return self._real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._real().__exit__(*exc)  # type: ignore[arg-type]


console: Console = _LazyConsole(stderr=False)  # type: ignore[assignment]
err_console: Console = _LazyConsole(stderr=True)  # type: ignore[assignment]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppState:
    """Global options, set by the root callback."""

    config_path: Path = Path(DEFAULT_CONFIG)


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    return (
        obj
        if isinstance(obj, AppState)
        else AppState(Path(os.environ.get("QMON_CONFIG", DEFAULT_CONFIG)))
    )


def config_of(ctx: typer.Context) -> QmonConfig:
    from qmon.config import load_config

    return load_config(state(ctx).config_path)


def open_store(config: QmonConfig) -> Store:
    from qmon.store import Store

    return Store.open(config.database_url)


def handle_errors(func: F) -> F:
    """Print qmon's own errors plainly (no traceback) and exit with their documented code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QmonError as exc:
            err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(int(exc.exit_code)) from None
        except Exception as exc:
            from qmon.store.dberrors import describe, is_database_error

            if not is_database_error(exc):
                raise
            # A store that failed after it was opened (damaged pages, a lock held beyond the
            # wait, a read-only database, a full disk): its transaction was rolled back.
            message = f"the store failed: {describe(exc)}"
            err_console.print(message, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(int(ExitCode.SOURCE_FAILED)) from None

    return wrapper  # type: ignore[return-value]


class Output(StrEnum):
    """`--format` of commands that print a table for people or stable JSON for scripts."""

    table = "table"
    json = "json"


def check_names(
    option: str, given: list[str], known: list[str] | tuple[str, ...], what: str
) -> None:
    """Every name in `given` is one of `known`, or an InputError listing each that is not."""
    from qmon.config.spec import did_you_mean

    problems = [
        Problem(
            option,
            None,
            f"unknown {what} {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}",
        )  # fmt: skip
        for name in given
        if name not in known
    ]
    if problems:
        raise InputError(problems)


def bad_argument(option: str, message: str) -> InputError:
    return InputError([Problem(option, None, message)])


#: The instants that every time zone can show as a date: a day from either end of the calendar.
_FIRST_US = to_us(datetime(1, 1, 2, tzinfo=UTC))
_LAST_US = to_us(datetime(9999, 12, 31, tzinfo=UTC))


def parse_instant_option(option: str, text: str | None, tz: ZoneInfo) -> int:
    """An instant from the command line: `now`, ISO-8601 with offset, or without offset or
    as a bare date in the config's time zone."""
    if text is None or text.strip().lower() == "now":
        return now_us()
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad_argument(option, f"not an ISO-8601 instant: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    instant = to_us(parsed)
    if not _FIRST_US <= instant < _LAST_US:
        raise bad_argument(
            option, f"{text.strip()} is outside the instants every time zone can show "
            "(0001-01-02 to 9999-12-30, UTC)",
        )
    return instant


def parse_date_option(option: str, text: str | None, tz: ZoneInfo) -> int | None:
    """The start of a date (YYYY-MM-DD) in `tz`, as an instant."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise bad_argument(option, f"not a date (YYYY-MM-DD): {text!r}") from None
    return to_us(datetime.combine(day, time(0), tzinfo=tz))
