"""`qmon import`: CSV or JSON Lines exports from any CRM into the event store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from qmon.cli.common import bad_argument, config_of, console, err_console, handle_errors, open_store
from qmon.errors import InputError
from qmon.exit_codes import ExitCode
from qmon.timeutil import zone

if TYPE_CHECKING:
    from qmon.ingest import ImportSummary

#: Files smaller than this import too fast for a progress bar to help.
PROGRESS_FROM_BYTES = 2_000_000


@handle_errors
def import_events(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="CSV (with a header row) or JSON Lines files."),
    source: str = typer.Option("file", "--source", help="Source name for rows without one."),
    skip_invalid: bool = typer.Option(
        False,
        "--skip-invalid",
        help="Import the good rows and report the bad ones (exit 2 if "
        "any). Without it an import is all or nothing.",
    ),
    assume_timezone: str | None = typer.Option(
        None,
        "--assume-timezone",
        help="Zone for timestamps written without an offset, e.g. "
        "Europe/Amsterdam. Without it such timestamps are errors.",
    ),
) -> None:
    """Import events from files. Idempotent: the same file twice changes nothing; a row whose
    (source, id) is already stored replaces it.

    Columns: id, occurred_at, type, subject_type, subject_id (required); source, account,
    owner, channel, link (optional). Of other columns only those qmon reads (score,
    survey_type, stage, phase) and those named in the config's `imports: {attributes: [...]}`
    are kept; the rest (notes, message bodies) is dropped as the file is read.

    Example: qmon import exports/cases-2026-11.csv --source zendesk
    """
    from qmon.ingest import import_files

    tz = None
    if assume_timezone:
        try:
            tz = zone(assume_timezone)
        except ValueError as exc:
            raise bad_argument("--assume-timezone", str(exc)) from None
    config = config_of(ctx)
    store = open_store(config)
    total = sum(p.stat().st_size for p in paths if p.is_file())
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=total < PROGRESS_FROM_BYTES,
    )
    done: dict[Path, int] = {}
    try:
        with progress:
            task = progress.add_task("importing", total=total)

            def on_progress(path: Path, nbytes: int) -> None:
                done[path] = nbytes
                progress.update(task, completed=sum(done.values()), description=path.name)

            summary = import_files(
                store,
                paths,
                source=source,
                assume_tz=tz,
                skip_invalid=skip_invalid,
                on_progress=on_progress,
                attributes=config.kept_attributes,
            )
    finally:
        store.close()
    _print_summary(summary)
    if summary.problems:
        for problem in summary.problems:
            err_console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        err_console.print(
            f"{len(summary.problems)} bad row(s) skipped; the good rows were imported."
        )
        raise typer.Exit(int(ExitCode.BAD_INPUT))


def _print_summary(s: ImportSummary) -> None:
    extra = f", {s.duplicates:,} repeated in the input" if s.duplicates else ""
    if s.purged:
        extra += f", {s.purged:,} older than the purge date (not stored)"
    console.print(
        f"read {s.read:,} rows: {s.inserted:,} inserted, {s.updated:,} updated, "
        f"{s.unchanged:,} unchanged, {s.skipped:,} skipped{extra}"
    )


__all__ = ["InputError", "import_events"]
