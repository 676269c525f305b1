"""`qmon sync` and `qmon sources check`: CRM records into the store, and whether they can be."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from qmon.cli.common import (
    bad_argument,
    config_of,
    console,
    err_console,
    handle_errors,
    open_store,
    parse_date_option,
)
from qmon.exit_codes import ExitCode
from qmon.ops import logs

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from qmon.config import QmonConfig
    from qmon.sync import SourceReport, SyncReport

app = typer.Typer(help="The CRM sources in the config: check them.", no_args_is_help=True)


class _Bars:
    """One live line per stream: records stored so far and time taken."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def stream_started(self, source: str, stream: str) -> None:
        self._tasks[source, stream] = self._progress.add_task(f"{source} {stream}", total=None)

    def page_stored(self, source: str, stream: str, records: int) -> None:
        self._progress.advance(self._tasks[source, stream], records)

    def stream_finished(self, source: str, stream: str) -> None:
        task = self._tasks[source, stream]
        self._progress.update(task, total=self._progress.tasks[task].completed)


def _selected(config: QmonConfig, source: str) -> list[str]:
    if not config.sources:
        raise bad_argument(
            "sources",
            f"{config.path} has no `sources:` section; add a Salesforce or HubSpot source "
            "(see docs/connectors/)",
        )
    if source == "all":
        return list(config.sources)
    if source not in config.sources:
        raise bad_argument(
            "--source", f"unknown source '{source}'; configured: {', '.join(config.sources)}"
        )
    return [source]


@handle_errors
def sync(
    ctx: typer.Context,
    source: str = typer.Option(
        "all", "--source", "-s", help="A source name from the config, or `all`."
    ),
    full: bool = typer.Option(
        False, "--full", help="Read every record again instead of only the changes."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Read records modified on or after this date (YYYY-MM-DD, config time zone).",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log each API page (never tokens or passwords)."
    ),
) -> None:
    """Pull changes from the CRM sources into the store, incrementally.

    Each stream resumes where the last sync stopped; pages are stored together with the
    cursor, so an interrupted sync loses nothing and doubles nothing. Records deleted or
    archived in the CRM lose their events.

    Exit codes: 0 all sources synced; 2 bad config or option; 3 a source failed or hit its
    API limit (what was stored stays; the next sync resumes).

    Example: qmon sync --source hubspot --since 2026-01-01
    """
    from qmon.sync import run_sync

    config = config_of(ctx)
    names = _selected(config, source)
    since_us = parse_date_option("--since", since, config.timezone)
    if full and since_us is not None:
        raise bad_argument("--full", "use either --full or --since, not both")
    logs.verbose(verbose)
    store = open_store(config)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} records"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    try:
        with progress:
            report = run_sync(
                config, store, sources=names, full=full, since_us=since_us, progress=_Bars(progress)
            )
    finally:
        store.close()
    _print_report(report)
    if not report.ok:
        raise typer.Exit(int(ExitCode.SOURCE_FAILED))


def _print_report(report: SyncReport) -> None:
    from rich.table import Table

    table = Table(title="qmon sync")
    for column in ("source", "stream", "fetched", "new", "updated", "deleted", "unchanged"):
        table.add_column(column, justify="left" if column in ("source", "stream") else "right")
    for source in report.sources:
        for stream in source.streams:
            c = stream.counts
            mark = "" if stream.complete else " (stopped)"
            table.add_row(
                source.source,
                stream.stream + mark,
                f"{stream.fetched:,}",
                f"{c.new:,}",
                f"{c.updated:,}",
                f"{c.deleted:,}",
                f"{c.unchanged:,}",
            )
    console.print(table)
    for source in report.sources:
        console.print(_usage_line(source), highlight=False)
        if source.error is not None:
            err_console.print(
                f"{source.source}: {source.error}", markup=False, highlight=False, soft_wrap=True
            )


def _usage_line(source: SourceReport) -> str:
    usage = source.usage
    left = ""
    if usage.remaining is not None:
        of = f" of {usage.limit:,}" if usage.limit is not None else ""
        left = f", {usage.remaining:,}{of} left today"
    state = "ok" if source.ok else ("stopped at the API limit" if source.quota_stop else "failed")
    return f"{source.source}: {state}; {usage.calls:,} API calls{left}; {source.seconds:.1f} s"


@app.command("check")
@handle_errors
def check(
    ctx: typer.Context,
    source: str = typer.Option(
        "all", "--source", "-s", help="A source name from the config, or `all`."
    ),
) -> None:
    """Verify each source's credentials and permissions: which objects and fields qmon can
    read, and in words what is missing. Exit 0 when everything needed is readable, 3 if not.
    """
    from qmon.connectors.base import SyncError

    config = config_of(ctx)
    failed = False
    for name in _selected(config, source):
        console.print(f"[bold]{name}[/bold] ({config.sources[name].kind})")
        try:
            connector = config.sources[name].connect()
            try:
                findings = connector.check()
            finally:
                connector.close()
        except SyncError as exc:
            failed = True
            console.print(f"  ✗ {exc}", markup=False, highlight=False)
            continue
        findings += _writeback_findings(config, name)
        for finding in findings:
            failed |= not finding.ok
            mark = "✓" if finding.ok else "✗"
            detail = f": {finding.detail}" if finding.detail else ""
            console.print(f"  {mark} {finding.what}{detail}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(int(ExitCode.SOURCE_FAILED))


def _writeback_findings(config: Any, name: str) -> list[Any]:
    """With `writeback:` for this source: may qmon write its fields and tasks there, and do
    the fields exist (`qmon crm setup`)?"""
    from qmon.connectors.base import Finding, SyncError
    from qmon.writeback.crm import targets, writer
    from qmon.writeback.protocol import WriteRefused

    spec = targets(config).get(name)
    if spec is None:
        return []
    crm = writer(config, name)
    try:
        return crm.check(spec.objects, tasks=spec.tasks is not None)
    except (SyncError, WriteRefused) as exc:
        return [Finding(False, "qmon's fields writable", str(exc))]
    finally:
        crm.close()
