"""Rendering an `AuditResult` as JSON (stable, documented), CSV, or rich tables."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console

from qmon.promises.compliance import Tally, objective_met
from qmon.promises.duration import format_duration
from qmon.promises.engine import Instance
from qmon.reports.tables import column, table
from qmon.textsafe import csv_cell, terminal_text
from qmon.timeutil import iso_z

if TYPE_CHECKING:
    from qmon.reports.audit import AuditResult


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _counts(t: Tally) -> dict[str, Any]:
    return {
        "met": t.met,
        "breached": t.breached,
        "open": t.open,
        "not_evaluated": t.not_evaluated,
        "compliance": _ratio(t.compliance),
    }


def instance_dict(inst: Instance) -> dict[str, Any]:
    """An instance in the audit JSON's form."""
    return {
        "promise": inst.promise_id,
        "phase": inst.phase,
        "subject_type": inst.subject_type,
        "subject_id": inst.subject_id,
        "started_at": iso_z(inst.started_us),
        "stopped_at": None if inst.stopped_us is None else iso_z(inst.stopped_us),
        "elapsed_seconds": round(inst.elapsed_us / 1_000_000, 6),
        "status": inst.status,
        "at_risk": inst.at_risk,
        "allowed_seconds": None if inst.allowed_us is None else round(inst.allowed_us / 1e6, 6),
        "deadline": None if inst.deadline_us is None else iso_z(inst.deadline_us),
        "target": inst.target,
        "reason": inst.reason,
    }


def audit_document(result: AuditResult, with_instances: bool) -> dict[str, Any]:
    """The audit as the documented JSON document (see README "Audit JSON")."""
    doc: dict[str, Any] = {
        "as_of": iso_z(result.as_of_us),
        "promises": [{"id": p.id, "phase": p.phase, **_counts(t)} for p, t in result.promises],
        "phases": [{"phase": name, **_counts(t)} for name, t in result.phases],
    }
    if result.by is not None:
        doc["breakdown"] = {
            "by": result.by,
            "rows": [
                {"promise": pid, result.by: key, **_counts(t)}
                for (pid, key), t in result.breakdown.items()
            ],
        }
    if with_instances:
        doc["instances"] = [instance_dict(i) for i in result.instances]
    return doc


def render_json(result: AuditResult, with_instances: bool) -> str:
    return json.dumps(audit_document(result, with_instances), indent=2, ensure_ascii=False)


def render_csv(result: AuditResult, with_instances: bool) -> str:
    """Instances one per row with `--instances`; otherwise one row per phase, promise and
    breakdown key, told apart by the `level` column. Every cell goes through `csv_cell`."""
    buf = io.StringIO()
    if with_instances:
        fields = (
            list(instance_dict(result.instances[0]).keys())
            if result.instances
            else [
                "promise",
                "phase",
                "subject_type",
                "subject_id",
                "started_at",
                "stopped_at",
                "elapsed_seconds",
                "status",
                "at_risk",
            ]
        )
        writer = csv.DictWriter(buf, fieldnames=[*fields, "owner", "channel", "account"])
        writer.writeheader()
        for inst in result.instances:
            cells = {
                **instance_dict(inst),
                "owner": inst.owner,
                "channel": inst.channel,
                "account": inst.account,
            }
            writer.writerow({name: csv_cell(value) for name, value in cells.items()})
        return buf.getvalue()
    cols = [
        "level",
        "phase",
        "promise",
        "key",
        "met",
        "breached",
        "open",
        "at_risk",
        "not_evaluated",
        "compliance",
        "objective",
    ]
    writer = csv.DictWriter(buf, fieldnames=cols)
    writer.writeheader()

    def row(level: str, t: Tally, **kw: Any) -> None:
        cells = {
            "level": level,
            "met": t.met,
            "breached": t.breached,
            "open": t.open,
            "at_risk": t.at_risk,
            "not_evaluated": t.not_evaluated,
            "compliance": _ratio(t.compliance),
            **kw,
        }
        writer.writerow({name: csv_cell(value) for name, value in cells.items()})

    for name, t in result.phases:
        row("phase", t, phase=name)
    for p, t in result.promises:
        row("promise", t, phase=p.phase, promise=p.id, objective=p.objective)
    for (pid, key), t in result.breakdown.items():
        row(result.by or "", t, promise=pid or "", key=key)
    return buf.getvalue()


