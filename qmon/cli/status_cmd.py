"""`qmon status`: syncs, checks, the alert outbox and promises that cannot be evaluated."""

from __future__ import annotations

import json

import typer

from qmon.cli.common import Output, config_of, console, handle_errors, open_store
from qmon.textsafe import terminal_text
from qmon.timeutil import SUPPORTED_RANGE, now_us


@handle_errors
def status(
    ctx: typer.Context,
    output: Output = typer.Option(Output.table, "--format", help="table or json (stable)."),
) -> None:
    """Show when each source last synced completely, when the last check ran, how many alerts
    wait in the outbox (and why), each agent job's last run (by which agent, with its error),
    and which promises have no data to be evaluated or are fed only by a source that stopped
    syncing.

    Example: qmon status --format json
    """
    from qmon.reports.status import collect

    config = config_of(ctx)
    store = open_store(config)
    try:
        found = collect(config, store, now_us(), count_out_of_range=True)
    finally:
        store.close()
    data = found.as_json()
    if output == Output.json:
        typer.echo(json.dumps(data, indent=2))
        return
    safe = terminal_text
    for source in data["sources"]:
        console.print(f"source {safe(source['name'])}: last sync {source['last_sync'] or 'never'}",
                      highlight=False)  # fmt: skip
    console.print(f"last check: {data['last_check'] or 'never'}", highlight=False)
    if data["purged_before"]:
        console.print(f"purged before: {data['purged_before']} (older events are not stored "
                      "again; `qmon purge --reset-cut` lowers it)", highlight=False)  # fmt: skip
    if data["events_out_of_range"]:
        console.print(f"events outside {SUPPORTED_RANGE}: {data['events_out_of_range']:,} "
                      "(stored by an older qmon; every report leaves them out)",
                      highlight=False)  # fmt: skip
    outbox = data["outbox"]
    waiting = f"alerts waiting: {outbox['waiting']}"
    if outbox["waiting"]:
        waiting += f" (oldest {outbox['oldest']})"
    if outbox["last_error"]:
        waiting += f"; last error: {outbox['last_error']}"
    console.print(safe(waiting, markup=False), highlight=False, markup=False)
    crm = data["crm"]
    if crm["records_waiting"] or crm["tasks_waiting"] or crm["refused"]:
        console.print(f"CRM writes waiting: {crm['records_waiting']} record(s), "
                      f"{crm['tasks_waiting']} task(s)", highlight=False)  # fmt: skip
    for refused in crm["refused"]:
        line = (f"CRM refuses {refused['source']} {refused['object']}/{refused['id']} "
                f"({refused['tries']} tries): {refused['reason']}")  # fmt: skip
        console.print(safe(line, markup=False), highlight=False, markup=False)
    for job in data["jobs"]:
        line = (f"job {job['name']}: last run {job['last_finished'] or 'never'}"
                f" by {job['agent'] or '-'}, next due {job['next_due']}")  # fmt: skip
        if job["last_error"]:
            line += f"; last error: {job['last_error']}"
        console.print(safe(line, markup=False), highlight=False, markup=False)
    stale = {s["promise"]: s["sources"] for s in data["stale_promises"]}
    missing = safe(", ".join(p for p in data["not_evaluated"] if p not in stale) or "none")
    console.print(f"promises not evaluated (no data): {missing}", highlight=False)
    if stale:
        listed = ", ".join(f"{p} ({', '.join(sources)})" for p, sources in stale.items())
        console.print(f"promises not evaluated (stale source): {safe(listed, markup=False)}",
                      highlight=False,
                      markup=False)  # fmt: skip
