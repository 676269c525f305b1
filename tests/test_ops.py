"""Operations: `qmon --log-format json` and `qmon run --metrics-port`.

The logs are read from real commands (in-process, and from a real agent process); the
metrics are scraped over HTTP from a real `qmon run` that alerts through the fake Slack and
a webhook that keeps failing, and are checked against the store itself, on SQLite and on
PostgreSQL (whose URL carries a password, which must appear in no log line). Breaking the
store under the running agent must turn `qmon_store_up` to 0 without stopping it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from qmon import __version__
from qmon.config import load_config
from qmon.events import Event
from qmon.ops import logs
from qmon.reports.status import collect
from qmon.store import Store
from qmon.timeutil import now_us, to_us
from tests.clihelp import qmon
from tests.fakes.slack import FakeSlack
from tests.test_agent import wait_for

ROOT = Path(__file__).resolve().parent.parent
DB_PASSWORD = "s3cret-db-pw"
HOOK_SECRET = "secret-key-123"
HUBSPOT_TOKEN = "pat-na1-0000-hubspot-secret"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logs._StderrHandler)]:
        root.removeHandler(handler)
    logging.getLogger("qmon").setLevel(logging.NOTSET)


def json_lines(stderr: str) -> list[dict]:
    """Every line of stderr, each of which must be one JSON object with the common fields."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert line["time"].endswith("Z")
        datetime.fromisoformat(line["time"])
    return lines


# --- logs -------------------------------------------------------------------------------------


def test_sync_logs_json_lines_from_the_environment_and_text_by_default(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"version: 1\ndatabase: sqlite:///{tmp_path / 'q.db'}\n"
        "sources:\n  hubspot: {access_token: '${HUBSPOT_TOKEN}', base_url: 'http://127.0.0.1:1',"
        " backoff_seconds: 0.01, objects: [tickets]}\n"
    )
    env = {"HUBSPOT_TOKEN": HUBSPOT_TOKEN, "QMON_LOG_FORMAT": "json"}
    result = qmon("--config", path, "sync", "--verbose", env=env)
    assert result.exit_code == 3
    lines = json_lines(result.stderr.split("\nhubspot: cannot reach")[0])
    assert lines and {line["level"] for line in lines} == {"INFO"}
    assert {line["logger"] for line in lines} == {"qmon.connectors.hubspot.api"}
    assert "HubSpot unreachable" in lines[0]["message"]
    assert HUBSPOT_TOKEN not in result.output

    result = qmon("--config", path, "sync", "--verbose", env={"HUBSPOT_TOKEN": HUBSPOT_TOKEN})
    first = result.stderr.splitlines()[0]
    assert " qmon.connectors.hubspot.api INFO: HubSpot unreachable" in first
    result = qmon("--config", path, "sync", env={"HUBSPOT_TOKEN": HUBSPOT_TOKEN})
    assert "HubSpot unreachable" not in result.stderr  # INFO only with --verbose
    result = qmon("--log-format", "yaml", "--config", path, "status")
    assert result.exit_code == 2 and "--log-format" in result.stderr


