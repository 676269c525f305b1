"""`qmon explain`: one subject's instances of a promise, with the clock laid out in segments.

A Quality Manager asking "why was this late?" sees when the clock ran, when it was paused
for the customer, when it stood still outside office hours or on a holiday, and when the
deadline fell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from qmon.promises.duration import format_duration
from qmon.promises.engine import Instance, evaluate
from qmon.promises.promise import Promise
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
    promise: Promise, store: Store, subject_id: str, as_of_us: int,
    subject_type: str | None = None,
) -> list[Explanation]:  # fmt: skip
    """Every instance of `promise` for subjects with this id (of any subject type, or of
    `subject_type`: then found by index, as the dashboard's instance page asks), in detail."""
    if subject_type is not None:
        rows = store.promise_events(promise, as_of_us, subjects=[(subject_type, subject_id)])
    else:
        rows = store.promise_events(promise, as_of_us, subject_id=subject_id)
    return [
        Explanation(inst, _pieces(promise, inst))
        for inst in evaluate(promise, rows, as_of_us, detail=True)
    ]


def _decision_document(promise: Promise, inst: Instance) -> dict[str, Any]:
    """Which target applied, and on what it was decided (JSON)."""
    d = inst.decision
    return {
        "allowed_seconds": None if inst.allowed_us is None else inst.allowed_us / 1e6,
        "target": inst.target,
        "reason": inst.reason,
        "decided_at": None if d is None else iso_z(d.at_us),
        "attributes": {} if d is None else d.values,
        "day0": None if d is None or d.day0 is None else d.day0.isoformat(),
        "nominal_deadline": None if d is None or d.nominal_us is None else iso_z(d.nominal_us),
        "promised": None if d is None or d.promised_us is None else iso_z(d.promised_us),
    }


def _decision_lines(promise: Promise, inst: Instance, tz: ZoneInfo) -> list[str]:
    """The same for people: the target, the values read and when, business days' day 0
    and nominal deadline, a promised instant; why it was not evaluated."""
    d = inst.decision
    lines = []
    if inst.target is not None:
        entry = promise.targets[inst.target]
        when = (" and ".join(m.describe() for m in entry.when.matches) if entry.when
                else "the default")  # fmt: skip
        lines.append(f"target   {inst.target + 1} of {len(promise.targets)}: "
                     f"{entry.within.describe()} ({when})")  # fmt: skip
    if d is not None and d.values:
        read = ", ".join(f"{k}={'(none)' if v is None else repr(v)}" for k, v in d.values.items())
        lines.append(f"decided  {_local(d.at_us, tz)} on {read}")
    if d is not None and d.day0 is not None and d.nominal_us is not None:
        lines.append(f"day 0    {d.day0.isoformat()}; nominal deadline {_local(d.nominal_us, tz)}")
    if d is not None and d.promised_us is not None:
        lines.append(f"promised {_local(d.promised_us, tz)}")
    if inst.reason:
        lines.append(f"not evaluated: {inst.reason}")
    return lines


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
        "within_seconds": None if promise.within_us is None else promise.within_us / 1e6,
        "allowance": promise.describe_allowance(),
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
                **_decision_document(promise, e.instance),
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
        f"[bold]{safe(promise.id)}[/]"
        + (f" — {safe(promise.title)}" if promise.title != promise.id else "") + ": "
        f"{safe(promise.describe_allowance())} ({clock}); times in {tz.key}"
    )
    if not explanations:
        console.print(f"No instances of this promise as of {iso_z(as_of_us)}.")
        return
    colour = {"met": "green", "breached": "red", "open": "yellow", "not_evaluated": "dim"}
    for e in explanations:
        inst = e.instance
        status = inst.status + (", at risk" if inst.at_risk else "")
        stopped = (
            _local(inst.stopped_us, tz)
            if inst.stopped_us
            else f"still open at {_local(as_of_us, tz)}"
        )
        deadline = (_local(inst.deadline_us, tz) if inst.deadline_us
                    else "none while paused" if inst.allowed_us is not None else "none")
        console.print(
            f"\n[bold]{safe(inst.subject_type)} {safe(inst.subject_id)}, cycle {inst.cycle}[/]: "
            f"[{colour[inst.status]}]{status}[/] — {format_duration(inst.elapsed_us)} of "
            + ("no allowance" if inst.allowed_us is None else format_duration(inst.allowed_us)),
            soft_wrap=True,
        )
        console.print(f"  started  {_local(inst.started_us, tz)}", soft_wrap=True)
        console.print(f"  stopped  {stopped}", soft_wrap=True)
        console.print(f"  deadline {deadline}", soft_wrap=True)
        for line in _decision_lines(promise, inst, tz):
            console.print(f"  {safe(line)}", soft_wrap=True)
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
