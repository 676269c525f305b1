"""`qmon purge --before DATE`: remove old events and what was derived from them."""

from __future__ import annotations

import typer

from qmon.cli.common import (
    bad_argument,
    config_of,
    console,
    handle_errors,
    open_store,
    parse_date_option,
)
from qmon.timeutil import iso_z


@handle_errors
def purge(
    ctx: typer.Context,
    before: str = typer.Option(
        ..., "--before", help="Remove what happened before this date (YYYY-MM-DD, config zone)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Do it (without it: only say what would go)."),
) -> None:
    """Remove events that happened before a date, and the alerts about promise instances that
    started before it, for data retention. Without --yes nothing is deleted: the command says
    how much would be. Events older than the date that a later import or full sync brings
    back are not stored again.

    Example: qmon purge --before 2025-01-01 --yes

    Exit codes: 0 done (or shown); 2 bad option; 3 the store could not be reached.
    """
    config = config_of(ctx)
    cut_us = parse_date_option("--before", before, config.timezone)
    if cut_us is None:  # typer requires the option; this keeps the type checker content
        raise bad_argument("--before", "a date is required")
    store = open_store(config)
    try:
        counts = store.purge_before(cut_us, dry_run=not yes)
    finally:
        store.close()
    verb = "removed" if yes else "would remove"
    console.print(
        f"{verb} {counts['events']:,} events before {before} ({iso_z(cut_us)}) and "
        f"{counts['alerts']:,} alerts about instances that started before it",
        highlight=False,
    )
    if not yes:
        console.print("nothing was deleted; add --yes to do it", highlight=False)
