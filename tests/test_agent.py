"""`qmon run` as a real process: schedules, one agent per store, SIGKILL and restart, SIGTERM.

The agent alerts through the fake Slack served by this test process; killed with SIGKILL and
started again it loses no alert and sends none twice (the ledger and outbox of `qmon check`).
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
    db = tmp_path / "qmon.db"
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: sqlite:///{db}
promises:
  - {{id: quote-24h, phase: sales, start: quote.requested, stop: quote.sent, within: 24h}}
notify:
  slack: {{token: "${{SLACK_BOT_TOKEN}}", channel: "#kwaliteit", base_url: "{slack.base_url}"}}
schedule: {{check: 1s}}
"""
    )
    store = Store.open(f"sqlite:///{db}")
    store.ingest([ev("D-1", 30), ev("D-2", 25)])
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QMON_CONFIG": str(path),
           "SLACK_BOT_TOKEN": slack.token}  # fmt: skip

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "qmon", "run"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    agent = start()
    try:
        assert wait_for(lambda: len(slack.texts("kwaliteit")) == 2)
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


def test_one_agent_per_store_on_both_databases(database_url):
    from qmon.agent import AgentBusy, agent_lock

    first, second = Store.open(database_url), Store.open(database_url)
    with agent_lock(first):
        with pytest.raises(AgentBusy, match="another qmon agent is running"):
            with agent_lock(second):
                pass
    with agent_lock(second):  # released when the first agent ended
        pass
    first.close()
    second.close()
