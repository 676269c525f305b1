"""The tables of what qmon itself keeps beside the events: alerts and their delivery, the
agent's jobs and marks, the incremental check's state, corrective actions, the CRM writeback
outbox, the instances' facts for the web side, and the web sign-in state. The events and
what comes with them are in `qmon.store.schema`, which lists every table."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel


class AlertRow(SQLModel, table=True):
    """One alert: the ledger that makes it happen once, and the outbox that delivers it.

    The key is what an alert is about: a promise's instance (promise, subject, the instant its
    cycle started) and the kind (`breached`, `at_risk`). A check inserts the alerts it finds
    with ON CONFLICT DO NOTHING, in one transaction, so an alert exists once whatever the
    restarts; delivery then moves it from `pending` to `sent` and keeps the message's place
    (`slack_channel`, `slack_ts`) for updates. An alert that could not be delivered stays
    pending with a next try (`next_try_us`), backing off, until the channel is back.
    `update_pending` marks a sent breach whose instance has since been stopped: its message
    is to be updated in place (late, and by how much).
    """

    __tablename__ = "alerts"

    promise_id: str = Field(primary_key=True)
    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    started_us: int = Field(sa_column=Column(BigInteger, primary_key=True))
    kind: str = Field(primary_key=True)
    detected_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    route: str  # the Slack channel (name or id) it goes to
    text: str = Field(sa_column=Column(Text, nullable=False))
    blocks: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    status: str = "pending"  # Slack: pending | sent | superseded | none (no Slack configured)
    attempts: int = 0
    next_try_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_error: str | None = None
    sent_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    slack_channel: str | None = None
    slack_ts: str | None = None
    update_pending: bool = False
    # The generic JSON webhook, when configured, has its own delivery state.
    webhook_pending: bool = False
    webhook_attempts: int = 0
    webhook_next_try_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    webhook_sent_us: int | None = Field(default=None, sa_column=Column(BigInteger))


class AgentMark(SQLModel, table=True):
    """When something last completed (`check`, later `weekly_report`), for `qmon status`."""

    __tablename__ = "agent_marks"

    name: str = Field(primary_key=True)
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class ActionRow(SQLModel, table=True):
    """The Quality Manager's log of improvement actions on a promise.

    A `recovery` action repairs one customer's case; a `corrective` action removes a cause, and
    its effect shows as compliance in the weeks before against the weeks after `day`.
    """

    __tablename__ = "actions"

    id: int | None = Field(default=None, primary_key=True)
    promise_id: str
    kind: str  # corrective | recovery
    description: str = Field(sa_column=Column(Text, nullable=False))
    day: str  # ISO date, in the config's time zone
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class AgentJob(SQLModel, table=True):
    """One agent job (`sync:<source>`, `check`, `weekly_report`) and when it is next due.

    Several agents share the work through this table: an agent runs a job only after
    claiming its row with `SELECT ... FOR UPDATE SKIP LOCKED` while it is due, holds the row
    lock until the job is done and then moves `due_us` on, all in one transaction. A second
    agent skips a job that is running or not due; an agent that dies loses its connection
    and with it the lock, so the job is due again for the others at once.
    """

    __tablename__ = "agent_jobs"

    name: str = Field(primary_key=True)
    due_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    agent: str | None = None  # who ran it last: host and process id
    started_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    finished_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    error: str | None = Field(default=None, sa_column=Column(Text))


class CheckDirty(SQLModel, table=True):
    """A subject whose events changed since `qmon check` last evaluated it.

    Every write of events marks their subjects in the same transaction, bumping `version`;
    the check claims the marks (`claimed = version`, in the database, however many),
    evaluates those subjects, and removes each mark only if its version is still the one it
    claimed: a subject changed again meanwhile is evaluated again by the next check.
    """

    __tablename__ = "check_dirty"

    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    claimed: int | None = Field(default=None, sa_column=Column(BigInteger))


class CheckWatch(SQLModel, table=True):
    """An open instance that will change by time alone (become at risk, or break) at
    `wake_us`: the incremental check evaluates its subject again then."""

    __tablename__ = "check_watch"
    __table_args__ = (Index("ix_check_watch_wake", "wake_us"),)

    promise_id: str = Field(primary_key=True)
    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    wake_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class CheckDecided(SQLModel, table=True):
    """An instance decided (kept, or broken) within the burn-rate windows, for the burn
    alerts of the incremental check; older ones are pruned."""

    __tablename__ = "check_decided"
    __table_args__ = (Index("ix_check_decided_at", "decided_us"),)

    promise_id: str = Field(primary_key=True)
    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    started_us: int = Field(sa_column=Column(BigInteger, primary_key=True))
    decided_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    breached: bool


class CheckState(SQLModel, table=True):
    """One row: the instant and the promises' fingerprint the check state above is valid
    for. Missing, for other promises or a later instant, the next check evaluates all."""

    __tablename__ = "check_state"

    id: int = Field(primary_key=True)
    fingerprint: str
    as_of_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class WritebackRecord(SQLModel, table=True):
    """The values qmon wants on one CRM record, and those it last wrote there.

    The check that decides a record's values (`qmon.writeback.values`) stores them as
    `desired`, in its own transaction; `pending` says they differ from `written` (None: never
    written, the same as all empty). Delivery writes the pending ones in batches and sets
    `written` to what it sent, only if `desired` did not change meanwhile; a record the CRM
    refused keeps `pending` with a later `next_try_us`, its reason in `last_error`.
    """

    __tablename__ = "writeback_records"
    __table_args__ = (
        Index("ix_writeback_due", "source", "pending", "next_try_us"),
        Index("ix_writeback_subject", "subject_type", "subject_id"),
    )

    source: str = Field(primary_key=True)
    object_type: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    subject_type: str
    subject_id: str
    desired: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    written: str | None = Field(default=None, sa_column=Column(Text))  # JSON
    pending: bool
    changed_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    written_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    attempts: int = 0
    next_try_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class WritebackTask(SQLModel, table=True):
    """One CRM task for a broken instance: the ledger that makes it exist once.

    Keyed like an alert (promise, subject, cycle start). `key` is stored in the task itself
    (`qmon_key` / `Qmon_Key__c`), so a try whose answer was lost is found before a second
    task is made. `task_id` is the CRM's id once created; `update_pending` marks a task whose
    text is to be updated (the promise was kept late).
    """

    __tablename__ = "writeback_tasks"

    promise_id: str = Field(primary_key=True)
    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    started_us: int = Field(sa_column=Column(BigInteger, primary_key=True))
    source: str
    object_type: str
    record_id: str
    key: str = Field(unique=True)
    owner: str | None = None
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    due_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    priority: str
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    task_id: str | None = None
    update_pending: bool = False
    attempts: int = 0
    next_try_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class InstanceFact(SQLModel, table=True):
    """One promise instance as of the last check: what the dashboard counts (`qmon.figures`).

    The check keeps these current: a full check rewrites them all, an incremental one those
    of the subjects it evaluated, in its own transaction; `agent_marks.figures` is the
    instant they are as of. `decided_us` is when a kept or broken instance was decided (its
    deadline if it broke, else its stop); `target` the index of the `targets` entry applied.
    """

    __tablename__ = "instance_facts"
    __table_args__ = (
        Index("ix_instance_facts_start", "promise_id", "started_us"),
        Index("ix_instance_facts_subject", "subject_type", "subject_id"),
    )

    promise_id: str = Field(primary_key=True)
    subject_type: str = Field(primary_key=True)
    subject_id: str = Field(primary_key=True)
    started_us: int = Field(sa_column=Column(BigInteger, primary_key=True))
    cycle: int
    status: str  # met | breached | open | not_evaluated
    at_risk: bool
    stopped_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    deadline_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    paused: bool
    #: the clock's time so far at `evaluated_us`, the instant the row was written; an open
    #: clock that is not paused has run on since (`qmon.figures.facts.elapsed_at`)
    elapsed_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    evaluated_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    allowed_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    target: int | None = None
    owner: str | None = None
    channel: str | None = None
    account: str | None = None


class WebRevocation(SQLModel, table=True):
    """A signed-out session of `qmon serve`: its cookie is refused by every worker process
    until `until_us`, when it would have expired anyway (`qmon.store.web_state`)."""

    __tablename__ = "web_revocations"
    __table_args__ = (Index("ix_web_revocations_until", "until_us"),)

    sid: str = Field(primary_key=True)
    until_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class WebLoginFailure(SQLModel, table=True):
    """A failed sign-in to `qmon serve` for one key (`user:<name>`, `addr:<client>`), kept
    for the sign-in limit's window, shared by every worker process."""

    __tablename__ = "web_login_failures"
    __table_args__ = (
        Index("ix_web_login_failures_key", "key", "at_us"),
        Index("ix_web_login_failures_at", "at_us"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
