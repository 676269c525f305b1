"""The weekly report for the Quality Manager: the journey per phase, compliance and its trend,
time to fulfil, this week's breaches, customer voice, data health and actions.

`figures` counts (the same way `qmon audit` does), `charts` draws, `render` writes HTML and
plain text, `mail` sends it as e-mail.
"""

from qmon.reports.weekly.figures import IsoWeek, WeeklyFigures, build, last_complete_week
from qmon.reports.weekly.render import RenderedReport, render

__all__ = ["IsoWeek", "RenderedReport", "WeeklyFigures", "build", "last_complete_week", "render"]
