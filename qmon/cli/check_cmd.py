"""`qmon check`: alert on promises that newly broke or are at risk, once each."""

from __future__ import annotations

import typer

from qmon.cli.common import (
    config_of,
    console,
    err_console,
    handle_errors,
    open_store,
    parse_instant_option,
)
from qmon.exit_codes import ExitCode
from qmon.textsafe import terminal_text
from qmon.timeutil import from_us


@handle_errors
def check(
    ctx: typer.Context,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Evaluate as of this instant (ISO-8601; default now)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be alerted; record and send nothing."
    ),
    full: bool = typer.Option(
        False,
        "--full",
        help="Evaluate every subject, not only those changed since the last "
        "check (the check does this by itself when it must).",
    ),
) -> None:
    """Evaluate every promise now; alert each instance that newly broke or is at risk.

    With a channel configured the check is incremental: it evaluates only the subjects whose
    events changed since the last check, or whose clock reached a warn threshold or a
    deadline, so it costs time in proportion to what happened, not to the store's size. It
    evaluates everything when the promises changed, on its first run, or for `--as-of` before
    the last check.

    Each alert is recorded once (promise, subject, cycle, kind) before it is sent, so
    repeated or overlapping checks never alert twice; alerts Slack did not take are sent by
    a later check, with backoff. A breach that is later kept has its message updated (late,
    by how much). Without `notify.slack` in the config alerts are listed, not recorded.

    With `writeback:` configured, each CRM record's qmon fields (status, next deadline,
    breaches, promise, link) are kept current: only records whose values changed are written,
    in batches; a record the CRM refuses is retried later and listed by `qmon status`; with
    `tasks:` each new breach gets one task for the record's owner.

    Exit codes: 0 ok (records the CRM refused are warnings); 2 bad config or option; 3 some
    alerts or CRM writes could not be delivered (they stay queued).
    """
    from qmon.alerts.check import run_check

    config = config_of(ctx)
    as_of_us = parse_instant_option("--as-of", as_of, config.timezone)
    store = open_store(config)
    try:
        report = run_check(config, store, as_of_us, dry_run=dry_run, full=full)
    finally:
        store.close()
    verb = "would alert" if dry_run else "new alert"
    for alert in report.found:
        i = alert.instance
        subject = terminal_text(f"{i.subject_type} {i.subject_id}")
        line = f"{verb}: {alert.kind:8} {terminal_text(i.promise_id)}  {subject}"
        started = f"started {from_us(i.started_us).isoformat()}"
        # On a narrow terminal the start goes on a line of its own rather than being wrapped.
        wrap = len(line) + 2 + len(started) > console.width
        console.print(line + ("\n    " if wrap else "  ") + started, highlight=False)
    for notice in report.notices:
        console.print(f"new alert: {terminal_text(notice)}", highlight=False)
    if not dry_run:
        console.print(
            f"{len(report.found)} new alert(s); {report.delivered} sent, {report.updated} "
            f"updated; {report.pending} waiting"
            + (f"; {report.webhooks} to the webhook" if report.webhooks else ""),
            highlight=False,
        )
    wb = report.writeback
    if not dry_run and (wb.changed or wb.written or wb.pending or wb.refused or wb.failed):
        console.print(
            f"CRM: {wb.changed} record(s) changed, {wb.written} written, "
            f"{wb.tasks_created} task(s) created, {wb.tasks_updated} updated; "
            f"{wb.pending} waiting",
            highlight=False,
        )
    causes: dict[tuple[str, str, str], list[str]] = {}  # one line per cause, not per record
    for source, object_type, record_id, reason in wb.refused:
        causes.setdefault((source, object_type, reason), []).append(record_id)
    for (source, object_type, reason), ids in causes.items():
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        line = f"CRM refused {len(ids)} {source} {object_type} record(s) ({shown}): {reason}"
        err_console.print(f"warning: {terminal_text(line, markup=False)}", markup=False,
                          highlight=False)  # fmt: skip
    for warning in dict.fromkeys([*report.warnings, *wb.warnings]):
        err_console.print(f"warning: {terminal_text(warning, markup=False)}", markup=False,
                          highlight=False)  # fmt: skip
    for reason in dict.fromkeys([*report.failed, *wb.failed]):
        err_console.print(f"not delivered: {terminal_text(reason, markup=False)}",
                          markup=False, highlight=False)  # fmt: skip
    if report.failed or wb.failed:
        raise typer.Exit(int(ExitCode.SOURCE_FAILED))
