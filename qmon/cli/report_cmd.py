"""`qmon report weekly`: the Quality Manager's weekly report, as a file, an e-mail or text."""

from __future__ import annotations

from pathlib import Path

import typer

from qmon.cli.common import (
    bad_argument,
    config_of,
    console,
    handle_errors,
    open_store,
    parse_instant_option,
)
from qmon.safeio import write_atomically

app = typer.Typer(help="Reports for the Quality Manager.", no_args_is_help=True)


@app.command("weekly")
@handle_errors
def weekly(
    ctx: typer.Context,
    week: str | None = typer.Option(
        None, "--week", help="The ISO week, e.g. 2026-W47 (default: last week)."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Evaluate as of this instant (ISO-8601; default now)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the report as one HTML file (charts embedded) here."
    ),
    send_mail: bool = typer.Option(
        False, "--send", help="E-mail it to `notify.email.to` (HTML, plain text, inline charts)."
    ),
) -> None:
    """The weekly report: per journey phase and promise this week's compliance with its trend
    and objective, time to fulfil, the breaches with links to the CRM, customer voice, data
    health and improvement actions. Its numbers equal `qmon audit --from MONDAY --to
    NEXT-MONDAY` as of the same instant. Without --out or --send the report is printed as
    text.

    Examples:

        qmon report weekly --out weekly.html

        qmon report weekly --week 2026-W47 --send

    Exit codes: 0 done; 2 bad option, or --send without notify.email; 3 the SMTP server
    could not be reached or refused the report.
    """
    from qmon.reports.weekly import IsoWeek, last_complete_week
    from qmon.reports.weekly.delivery import mail, make

    config = config_of(ctx)
    tz = config.timezone
    as_of_us = parse_instant_option("--as-of", as_of, tz)
    as_of_us -= as_of_us % 1_000_000  # whole seconds, as the report shows them
    try:
        chosen = IsoWeek.parse(week) if week else last_complete_week(as_of_us, tz)
    except ValueError as exc:
        raise bad_argument("--week", str(exc)) from None
    if chosen.start_us(tz) > as_of_us:
        raise bad_argument("--week", f"{chosen} has not started yet (as of {as_of or 'now'})")
    if send_mail and config.notify.email is None:
        raise bad_argument("--send", "notify.email is not configured in the config file")
    store = open_store(config)
    try:
        report = make(config, store, chosen, as_of_us, charts=out is not None or send_mail)
    finally:
        store.close()
    if out is not None:
        try:
            write_atomically(out, report.html("data"))
        except OSError as exc:
            raise bad_argument("--out", f"cannot write {out}: {exc.strerror}") from None
        console.print(f"weekly report {chosen} written to {out}", highlight=False)
    if send_mail:
        mail(config, report)
        to = ", ".join(config.notify.email.to)
        console.print(f"weekly report {chosen} sent to {to}", highlight=False)
    if out is None and not send_mail:
        typer.echo(report.text, nl=False)
