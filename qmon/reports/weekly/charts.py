"""The weekly report's pictures, drawn with matplotlib as PNG.

E-mail clients do not run scripts and Outlook ignores SVG, so every chart is a small PNG that
the e-mail carries inline (`cid:`) and the HTML file embeds (`data:`). Figures are built with
`matplotlib.figure.Figure` and the Agg canvas directly, never pyplot: no global state, safe
in the agent's scheduler thread.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.text import Text

from qmon.promises.compliance import Tally
from qmon.promises.conditions import Duration as ClockDuration
from qmon.promises.promise import Promise
from qmon.reports.weekly.figures import PhaseWeekly, PromiseWeekly, WeeklyFigures, trend
from qmon.reports.weekly.style import AMBER, ARROWS, BLUE, GREEN, INK, RED, Chart, phase_colour
from qmon.reports.weekly.voice import VoiceWeek, has_voice
from qmon.reports.weekly.words import Words

DPI = 100


def all_charts(figures: WeeklyFigures, words: Words) -> list[Chart]:
    labels = [f"W{w.week:02d}" for w in figures.weeks]
    charts = [journey(figures.phases, words), phase_trends(figures.phases, labels, words)]
    charts += [promise_trend(p, labels, words) for p in figures.promises]
    if has_voice(figures.voice):
        charts.append(voice(figures.voice, figures.overall, labels, words))
    return charts


def journey(phases: list[PhaseWeekly], words: Words) -> Chart:
    """The journey at a glance: one chevron per phase in order, coloured by its objectives,
    with this week's compliance, the trend arrow and the most-breached promises."""
    width = max(3, len(phases)) * 2.6
    fig = Figure(figsize=(width, 2.4), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, len(phases))
    ax.set_ylim(0, 1)
    ax.axis("off")
    alt = []
    for k, phase in enumerate(phases):
        colour = phase_colour(phase)
        tip = 0.12
        shape = [(k + 0.02, 0.45), (k + 0.98 - tip, 0.45), (k + 0.98, 0.7), (k + 0.98 - tip, 0.95),
                 (k + 0.02, 0.95), (k + 0.02 + (tip if k else 0), 0.7)]  # fmt: skip
        ax.add_patch(Polygon(shape, closed=True, facecolor=colour, edgecolor="white"))
        share = phase.this.compliance
        direction = trend(phase.this, phase.last)
        shown = "—" if share is None else f"{share * 100:.0f} %"
        ax.text(k + 0.5, 0.84, phase.phase, ha="center", va="center", color="white",
                fontsize=11, fontweight="bold")  # fmt: skip
        big = f"{shown} {ARROWS.get(direction or '', '')}".strip()
        ax.text(k + 0.5, 0.62, big, ha="center", va="center", color="white", fontsize=16,
                fontweight="bold")  # fmt: skip
        pains = [f"{p.id}: {n}×" for p, n in phase.pain_points]
        ax.text(k + 0.5, 0.36, "\n".join(pains) or words["no_breaches"], ha="center", va="top",
                color=INK, fontsize=9)  # fmt: skip
        alt.append(f"{phase.phase} {shown} {words.trend_word(direction)}")
    return Chart("journey", _png(fig), "; ".join(alt))


def phase_trends(phases: list[PhaseWeekly], labels: list[str], words: Words) -> Chart:
    fig = Figure(figsize=(7.2, 2.6), dpi=DPI)
    ax = fig.add_subplot()
    for phase in phases:
        ax.plot(labels, _percentages(phase.weeks), marker="o", markersize=3, label=phase.phase)
    _percent_axis(ax)
    ax.legend(loc="lower left", fontsize=8, ncols=len(phases), frameon=False)
    ax.set_title(words["trend_phases"], fontsize=10, loc="left")
    fig.tight_layout()
    return Chart("phases", _png(fig), words["trend_phases"])


def promise_trend(item: PromiseWeekly, labels: list[str], words: Words) -> Chart:
    """Compliance with the objective line (left), time to fulfil with what was promised
    (right): twelve weeks of one promise."""
    fig = promise_figure(item, labels, words)
    return Chart(f"promise-{item.promise.id}", _png(fig), f"{item.promise.title}")


