"""`qmon run --serve` as a real process: the agent's jobs and the dashboard in one process,
both stopped by SIGTERM with exit code 0; a bad `serve:` or an address in use stops it before
any job runs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from sqlalchemy import text

from qmon.config import load_config
from qmon.store import Store
from tests.clihelp import qmon
from tests.test_web_helpers import seed, serve_section, sign_in, write_config

ROOT = Path(__file__).resolve().parents[1]


class Agent:
    """`qmon run --serve` as a real process; its stderr collected as it is written."""

    def __init__(self, config: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qmon", "--config", str(config), "run", "--serve",
             "--serve-port", "0", "-v", *args],
            cwd=ROOT, env=os.environ.copy(), stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.url = ""
        self.check_done = threading.Event()
        started = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                if "qmon run: listening on " in line:
                    self.url = line.split("listening on ")[1].split()[0]
                    started.set()
                if "check done" in line:
                    self.check_done.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        assert started.wait(60) and self.url, self.log

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    @property
    def log(self) -> str:
        return "".join(self.lines)


def test_the_agent_serves_the_dashboard_and_sigterm_stops_both(tmp_path):
    config = write_config(tmp_path, serve_section("  workers: 2\n"))
    seed(config)
    agent = Agent(config)
    try:
        with httpx.Client(base_url=agent.url, timeout=10) as client:
            assert client.get("/healthz").json() == {"ok": True, "store": True}
            assert sign_in(client).status_code == 303
            assert agent.check_done.wait(30), agent.log  # the agent's first check ran
            health = client.get("/health").text
            assert re.search(
                r'<td data-label="Job">check</td><td data-label="Last run">20\d\d-', health
            )
            record = client.get("/record/deal/D-1")
            assert record.status_code == 200 and "status-breached" in record.text
    finally:
        code = agent.stop()
    assert code == 0, agent.log
    assert "qmon agent" in agent.log and " stopped" in agent.log
    assert "GET /health 200" in agent.log  # --verbose: the dashboard's requests too
    assert "Traceback" not in agent.log
    assert "serve.workers is for `qmon serve`: beside the agent the dashboard is one" in agent.log


def _jobs_run(config: Path) -> int:
    store = Store.open(load_config(config).database_url)
    try:
        with store.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM agent_jobs")).scalar_one()
    finally:
        store.close()


def test_a_bad_serve_section_or_an_address_in_use_stops_it_before_any_job(tmp_path):
    config = write_config(tmp_path, serve_section(users=False))
    seed(config)
    refused = qmon("--config", config, "run", "--serve")
    assert refused.exit_code == 2
    assert "serve.users: no one can sign in" in refused.stderr
    config = write_config(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        busy = qmon("--config", config, "run", "--serve", "--serve-port", str(port))
    assert busy.exit_code == 3
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in busy.stderr
    assert _jobs_run(config) == 0
    alone = qmon("--config", config, "run", "--serve-port", "8400")
    assert alone.exit_code == 2 and "they need --serve" in alone.stderr
