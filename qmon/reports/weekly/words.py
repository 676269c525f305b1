"""The weekly report's words, in Dutch and English (the config's `language`, default English)."""

from __future__ import annotations

_EN = {
    "title": "Promises kept — week {week}",
    "intro": "How the promises along the customer journey were kept in week {week} "
    "({first} – {last}), as of {as_of}.",
    "journey": "The journey at a glance",
    "pain": "Pain points",
    "no_breaches": "no breaches",
    "phase": "Phase",
    "promise": "Promise",
    "this_week": "This week",
    "last_week": "Last week",
    "trend": "Trend",
    "objective": "Objective",
    "budget": "Error budget left (28 days)",
    "met": "met",
    "missed": "missed",
    "no_objective": "no objective",
    "not_evaluated": "not evaluated",
    "overspent": "overspent",
    "compliance": "Compliance",
    "kept_broken_open": "kept / broken / open",
    "per_phase": "Compliance per phase",
    "per_promise": "Compliance per promise",
    "trend_phases": "Compliance per phase, last 12 weeks",
    "fulfil": "Time to fulfil",
    "fulfil_note": "On each promise's own clock (business hours where it uses a calendar), "
    "over instances stopped in time or late.",
    "fulfil_hours": "Time to fulfil (hours of the clock)",
    "median": "median",
    "allowed": "allowed",
    "breaches": "Breaches this week",
    "breaches_none": "No promise was broken this week.",
    "breaches_more": "and {n} more (see `qmon audit --instances`)",
    "subject": "Customer record",
    "owner": "Owner",
    "channel": "Channel",
    "started": "Started",
    "over_by": "Over by",
    "still_open": "still open",
    "in_qmon": "explained in qmon",
    "by_owner": "By owner",
    "by_channel": "By channel",
    "voice": "Customer voice",
    "voice_title": "Customer voice beside compliance, last 12 weeks",
    "voice_none": "No survey responses in these weeks.",
    "responses": "responses",
    "week": "Week",
    "health": "Data health",
    "source": "Source",
    "last_sync": "Last complete sync",
    "never": "never",
    "no_sources": "No CRM source is configured; events come from file imports.",
    "not_evaluated_list": "Promises not evaluated this week (nothing kept or broken): {ids}",
    "all_evaluated": "Every promise was evaluated this week.",
    "stale_list": "Not evaluated now: promises fed only by a source that stopped syncing "
    "(their figures miss what happened since):",
    "actions": "Actions and their effect",
    "actions_none": "No improvement actions logged in these weeks (`qmon actions add`).",
    "kind": "Kind",
    "date": "Date",
    "description": "Description",
    "before": "4 weeks before",
    "after": "after",
    "corrective": "corrective",
    "recovery": "recovery",
    "up": "better",
    "down": "worse",
    "steady": "steady",
    "footer": "Made by qmon from the CRM's own records. The numbers equal "
    "`qmon audit --from {first} --to {next} --as-of {as_of_iso}`.",
}

_NL = {
    "title": "Beloftes nagekomen — week {week}",
    "intro": "Hoe de beloftes langs de klantreis zijn nagekomen in week {week} "
    "({first} – {last}), stand van {as_of}.",
    "journey": "De klantreis in één oogopslag",
    "pain": "Pijnpunten",
    "no_breaches": "geen overschrijdingen",
    "phase": "Fase",
    "promise": "Belofte",
    "this_week": "Deze week",
    "last_week": "Vorige week",
    "trend": "Trend",
    "objective": "Doel",
    "budget": "Foutbudget over (28 dagen)",
    "met": "gehaald",
    "missed": "gemist",
    "no_objective": "geen doel",
    "not_evaluated": "niet beoordeeld",
    "overspent": "overschreden",
    "compliance": "Nakoming",
    "kept_broken_open": "nagekomen / gebroken / open",
    "per_phase": "Nakoming per fase",
    "per_promise": "Nakoming per belofte",
    "trend_phases": "Nakoming per fase, laatste 12 weken",
    "fulfil": "Doorlooptijd",
    "fulfil_note": "Op de eigen klok van elke belofte (kantooruren waar die een kalender "
    "gebruikt), over op tijd of te laat afgeronde gevallen.",
    "fulfil_hours": "Doorlooptijd (uren op de klok)",
    "median": "mediaan",
    "allowed": "toegestaan",
    "breaches": "Overschrijdingen deze week",
    "breaches_none": "Deze week is geen belofte gebroken.",
    "breaches_more": "en nog {n} (zie `qmon audit --instances`)",
    "subject": "Klantdossier",
    "owner": "Eigenaar",
    "channel": "Kanaal",
    "started": "Gestart",
    "over_by": "Te laat met",
    "still_open": "nog open",
    "in_qmon": "uitleg in qmon",
    "by_owner": "Per eigenaar",
    "by_channel": "Per kanaal",
    "voice": "Stem van de klant",
    "voice_title": "Stem van de klant naast nakoming, laatste 12 weken",
    "voice_none": "Geen enquêteantwoorden in deze weken.",
    "responses": "antwoorden",
    "week": "Week",
    "health": "Gezondheid van de gegevens",
    "source": "Bron",
    "last_sync": "Laatste volledige synchronisatie",
    "never": "nooit",
    "no_sources": "Er is geen CRM-bron ingesteld; de gebeurtenissen komen uit bestanden.",
    "not_evaluated_list": "Beloftes deze week niet beoordeeld (niets nagekomen of gebroken): {ids}",
    "all_evaluated": "Elke belofte is deze week beoordeeld.",
    "stale_list": "Nu niet beoordeeld: beloftes die alleen gevoed worden door een bron die niet "
    "meer synchroniseert (hun cijfers missen wat er sindsdien gebeurde):",
    "actions": "Acties en hun effect",
    "actions_none": "Geen verbeteracties vastgelegd in deze weken (`qmon actions add`).",
    "kind": "Soort",
    "date": "Datum",
    "description": "Omschrijving",
    "before": "4 weken ervoor",
    "after": "erna",
    "corrective": "corrigerend",
    "recovery": "herstel",
    "up": "beter",
    "down": "slechter",
    "steady": "gelijk",
    "footer": "Gemaakt door qmon uit de eigen gegevens van het CRM. De cijfers zijn gelijk aan "
    "`qmon audit --from {first} --to {next} --as-of {as_of_iso}`.",
}

LANGUAGES = {"en": _EN, "nl": _NL}


class Words(dict[str, str]):
    """The words of one language; `words["key"]` in Python and `words.key` in templates."""

    def __init__(self, language: str) -> None:
        super().__init__(LANGUAGES[language])
        self.language = language

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def trend_word(self, direction: str | None) -> str:
        return "" if direction is None else self[direction]
