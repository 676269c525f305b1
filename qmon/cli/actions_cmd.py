"""`qmon actions add|list`: the Quality Manager's log of improvement actions."""

from __future__ import annotations

import json
from datetime import date, datetime

import typer

from qmon.cli.common import (
    Output,
    bad_argument,
    check_names,
    config_of,
    console,
    handle_errors,
    open_store,
)
from qmon.reports.tables import column, table
from qmon.textsafe import terminal_text
from qmon.timeutil import now_us

app = typer.Typer(help="Log improvement actions and see their effect.", no_args_is_help=True)


@app.command("add")
@handle_errors
def add_action(
    ctx: typer.Context,
    promise_id: str = typer.Argument(..., help="The promise the action is about."),
    description: str = typer.Argument(..., help="What was done, in a sentence."),
    kind: str = typer.Option(
        ..., "--kind", help="`corrective` (removes a cause) or `recovery` (repairs one case)."
    ),
    day: str | None = typer.Option(
        None, "--date", help="The day it took effect (YYYY-MM-DD; default today)."
    ),
) -> None:
    """Log an action. Example: qmon actions add quote-24h "Quote template in the CRM" --kind
    corrective --date 2026-11-02"""
    from qmon.reports.actions import KINDS, add

    config = config_of(ctx)
    check_names("PROMISE_ID", [promise_id], [p.id for p in config.promises], "promise")
    check_names("--kind", [kind], KINDS, "kind")
    now = now_us()
    if day is None:
        when = datetime.now(config.timezone).date()
    else:
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise bad_argument("--date", f"not a date (YYYY-MM-DD): {day!r}") from None
    store = open_store(config)
    try:
        number = add(store, promise_id, kind, description, when, now)
    finally:
        store.close()
    console.print(f"action {number} logged: {kind} on {promise_id} from {when}", highlight=False)


@app.command("list")
@handle_errors
def list_command(
    ctx: typer.Context,
    output: Output = typer.Option(Output.table, "--format", help="table or json."),
    wide: bool = typer.Option(
        False, "--wide", help="Descriptions in the table (wider than 80 columns)."
    ),
) -> None:
    """List actions, with each corrective action's effect: compliance of its promise in the
    weeks before against the weeks after it."""
    from qmon.reports.actions import EFFECT_WEEKS, list_actions

    config = config_of(ctx)
    store = open_store(config)
    try:
        actions = list_actions(config, store, now_us())
    finally:
        store.close()
    if output == Output.json:
        rows = [{"id": a.id, "promise": a.promise_id, "kind": a.kind, "description": a.description,
                 "date": a.day.isoformat(), "compliance_before": _round(a.before),
                 "compliance_after": _round(a.after)} for a in actions]  # fmt: skip
        typer.echo(json.dumps(rows, indent=2))
        return
    shown = table(f"actions (effect: {EFFECT_WEEKS} weeks before → after)")
    for name in ("id", "date", "promise", "kind", *(("description",) if wide else ())):
        column(shown, name, number=name == "id", wraps=name == "description")
    for name in ("before", "after"):
        column(shown, name, number=True)
    for a in actions:
        shown.add_row(str(a.id), a.day.isoformat(), terminal_text(a.promise_id), a.kind,
                      *((terminal_text(a.description),) if wide else ()), _percent(a.before),
                      _percent(a.after))  # fmt: skip
    console.print(shown)
    if not wide:  # each description on lines of its own, under the table
        for a in actions:
            console.print(f"{a.id}: {terminal_text(a.description)}", highlight=False)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
