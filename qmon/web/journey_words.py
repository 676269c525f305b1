"""The words of the Journey, Promises and Promise pages, added to the dashboard's own."""

from __future__ import annotations

from typing import Any

from qmon.web.words import WORDS

_MORE: dict[str, dict[str, str]] = {
    "en": {
        "figures_missing": (
            "There are no figures yet: they are counted by `qmon check` (the agent runs it "
            "every few minutes) once `serve:` is in the config."
        ),
        "bad_period": "That is not a period: {why}.",
        "figures_as_of": "Figures as of the last check, {at}; times in {zone}.",
        "period": "Period",
        "week": "Week",
        "month": "Month",
        "quarter": "Quarter",
        "custom": "From – to",
        "from": "From",
        "to": "To",
        "show": "Show",
        "previous_period": "previous",
        "next_period": "next",
        "phase": "Phase",
        "compliance": "Compliance",
        "history": "The period and the four before it",
        "trend": "Trend",
        "trend_up": "up",
        "trend_down": "down",
        "trend_steady": "steady",
        "objective": "Objective",
        "objective_met": "met",
        "objective_missed": "missed",
        "pain_points": "Pain points",
        "none": "none",
        "kept": "Kept",
        "broken": "Broken",
        "open_count": "Open",
        "at_risk_count": "At risk",
        "all_phases": "All phases",
        "weekly_compliance": "Compliance per week",
        "error_budget": "Error budget left (4 weeks)",
        "time_to_fulfil": "Time to fulfil",
        "median": "median",
        "p90": "90 %",
        "promised": "promised",
        "targets": "Per target",
        "target": "Target",
        "by_owner": "By owner",
        "by_channel": "By channel",
        "by_account": "By account",
        "breaches_of_period": "Broken in this period, worst first",
        "overdue": "Late by",
        "record": "Record",
        "no_breaches": "Nothing broken in this period.",
        "shown_of": "{shown} of {total} shown",
        "chart_label": "Compliance per week, with the objective as a dashed line",
        "unknown": "—",
        "channel": "Channel",
    },
    "nl": {
        "figures_missing": (
            "Er zijn nog geen cijfers: `qmon check` telt ze (de agent draait die elke paar "
            "minuten) zodra `serve:` in de configuratie staat."
        ),
        "bad_period": "Dat is geen periode: {why}.",
        "figures_as_of": "Cijfers per de laatste controle, {at}; tijden in {zone}.",
        "period": "Periode",
        "week": "Week",
        "month": "Maand",
        "quarter": "Kwartaal",
        "custom": "Van – tot",
        "from": "Van",
        "to": "Tot en met",
        "show": "Toon",
        "previous_period": "vorige",
        "next_period": "volgende",
        "phase": "Fase",
        "compliance": "Nakoming",
        "history": "De periode en de vier ervoor",
        "trend": "Trend",
        "trend_up": "stijgend",
        "trend_down": "dalend",
        "trend_steady": "gelijk",
        "objective": "Doel",
        "objective_met": "gehaald",
        "objective_missed": "gemist",
        "pain_points": "Pijnpunten",
        "none": "geen",
        "kept": "Nagekomen",
        "broken": "Gebroken",
        "open_count": "Open",
        "at_risk_count": "In gevaar",
        "all_phases": "Alle fasen",
        "weekly_compliance": "Nakoming per week",
        "error_budget": "Foutbudget over (4 weken)",
        "time_to_fulfil": "Doorlooptijd",
        "median": "mediaan",
        "p90": "90 %",
        "promised": "beloofd",
        "targets": "Per doelgroep",
        "target": "Doelgroep",
        "by_owner": "Per eigenaar",
        "by_channel": "Per kanaal",
        "by_account": "Per klant",
        "breaches_of_period": "Gebroken in deze periode, ergste eerst",
        "overdue": "Te laat met",
        "record": "Record",
        "no_breaches": "Niets gebroken in deze periode.",
        "shown_of": "{shown} van {total} getoond",
        "chart_label": "Nakoming per week, met het doel als stippellijn",
        "unknown": "—",
        "channel": "Kanaal",
    },
}


def add_words() -> None:
    """Merge these words into the dashboard's (once; the dictionaries are module state)."""
    for lang, words in _MORE.items():
        table: Any = WORDS[lang]
        for key, value in words.items():
            table.setdefault(key, value)
