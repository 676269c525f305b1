"""The dashboard's words in English and Dutch, and which of the two a request gets.

The browser's Accept-Language chooses, when it names one of the two; otherwise
`serve.language`, else qmon's `language`. Config and CRM values (promise titles, owners,
subject ids) are shown as written.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "nl")

WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "journey": "Journey",
        "promises": "Promises",
        "actions": "Actions",
        "health": "Health",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as",
        "user_name": "User name",
        "password": "Password",
        "sso": "Sign in with {label}",
        "sso_default": "single sign-on",
        "or": "or",
        "bad_login": "The user name or password is not right.",
        "too_many": (
            "Too many failed sign-ins for this user or from this address. "
            "Try again in {minutes} minute(s)."
        ),
        "actions_intro": "The Quality Manager's improvement actions and their effect.",
        "record": "Record",
        "record_none": "qmon knows no promise instances of this record (yet).",
        "open_in_crm": "Open in the CRM",
        "download_csv": "Download as CSV",
        "promise": "Promise",
        "cycle": "Cycle",
        "status": "Status",
        "clock": "Clock",
        "allowance": "Allowance",
        "deadline": "Deadline",
        "started": "Started",
        "stopped": "Stopped",
        "still_open": "still open",
        "no_deadline": "none",
        "no_deadline_paused": "none while paused",
        "no_allowance": "no allowance",
        "at_risk": "at risk",
        "met": "kept",
        "breached": "broken",
        "open": "open",
        "not_evaluated": "not evaluated",
        "details": "details",
        "of": "of",
        "times_in": "times in {zone}",
        "segments": "The clock, segment by segment",
        "from": "From",
        "to": "To",
        "counts": "Counts",
        "total": "Total",
        "running": "running",
        "paused": "paused (waiting on the customer)",
        "outside hours": "outside office hours",
        "holiday": "holiday",
        "closed": "closed",
        "why": "Why this deadline",
        "target": "Target {n} of {count}",
        "default_target": "the default",
        "decided": "Decided {at} on",
        "none_value": "(none)",
        "day0": "Day 0 {day}; nominal deadline {deadline}",
        "promised": "Promised for {at}",
        "not_evaluated_because": "Not evaluated: {reason}",
        "round_the_clock": "round the clock",
        "alerts": "Alerts about this instance",
        "alerts_none": "No alert was raised about this instance.",
        "alert_breached": "broken",
        "alert_at_risk": "at risk",
        "detected": "Detected",
        "kind": "Kind",
        "delivery": "Delivery",
        "sent_at": "sent {at}",
        "pending": "waiting to be sent",
        "superseded": "superseded",
        "not_sent": "no Slack configured",
        "back_to_record": "All promises of this record",
        "sources": "Sources",
        "last_sync": "last complete sync",
        "never": "never",
        "last_check": "Last check",
        "outbox": "Alerts waiting",
        "oldest": "oldest",
        "last_error": "last error",
        "jobs": "Agent jobs",
        "job": "Job",
        "last_run": "Last run",
        "by": "By",
        "next_due": "Next due",
        "not_evaluated_title": "Promises that cannot be evaluated",
        "no_data": "no data",
        "stale": "fed only by a source that stopped syncing",
        "none": "none",
        "purged_before": "Purged before",
        "as_of": "As of {at}",
        "error": "Error",
        "not_found": "There is no such page.",
        "not_found_instance": "qmon knows no such instance of this promise.",
        "forbidden": "You may not do this.",
        "csrf": (
            "The form was not sent from qmon's own page, or it is too old. "
            "Go back, reload the page and try again."
        ),
        "not_allowed": (
            "Your account ({who}) may not use qmon: its e-mail domain and groups are not the "
            "ones allowed. Ask the administrator to allow your domain or group."
        ),
        "sso_failed": "The single sign-on could not be completed: {reason}. Please try again.",
        "server_error": "Something went wrong in qmon. The administrator can find it in the log.",
        "method": "This address does not take that kind of request.",
        "actions_log": "Actions and their effect",
        "actions_effect": (
            "Each corrective action's effect: its promise's compliance over instances started "
            "in the {weeks} weeks before it against those started from its date on (up to as "
            "many weeks, and not past now)."
        ),
        "actions_none": "No actions logged yet.",
        "action_logged": "Action {n} logged.",
        "action_skipped": (
            "Action {n} is dated {day}, outside the dates qmon stores; it is left out "
            "(qmon actions remove {n})."
        ),
        "log_action": "Log an action",
        "log_action_button": "Log the action",
        "choose_promise": "Choose a promise",
        "date": "Date",
        "description": "Description",
        "description_hint": "What was done, in a sentence (at most {n} characters).",
        "date_hint": "The day it took effect.",
        "corrective": "corrective",
        "recovery": "recovery",
        "corrective_long": "corrective: removes a cause",
        "recovery_long": "recovery: repairs one case",
        "before": "{weeks} weeks before",
        "after": "After",
        "form_problems": "The action was not logged. Please correct what is marked.",
        "action_no_promise": "Choose one of the promises.",
        "action_no_kind": "Choose corrective or recovery.",
        "action_no_description": "Say what was done.",
        "action_too_long": "Keep it to {n} characters.",
        "action_bad_text": "It holds a character qmon cannot store (a NUL character).",
        "action_no_date": "Give the date as YYYY-MM-DD.",
        "action_date_range": "Give a date from the year 1900 to 2999.",
        "tasks_title": "Tasks in the CRM for broken promises",
        "tasks_intro": (
            "The recovery qmon asked for: one task per broken promise for the record's owner "
            "(writeback.<source>.tasks), and whether the owner completed it (as of the last "
            "sync)."
        ),
        "tasks_none": "No tasks yet (writeback.<source>.tasks in the config makes them).",
        "created": "Created",
        "owner": "Owner",
        "task": "Task",
        "completed": "Completed",
        "not_yet": "not yet",
        "task_waiting": "waiting to be created",
        "task_failing": "failing: {error}",
    },
    "nl": {
        "journey": "Klantreis",
        "promises": "Beloften",
        "actions": "Acties",
        "health": "Gezondheid",
        "sign_in": "Inloggen",
        "sign_out": "Uitloggen",
        "signed_in_as": "Ingelogd als",
        "user_name": "Gebruikersnaam",
        "password": "Wachtwoord",
        "sso": "Inloggen met {label}",
        "sso_default": "single sign-on",
        "or": "of",
        "bad_login": "De gebruikersnaam of het wachtwoord klopt niet.",
        "too_many": (
            "Te vaak mislukt inloggen voor deze gebruiker of vanaf dit adres. "
            "Probeer het over {minutes} minuut/minuten opnieuw."
        ),
        "actions_intro": "De verbeteracties van de kwaliteitsmanager en hun effect.",
        "record": "Record",
        "record_none": "qmon kent (nog) geen beloften van dit record.",
        "open_in_crm": "Openen in het CRM",
        "download_csv": "Downloaden als CSV",
        "promise": "Belofte",
        "cycle": "Ronde",
        "status": "Status",
        "clock": "Klok",
        "allowance": "Toegestaan",
        "deadline": "Deadline",
        "started": "Gestart",
        "stopped": "Gestopt",
        "still_open": "nog open",
        "no_deadline": "geen",
        "no_deadline_paused": "geen zolang de klok stilstaat",
        "no_allowance": "geen termijn",
        "at_risk": "in gevaar",
        "met": "nagekomen",
        "breached": "gebroken",
        "open": "open",
        "not_evaluated": "niet beoordeeld",
        "details": "details",
        "of": "van",
        "times_in": "tijden in {zone}",
        "segments": "De klok, stuk voor stuk",
        "from": "Van",
        "to": "Tot",
        "counts": "Telt",
        "total": "Totaal",
        "running": "loopt",
        "paused": "gepauzeerd (wacht op de klant)",
        "outside hours": "buiten kantooruren",
        "holiday": "feestdag",
        "closed": "gesloten",
        "why": "Waarom deze deadline",
        "target": "Doel {n} van {count}",
        "default_target": "de standaard",
        "decided": "Besloten {at} op",
        "none_value": "(geen)",
        "day0": "Dag 0 {day}; nominale deadline {deadline}",
        "promised": "Beloofd voor {at}",
        "not_evaluated_because": "Niet beoordeeld: {reason}",
        "round_the_clock": "de klok rond",
        "alerts": "Meldingen over deze belofte",
        "alerts_none": "Er is geen melding over deze belofte gedaan.",
        "alert_breached": "gebroken",
        "alert_at_risk": "in gevaar",
        "detected": "Gezien",
        "kind": "Soort",
        "delivery": "Bezorging",
        "sent_at": "verstuurd {at}",
        "pending": "wacht op verzending",
        "superseded": "vervangen",
        "not_sent": "geen Slack ingesteld",
        "back_to_record": "Alle beloften van dit record",
        "sources": "Bronnen",
        "last_sync": "laatste volledige synchronisatie",
        "never": "nooit",
        "last_check": "Laatste controle",
        "outbox": "Wachtende meldingen",
        "oldest": "oudste",
        "last_error": "laatste fout",
        "jobs": "Taken van de agent",
        "job": "Taak",
        "last_run": "Laatst gedraaid",
        "by": "Door",
        "next_due": "Volgende keer",
        "not_evaluated_title": "Beloften die niet beoordeeld kunnen worden",
        "no_data": "geen gegevens",
        "stale": "alleen gevoed door een bron die niet meer synchroniseert",
        "none": "geen",
        "purged_before": "Opgeschoond vóór",
        "as_of": "Stand van {at}",
        "error": "Fout",
        "not_found": "Deze pagina bestaat niet.",
        "not_found_instance": "qmon kent deze ronde van deze belofte niet.",
        "forbidden": "Dit mag u niet doen.",
        "csrf": (
            "Het formulier kwam niet van qmon's eigen pagina, of is te oud. "
            "Ga terug, laad de pagina opnieuw en probeer het nog eens."
        ),
        "not_allowed": (
            "Uw account ({who}) mag qmon niet gebruiken: het e-maildomein en de groepen zijn "
            "niet toegestaan. Vraag de beheerder uw domein of groep toe te staan."
        ),
        "sso_failed": (
            "Het inloggen via single sign-on is niet gelukt: {reason}. Probeer het opnieuw."
        ),
        "server_error": "Er ging iets mis in qmon. De beheerder vindt het in het logboek.",
        "method": "Dit adres accepteert dit soort verzoek niet.",
        "actions_log": "Acties en hun effect",
        "actions_effect": (
            "Het effect van elke corrigerende actie: de nakoming van haar belofte over de "
            "gevallen gestart in de {weeks} weken ervoor tegenover die gestart vanaf haar datum "
            "(hoogstens even veel weken, en niet na nu)."
        ),
        "actions_none": "Nog geen acties vastgelegd.",
        "action_logged": "Actie {n} vastgelegd.",
        "action_skipped": (
            "Actie {n} heeft datum {day}, buiten de datums die qmon opslaat; ze wordt "
            "weggelaten (qmon actions remove {n})."
        ),
        "log_action": "Een actie vastleggen",
        "log_action_button": "Actie vastleggen",
        "choose_promise": "Kies een belofte",
        "date": "Datum",
        "description": "Omschrijving",
        "description_hint": "Wat er gedaan is, in een zin (hoogstens {n} tekens).",
        "date_hint": "De dag waarop ze inging.",
        "corrective": "corrigerend",
        "recovery": "herstel",
        "corrective_long": "corrigerend: neemt een oorzaak weg",
        "recovery_long": "herstel: repareert één geval",
        "before": "{weeks} weken ervoor",
        "after": "Erna",
        "form_problems": "De actie is niet vastgelegd. Verbeter wat is aangegeven.",
        "action_no_promise": "Kies een van de beloften.",
        "action_no_kind": "Kies corrigerend of herstel.",
        "action_no_description": "Beschrijf wat er gedaan is.",
        "action_too_long": "Houd het bij {n} tekens.",
        "action_bad_text": "Er staat een teken in dat qmon niet kan opslaan (een NUL-teken).",
        "action_no_date": "Geef de datum als JJJJ-MM-DD.",
        "action_date_range": "Geef een datum van het jaar 1900 tot en met 2999.",
        "tasks_title": "Taken in het CRM voor gebroken beloften",
        "tasks_intro": (
            "Het herstel waar qmon om vroeg: één taak per gebroken belofte voor de eigenaar "
            "van het record (writeback.<source>.tasks), en of die ze heeft afgerond (volgens "
            "de laatste synchronisatie)."
        ),
        "tasks_none": "Nog geen taken (writeback.<source>.tasks in de configuratie maakt ze).",
        "created": "Aangemaakt",
        "owner": "Eigenaar",
        "task": "Taak",
        "completed": "Afgerond",
        "not_yet": "nog niet",
        "task_waiting": "wacht op aanmaken",
        "task_failing": "mislukt: {error}",
    },
}


def choose_language(accept_language: str | None, default: str) -> str:
    """`en` or `nl`: the one the browser prefers most (by `q`), else `default`."""
    best, best_q = None, 0.0
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        # Earlier entries win ties: q sorts first, then the browser's order.
        score = quality - position * 1e-6
        if primary in LANGUAGES and quality > 0 and score > best_q:
            best, best_q = primary, score
    return best or (default if default in LANGUAGES else "en")
