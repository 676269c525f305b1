"""`qmon actions add|list|remove`: the Quality Manager's log of improvement actions."""

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
    err_console,
    handle_errors,
    open_store,
)
from qmon.textsafe import terminal_text
from qmon.timeutil import SUPPORTED_RANGE, day_problem, now_us

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
        if day_problem(when):
            raise bad_argument("--date", day_problem(when))
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
    from qmon.reports.actions import EFFECT_WEEKS, list_actions, out_of_range

    config = config_of(ctx)
    store = open_store(config)
    try:
        actions = list_actions(config, store, now_us())
        skipped = out_of_range(store)
    finally:
        store.close()
    for number, day in skipped:
        err_console.print(f"warning: action {number} is dated {day!r}, outside the dates qmon "
                          f"stores ({SUPPORTED_RANGE}); it is left out (qmon actions remove "
                          f"{number})", markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    if output == Output.json:
        rows = [{"id": a.id, "promise": a.promise_id, "kind": a.kind, "description": a.description,
                 "date": a.day.isoformat(), "compliance_before": _round(a.before),
                 "compliance_after": _round(a.after)} for a in actions]  # fmt: skip
        typer.echo(json.dumps(rows, indent=2))
        return
    from qmon.reports.tables import column, table

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


@app.command("tasks")
@handle_errors
def tasks_command(
    ctx: typer.Context,
    output: Output = typer.Option(Output.table, "--format", help="table or json."),
) -> None:
    """The tasks qmon created in the CRM for broken promises (`writeback.<source>.tasks`),
    newest first: for which promise and record, for whom, and whether the owner completed
    it (read from the synced tasks: run `qmon sync` first for the latest).

    Example: qmon actions tasks --format json"""
    from qmon.timeutil import from_us
    from qmon.writeback.report import task_rows

    config = config_of(ctx)
    kinds = {name: source.kind for name, source in config.sources.items()}
    store = open_store(config)
    try:
        rows = task_rows(store, kinds)
    finally:
        store.close()

    def when(us: int | None) -> str | None:
        return None if us is None else from_us(us).astimezone(config.timezone).isoformat()

    if output == Output.json:
        typer.echo(json.dumps([{"promise": r.promise_id, "subject_type": r.subject_type,
                                "subject_id": r.subject_id, "source": r.source,
                                "created": when(r.created_us), "owner": r.owner,
                                "task_id": r.task_id, "completed": when(r.completed_us),
                                "last_error": r.last_error}
                               for r in rows], indent=2))  # fmt: skip
        return
    from qmon.reports.tables import column, table

    shown = table("tasks for broken promises")
    for name in ("created", "promise", "record", "task", "completed"):
        column(shown, name)
    for r in rows:
        task = r.task_id or ("failing" if r.last_error else "waiting")
        done = "–" if r.completed_us is None else (when(r.completed_us) or "")[:16]
        shown.add_row((when(r.created_us) or "")[:16], terminal_text(r.promise_id),
                      terminal_text(f"{r.subject_type} {r.subject_id}"), terminal_text(task),
                      done)  # fmt: skip
    console.print(shown)
    if not rows:
        console.print("no tasks yet (writeback.<source>.tasks in the config makes them)",
                      highlight=False)  # fmt: skip


@app.command("remove")
@handle_errors
def remove_command(
    ctx: typer.Context,
    action_id: int = typer.Argument(..., help="The action's id, as `qmon actions list` shows."),
) -> None:
    """Remove a logged action (one logged by mistake, or with a wrong date). Example: qmon
    actions remove 3

    Exit codes: 0 removed; 2 no action has that id; 3 the store could not be reached."""
    from qmon.reports.actions import remove

    config = config_of(ctx)
    store = open_store(config)
    try:
        removed = remove(store, action_id)
    finally:
        store.close()
    if not removed:
        raise bad_argument("ACTION_ID", f"there is no action {action_id} (qmon actions list)")
    console.print(f"action {action_id} removed", highlight=False)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
