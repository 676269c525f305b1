"""The weekly report as HTML (for e-mail or a file) and as plain text, from jinja2 templates.

One set of figures, two templates: the HTML shows the charts, the plain text (the e-mail's
text part, and what a phone's notification shows) says the same in words and numbers.
Images are referenced as `cid:<name>` in e-mail and embedded as `data:` URIs in a file.
With `serve.public_url` each promise links to its page in qmon's dashboard and each breach
listed to its instance's page (`qmon.links`); without it there are no such links.

CRM values are data: every value the templates print loses its control characters
(`_finalize`), HTML is autoescaped, a record link is shown only if `safe_link` lets it, and
the HTML carries a Content-Security-Policy that allows its inline styles and images only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from qmon.config import QmonConfig
from qmon.links import absolute, instance_path, promise_path, public_url
from qmon.promises.duration import format_duration
from qmon.promises.engine import Instance
from qmon.reports.audit_format import percent
from qmon.reports.weekly.figures import BREACHES_LISTED, WeeklyFigures, trend
from qmon.reports.weekly.style import ARROWS, Chart, phase_colour
from qmon.reports.weekly.voice import has_voice
from qmon.reports.weekly.words import Words
from qmon.textsafe import safe_link, terminal_text
from qmon.timeutil import from_us, iso_z


def _finalize(value: Any) -> Any:
    """Each printed value without control characters or escape sequences (the text report is
    shown on terminals; a newline inside a value would forge a line)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return terminal_text(value, markup=False)
    return value


_ENV = Environment(
    loader=PackageLoader("qmon.reports.weekly", "templates"),
    autoescape=select_autoescape(["html.j2"]),
    finalize=_finalize,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RenderedReport:
    """The report in words (`text`), its charts, and its HTML on demand."""

    subject: str
    text: str
    charts: list[Chart]
    context: dict[str, Any] = field(repr=False)

    def html(self, images: Literal["cid", "data"]) -> str:
        """The HTML, its charts as `cid:` references (e-mail) or embedded (`data:`, a file)."""
        if images == "cid":
            sources = {c.name: f"cid:{c.name}" for c in self.charts}
        else:
            sources = {
                c.name: "data:image/png;base64," + base64.b64encode(c.png).decode("ascii")
                for c in self.charts
            }
        alts = {c.name: c.alt for c in self.charts}
        return _ENV.get_template("weekly.html.j2").render(
            self.context, images=sources, alts=alts, csp=content_security_policy(images)
        )


def content_security_policy(images: Literal["cid", "data"]) -> str:
    """What the report's HTML may load: its charts (`cid:` in e-mail, `data:` in a file) and
    its own inline styles; no scripts, fonts, frames, forms or remote anything."""
    return (
        f"default-src 'none'; img-src {images}:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    )


def render(config: QmonConfig, figures: WeeklyFigures, *, charts: bool = True) -> RenderedReport:
    """Words and (unless `charts=False`, for text only) the charts of a report."""
    words = Words(config.language)
    context = _context(config, figures, words)
    context["subject"] = words["title"].format(week=figures.week)
    text = _ENV.get_template("weekly.txt.j2").render(context)
    drawn = []
    if charts:
        from qmon.reports.weekly.charts import all_charts  # matplotlib: only when drawing

        drawn = all_charts(figures, words)
    return RenderedReport(context["subject"], text, drawn, context)


def _context(config: QmonConfig, figures: WeeklyFigures, words: Words) -> dict[str, Any]:
    tz = config.timezone
    monday = figures.week.monday()

    def local(us: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return from_us(us).astimezone(tz).strftime(fmt)

    def objective(item: Any) -> str:
        if item.promise.objective is None:
            return words.no_objective
        met = item.objective_met
        mark = {True: words.met, False: words.missed, None: words.not_evaluated}[met]
        return f"{item.promise.objective * 100:g} % — {mark}"

    def budget(item: Any) -> str:
        left = item.budget_left
        if left is None:
            return "—"
        return f"{left * 100:.0f} %" if left >= 0 else f"{words.overspent} ({left * 100:.0f} %)"

    def arrow(this: Any, last: Any) -> str:
        direction = trend(this, last)
        return "" if direction is None else f"{ARROWS[direction]} {words[direction]}"

    def duration(us: int | None) -> str:
        return "—" if us is None else format_duration(us)

    def share(value: float | None) -> str:
        return words.not_evaluated if value is None else percent(value)

    def score(value: float | None, digits: int = 0) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    base = public_url(config)

    def promise_page(promise_id: str) -> str | None:
        return safe_link(absolute(base, promise_path(promise_id))) if base else None

    def instance_page(i: Instance) -> str | None:
        path = instance_path(i.promise_id, i.subject_type, i.subject_id, i.cycle)
        return safe_link(absolute(base, path)) if base else None

    return {
        "w": words,
        "f": figures,
        "week": str(figures.week),
        "first": monday.isoformat(),
        "last": (monday + timedelta(days=6)).isoformat(),
        "next": (monday + timedelta(days=7)).isoformat(),
        "as_of": local(figures.as_of_us),
        "as_of_iso": iso_z(figures.as_of_us),
        "has_voice": has_voice(figures.voice),
        "listed": BREACHES_LISTED,
        "labels": [f"W{w.week:02d}" for w in figures.weeks],
        "local": local,
        "objective": objective,
        "budget": budget,
        "arrow": arrow,
        "duration": duration,
        "share": share,
        "score": score,
        "colour": phase_colour,
        "link": safe_link,
        "promise_page": promise_page,
        "instance_page": instance_page,
    }
