"""`qmon check`: find what newly broke or is about to, record each alert once, deliver.

Two steps, each safe to repeat:

1. **Detect.** Evaluate every promise as of now. Each instance breached in the last day
   (`HORIZON_US`), and each open one at risk, is an alert keyed by (promise, subject, the
   instant its cycle started, kind). All of them are inserted into the `alerts` ledger in
   one transaction with ON CONFLICT DO NOTHING: an alert exists once, however often checks
   run, restart or overlap. A breach already sent whose instance has since been stopped is
   marked for an update of its message (late, by how much).
2. **Deliver.** Every pending alert whose next try is due is posted; a sent one is marked with
   its Slack channel and ts. One that fails stays pending with a later next try (1 minute,
   doubling, at most an hour), so an outage delays alerts and loses none.

Exactly once also when Slack's answer is lost: each message carries its alerts' keys as
message metadata, every try is counted in the ledger before it is made, and a retry of an
alert tried before first reads the channel's history for its key (`_not_yet_posted`): a
message found there is settled as sent, not posted again. That needs the `channels:history`
(or `groups:history`) scope; without it qmon posts again and says so (at least once). The
webhook has no such lookup: after a lost answer it may post twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import text

from qmon import links as dashboard_links
from qmon.alerts import incremental
from qmon.alerts.burn import burn_alerts, decisions_of
from qmon.alerts.deliver import deliver_slack, deliver_webhook
from qmon.alerts.message import render
from qmon.alerts.sources import source_alerts, stale_promises
from qmon.config import QmonConfig
from qmon.config.spec import SlackSpec
from qmon.figures import facts as figures
from qmon.promises.engine import Instance
from qmon.promises.promise import Promise
from qmon.store import Store
from qmon.writeback import deliver as writeback_deliver
from qmon.writeback import plan as writeback_plan
from qmon.writeback.crm import targets
from qmon.writeback.plan import WritebackReport

HORIZON_US = 24 * 3600_000_000
"""Breaches whose deadline passed longer ago than this are history, not news: a first check
on a store with months of data, or after a long outage, does not alert them all."""


#: A new alert, unless the ledger has it: exactly once per (promise, subject, start, kind).
_INSERT = text(
    "INSERT INTO alerts (promise_id, subject_type, subject_id, started_us, kind, detected_us,"
    " route, text, blocks, status, attempts, next_try_us, update_pending, webhook_pending,"
    " webhook_attempts, webhook_next_try_us) VALUES (:p, :t, :i, :s, :k, :now, :route, :text,"
    " :blocks, :status, 0, :due, false, :hook, 0, :due) ON CONFLICT DO NOTHING"
)


@dataclass
class Alert:
    promise: Promise
    instance: Instance
    kind: str  # breached | at_risk

    @property
    def key(self) -> dict[str, object]:
        i = self.instance
        return {"p": i.promise_id, "t": i.subject_type, "i": i.subject_id, "s": i.started_us,
                "k": self.kind}  # fmt: skip


@dataclass
class CheckReport:
    found: list[Alert] = field(default_factory=list)  # alerts the ledger did not have yet
    notices: list[str] = field(default_factory=list)  # new source and burn alerts, in words
    webhooks: int = 0  # alerts posted to the webhook
    delivered: int = 0
    updated: int = 0
    failed: list[str] = field(default_factory=list)  # why deliveries failed this run
    warnings: list[str] = field(default_factory=list)  # delivered, but not as well as it could
    pending: int = 0  # still waiting after this run
    writeback: WritebackReport = field(default_factory=WritebackReport)


def run_check(
    config: QmonConfig, store: Store, as_of_us: int, *, dry_run: bool = False,
    full: bool = False,
) -> CheckReport:  # fmt: skip
    """Detect and (unless `dry_run`, or without `notify.slack`) record and deliver alerts as
    of `as_of_us`. Without a channel nothing is recorded, so that configuring Slack later
    does not flood it with what was found before.

    A check that records evaluates only the subjects whose alerts can have changed since the
    last one (`qmon.alerts.incremental`), unless `full` or its state says otherwise; one that
    does not record evaluates everything and leaves that state alone.

    A promise fed only by stale sources (`stale_promises`) is not evaluated: its instances raise
    no alerts (the stale-source alert speaks for them) until its sources sync again."""
    promises = {p.id: p for p in config.promises}
    not_evaluated = stale_promises(config, store, as_of_us)
    slack, webhook = config.notify.slack, config.notify.webhook
    writing_back = bool(targets(config))
    serving = figures.enabled(config)  # the dashboard counts what checks record
    recording = not dry_run and (
        slack is not None or webhook is not None or writing_back or serving
    )
    tracked = recording and not not_evaluated  # the incremental state follows this check
    keeping = recording and serving  # the dashboard's figures too
    scope = incremental.Scope(full=True)
    if tracked:
        missing = keeping and figures.as_of(store) is None
        scope = incremental.plan(config, store, as_of_us, full=full or missing)
    keep_from = min(as_of_us - HORIZON_US, writeback_plan.keep_from(config, as_of_us) or as_of_us)
    rebuild = figures.FullRebuild(store, as_of_us) if keeping and scope.full else None
    try:
        instances = incremental.evaluate(
            config, store, scope, as_of_us, keep_from_us=keep_from, upcoming=tracked,
            sink=rebuild.add if rebuild is not None else None,
        )  # fmt: skip
    except BaseException:
        if rebuild is not None:
            rebuild.abort()
        raise
    if rebuild is not None:
        rebuild.commit()
    # Stale data can also look like a burning budget: no instance alerts, no burn alerts.
    evaluated = [i for i in instances if i.promise_id not in not_evaluated]
    alerts = [
        Alert(promises[i.promise_id], i, "breached" if i.status == "breached" else "at_risk")
        for i in evaluated
        if (i.status == "breached" and _recent(i, as_of_us)) or (i.status == "open" and i.at_risk)
    ]
    report = CheckReport()
    language = config.language
    dashboard = dashboard_links.public_url(config)  # alerts link to their instance pages
    known = _known_keys(store, alerts)
    if not recording:  # nowhere to send: list, record nothing
        report.found = [a for a in alerts if _key(a) not in known]
        if not dry_run:
            store.mark("check", as_of_us)
        return report
    channels = {"status": "pending" if slack else "none", "hook": webhook is not None}
    broke: list[Instance] = []  # new breaches and breaches kept late, for the CRM's tasks
    kept_late: list[Instance] = []
    links: dict[tuple[str, str], str | None] = {}
    with store.engine.begin() as conn:
        for alert in alerts:
            is_new = _key(alert) not in known
            if not is_new and (alert.kind != "breached" or alert.instance.stopped_us is None):
                continue  # already in the ledger, nothing to change: no link, no message
            i = alert.instance
            link = Store.subject_link(conn, alert.promise.types(), i.subject_type, i.subject_id)
            # A breach already stopped when first found is told as kept late right away.
            words = "late" if alert.kind == "breached" and i.stopped_us is not None else alert.kind
            message = render(words, alert.promise, alert.instance, link, as_of_us,
                             config.timezone, language, public_url=dashboard)  # fmt: skip
            inserted = conn.execute(
                _INSERT,
                {
                    **alert.key,
                    "now": as_of_us,
                    "route": _route(slack, alert),
                    "due": _not_before(config, slack, alert, as_of_us),
                    **channels,
                    "text": message.text,
                    "blocks": json.dumps(message.blocks),
                },
            ).rowcount
            links[(i.subject_type, i.subject_id)] = link
            if inserted:
                report.found.append(alert)
                if alert.kind == "breached":
                    broke.append(i)
            elif alert.kind == "breached" and alert.instance.stopped_us is not None:
                kept_late.append(i)
                late = render("late", alert.promise, alert.instance, link, as_of_us,
                              config.timezone, language, public_url=dashboard)  # fmt: skip
                conn.execute(
                    text(
                        "UPDATE alerts SET update_pending = (slack_ts IS NOT NULL),"
                        " webhook_pending = :hook, webhook_next_try_us = :now,"
                        " text = :text, blocks = :blocks"
                        " WHERE promise_id = :p AND subject_type = :t AND subject_id = :i"
                        " AND started_us = :s AND kind = :k AND text <> :text"
                    ),
                    {
                        **alert.key,
                        "text": late.text,
                        "blocks": json.dumps(late.blocks),
                        "hook": webhook is not None,
                        "now": as_of_us,
                    },  # fmt: skip
                )
        if keeping and not scope.full:
            figures.replace_subjects(conn, scope.subjects, instances, as_of_us)
        elif not keeping:
            figures.forget(conn)
        if not_evaluated:  # alerted in full once its sources are back
            incremental.forget(conn)
        else:  # the CRM records' values: not from stale data either
            subjects = None if scope.full else scope.subjects
            changed, wakes = writeback_plan.plan(conn, config, evaluated, subjects, as_of_us)
            report.writeback.changed = changed
            writeback_plan.plan_tasks(conn, config, broke, kept_late, links, as_of_us)
            incremental.save(conn, config, scope, instances, as_of_us, wakes)
        decided = (decisions_of(evaluated) if scope.full
                   else incremental.decisions(conn, as_of_us))  # fmt: skip
        extra = [
            *source_alerts(config, store, conn, as_of_us, language),
            *burn_alerts(config, decided, as_of_us, language),
        ]
        for notice in extra:
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": notice.text}}]
            inserted = conn.execute(
                _INSERT,
                {
                    **notice.key,
                    "now": as_of_us,
                    "due": as_of_us,
                    "route": slack.channel if slack else "",
                    "text": notice.text,
                    "blocks": json.dumps(blocks),
                    **channels,
                },
            ).rowcount
            if inserted:
                report.notices.append(f"{notice.key['i']} {notice.key['k']}")
        # An at-risk alert still waiting (quiet hours, an outage) whose instance is no longer
        # open and at risk (it broke, or was kept) is old news: not sent.
        at_risk_now = {tuple(a.key.values()) for a in alerts if a.kind == "at_risk"}
        waiting = conn.execute(
            text(
                "SELECT promise_id, subject_type, subject_id, started_us, kind FROM alerts"
                " WHERE kind = 'at_risk' AND status = 'pending'"
            )
        ).all()
        looked_at = None if scope.full else set(scope.subjects)
        stale = [
            dict(zip("ptisk", row, strict=True)) for row in waiting
            if tuple(row) not in at_risk_now
            and (looked_at is None or (row.subject_type, row.subject_id) in looked_at)
        ]  # fmt: skip
        if stale:
            conn.execute(
                text(
                    "UPDATE alerts SET status = 'superseded' WHERE promise_id = :p"
                    " AND subject_type = :t AND subject_id = :i AND started_us = :s AND kind = :k"
                ),
                stale,
            )
    if slack is not None:
        deliver_slack(store, slack, as_of_us, report, language)
    if webhook is not None:
        deliver_webhook(store, webhook.url.get_secret_value(), as_of_us, report)
    if writing_back:
        writeback_deliver.deliver(config, store, as_of_us, report.writeback)
    store.mark("check", as_of_us)
    with store.engine.connect() as conn:
        report.pending = conn.execute(
            text(
                "SELECT count(*) FROM alerts"
                " WHERE status = 'pending' OR update_pending OR webhook_pending"
            )
        ).scalar_one()
    return report


def _not_before(config: QmonConfig, slack: SlackSpec | None, alert: Alert, now_us: int) -> int:
    """When an alert may go: now, or for an at-risk alert in quiet hours, at the next opening
    of the `quiet_hours` calendar (a breach always goes at once)."""
    if alert.kind != "at_risk" or slack is None or slack.quiet_hours is None:
        return now_us
    calendar = config.calendars[slack.quiet_hours]
    return calendar.advance(now_us, 1) - 1  # the first open microsecond from now on


def _recent(instance: Instance, as_of_us: int) -> bool:
    deadline = instance.deadline_us
    return deadline is None or deadline >= as_of_us - HORIZON_US


def _route(slack: SlackSpec | None, alert: Alert) -> str:
    """The first route whose phase and promise (where given) match; else the channel."""
    if slack is None:
        return ""
    for route in slack.routes:
        if route.phase not in (None, alert.instance.phase):
            continue
        if route.promise not in (None, alert.instance.promise_id):
            continue
        return route.channel
    return slack.channel


def _key(alert: Alert) -> tuple[object, ...]:
    return tuple(alert.key.values())


def _known_keys(store: Store, alerts: list[Alert]) -> set[tuple[object, ...]]:
    """The keys of these alerts that the ledger already has, in one query."""
    if not alerts:
        return set()
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT promise_id, subject_type, subject_id, started_us, kind FROM alerts"
                " WHERE kind IN ('breached', 'at_risk') AND started_us >= :first"
            ),
            {"first": min(a.instance.started_us for a in alerts)},
        ).all()
    return {tuple(row) for row in rows}
