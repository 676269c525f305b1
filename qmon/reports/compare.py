"""What-if: the same events under two promise files, side by side, before anyone edits a
definition."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from qmon.promises.compliance import Tally
from qmon.reports.audit import AuditResult
from qmon.reports.audit_format import _counts, percent
from qmon.timeutil import iso_z


def _change(a: Tally | None, b: Tally | None) -> float | None:
    if a is None or b is None or a.compliance is None or b.compliance is None:
        return None
    return round(b.compliance - a.compliance, 6)


def _pairs(
    left: list[tuple[str, Tally]], right: list[tuple[str, Tally]]
) -> list[tuple[str, Tally | None, Tally | None]]:
    a, b = dict(left), dict(right)
    names = list(a) + [n for n in b if n not in a]
    return [(n, a.get(n), b.get(n)) for n in names]


def compare_document(base: AuditResult, alt: AuditResult) -> dict[str, Any]:
    """JSON: per promise and phase, the counts now (`current`) and under the other file
    (`compared`, null where a promise exists on one side only), and the change in
    compliance."""

    def side(t: Tally | None) -> dict[str, Any] | None:
        return None if t is None else _counts(t)

    promises = _pairs([(p.id, t) for p, t in base.promises], [(p.id, t) for p, t in alt.promises])
    phases = _pairs(base.phases, alt.phases)
    return {
        "as_of": iso_z(base.as_of_us),
        "promises": [
            {"id": n, "current": side(a), "compared": side(b), "change": _change(a, b)}
            for n, a, b in promises
        ],
        "phases": [
            {"phase": n, "current": side(a), "compared": side(b), "change": _change(a, b)}
            for n, a, b in phases
        ],
    }


def print_comparison(base: AuditResult, alt: AuditResult, console: Console, other: str) -> None:
    for title, rows in (
        (
            "promise",
            _pairs([(p.id, t) for p, t in base.promises], [(p.id, t) for p, t in alt.promises]),
        ),
        ("phase", _pairs(base.phases, alt.phases)),
    ):
        table = Table(title=f"What-if per {title}: current config vs {other}", title_justify="left")
        for col in (title, "current", f"with {other}", "change"):
            table.add_column(col, justify="left" if col == title else "right")
        for name, a, b in rows:
            change = _change(a, b)
            shown = "" if change is None else f"{change * 100:+.1f} pt"
            colour = "green" if change and change > 0 else "red" if change and change < 0 else ""
            table.add_row(
                name,
                percent(a.compliance) if a else "(absent)",
                percent(b.compliance) if b else "(absent)",
                f"[{colour}]{shown}[/]" if colour else shown,
            )
        console.print(table)
