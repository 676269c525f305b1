"""The `qmon` command line. Each command lives in its own module; this one wires them up.

Exit codes (see `qmon.exit_codes.ExitCode`): 0 ok, 1 a promise missed its objective (only
with `audit --fail-on-miss`), 2 bad input (config, arguments, files), 3 a store, source or
channel could not be reached, a source hit its API limit, or another agent holds the store.
"""

from __future__ import annotations

from pathlib import Path

import typer

from qmon import __version__
from qmon.cli import (
    actions_cmd,
    audit_cmd,
    check_cmd,
    crm_cmd,
    db_cmd,
    demo_cmd,
    import_cmd,
    promises_cmd,
    purge_cmd,
    report_cmd,
    run_cmd,
    serve_cmd,
    status_cmd,
    sync_cmd,
)
from qmon.cli.common import DEFAULT_CONFIG, AppState
from qmon.cli.helptext import keep_all_blocks
from qmon.ops import logs

app = typer.Typer(
    name="qmon",
    help=(
        "qmon measures whether the promises along your customer journey are kept, "
        "from your CRM's own records.\n\n"
        "Start with `qmon demo`. Exit codes: 0 ok; 1 an objective was missed "
        "(audit --fail-on-miss); 2 bad input; 3 a store, CRM source or channel could not be "
        "reached, a source hit its API limit, or another agent runs on the store."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: qmon.cli.helptext
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qmon {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path = typer.Option(
        DEFAULT_CONFIG,
        "--config",
        "-c",
        envvar="QMON_CONFIG",
        help="The configuration file (promises, calendars, database).",
        show_default=True,
    ),
    log_format: logs.LogFormat = typer.Option(
        logs.LogFormat.text,
        "--log-format",
        envvar="QMON_LOG_FORMAT",
        case_sensitive=False,
        help="Log lines on stderr: text, or json (one object per line; docs/operations.md).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Global options."""
    logs.configure(log_format)
    ctx.obj = AppState(config_path=config)


app.command("import")(import_cmd.import_events)
app.command("audit")(audit_cmd.audit)
app.command("explain")(audit_cmd.explain)
app.command("demo")(demo_cmd.demo)
app.command("sync")(sync_cmd.sync)
app.command("check")(check_cmd.check)
app.command("status")(status_cmd.status)
app.command("run")(run_cmd.run)
app.command("purge")(purge_cmd.purge)
app.add_typer(promises_cmd.app, name="promises")
app.add_typer(sync_cmd.app, name="sources")
app.add_typer(actions_cmd.app, name="actions")
app.add_typer(report_cmd.app, name="report")
app.add_typer(db_cmd.app, name="db")
app.add_typer(serve_cmd.app, name="serve")
app.add_typer(crm_cmd.app, name="crm")
keep_all_blocks(app)


def main() -> None:
    """Console-script entry point."""
    app()
