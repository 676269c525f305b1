"""`qmon crm setup`: create the fields qmon writes into the CRM (`qmon.writeback`)."""

from __future__ import annotations

from pathlib import Path

import typer

from qmon.cli.common import config_of, console, handle_errors
from qmon.textsafe import terminal_text

app = typer.Typer(
    help="qmon inside the CRM: the fields it writes promise status into (`writeback:`).",
    no_args_is_help=True,
)


@app.command("setup")
@handle_errors
def setup(
    ctx: typer.Context,
    source: str | None = typer.Option(
        None, "--source", help="Only this writeback source (default: every one)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what would be created; change nothing in the CRM."
    ),
    emit_metadata: Path | None = typer.Option(
        None,
        "--emit-metadata",
        help="Salesforce: write the fields and a permission set as SFDX source into this "
        "folder instead of creating them (deploy with `sf project deploy start`).",
    ),
) -> None:
    """Create what qmon's fields need in each `writeback:` source, idempotently, and say
    what was done: in HubSpot the property group `qmon` and its properties per object type
    (needs the `crm.schemas.<object>.write` scopes); in Salesforce the custom fields (Tooling
    API), a permission set `Qmon_Writeback` granting them, assigned to the API user.

    A field that exists with the right type is kept; one with another type is an error that
    names it (rename it, or choose other names in `writeback.<source>.fields`).

    Examples:
      qmon crm setup --dry-run
      qmon crm setup --source salesforce --emit-metadata ./qmon-sfdx

    Exit codes: 0 done; 2 no writeback configured, an unknown source, or a field of another
    type; 3 the CRM could not be reached or refused (scopes, permissions).
    """
    from qmon.errors import QmonError
    from qmon.writeback.crm import field_names, targets, writer

    config = config_of(ctx)
    wanted = targets(config)
    if not wanted:
        raise QmonError(
            f"{config.path}: no `writeback:` section; see docs/connectors for an example"
        )
    if source is not None and source not in wanted:
        raise QmonError(f"'{source}' is not a writeback source; they are: {', '.join(wanted)}")
    names = [source] if source is not None else list(wanted)
    for name in names:
        spec = wanted[name]
        kind = config.sources[name].kind
        if emit_metadata is not None:
            if kind != "salesforce":
                console.print(f"{name}: --emit-metadata is for Salesforce; skipped")
                continue
            from qmon.writeback.metadata import emit

            files = emit(
                emit_metadata, spec.objects, field_names(kind, spec), tasks=spec.tasks is not None
            )
            for path in files:
                console.print(f"{name}: wrote {terminal_text(str(path))}", highlight=False)
            console.print(
                f"{name}: deploy with `sf project deploy start --source-dir "
                f"{terminal_text(str(emit_metadata / 'force-app'))}` and assign with "
                "`sf org assign permset --name Qmon_Writeback`",
                highlight=False,
            )
            continue
        crm = writer(config, name)
        try:
            lines = crm.setup(spec.objects, tasks=spec.tasks is not None, dry_run=dry_run)
        finally:
            crm.close()
        for line in lines:
            console.print(f"{name}: {terminal_text(line)}", highlight=False)
