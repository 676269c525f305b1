"""Faults: Slack and the SMTP server down for an hour, PostgreSQL restarted under a running agent.

1. Slack and SMTP down for over an hour, driven through the public surface on a simulated
   clock: `qmon check --as-of` every 5 simulated minutes and the agent's weekly-report step
   (`send_due`) on the same ticks. Breaches arise while Slack refuses connections, then answers
   HTTP 500, then `ok: false`; the report falls due while the SMTP server is stopped. Once both
   are back every alert is in Slack exactly once (counted by the ledger keys each message
   carries as metadata), the report arrives once, nothing waits in the ledger, and the backoff
   (1 minute, doubling, at most an hour) made a bounded number of tries. SQLite and PostgreSQL.
2. A real `qmon run` on a private PostgreSQL schema: it posts the first alerts, the server is
   restarted under it (stopped for a few checks, then started; or, where a restart would hit
   other users of the server, the agent's sessions are terminated: `_restart_postgres`), new
   events are imported, and the same agent posts exactly the new alerts, nothing twice, is
   still running, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from qmon.alerts.deliver import slack_key as _slack_key
from qmon.config import load_config
from qmon.events import Event
from qmon.reports.weekly import IsoWeek
from qmon.reports.weekly.delivery import MARK, send_due
from qmon.reports.weekly.mail import MailError
from qmon.store import Store
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer
from tests.test_agent import wait_for

ROOT = Path(__file__).resolve().parent.parent

# Monday 23 November 2026, 07:30 in Amsterdam: the weekly report (default "mon 08:00", the
# config's time zone) about 2026-W47 falls due half an hour into the outage.
T0 = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
OUTAGE_MINUTES = 65  # Slack and SMTP are down from before the first tick until T0 + 65 min
LAST_TICK = 130  # the longest backoff is an hour: everything is due again by T0 + 125 min


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- 1. Slack and SMTP down for an hour ---------------------------------------------------------


def _outage_config(tmp_path: Path, database_url: str, slack: FakeSlack, smtp: SmtpServer) -> Path:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: {database_url}
timezone: Europe/Amsterdam
language: en
promises:
  - {{id: quote-24h, title: Quote within 24 hours, phase: sales, start: quote.requested,
     stop: quote.sent, within: 24h, warn_at: 50%}}
notify:
  slack: {{token: "{slack.token}", channel: "#kwaliteit", base_url: "{slack.base_url}"}}
  email:
    smtp: {{host: 127.0.0.1, port: {smtp.port}, username: qmon, password: smtp-pw,
           timeout: 5s}}
    from: qmon@acme.nl
    to: kwaliteit@acme.nl
"""
    )

    def req(subject: str, at: datetime) -> Event:
        return Event("crm", f"{subject}-req", to_us(at), "quote.requested", "deal", subject)

    def sent(subject: str, at: datetime) -> Event:
        return Event("crm", f"{subject}-sent", to_us(at), "quote.sent", "deal", subject)

    store = Store.open(database_url)
    store.ingest(
        [
            # At risk from the first tick; each breaks during the outage (the deadline is
            # 24 h after the request): while Slack refuses connections (D-1, D-2), answers
            # HTTP 500 (D-3) and answers ok:false (D-4).
            req("D-1", minutes(2) - DAY),
            req("D-2", minutes(17) - DAY),
            req("D-3", minutes(33) - DAY),
            req("D-4", minutes(51) - DAY),
            # Breaks at T0+12 min and is kept late at T0+22 min, all before Slack is back: it
            # is posted once, saying so (kept late), never as a plain breach and then updated.
            req("D-L", minutes(12) - DAY),
            sent("D-L", minutes(22)),
            # At risk from the start and still only at risk at the end: posted once.
            req("D-R", T0 - timedelta(hours=13)),
            # At risk at the start, kept at T0+10 min: its waiting at-risk alert is dropped.
            req("D-K", T0 - timedelta(hours=20)),
            sent("D-K", minutes(10)),
            req("D-OK", T0 - timedelta(hours=2)),  # fine
            req("D-OLD", T0 - timedelta(hours=100)),  # broke days ago: history, not news
        ]
    )
    store.close()
    return path


