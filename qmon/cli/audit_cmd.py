"""`qmon audit` and `qmon explain`: compliance over the past, and why one case was late."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from qmon.cli.common import (
    bad_argument,
    check_names,
    config_of,
    console,
    err_console,
    handle_errors,
    open_store,
    parse_date_option,
    parse_instant_option,
)
from qmon.exit_codes import ExitCode
from qmon.timeutil import SUPPORTED_RANGE

if TYPE_CHECKING:
    from qmon.config import QmonConfig
    from qmon.reports.audit import AuditQuery


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@handle_errors
def audit(
    ctx: typer.Context,
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Evaluate as of this instant (ISO-8601; without offset: in the "
        "config's time zone). Default: now.",
    ),
    date_from: str | None = typer.Option(
        None,
        "--from",
        help="Only instances that started on or after this date (YYYY-MM-DD, config time zone).",
    ),
    date_to: str | None = typer.Option(
        None, "--to", help="Only instances that started before this date (exclusive)."
    ),
    promise: list[str] = typer.Option(
        [], "--promise", "-p", help="Only this promise (repeatable)."
    ),
    phase: list[str] = typer.Option(
        [], "--phase", help="Only promises of this phase (repeatable)."
    ),
    by: str | None = typer.Option(
        None,
        "--by",
        help="Break down by ISO week, owner, channel, account, target (per entry of a "
        "promise's targets), or any stored attribute (priority, pipeline...: its value at "
        "each instance's decision instant).",
    ),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table, json or csv."),
    instances: bool = typer.Option(False, "--instances", help="Also list every instance."),
    compare_with: Path | None = typer.Option(
        None,
        "--compare-with",
        help="What-if: evaluate the same events under the promises of "
        "another config file and show how compliance would change.",
        exists=False,
    ),
    fail_on_miss: bool = typer.Option(
        False, "--fail-on-miss", help="Exit with code 1 when a promise misses its objective."
    ),
    wide: bool = typer.Option(
        False, "--wide", help="Tables with each promise's phase and title (wider than 80 "
        "columns)."
    ),
) -> None:
    """How did we do? Compliance per phase and promise, over any period, as of any instant.

    Examples:

        qmon audit --from 2026-07-01 --to 2026-10-01 -p quote-24h --by owner

        qmon audit --format json --instances > audit.json

        qmon audit --compare-with config/proposal.yaml
    """
    from qmon.config import load_config
    from qmon.promises.compliance import objective_met
    from qmon.reports.audit import run_audit
    from qmon.reports.audit_format import print_tables, render_csv, render_json
    from qmon.reports.compare import compare_document, print_comparison

    config = config_of(ctx)
    query = _query(config, as_of, date_from, date_to, promise, phase, by, instances)
    store = open_store(config)
    try:
        if compare_with is not None:
            other = load_config(compare_with)
            base = run_audit(config, store, query)
            alt = run_audit(other, store, query)
            if fmt == Format.json:
                typer.echo(json.dumps(compare_document(base, alt), indent=2))
            else:
                print_comparison(base, alt, console, str(compare_with))
            return
        result = run_audit(config, store, query)
    finally:
        store.close()
    if fmt == Format.json:
        typer.echo(render_json(result, instances))
    elif fmt == Format.csv:
        sys.stdout.write(render_csv(result, instances))
    else:
        print_tables(result, console, config.phases, instances, wide)
    if fail_on_miss and any(objective_met(t, p.objective) is False for p, t in result.promises):
        raise typer.Exit(int(ExitCode.OBJECTIVE_MISSED))


def _query(
    config: QmonConfig,
    as_of: str | None,
    date_from: str | None,
    date_to: str | None,
    promise: list[str],
    phase: list[str],
    by: str | None,
    instances: bool,
) -> AuditQuery:
    from qmon.reports.audit import AuditQuery

    check_names("--promise", promise, [p.id for p in config.promises], "promise")
    check_names("--phase", phase, list(config.phases), "phase")
    tz = config.timezone
    lo = parse_date_option("--from", date_from, tz)
    hi = parse_date_option("--to", date_to, tz)
    if lo is not None and hi is not None and hi <= lo:
        raise bad_argument("--to", "must be after --from (--to is exclusive)")
    return AuditQuery(
        as_of_us=parse_instant_option("--as-of", as_of, tz),
        from_us=lo,
        to_us=hi,
        promise_ids=tuple(promise),
        phases=tuple(phase),
        by=_breakdown(by),
        keep_instances=instances,
    )


def _breakdown(by: str | None) -> str | None:
    if by is None:
        return None
    name = by.strip()
    if not name or any(not (c.isalnum() or c in "_.-") for c in name):
        raise bad_argument("--by", f"{by!r} is not week, owner, channel, account, target or "
                           "an attribute name (letters, digits, '_', '.', '-')")  # fmt: skip
    return name


@handle_errors
def explain(
    ctx: typer.Context,
    promise_id: str = typer.Argument(..., help="The promise, e.g. first-reply-4bh."),
    subject_id: str = typer.Argument(..., help="The deal, case... id, e.g. C-20871."),
    as_of: str | None = typer.Option(None, "--as-of", help="As of this instant (default now)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
) -> None:
    """Why was it late? Each instance of one subject, its clock segment by segment
    (running, paused, outside hours, holiday, closed) and its deadline."""
    from qmon.reports.explain import explain_document, explain_subject, print_explanation

    config = config_of(ctx)
    check_names("PROMISE_ID", [promise_id], [p.id for p in config.promises], "promise")
    promise = config.promise(promise_id)
    assert promise is not None
    if fmt == Format.csv:
        raise bad_argument("--format", "explain writes a table or json, not csv")
    as_of_us = parse_instant_option("--as-of", as_of, config.timezone)
    store = open_store(config)
    try:
        stored, outside = store.out_of_range(subject_id)
        if not stored:
            raise bad_argument("SUBJECT_ID", f"no events of a subject {subject_id!r} are "
                               "stored, of any type: is the id right, and imported or synced?")
        explanations = explain_subject(promise, store, subject_id, as_of_us)
    finally:
        store.close()
    if outside:
        err_console.print(f"warning: {outside:,} stored event(s) of {subject_id!r} are outside "
                          f"the instants qmon stores ({SUPPORTED_RANGE}) and are left out",
                          markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    if fmt == Format.json:
        typer.echo(json.dumps(explain_document(promise, explanations, as_of_us), indent=2))
        return
    tz = getattr(promise.clock, "tz", None) or config.timezone
    print_explanation(promise, explanations, as_of_us, tz, console)