def percent(value: float | None) -> str:
    return "not evaluated" if value is None else f"{value * 100:.1f} %"


def _verdict(t: Tally, objective: float | None) -> str:
    met = objective_met(t, objective)
    if objective is None:
        return ""
    mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[dim]–[/]"}[met]
    return f"{objective * 100:g} % {mark}"


def print_tables(
    result: AuditResult,
    console: Console,
    phase_order: tuple[str, ...],
    with_instances: bool,
    wide: bool = False,
) -> None:
    """Readable tables: per phase (journey order), per promise, the breakdown, instances.
    Config and CRM values go through `terminal_text` (no control characters, no markup).

    Per promise, ids only under a heading per phase, so that the table fits 80 columns;
    `wide` adds a phase column and each promise's title under its id."""
    safe = terminal_text
    phases = dict(result.phases)
    # Instances without an allowance (a promised date missing) have a column when there are.
    unknown = any(t.not_evaluated for _, t in result.promises)
    more = ("not\nevaluated",) if unknown else ()
    t = table("Compliance per phase")
    for col in ("phase", "met", "breached", "open", "at\nrisk", *more, "compliance"):
        column(t, col, number=col != "phase")
    for name in phase_order:
        if name in phases:
            tally = phases[name]
            t.add_row(
                safe(name),
                str(tally.met),
                str(tally.breached),
                str(tally.open),
                str(tally.at_risk),
                *((str(tally.not_evaluated),) if unknown else ()),
                percent(tally.compliance),
            )
    console.print(t)

    t = table("Compliance per promise")
    column(t, "promise", wraps=wide)
    if wide:
        column(t, "phase")
    for col in ("met", "breached", "open", "at\nrisk", *more, "compliance", "objective"):
        column(t, col, number=True)
    rows = result.promises
    if not wide:
        order = {name: i for i, name in enumerate(phase_order)}
        rows = sorted(rows, key=lambda pt: order.get(pt[0].phase, len(order)))
    heading = None
    for p, tally in rows:
        if not wide and p.phase != heading:
            heading = p.phase
            t.add_row(f"[bold]{safe(p.phase)}[/]")
        t.add_row(
            safe(p.id) + (f"\n[dim]{safe(p.title)}[/]" if wide and p.title != p.id else ""),
            *((safe(p.phase),) if wide else ()),
            str(tally.met),
            str(tally.breached),
            str(tally.open),
            str(tally.at_risk),
            *((str(tally.not_evaluated),) if unknown else ()),
            percent(tally.compliance),
            _verdict(tally, p.objective),
        )
    console.print(t)

    if result.by is not None:
        per_target = result.by == "target"  # target numbers mean something per promise only
        scope = "per promise" if per_target else "all audited promises"
        t = table(f"Per {safe(result.by)} ({scope})")
        column(t, safe(result.by), wraps=True)
        for col in ("met", "breached", "open", "compliance"):
            column(t, col, number=True)
        titles = {p.id: p for p, _ in result.promises}
        rows = [(k, v) for k, v in result.breakdown.items() if (k[0] is not None) == per_target]
        if not per_target:
            rows.sort(key=lambda kv: (kv[0][1] is None, str(kv[0][1] or "")))
        for (pid, key), tally in rows:
            if per_target:
                targets = titles[pid].targets  # type: ignore[index]
                label = f"{pid}: " + ("—" if key is None
                                      else f"{int(key) + 1}. {targets[int(key)].within.describe()}")
            else:
                label = str(key) if key is not None else "(none)"
            t.add_row(
                safe(label),
                str(tally.met),
                str(tally.breached),
                str(tally.open),
                percent(tally.compliance),
            )
        console.print(t)

    if with_instances:
        t = table("Instances")
        for col in ("promise", "subject", "started", "stopped", "elapsed", "status"):
            column(t, col, wraps=col in ("subject", "status"))
        for inst in result.instances:
            status = inst.status + (" (at risk)" if inst.at_risk else "")
            t.add_row(
                safe(inst.promise_id),
                safe(f"{inst.subject_type} {inst.subject_id}"),
                iso_z(inst.started_us),
                iso_z(inst.stopped_us) if inst.stopped_us else "",
                format_duration(inst.elapsed_us),
                status,
            )
        console.print(t)