def test_slack_and_smtp_down_for_an_hour_everything_is_delivered_once_afterwards(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    with (
        FakeSlack(retry_after=0, ts_start=int(T0.timestamp())) as slack,
        SmtpServer(tmp_path, user="qmon", password="smtp-pw") as smtp,
    ):
        slack.add_channel("kwaliteit")
        monkeypatch.setenv("SSL_CERT_FILE", str(smtp.ca_file))
        path = _outage_config(tmp_path, database_url, slack, smtp)
        config = load_config(path)
        store = Store.open(database_url)
        try:
            _run_the_outage(path, config, store, slack, smtp)
            _assert_everything_delivered_once(config, store, slack, smtp)
        finally:
            store.close()


def _run_the_outage(path, config, store, slack: FakeSlack, smtp: SmtpServer) -> None:
    slack.go_down("refuse")
    smtp.go_down()
    mail_failures: list[int] = []
    sent_weeks: list[tuple[int, IsoWeek]] = []
    for tick in range(0, LAST_TICK + 1, 5):
        if tick == 30:  # reachable again, but every request answers HTTP 500 (an HTML page)
            slack.come_back()
            slack.fail_next(100_000, 500)
        if tick == 50:  # now ok:false, as Slack answers its own internal errors
            slack.clear_faults()
            slack.fail_next_ok_false("fatal_error", 100_000)
        if tick == OUTAGE_MINUTES:
            slack.clear_faults()
            smtp.come_back()
        now = minutes(tick)
        result = qmon("--config", path, "check", "--as-of", iso(now))
        assert "Traceback" not in result.output
        if tick < OUTAGE_MINUTES:
            assert result.exit_code in (0, 3), result.output  # 3: something was not delivered
        else:
            assert result.exit_code == 0, (tick, result.output)
        try:  # the agent's weekly-report job, on the same ticks (it runs at every check)
            week = send_due(config, store, to_us(now))
        except MailError as exc:
            assert "could not be reached" in str(exc)
            mail_failures.append(tick)
        else:
            if week is not None:
                sent_weeks.append((tick, week))
        if tick == 60:  # still down: nothing reached Slack or the SMTP server yet
            assert slack.all_messages == [] and smtp.received == []
    # Due from T0+30 min: tried (and refused) on every tick of the outage from then on, then
    # sent on the first tick after it, and never again.
    assert mail_failures == [30, 35, 40, 45, 50, 55, 60]
    assert sent_weeks == [(OUTAGE_MINUTES, IsoWeek(2026, 47))]
    # Every kind of outage was met: refused connections (not in the fake's log), HTTP 500s,
    # ok:false answers.
    assert any(r.status == 500 for r in slack.request_log)
    assert any(r.error == "fatal_error" for r in slack.request_log)


def _assert_everything_delivered_once(config, store: Store, slack: FakeSlack,
                                      smtp: SmtpServer) -> None:  # fmt: skip
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT promise_id, subject_type, subject_id, started_us, kind, status, attempts,"
                " update_pending, webhook_pending FROM alerts ORDER BY subject_id, kind"
            )
        ).all()
    by_status: dict[str, set[tuple[str, str]]] = {}
    for row in rows:
        by_status.setdefault(row.status, set()).add((row.subject_id, row.kind))
    assert by_status == {
        "sent": {("D-1", "breached"), ("D-2", "breached"), ("D-3", "breached"),
                 ("D-4", "breached"), ("D-L", "breached"), ("D-R", "at_risk")},
        # At-risk alerts still waiting when their instance broke or was kept: old news.
        "superseded": {("D-1", "at_risk"), ("D-2", "at_risk"), ("D-3", "at_risk"),
                       ("D-4", "at_risk"), ("D-L", "at_risk"), ("D-K", "at_risk")},
    }  # fmt: skip
    assert not any(row.update_pending or row.webhook_pending for row in rows)

    # Exactly once in Slack: each message names its alerts' ledger keys in its metadata.
    messages = slack.all_messages
    posted = Counter(
        key
        for m in messages
        for key in (m.metadata or {}).get("event_payload", {}).get("alerts", [])
    )
    expected = {_slack_key(row): 1 for row in rows if row.status == "sent"}
    assert dict(posted) == expected
    assert len(messages) == len(expected)  # no message without an alert (or with two)
    assert {m.channel for m in messages} == {slack.channel("kwaliteit").id}
    late = [m for m in messages if "deal D-L" in m.text]
    assert [m.text.split(":")[0] for m in late] == ["Kept late"]
    assert not any(m.edited for m in messages)  # the late text went out as the first post

    # Bounded tries: 1 minute, doubling, at most an hour. Tries while down are at least 1, 2,
    # 4, 8, 16, 32 minutes apart, so an outage of 65 minutes allows at most 7 of them, plus
    # the one that got through: never one per tick (13 ticks fell in the outage).
    attempts = {row.subject_id: row.attempts for row in rows if row.status == "sent"}
    assert all(1 < n <= 8 for n in attempts.values()), attempts
    # D-1 failed on ticks 5, 10, 15, 20, 30 and 50 (each due 1, 2, 4, 8, 16, 32 minutes after
    # the last), then went through on tick 85.
    assert attempts["D-1"] == 7
    posts = slack.requests("chat.postMessage")
    assert sum(1 for r in posts if r.ok) == len(expected)  # each went out in one post

    # The report: received once, about last week, and marked sent.
    [mail] = smtp.received
    assert mail.message["Subject"] == "Promises kept — week 2026-W47"
    assert store.marks()[MARK] == IsoWeek(2026, 47).start_us(config.timezone)


