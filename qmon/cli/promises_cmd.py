"""`qmon promises validate|list`: check and show the promise registry without the store."""

from __future__ import annotations

import typer

from qmon.cli.common import config_of, console, handle_errors, state
from qmon.textsafe import terminal_text

app = typer.Typer(
    help="Check and show the promise registry (does not touch the store).", no_args_is_help=True
)


@app.command("validate")
@handle_errors
def validate(ctx: typer.Context) -> None:
    """Check the configuration; every problem is listed as `file:line: message` (exit 2)."""
    config = config_of(ctx)
    for warning in config.warnings:
        console.print(terminal_text(str(warning)), style="yellow", soft_wrap=True)
    console.print(
        f"{state(ctx).config_path}: OK — {len(config.promises)} promise(s), "
        f"{len(config.calendars)} calendar(s), phases: {', '.join(config.phases)}"
        + (f", {len(config.warnings)} warning(s)" if config.warnings else "")
    )


@app.command("list")
@handle_errors
def list_promises(
    ctx: typer.Context,
    wide: bool = typer.Option(
        False, "--wide", help="One table row per promise, with its title (wider than 80 "
        "columns)."
    ),
) -> None:
    """Show every promise: phase, start and stop events, allowed time, calendar, objective."""
    from qmon.promises.promise import Role

    config = config_of(ctx)
    safe = terminal_text
    order = {name: i for i, name in enumerate(config.phases)}
    rows = []
    for p in sorted(config.promises, key=lambda p: order.get(p.phase, 99)):
        pauses = ", ".join(p.types(Role.PAUSE))
        if pauses:
            pauses += " / " + ", ".join(p.types(Role.RESUME))
        rows.append((
            p, ", ".join(p.types(Role.START)), ", ".join(p.types(Role.STOP)), pauses,
            p.calendar_name or "round the clock",
            "" if p.objective is None else f"{p.objective * 100:g} %",
            "" if p.warn_at is None else f"{p.warn_at * 100:g} %",
        ))  # fmt: skip
    title = f"Promises in {state(ctx).config_path}"
    if not wide:  # a few short lines per promise: readable at 80 columns
        console.print(safe(title), highlight=False)
        for p, starts, stops, pauses, calendar, objective, warn_at in rows:
            console.print(f"\n[bold]{safe(p.id)}[/] ({safe(p.phase)})"
                          + (f": {safe(p.title)}" if p.title != p.id else ""), highlight=False)
            console.print(f"  starts on {safe(starts)}; stops on {safe(stops)}"
                          + (f"; pauses on {safe(pauses)}" if pauses else ""), highlight=False)
            target = f"; objective {objective}" if objective else ""
            target += f", warn at {warn_at}" if warn_at else ""
            console.print(f"  {safe(p.describe_allowance())}, {safe(calendar)}{target}",
                          highlight=False)
        return
    from qmon.reports.tables import column, table

    shown = table(title)
    for col in ("id", "phase", "starts on", "stops on", "pauses", "allowance", "calendar"):
        column(shown, col, wraps=col not in ("id", "phase"))
    for col in ("objective", "warn at"):
        column(shown, col, number=True)
    for p, starts, stops, pauses, calendar, objective, warn_at in rows:
        shown.add_row(
            safe(p.id) + (f"\n[dim]{safe(p.title)}[/]" if p.title != p.id else ""),
            safe(p.phase), safe(starts), safe(stops), safe(pauses),
            safe(p.describe_allowance()), safe(calendar), objective, warn_at,
        )  # fmt: skip
    console.print(shown)
