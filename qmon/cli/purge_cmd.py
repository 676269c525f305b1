"""`qmon purge --before DATE`: remove old events and what was derived from them."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer

from qmon.cli.common import (
    bad_argument,
    config_of,
    console,
    handle_errors,
    open_store,
    parse_date_option,
)
from qmon.timeutil import day_problem, iso_z, now_us

if TYPE_CHECKING:
    from qmon.config import QmonConfig


@handle_errors
def purge(
    ctx: typer.Context,
    before: str | None = typer.Option(
        None, "--before", help="Remove what happened before this date (YYYY-MM-DD, config zone)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Do it (without it: only say what would go)."),
    reset_cut: bool = typer.Option(
        False, "--reset-cut", help="Lower the remembered purge date to --before, or remove it "
        "without --before. Deletes nothing and brings nothing back.",
    ),  # fmt: skip
) -> None:
    """Remove events that happened before a date, and the alerts about promise instances that
    started before it, for data retention. Without --yes nothing is deleted: the command says
    how much would be. The date is remembered (`qmon status` shows it): events older than it
    that a later import or full sync brings back are not stored again. The date cannot be in
    the future. `--reset-cut` lowers the remembered date (or removes it): events from before
    the old date are not brought back by it, only stored again by a later import or full sync.

    Examples: qmon purge --before 2025-01-01 --yes; qmon purge --reset-cut --before 2024-01-01

    Exit codes: 0 done (or shown); 2 bad option; 3 the store could not be reached.
    """
    config = config_of(ctx)
    cut_us = _cut(before, config.timezone) if before is not None else None
    if reset_cut:
        _reset(config, cut_us, before)
        return
    if cut_us is None or before is None:
        raise bad_argument("--before", "a date is required (or --reset-cut)")
    if cut_us > now_us():
        raise bad_argument("--before", f"{before.strip()} is in the future: a purge would remove "
                           "every event and refuse every later import of them")  # fmt: skip
    shown = f"{before.strip()} ({iso_z(cut_us)})"
    store = open_store(config)
    try:
        counts = store.purge_before(cut_us, dry_run=not yes)
    finally:
        store.close()
    verb = "removed" if yes else "would remove"
    console.print(
        f"{verb} {counts['events']:,} events before {shown} and "
        f"{counts['alerts']:,} alerts about instances that started before it",
        highlight=False,
    )
    if not yes:
        console.print("nothing was deleted; add --yes to do it", highlight=False)


def _cut(before: str, tz: ZoneInfo) -> int:
    """The instant of `--before`: the start of a date qmon can store."""
    try:
        problem = day_problem(date.fromisoformat(before.strip()))
    except ValueError:
        problem = ""  # parse_date_option says what is wrong with it
    if problem:
        raise bad_argument("--before", problem)
    cut_us = parse_date_option("--before", before, tz)
    assert cut_us is not None
    return cut_us


def _reset(config: QmonConfig, cut_us: int | None, before: str | None) -> None:
    store = open_store(config)
    try:
        try:
            old = store.lower_purge_cut(cut_us)
        except ValueError:
            old = store.purge_cut()
            assert old is not None and before is not None
            raise bad_argument(
                "--before", f"{before.strip()} is later than the purge date {iso_z(old)}: "
                "--reset-cut only lowers it (qmon purge --before raises it)",
            ) from None
    finally:
        store.close()
    if old is None:
        console.print("there is no purge date; nothing changed", highlight=False)
        return
    now = f"lowered to {iso_z(cut_us)}" if cut_us is not None else "removed"
    console.print(
        f"purge date {iso_z(old)} {now}: nothing was deleted and nothing comes back; a later "
        "import or full sync stores the events it brings from before the old date again",
        highlight=False,
    )