# --- 2. PostgreSQL restarted under a running agent ----------------------------------------------

RESTART_ENV = "QMON_TEST_PG_RESTART"
"""How the server is "restarted": `restart`, `terminate`, or `auto` (the default); see
`_restart_postgres`."""

DOWN_SECONDS = 2.5
"""How long the server stays stopped: more than two check intervals of the agent (1 s), so
that checks run into the outage (a bare `pg_ctlcluster restart` is down for well under a
second, between two checks)."""


def _cluster(url: str) -> tuple[str, str, bool] | None:
    """The Debian cluster (version, name, online) serving `url`, if it runs on this machine
    and this process may control it with `pg_ctlcluster`; else None."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1", None) or os.geteuid() != 0:
        return None
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return None
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                            timeout=30)  # fmt: skip
    for line in listed.stdout.splitlines():
        version, name, port, status, *_ = line.split()
        if int(port) == (parts.port or 5432):
            return version, name, status.startswith("online")
    return None


def _pg_ctlcluster(cluster: tuple[str, str, bool], *action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster[0], cluster[1],
                    *action], check=True, capture_output=True, timeout=60)  # fmt: skip


def _others_connected(url: str, application_name: str) -> int:
    """Client sessions on the server that are neither the agent's nor this query's: other
    tests or people, whom a restart would cut off."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND application_name <> %s",
            (application_name,),
        ).fetchone()
    return int(row[0]) if row else 0


def _restart_postgres(url: str, application_name: str) -> str:
    """Cut every connection of the agent the way a server restart does; returns the method.

    `restart`: the local cluster is stopped (`pg_ctlcluster ... stop -m fast` terminates every
    session), stays down for `DOWN_SECONDS` (connects are refused meanwhile, so the agent's
    jobs fail) and is started again. `terminate`: `pg_terminate_backend` on each backend of
    the agent (found by its `application_name`): what the agent sees of a restart, minus the
    refused connects, and nobody else on the server is touched.

    `auto` (the default) restarts when the server is a local cluster this process may control
    and nobody else is connected to it (CI: `.ci/run` runs the tests one at a time), and
    terminates otherwise: on a server shared with other test runs a restart makes their
    tests fail.
    """
    import psycopg

    mode = os.environ.get(RESTART_ENV, "auto")
    cluster = _cluster(url)
    can_restart = cluster is not None and cluster[2]
    if mode == "restart" and not can_restart:
        pytest.fail(f"{RESTART_ENV}=restart, but {url} is not a local cluster this user controls")
    if mode == "restart" or (
        mode == "auto" and can_restart and _others_connected(url, application_name) == 0
    ):
        assert cluster is not None
        _pg_ctlcluster(cluster, "stop", "-m", "fast")
        time.sleep(DOWN_SECONDS)
        _pg_ctlcluster(cluster, "start")
        return "restart"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND application_name = %s",
            (application_name,),
        )
    return "terminate"


