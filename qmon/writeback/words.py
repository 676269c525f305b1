"""What a task for an owner says: the alert's content as plain text, in Dutch or English.

The same facts as the Slack alert (`qmon.alerts.message`): the promise, the record, the
clock against what was promised, the deadline in local time, the link; as plain text, since
each CRM shows task text its own way (HubSpot's task body is HTML: its writer escapes it).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from qmon.alerts.message import WORDS, local_time
from qmon.promises.duration import format_duration
from qmon.promises.instance import Instance
from qmon.promises.promise import Promise
from qmon.textsafe import safe_link

_TITLES = {
    "en": {"breached": "Promise broken: {title}", "late": "Kept late: {title}"},
    "nl": {"breached": "Belofte gebroken: {title}", "late": "Te laat nagekomen: {title}"},
}
_ADVICE = {
    "en": "Contact the customer and repair what was promised (recovery action).",
    "nl": "Neem contact op met de klant en herstel wat beloofd was (herstelactie).",
}


def task_text(
    kind: str,
    promise: Promise,
    instance: Instance,
    link: str | None,
    as_of_us: int,
    zone: ZoneInfo,
    language: str = "en",
) -> tuple[str, str]:
    """The task's title and body for a breach (`breached`) or a breach kept late (`late`)."""
    w = WORDS[language]
    title = _TITLES[language][kind].format(title=promise.title)[:250]
    clock = f"{format_duration(instance.elapsed_us)} {w['of']} "
    clock += format_duration(instance.allowed_us or 0)
    lines = [
        f"{w['phase']}: {instance.phase}",
        f"{w['subject']}: {instance.subject_type} {instance.subject_id}",
        f"{w['elapsed']}: {clock}",
    ]
    if instance.deadline_us is not None:
        lines.append(f"{w['deadline']}: {local_time(instance.deadline_us, zone, language)}")
    if kind == "late":
        late = instance.elapsed_us - (instance.allowed_us or 0)
        lines.append(f"{w['late_by'].capitalize()}: {format_duration(max(0, late))}")
    else:
        lines.append(_ADVICE[language])
    href = safe_link(link)
    if href:
        lines.append(href)
    return title, "\n".join(lines)
