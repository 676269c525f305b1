"""Several `qmon run` processes on one PostgreSQL: they share the work through job claims
(`SELECT ... FOR UPDATE SKIP LOCKED` on `agent_jobs`), never run a job twice, never send an
alert twice, and when one dies mid-job another takes its work over at once.

Real processes against the local PostgreSQL, two named HubSpot portals (fake, on 127.0.0.1)
and the fake Slack."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from qmon.alerts.sources import last_complete_syncs
from qmon.config import load_config
from qmon.store import Store
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack
from tests.test_agent import ROOT, ev, wait_for

DONE = re.compile(r"^(\S+ \S+) qmon\.agent INFO: (\S+) done$")


@pytest.fixture
def slack():
    with FakeSlack(retry_after=0) as fake:
        fake.add_channel("kwaliteit")
        yield fake


@pytest.fixture
def portals():
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as nl, \
         FakeHubSpot(retry_after=0, search_rate_limit=None) as be:  # fmt: skip
        for fake in (nl, be):
            fake.add("tickets", {"subject": "kapot", "hs_pipeline_stage": "1"},
                     created_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                     updated_at=datetime(2026, 11, 2, 9, tzinfo=UTC))  # fmt: skip
        yield nl, be


def _config(tmp_path: Path, url: str, slack: FakeSlack, portals) -> Path:
    def portal(fake: FakeHubSpot) -> dict:
        return {"kind": "hubspot", "access_token": fake.access_token, "base_url": fake.base_url,
                "portal_id": 62515, "backoff_seconds": 0.01, "objects": ["tickets"]}  # fmt: skip

    data = {
        "version": 1,
        "database": url,
        "promises": [
            {
                "id": "quote-24h",
                "phase": "sales",
                "start": "quote.requested",
                "stop": "quote.sent",
                "within": "24h",
            }
        ],  # fmt: skip
        "sources": {"hubspot-nl": portal(portals[0]), "hubspot-be": portal(portals[1])},
        "notify": {
            "slack": {
                "token": "${SLACK_BOT_TOKEN}",
                "channel": "#kwaliteit",
                "base_url": slack.base_url,
            }
        },  # fmt: skip
        "schedule": {"check": "1s", "sync": "2s"},
    }
    path = tmp_path / "qmon.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _env(path: Path, slack: FakeSlack) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "QMON_CONFIG": str(path),
            "SLACK_BOT_TOKEN": slack.token}  # fmt: skip


def _agent(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qmon", "run", "-v"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))  # fmt: skip


def _runs(*logs: Path) -> dict[str, list[float]]:
    """Each job's completion times, from the agents' logs, in order."""
    runs: dict[str, list[float]] = {}
    for log in logs:
        for line in log.read_text().splitlines():
            if match := DONE.match(line):
                at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
                stamp = at.timestamp()  # the log's local time; only differences count
                runs.setdefault(match[2], []).append(stamp)
    return {name: sorted(times) for name, times in runs.items()}


def breaches(slack: FakeSlack) -> list[str]:
    """The promise alerts posted (the sources' own notices aside: "not synced yet", "syncs
    again")."""
    return [text for text in slack.texts("kwaliteit") if "quote-24h" in text]


def _stop(*agents: subprocess.Popen) -> None:
    for agent in agents:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
    for agent in agents:
        try:
            agent.wait(timeout=20)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def test_two_agents_share_the_work_and_do_nothing_twice(tmp_path, pg_url, slack, portals):
    store = Store.open(pg_url)
    store.ingest([ev("D-1", 30), ev("D-2", 25)])
    path = _config(tmp_path, pg_url, slack, portals)
    env = _env(path, slack)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    agents = [_agent(env, log) for log in logs]
    try:
        assert wait_for(lambda: len(breaches(slack)) == 2), breaches(slack)
        store.ingest([ev("D-3", 26)])
        assert wait_for(lambda: len(breaches(slack)) == 3), breaches(slack)
        time.sleep(6)
        assert all(agent.poll() is None for agent in agents)  # both still run
    finally:
        _stop(*agents)
    assert len(breaches(slack)) == 3  # each alert once, across both agents
    runs = _runs(*logs)
    # Each job ran at most once per interval across both agents, never twice in a row
    # (a claimed job is not due again until its interval has passed since it started).
    for name, interval in (("check", 1.0), ("sync:hubspot-nl", 2.0), ("sync:hubspot-be", 2.0)):
        times = runs[name]
        assert len(times) >= 3, (name, times)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) > interval * 0.5, (name, gaps)
    # `qmon status` shows every job, the agent that ran it last, and no error.
    result = qmon("status", "--format", "json", env=env)
    jobs = {job["name"]: job for job in json.loads(result.stdout)["jobs"]}
    assert set(jobs) == {"check", "sync:hubspot-nl", "sync:hubspot-be"}
    assert all(job["agent"] and job["last_error"] is None for job in jobs.values())
    # Both portals' tickets arrived, each once, under its own source name, cursor and health.
    health = last_complete_syncs(load_config(path, environ=env), store)
    for name in ("hubspot-nl", "hubspot-be"):
        assert len(store.record_events(name)) == 1
        assert {c.stream for c in store.sync_state(name)} == {"tickets"}
        assert health[name] is not None
    store.close()


HOLD = textwrap.dedent(
    """
    import sys, time
    from qmon.agent import Job, add_jobs, run_claimed
    from qmon.store import Store
    store = Store.open(sys.argv[1])
    def work():
        print("claimed", flush=True)
        time.sleep(600)
    job = Job("check", work, lambda t: t + 1_000_000, 1.0)
    add_jobs(store, [job])
    run_claimed(store, job, "doomed")
    """
)


def test_when_an_agent_dies_mid_job_another_takes_it_over(tmp_path, pg_url, slack, portals):
    store = Store.open(pg_url)
    path = _config(tmp_path, pg_url, slack, portals)
    env = _env(path, slack)
    # An agent that claimed the check and hangs in it: the other agent must not check.
    doomed = subprocess.Popen([sys.executable, "-c", HOLD, pg_url], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    agent = None
    try:
        assert doomed.stdout.readline().strip() == "claimed"
        store.ingest([ev("D-1", 30)])
        agent = _agent(env, tmp_path / "b.log")
        assert wait_for(lambda: "sync:hubspot-nl done" in (tmp_path / "b.log").read_text())
        time.sleep(3)
        assert breaches(slack) == []  # the check is someone else's, running
        killed = time.monotonic()
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        assert wait_for(lambda: len(breaches(slack)) == 1, seconds=60)
        took_over = time.monotonic() - killed
        assert took_over < 15, took_over
        assert agent.poll() is None
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait()
        if agent is not None:
            _stop(agent)
    store.close()
