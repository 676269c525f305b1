"""`qmon promises validate|list`: check and show the promise registry without the store."""

from __future__ import annotations

import typer
from rich.table import Table

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
def list_promises(ctx: typer.Context) -> None:
    """Show every promise: phase, start and stop events, allowed time, calendar, objective."""
    from qmon.promises.promise import Role

    config = config_of(ctx)
    table = Table(title=f"Promises in {state(ctx).config_path}", title_justify="left")
    for col in (
        "id",
        "phase",
        "starts on",
        "stops on",
        "pauses",
        "allowance",
        "calendar",
        "objective",
        "warn at",
    ):
        table.add_column(col)
    order = {name: i for i, name in enumerate(config.phases)}
    for p in sorted(config.promises, key=lambda p: order.get(p.phase, 99)):
        pauses = ", ".join(p.types(Role.PAUSE))
        if pauses:
            pauses += " / " + ", ".join(p.types(Role.RESUME))
        table.add_row(
            f"{p.id}\n[dim]{p.title}[/]",
            p.phase,
            "\n".join(p.types(Role.START)),
            "\n".join(p.types(Role.STOP)),
            pauses,
            p.describe_allowance(),
            p.calendar_name or "round the clock",
            "" if p.objective is None else f"{p.objective * 100:g} %",
            "" if p.warn_at is None else f"{p.warn_at * 100:g} %",
        )
    console.print(table)
