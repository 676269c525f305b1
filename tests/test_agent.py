"""`qmon run` as a real process: schedules, one agent per SQLite store, SIGKILL and restart,
SIGTERM.

The agent alerts through the fake Slack served by this test process and mails the weekly
report to a real SMTP server (aiosmtpd); killed with SIGKILL and started again it loses no
alert and sends none twice (the ledger and outbox of `qmon check`), and the report goes once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qmon.events import Event
from qmon.store import Store
from qmon.timeutil import to_us
from tests.fakes.slack import FakeSlack
from tests.fakes.smtp import SmtpServer

ROOT = Path(__file__).resolve().parent.parent


def ev(n: str, hours_ago: float) -> Event:
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return Event("crm", f"{n}-req", to_us(moment), "quote.requested", "deal", n)


def wait_for(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def slack():
    with FakeSlack(retry_after=0) as fake:
        fake.add_channel("kwaliteit")
        yield fake


def test_the_agent_alerts_on_schedule_survives_sigkill_and_stops_on_sigterm(tmp_path, slack):
    with SmtpServer(tmp_path, user="qmon", password="smtp-pw") as smtp:
        _alert_report_kill_restart(tmp_path, slack, smtp)
    [report] = smtp.received  # one weekly report, across the SIGKILL and the restart
    assert report.message["Subject"].startswith("Promises kept — week ")
    assert report.recipients == ["kwaliteit@acme.nl"]


def _alert_report_kill_restart(tmp_path: Path, slack: FakeSlack, smtp: SmtpServer) -> None:
    db = tmp_path / "qmon.db"
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: sqlite:///{db}
promises:
  - {{id: quote-24h, phase: sales, start: quote.requested, stop: quote.sent, within: 24h}}
notify:
  slack: {{token: "${{SLACK_BOT_TOKEN}}", channel: "#kwaliteit", base_url: "{slack.base_url}"}}
  email:
    smtp: {{host: 127.0.0.1, port: {smtp.port}, username: qmon, password: "${{SMTP_PASSWORD}}"}}
    from: qmon@acme.nl
    to: kwaliteit@acme.nl
schedule: {{check: 1s, weekly_report: "mon 00:00"}}   # last week's report is always due
"""
    )
    store = Store.open(f"sqlite:///{db}")
    store.ingest([ev("D-1", 30), ev("D-2", 25)])
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QMON_CONFIG": str(path),
           "SLACK_BOT_TOKEN": slack.token, "SMTP_PASSWORD": "smtp-pw",
           "SSL_CERT_FILE": str(smtp.ca_file)}  # fmt: skip

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "qmon", "run"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    agent = start()
    try:
        assert wait_for(lambda: len(slack.texts("kwaliteit")) == 2)
        assert wait_for(lambda: len(smtp.received) == 1)
        second = subprocess.run([sys.executable, "-m", "qmon", "run"], env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert second.returncode == 3
        assert "another qmon agent is running on this store" in second.stderr

        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
        store = Store.open(f"sqlite:///{db}")
        store.ingest([ev("D-3", 26)])
        store.close()
        agent = start()
        assert wait_for(lambda: len(slack.texts("kwaliteit")) == 3)
        time.sleep(2.5)  # two more checks: nothing is sent twice
        assert len(slack.texts("kwaliteit")) == 3
        assert sorted(t.split(" — ")[1].split(" (")[0] for t in slack.texts("kwaliteit")) == [
            "deal D-1", "deal D-2", "deal D-3",
        ]
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()


def test_one_agent_per_sqlite_store(tmp_path):
    """SQLite has one writer: a second agent stops at once. (Several agents on PostgreSQL
    share the work through job claims: tests/test_multi_agent.py.)"""
    from qmon.agent import AgentBusy, agent_lock

    url = f"sqlite:///{tmp_path / 'store.db'}"
    first, second = Store.open(url), Store.open(url)
    with agent_lock(first):
        with pytest.raises(AgentBusy, match="another qmon agent is running"):
            with agent_lock(second):
                pass
    with agent_lock(second):  # released when the first agent ended
        pass
    first.close()
    second.close()