def test_a_json_line_carries_extra_fields_and_the_exception_and_hides_url_passwords(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("json")
    log = logging.getLogger("qmon.test")
    try:
        raise ConnectionError(f"cannot open postgresql://qmon:{DB_PASSWORD}@db:5432/qmon")
    except ConnectionError:
        log.exception("store at postgresql://qmon:%s@db/qmon failed", DB_PASSWORD,
                      extra={"job": "check", "attempt": 2})  # fmt: skip
    log.info("not shown without --verbose")
    logs.verbose(True)
    log.info("shown with --verbose")
    logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/%s", HOOK_SECRET)
    [failed, shown] = json_lines(capsys.readouterr().err)
    assert failed["level"] == "ERROR" and failed["logger"] == "qmon.test"
    assert failed["message"] == "store at postgresql://qmon:***@db/qmon failed"
    assert (failed["job"], failed["attempt"]) == ("check", 2)
    assert failed["exc"].startswith("Traceback")
    assert "postgresql://qmon:***@db:5432" in failed["exc"]
    assert shown["message"] == "shown with --verbose"
    assert DB_PASSWORD not in json.dumps([failed, shown])

    logs.configure("text")  # configured again (each command does): one handler, text
    log.warning("at postgresql://u:%s@h/d", DB_PASSWORD)
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith(" qmon.test WARNING: at postgresql://u:***@h/d")


# --- metrics ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Metrics(dict):
    """Scraped samples: (name, labels) -> value."""

    def __call__(self, name: str, **labels: str) -> float:
        return self[name, tuple(sorted(labels.items()))]

    def all(self, name: str) -> dict[tuple, float]:
        return {labels: value for (n, labels), value in self.items() if n == name}


def scrape(port: int) -> Metrics:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = Metrics()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def scrape_when(port: int, condition, seconds: float = 30) -> Metrics:
    """The first scrape that meets `condition` (the agent still starting or working)."""
    last: list[Metrics] = []

    def ok() -> bool:
        try:
            last[:] = [scrape(port)]
        except httpx.HTTPError:
            return False
        try:
            return bool(condition(last[0]))
        except KeyError:
            return False

    assert wait_for(ok, seconds), last
    return last[0]


class FailingWebhook:
    """A webhook receiver that answers 500 to everything, so that its deliveries wait."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.paths.append(self.path)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhookb2/{HOOK_SECRET}"

    def __enter__(self) -> FailingWebhook:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def with_password(url: str) -> str:
    parts = urlsplit(url)
    user, host = parts.netloc.split("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{DB_PASSWORD}@{host}"))


def ev(n: str, hours_ago: float) -> Event:
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return Event("crm", f"{n}-req", to_us(moment), "quote.requested", "deal", n)


def test_the_agent_serves_the_stores_truth_as_prometheus_metrics(
    tmp_path: Path, database_url: str
) -> None:
    with FakeSlack(retry_after=0) as slack, FailingWebhook() as hook:
        slack.add_channel("kwaliteit")
        _agent_metrics(tmp_path, database_url, slack, hook)


def _agent_metrics(tmp_path: Path, url: str, slack: FakeSlack, hook: FailingWebhook) -> None:
    store = Store.open(url)
    store.ingest([ev("D-1", 30), ev("D-2", 25)])  # two broken promises
    synced_us = now_us() - 2 * 3600_000_000  # hubspot: last synced 2 h ago, stale since
    store.mark_synced("hubspot", "tickets", synced_us)
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: "${{QMON_TEST_DB}}"
promises:
  - {{id: quote-24h, phase: sales, start: quote.requested, stop: quote.sent, within: 24h}}
  - {{id: reply-1h, phase: after-sales, start: case.opened, stop: case.replied, within: 1h}}
sources:
  hubspot: {{access_token: "${{HUBSPOT_TOKEN}}", base_url: "http://127.0.0.1:1",
             backoff_seconds: 0.01, objects: [tickets]}}
notify:
  slack: {{token: "${{SLACK_BOT_TOKEN}}", channel: "#kwaliteit", base_url: "{slack.base_url}"}}
  webhook: {{url: "${{WEBHOOK_URL}}"}}
schedule: {{check: 1s}}
"""
    )
    port = free_port()
    secret_url = with_password(url) if url.startswith("postgresql") else url
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QMON_CONFIG": str(path),
           "QMON_TEST_DB": secret_url, "SLACK_BOT_TOKEN": slack.token,
           "HUBSPOT_TOKEN": HUBSPOT_TOKEN, "WEBHOOK_URL": hook.url}  # fmt: skip
    agent = subprocess.Popen(
        [sys.executable, "-m", "qmon", "--log-format", "json", "run", "--verbose",
         "--metrics-port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Two breaches and the stale source, each to Slack; the webhook refuses all three.
        assert wait_for(lambda: len(slack.texts("kwaliteit")) == 3, seconds=30)
        assert wait_for(lambda: len(hook.paths) == 3, seconds=30)
        metrics = scrape_when(
            port,
            lambda m: (
                sum(m.all("qmon_alerts_sent_total").values()) == 3
                and m("qmon_outbox_depth", channel="webhook") == 3
                and m("qmon_job_runs_total", job="sync:hubspot") >= 1
            ),
        )
        scraped_us = now_us()
        config = load_config(path, environ={**os.environ, "QMON_TEST_DB": url,
                                            "SLACK_BOT_TOKEN": "x", "HUBSPOT_TOKEN": "x",
                                            "WEBHOOK_URL": hook.url})  # fmt: skip
        status = collect(config, store, scraped_us)
        with store.engine.connect() as conn:
            sent = dict(
                conn.execute(
                    text("SELECT kind, count(*) FROM alerts WHERE status = 'sent' GROUP BY kind")
                ).all()
            )
            webhook_waiting = conn.execute(
                text("SELECT count(*) FROM alerts WHERE webhook_pending")
            ).scalar_one()
        assert sent == {"breached": 2, "stale": 1}
        for kind, count in sent.items():
            assert metrics("qmon_alerts_sent_total", channel="slack", kind=kind) == count
        assert metrics("qmon_alerts_sent_total", channel="slack", kind="at_risk") == 0
        assert metrics("qmon_alerts_sent_total", channel="webhook", kind="breached") == 0
        assert metrics("qmon_outbox_depth", channel="webhook") == webhook_waiting == 3
        assert metrics("qmon_outbox_depth", channel="slack") == 0
        assert metrics("qmon_outbox_alerts_waiting") == status.alerts_waiting == 3
        assert metrics("qmon_outbox_oldest_age_seconds") > 0
        assert metrics("qmon_store_up") == 1

        assert status.sources == {"hubspot": synced_us}
        lag = metrics("qmon_sync_lag_seconds", source="hubspot")
        assert abs(lag - (scraped_us - synced_us) / 1e6) < 15
        assert metrics("qmon_source_stale", source="hubspot") == 1
        assert metrics("qmon_check_lag_seconds") < 15

        assert status.not_evaluated == ["reply-1h"]
        assert metrics("qmon_promise_not_evaluated", promise="reply-1h", phase="after-sales") == 1
        assert metrics("qmon_promise_not_evaluated", promise="quote-24h", phase="sales") == 0
        assert metrics("qmon_promises_not_evaluated", reason="no_data") == 1
        assert metrics("qmon_promises_not_evaluated", reason="stale_source") == 0

        # The webhook refused every check's deliveries: each check ran but is counted failed
        # (incomplete), as is the sync of the unreachable HubSpot.
        checks = metrics("qmon_job_runs_total", job="check")
        assert checks >= 1 and metrics("qmon_job_failures_total", job="check") == checks
        assert metrics("qmon_job_duration_seconds_count", job="check") == checks
        assert metrics("qmon_job_duration_seconds_sum", job="check") > 0
        assert metrics("qmon_job_runs_total", job="sync:hubspot") >= 1
        assert metrics("qmon_job_failures_total", job="sync:hubspot") >= 1
        assert metrics("qmon_job_last_failed", job="check") == 1
        assert 0 <= metrics("qmon_job_overdue_seconds", job="check") < 15
        assert metrics("qmon_build_info", version=__version__) == 1

        # The store breaks under the running agent: scrapes go on and say so, checks fail.
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE alerts RENAME TO alerts_away"))
        broken = scrape_when(port, lambda m: m("qmon_store_up") == 0
                             and m("qmon_job_failures_total", job="check") >= 1)  # fmt: skip
        assert ("qmon_outbox_depth", (("channel", "slack"),)) not in broken
        assert agent.poll() is None
        with store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE alerts_away RENAME TO alerts"))
        scrape_when(port, lambda m: m("qmon_store_up") == 1)

        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
        _, stderr = agent.communicate(timeout=10)
        store.close()
    lines = json_lines(stderr)
    messages = [(line["logger"], line["level"], line["message"]) for line in lines]
    assert ("qmon.agent", "WARNING", "check incomplete: webhook failed: HTTP 500") in messages
    down = [m for m in messages if m[0] == "qmon.ops.metrics"]
    assert down[0][1] == "WARNING" and down[0][2].startswith("metrics: cannot read the store: ")
    assert down[1:] == [("qmon.ops.metrics", "WARNING", "metrics: the store can be read again")]
    failed = next(line for line in lines if line["message"] == "check failed")
    assert failed["level"] == "ERROR" and "alerts" in failed["exc"]
    for secret in (DB_PASSWORD, HOOK_SECRET, HUBSPOT_TOKEN, slack.token):
        assert secret not in stderr


def test_a_metrics_port_that_is_taken_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text(f"version: 1\ndatabase: sqlite:///{tmp_path / 'q.db'}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = qmon("--config", path, "run", "--metrics-port", str(port))
    assert result.exit_code == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