def _accepts(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _ensure_postgres_runs(url: str, seconds: float = 60) -> None:
    """Other tests need the server: start the cluster if it is down, wait until it accepts."""
    if _accepts(url):
        return
    cluster = _cluster(url)
    if cluster is not None and not cluster[2]:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster[0], cluster[1],
                        "start"], capture_output=True, timeout=60)  # fmt: skip
    deadline = time.monotonic() + seconds
    while not _accepts(url):
        assert time.monotonic() < deadline, "PostgreSQL does not accept connections"
        time.sleep(0.2)


def test_postgres_restarted_under_a_running_agent_it_reconnects_and_carries_on(
    tmp_path: Path, pg_url: str
):
    base = os.environ["QMON_TEST_POSTGRES_URL"]
    application_name = f"qmon-outage-{uuid.uuid4().hex[:8]}"
    database_url = f"{pg_url}&application_name={application_name}"
    now = datetime.now(UTC)
    with FakeSlack(retry_after=0) as slack:
        slack.add_channel("kwaliteit")
        path = tmp_path / "qmon.yaml"
        path.write_text(
            f"""version: 1
database: "{database_url}"
language: en
promises:
  - {{id: quote-24h, phase: sales, start: quote.requested, stop: quote.sent, within: 24h}}
notify:
  slack: {{token: "{slack.token}", channel: "#kwaliteit", base_url: "{slack.base_url}"}}
schedule: {{check: 1s}}
"""
        )
        store = Store.open(database_url)
        store.ingest(
            Event("crm", f"{n}-req", to_us(now - timedelta(hours=h)), "quote.requested", "deal", n)
            for n, h in (("D-1", 30), ("D-2", 25))
        )
        store.close()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("QMON_DATABASE_URL", None)
        log_path = tmp_path / "agent.log"  # a file, not a pipe: nobody reads it while it runs
        with log_path.open("wb") as log_file:
            agent = subprocess.Popen(
                [sys.executable, "-m", "qmon", "--config", str(path), "run", "--verbose"],
                env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip

        def output() -> str:
            state = "running" if agent.poll() is None else f"exit code {agent.returncode}"
            return f"agent {state}; its log:\n{log_path.read_text(errors='replace')}"

        def subjects() -> Counter[str]:
            return Counter(t.split(" — ")[1].split(" (")[0] for t in slack.texts("kwaliteit"))

        try:
            assert wait_for(lambda: len(slack.texts("kwaliteit")) == 2), output()
            started = time.monotonic()
            try:
                method = _restart_postgres(base, application_name)
            finally:
                _ensure_postgres_runs(base)
            print(f"PostgreSQL {method}: accepting again after {time.monotonic() - started:.1f} s")

            csv = tmp_path / "new.csv"
            csv.write_text(
                "id,occurred_at,type,subject_type,subject_id\n"
                + "".join(
                    f"{n}-req,{iso(now - timedelta(hours=h))},quote.requested,deal,{n}\n"
                    for n, h in (("D-3", 26), ("D-4", 27))
                )
            )
            imported = qmon("--config", path, "import", csv)
            assert imported.exit_code == 0, imported.output

            # The same agent, not restarted, posts exactly the new alerts...
            assert wait_for(lambda: len(slack.texts("kwaliteit")) >= 4, 30), output()
            time.sleep(2.5)  # ...and, over a few more checks, nothing twice
            assert subjects() == {"deal D-1": 1, "deal D-2": 1, "deal D-3": 1, "deal D-4": 1}
            assert agent.poll() is None, output()
            status = qmon("--config", path, "status", "--format", "json")
            assert '"waiting": 0' in status.stdout, status.output
            # ...and still stops cleanly on SIGTERM, although connections it held were cut.
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=20)
            log = output()
            print(log)
            assert agent.returncode == 0, log  # (jobs that failed in the outage are logged)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
            _ensure_postgres_runs(base)
