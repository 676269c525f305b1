"""Delivering the alerts the check recorded: Slack (posted, or updated in place) and the
generic webhook, each with its own retries (1 minute, doubling, at most an hour).

Exactly once also when Slack's answer is lost: each message carries its alerts' keys as
message metadata, every try is counted in the ledger before it is made, and a retry of an
alert tried before first reads the channel's history for its key (`_not_yet_posted`): a
message found there is settled as sent, not posted again (see `qmon.alerts.check`).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from qmon.alerts.message import digest_message
from qmon.alerts.slack import DeliveryError, SlackChannel
from qmon.alerts.webhook import post_json
from qmon.config.spec import SlackSpec
from qmon.store import Store

if TYPE_CHECKING:
    from qmon.alerts.check import CheckReport

FIRST_RETRY_US = 60_000_000
LAST_RETRY_US = 3600_000_000
_SENT = ("status = 'sent', sent_us = :now, slack_channel = :c, slack_ts = :ts,"
         " update_pending = false")  # fmt: skip
CLOCK_SKEW_S = 3600
"""How far before an alert's detection its Slack message may be stamped (clocks differ)."""


def deliver_slack(
    store: Store, spec: SlackSpec, now_us: int, report: CheckReport, language: str
) -> None:
    with store.engine.connect() as conn:
        due = conn.execute(
            text(
                "SELECT promise_id, subject_type, subject_id, started_us, kind, route, text,"
                " blocks, status, attempts, slack_channel, slack_ts, detected_us FROM alerts"
                " WHERE (status = 'pending' OR update_pending) AND next_try_us <= :now"
                " ORDER BY detected_us, promise_id, subject_id"
            ),
            {"now": now_us},
        ).all()
    if not due:
        return
    try:
        channel = SlackChannel(spec)
    except DeliveryError as exc:
        report.failed.append(str(exc))
        return
    posts: dict[str, list[Any]] = {}
    for row in due:
        if row.status == "pending":
            posts.setdefault(row.route, []).append(row)
        elif row.slack_ts is None:  # it went out in a digest: nothing to update in place
            _settle(store, [row], "update_pending = false", {})
        else:
            _settle(store, [row], "attempts = attempts + 1", {})
            try:
                channel.update(row.slack_channel, row.slack_ts, row.text, json.loads(row.blocks))
                _settle(store, [row], "update_pending = false", {})
                report.updated += 1
            except DeliveryError as exc:
                _postpone(store, [row], exc, now_us, report)
    for route, rows in posts.items():
        try:
            rows = _not_yet_posted(store, channel, route, rows, now_us, report)
        except DeliveryError as exc:
            _settle(store, rows, "attempts = attempts + 1", {})
            _postpone(store, rows, exc, now_us, report)
            continue
        if not rows:
            continue
        digest = len(rows) > spec.digest_over
        message = digest_message(len(rows), [r.text for r in rows], language) if digest else None
        for batch in [rows] if digest else [[r] for r in rows]:
            text_, blocks = message or (batch[0].text, json.loads(batch[0].blocks))
            _settle(store, batch, "attempts = attempts + 1", {})  # from here on: uncertain
            try:
                channel_id, ts = channel.post(route, text_, blocks, [slack_key(r) for r in batch])
            except DeliveryError as exc:
                _postpone(store, batch, exc, now_us, report)
                continue
            _settle(store, batch, _SENT, {"now": now_us, "c": channel_id,
                                          "ts": None if digest else ts})  # fmt: skip
            report.delivered += len(batch)


def slack_key(row: Any) -> str:
    """An alert's ledger key, short and stable, for the metadata of its Slack message."""
    raw = "\x1f".join(str(v) for v in (row.promise_id, row.subject_type, row.subject_id,
                                          row.started_us, row.kind))  # fmt: skip
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _not_yet_posted(
    store: Store, channel: SlackChannel, route: str, rows: list[Any], now_us: int,
    report: CheckReport,
) -> list[Any]:  # fmt: skip
    """The rows still to post. A row tried before (`attempts > 0`) may have reached Slack
    although qmon never heard so (a crash between Slack's answer and the ledger's commit, or
    an answer lost on the way): the channel's history is read for its key first, and a
    message found there settles it as sent. Without the history scopes qmon posts again,
    and says so (at least once rather than lost)."""
    uncertain = [r for r in rows if r.attempts > 0]
    if not uncertain:
        return rows
    since_s = min(r.detected_us for r in uncertain) / 1e6 - CLOCK_SKEW_S
    try:
        found = channel.find_posted(route, {slack_key(r) for r in uncertain}, since_s)
    except DeliveryError as exc:
        if not exc.missing_scope:
            raise
        report.warnings.append(f"{exc} (cannot check for duplicates; posting again)")
        return rows
    for row in uncertain:
        posted = found.get(slack_key(row))
        if posted is not None:
            _settle(store, [row], _SENT, {"now": now_us, "c": posted[0], "ts": posted[1]})
            report.delivered += 1
    return [r for r in rows if slack_key(r) not in found]


def deliver_webhook(store: Store, url: str, now_us: int, report: CheckReport) -> None:
    """Each due alert as one JSON POST; failures back off like Slack's."""
    with store.engine.connect() as conn:
        due = conn.execute(
            text(
                "SELECT promise_id, subject_type, subject_id, started_us, kind, text,"
                " webhook_attempts FROM alerts WHERE webhook_pending"
                " AND webhook_next_try_us <= :now ORDER BY detected_us, promise_id, subject_id"
            ),
            {"now": now_us},
        ).all()
    for row in due:
        payload = {"text": row.text, "kind": row.kind, "promise": row.promise_id,
                   "subject_type": row.subject_type, "subject_id": row.subject_id}  # fmt: skip
        try:
            post_json(url, payload)
        except DeliveryError as exc:
            report.failed.append(str(exc))
            wait = min(LAST_RETRY_US, FIRST_RETRY_US * 2**row.webhook_attempts)
            _settle(store, [row], "webhook_attempts = webhook_attempts + 1,"
                    " webhook_next_try_us = :next", {"next": now_us + wait})  # fmt: skip
            continue
        _settle(store, [row], "webhook_pending = false, webhook_sent_us = :now", {"now": now_us})
        report.webhooks += 1


def _postpone(
    store: Store, rows: list[Any], error: DeliveryError, now_us: int, report: CheckReport
) -> None:
    report.failed.append(str(error))
    for row in rows:  # `attempts` was counted up before the try; it is the try's number - 1
        wait = min(LAST_RETRY_US, FIRST_RETRY_US * 2**row.attempts)
        done = "next_try_us = :next, last_error = :error"
        _settle(store, [row], done, {"next": now_us + wait, "error": str(error)})


def _settle(store: Store, rows: list[Any], assignments: str, params: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE alerts SET {assignments} WHERE promise_id = :p AND subject_type = :t"
                " AND subject_id = :i AND started_us = :s AND kind = :k"
            ),
            [
                {
                    "p": r.promise_id,
                    "t": r.subject_type,
                    "i": r.subject_id,
                    "s": r.started_us,
                    "k": r.kind,
                    **params,
                }  # fmt: skip
                for r in rows
            ],
        )
