"""`qmon explain`: one subject's instances of a promise, with the clock laid out in segments.

A Quality Manager asking "why was this late?" sees when the clock ran, when it was paused
for the customer, when it stood still outside office hours or on a holiday, and when the
deadline fell.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from qmon.promises.engine import Instance, evaluate_subject
from qmon.promises.promise import Promise
from qmon.reports.audit_format import format_duration
from qmon.store import Store
from qmon.textsafe import terminal_text
from qmon.timeutil import from_us, iso_z


@dataclass(frozen=True)
class Piece:
    """A stretch of an instance's life and what the clock did in it."""

    start_us: int
    end_us: int
    what: str  # running | paused | outside hours | holiday | closed
    label: str | None
    counted_us: int


@dataclass
class Explanation:
    instance: Instance
    pieces: list[Piece]


def explain_subject(
    promise: Promise, store: Store, subject_id: str, as_of_us: int
) -> list[Explanation]:
    """Every instance of `promise` for subjects with this id (any subject type), in detail."""
    rows = store.role_events(promise.types(), as_of_us, subject_id=subject_id)
    out: list[Explanation] = []
    for (subject_type, sid), group in groupby(rows, key=lambda r: (r[0], r[1])):
        events = [(r[2], r[3], r[4], r[5], r[6]) for r in group]
        for inst in evaluate_subject(promise, subject_type, sid, events, as_of_us, detail=True):
            out.append(Explanation(inst, _pieces(promise, inst)))
    return out


def _pieces(promise: Promise, inst: Instance) -> list[Piece]:
    pieces: list[Piece] = []
    for run in inst.runs:
        if not run.running:
            pieces.append(Piece(run.start_us, run.end_us, "paused", None, 0))
            continue
        for seg in promise.clock.segments(run.start_us, run.end_us):
            counted = seg.end_us - seg.start_us if seg.kind == "open" else 0
            what = "running" if seg.kind == "open" else seg.kind
            pieces.append(Piece(seg.start_us, seg.end_us, what, seg.label, counted))
    return pieces


def explain_document(
    promise: Promise, explanations: list[Explanation], as_of_us: int
) -> dict[str, Any]:
    """The explanation as JSON: instants in UTC with Z, durations in seconds."""
    return {
        "promise": promise.id,
        "as_of": iso_z(as_of_us),
        "within_seconds": promise.within_us / 1e6,
        "calendar": promise.calendar_name,
        "instances": [
            {
                "subject_type": e.instance.subject_type,
                "subject_id": e.instance.subject_id,
                "cycle": e.instance.cycle,
                "started_at": iso_z(e.instance.started_us),
                "stopped_at": iso_z(e.instance.stopped_us) if e.instance.stopped_us else None,
                "deadline": iso_z(e.instance.deadline_us) if e.instance.deadline_us else None,
                "elapsed_seconds": e.instance.elapsed_us / 1e6,
                "status": e.instance.status,
                "at_risk": e.instance.at_risk,
                "segments": [
                    {
                        "from": iso_z(p.start_us),
                        "to": iso_z(p.end_us),
                        "clock": p.what,
                        "label": p.label,
                        "counted_seconds": p.counted_us / 1e6,
                    }
                    for p in e.pieces
                ],
            }
            for e in explanations
        ],
    }


def _local(us: int, tz: ZoneInfo) -> str:
    return from_us(us).astimezone(tz).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def print_explanation(
    promise: Promise, explanations: list[Explanation], as_of_us: int, tz: ZoneInfo, console: Console
) -> None:
    """The explanation for people; config and CRM values through `terminal_text`."""
    safe = terminal_text
    clock = safe(promise.calendar_name or "round the clock")
    console.print(
        f"[bold]{safe(promise.id)}[/] — {safe(promise.title)}: "
        f"within {format_duration(promise.within_us)} ({clock}); times in {tz.key}"
    )
    if not explanations:
        console.print(f"No instances of this promise as of {iso_z(as_of_us)}.")
        return
    colour = {"met": "green", "breached": "red", "open": "yellow"}
    for e in explanations:
        inst = e.instance
        status = inst.status + (", at risk" if inst.at_risk else "")
        stopped = (
            _local(inst.stopped_us, tz)
            if inst.stopped_us
            else f"still open at {_local(as_of_us, tz)}"
        )
        deadline = _local(inst.deadline_us, tz) if inst.deadline_us else "none while paused"
        console.print(
            f"\n[bold]{safe(inst.subject_type)} {safe(inst.subject_id)}, cycle {inst.cycle}[/]: "
            f"[{colour[inst.status]}]{status}[/] — {format_duration(inst.elapsed_us)} of "
            f"{format_duration(promise.within_us)}",
            soft_wrap=True,
        )
        console.print(f"  started  {_local(inst.started_us, tz)}", soft_wrap=True)
        console.print(f"  stopped  {stopped}", soft_wrap=True)
        console.print(f"  deadline {deadline}", soft_wrap=True)
        table = Table()
        for col in ("from", "to", "clock", "counts", "total"):
            table.add_column(col, justify="right" if col in ("counts", "total") else "left")
        total = 0
        for p in e.pieces:
            total += p.counted_us
            what = safe(p.what + (f" ({p.label})" if p.label else ""))
            table.add_row(
                _local(p.start_us, tz),
                _local(p.end_us, tz),
                what,
                format_duration(p.counted_us) if p.counted_us else "–",
                format_duration(total),
            )
        console.print(table)