def promise_figure(item: PromiseWeekly, labels: list[str], words: Words) -> Figure:
    """The figure of `promise_trend`, for tests of its layout (`overlapping_texts`)."""
    fig = Figure(figsize=(7.2, 2.2), dpi=DPI)
    left, right = fig.subplots(1, 2)
    left.plot(labels, _percentages(item.weeks), marker="o", markersize=3, color=BLUE)
    if item.promise.objective is not None:
        left.axhline(item.promise.objective * 100, color=RED, linestyle="--", linewidth=1)
    _percent_axis(left)
    left.set_title(words["compliance"], fontsize=9, loc="left")
    hours = 3600e6
    right.plot(labels, [_gap(f.median_us and f.median_us / hours) for f in item.fulfil],
               marker="o", markersize=3, color=BLUE, label=words["median"])  # fmt: skip
    right.plot(labels, [_gap(f.p90_us and f.p90_us / hours) for f in item.fulfil],
               marker="o", markersize=3, color=AMBER, label="p90")  # fmt: skip
    for allowed in _durations(item.promise):
        right.axhline(allowed / hours, color=RED, linestyle="--", linewidth=1)
    right.set_ylim(bottom=0)
    right.set_title(words["fulfil_hours"], fontsize=9, loc="left")
    right.legend(
        fontsize=7,
        frameon=False,
        loc="upper right",
        bbox_to_anchor=(1, -0.16),
        ncols=2,
        borderaxespad=0,
    )  # under the week labels: never over the lines, never on the title
    for ax in (left, right):
        ax.tick_params(labelsize=7)
        for tick in ax.get_xticklabels()[:-1:2]:
            tick.set_visible(False)
    fig.tight_layout(w_pad=2.5)  # room between the panels' week labels
    return fig


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible texts (titles, tick labels, legend entries) whose boxes overlap once
    drawn: a check of a chart's layout."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1:]
            if box.overlaps(other)]  # fmt: skip


def voice(weeks: list[VoiceWeek], overall: list[Tally], labels: list[str],
          words: Words) -> Chart:  # fmt: skip
    """NPS and CSAT beside overall compliance, week by week; CES on its own axis."""
    fig = Figure(figsize=(7.2, 2.4), dpi=DPI)
    ax = fig.add_subplot()
    ax.plot(
        labels,
        _percentages(overall),
        marker="o",
        markersize=3,
        color=INK,
        label=words["compliance"],
    )
    ax.plot(labels, [_gap(w.value("nps")) for w in weeks], marker="s", markersize=3, color=BLUE,
            label="NPS")  # fmt: skip
    ax.plot(labels, [_gap(w.value("csat")) for w in weeks], marker="^", markersize=3, color=GREEN,
            label="CSAT %")  # fmt: skip
    ax.set_ylim(-100, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(labelsize=7)
    ces = [_gap(w.value("ces")) for w in weeks]
    if any(w.value("ces") is not None for w in weeks):
        twin = ax.twinx()
        twin.plot(labels, ces, marker="d", markersize=3, color=AMBER, linestyle=":", label="CES")
        twin.set_ylim(bottom=0)
        twin.tick_params(labelsize=7)
        twin.legend(loc="lower right", fontsize=7, frameon=False)
    ax.legend(loc="lower left", fontsize=7, frameon=False, ncols=3)
    ax.set_title(words["voice_title"], fontsize=10, loc="left")
    fig.tight_layout()
    return Chart("voice", _png(fig), words["voice_title"])


def _percentages(tallies: list[Tally]) -> list[float]:
    return [_gap(None if t.compliance is None else t.compliance * 100) for t in tallies]


def _gap(value: float | None) -> float:
    """A missing value as NaN: matplotlib leaves a gap in the line."""
    return float("nan") if value is None else value


def _percent_axis(ax) -> None:  # type: ignore[no-untyped-def]
    ax.set_ylim(0, 102)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_yticklabels(["0", "25", "50", "75", "100 %"])
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(labelsize=7)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def _durations(promise: Promise) -> list[int]:
    """What was promised, as lines on the time-to-fulfil chart: the duration, or each
    target's (business days and deadlines from the record have no one line)."""
    forms = [t.within for t in promise.targets] or [promise.allowance]
    return sorted({f.us for f in forms if isinstance(f, ClockDuration)})
