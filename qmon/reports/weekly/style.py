"""What the HTML and the charts share: colours, trend arrows, and the chart container. Kept
apart from `charts` so that the text report never imports matplotlib."""

from __future__ import annotations

from dataclasses import dataclass

from qmon.reports.weekly.figures import PhaseWeekly

GREEN, RED, AMBER, GREY, INK, BLUE = (
    "#2e7d32",
    "#c62828",
    "#ef8f00",
    "#9e9e9e",
    "#212121",
    "#1565c0",
)
ARROWS = {"up": "▲", "down": "▼", "steady": "▶"}


@dataclass(frozen=True)
class Chart:
    """A PNG and what it shows, for `alt` text and the plain-text part."""

    name: str
    png: bytes
    alt: str


def phase_colour(phase: PhaseWeekly) -> str:
    """Red when a promise of the phase missed its objective this week, green when all with an
    objective and data met it, grey without data; amber when measured without objectives."""
    if phase.this.compliance is None:
        return GREY
    if False in phase.objectives:
        return RED
    return GREEN if True in phase.objectives else AMBER
