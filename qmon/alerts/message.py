"""What an alert says: Slack Block Kit with a plain-text fallback, in Dutch or English.

A Quality Manager reads an alert on a phone between two meetings: the promise and its phase,
the customer's case or deal with a one-click link to the CRM record, who owns it, how long the
clock has run against what was promised, the deadline, and for an at-risk alert the time left.
With `serve.public_url` it also links to the instance's page in qmon's dashboard, where the
clock is explained segment by segment (in the blocks beside the CRM link; at the end of the
plain `text`, which the webhook sends, as a bare URL).

Slack reads both the blocks and the plain `text` as mrkdwn, so every value from the CRM or
the config goes through `slack_escape` and the record link through `safe_link`; the webhook
sends the same `text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from qmon.links import absolute, instance_path
from qmon.promises.duration import format_duration
from qmon.promises.engine import Instance
from qmon.promises.promise import Promise
from qmon.textsafe import safe_link, slack_escape

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "breached": "Promise broken",
        "at_risk": "Promise at risk",
        "late": "Kept late",
        "phase": "Phase",
        "subject": "Customer",
        "owner": "Owner",
        "elapsed": "Clock",
        "of": "of",
        "deadline": "Deadline",
        "left": "Time left",
        "late_by": "late by",
        "nobody": "nobody",
        "paused": "paused",
        "digest": "{n} promises need attention",
        "more": "and {n} more",
        "in_qmon": "explained in qmon",
    },
    "nl": {
        "breached": "Belofte gebroken",
        "at_risk": "Belofte in gevaar",
        "late": "Te laat nagekomen",
        "phase": "Fase",
        "subject": "Klant",
        "owner": "Eigenaar",
        "elapsed": "Klok",
        "of": "van",
        "deadline": "Deadline",
        "left": "Tijd over",
        "late_by": "te laat met",
        "nobody": "niemand",
        "paused": "gepauzeerd",
        "digest": "{n} beloftes vragen aandacht",
        "more": "en nog {n}",
        "in_qmon": "uitleg in qmon",
    },
}
_ICONS = {"breached": ":red_circle:", "at_risk": ":large_orange_circle:", "late": ":white_circle:"}


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]]


def render(
    kind: str,
    promise: Promise,
    instance: Instance,
    link: str | None,
    as_of_us: int,
    zone: ZoneInfo,
    language: str = "en",
    *,
    public_url: str | None = None,
) -> Message:
    """The message for an alert of `kind` (`breached`, `at_risk` or `late`: a breach whose
    instance has since been stopped). With `public_url` (`serve.public_url`) it links to
    the instance's page in the dashboard too."""
    w = WORDS[language]
    subject = slack_escape(f"{instance.subject_type} {instance.subject_id}")
    href = safe_link(link)
    shown = f"<{slack_escape(href)}|{subject}>" if href else subject
    page = dashboard_link(public_url, instance)
    if page:
        shown += f" · <{slack_escape(page)}|{w['in_qmon']}>"
    elapsed = (
        f"{format_duration(instance.elapsed_us)} {w['of']} "
        f"{format_duration(instance.allowed_us or 0)}"
    )
    if instance.paused:
        elapsed += f" ({w['paused']})"
    promised = slack_escape(promise.title)
    phase = slack_escape(instance.phase)
    title = f"{_ICONS[kind]} {w[kind]}: {promised}"
    fields = [
        (w["phase"], phase),
        (w["subject"], shown),
        (w["owner"], slack_escape(instance.owner) if instance.owner else w["nobody"]),
        (w["elapsed"], elapsed),
    ]
    if instance.deadline_us is not None:
        fields.append((w["deadline"], local_time(instance.deadline_us, zone, language)))
    if kind == "at_risk" and instance.deadline_us is not None:
        fields.append((w["left"], format_duration(max(0, instance.deadline_us - as_of_us))))
    if kind == "late":
        late = instance.elapsed_us - (instance.allowed_us or 0)
        fields.append((w["late_by"].capitalize(), format_duration(max(0, late))))
    text = f"{w[kind]}: {promised} — {subject} ({phase}), " + ", ".join(
        f"{name.lower()} {value}" for name, value in fields[2:]
    )
    if page:
        text += LINK_MARK + slack_escape(page)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        },
    ]
    return Message(text, blocks)


#: What stands between an alert's `text` and its dashboard link, at the end.
LINK_MARK = " — "


def dashboard_link(public_url: str | None, instance: Instance) -> str | None:
    """The instance's page in the dashboard, if `public_url` is set and makes a safe link."""
    if not public_url:
        return None
    path = instance_path(
        instance.promise_id, instance.subject_type, instance.subject_id, instance.cycle
    )
    return safe_link(absolute(public_url, path))


def local_time(us: int, zone: ZoneInfo, language: str) -> str:
    moment = datetime.fromtimestamp(us / 1e6, tz=zone)
    shape = "%d-%m-%Y %H:%M" if language == "nl" else "%Y-%m-%d %H:%M"
    return f"{moment.strftime(shape)} ({zone.key})"


#: Lines a digest shows at most.
DIGEST_LINES = 20


def digest_message(
    count: int, texts: list[str], language: str = "en"
) -> tuple[str, list[dict[str, Any]]]:
    """One message for many alerts of one check (more than `digest_over`). `texts` are the
    alerts' own `text`, already escaped for Slack; they are cut short, never inside an
    entity (`&amp;` cut to `&am` would show as such), and each links to its instance's page
    in the dashboard when its text ends with that link. Only whole lines are shown; "and N
    more" counts the rest."""
    w = WORDS[language]
    title = w["digest"].format(n=count)
    room = DIGEST_TEXT - len(w["more"].format(n=count)) - 1
    lines: list[str] = []
    for text in texts[:DIGEST_LINES]:
        line = _digest_line(text)
        if sum(len(kept) + 1 for kept in lines) + len(line) > room:
            break  # whole lines only: a link cut short would show as markup
        lines.append(line)
    if not lines and texts:  # one alert's line longer than the section: its words, cut
        lines.append(f"• {_clip(_split_link(texts[0])[0], 140)}")
    if count > len(lines):
        lines.append(w["more"].format(n=count - len(lines)))
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]
    return title, blocks


#: The most a digest's list may hold (Slack's section text holds 3,000 characters).
DIGEST_TEXT = 2900


def _split_link(text: str) -> tuple[str, str | None]:
    """An alert's `text` and the dashboard link `render` put at its end, if any."""
    head, mark, tail = text.rpartition(LINK_MARK)
    if mark and tail.startswith(("https://", "http://")) and " " not in tail:
        return head, tail
    return text, None


def _digest_line(text: str) -> str:
    """One alert in a digest: its words cut short, as a link to its page in the dashboard
    when it has one (the link is already escaped, as the words are)."""
    head, link = _split_link(text)
    return f"• <{link}|{_clip(head, 140)}>" if link else f"• {_clip(head, 140)}"


def _clip(text: str, limit: int) -> str:
    """`text[:limit]`, shortened further so it does not end inside `&amp;`, `&lt;`, `&gt;`."""
    clipped = text[:limit]
    amp = clipped.rfind("&", max(0, limit - 4))
    if amp >= 0 and len(text) > limit and ";" not in clipped[amp:]:
        return clipped[:amp]
    return clipped
