"""`qmon serve --workers N`: several processes on one socket that agree on who is signed in.

Each test runs the real command; which worker answered a request is read from its access
log line (`--log-format json`, the `pid` field). Requests go out on fresh connections, a
batch at a time, so that both workers get some.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from qmon.web.sessions import COOKIE
from tests.clihelp import qmon
from tests.test_web_cli import Process
from tests.test_web_helpers import ANNA_HASH, csrf_of, seed, sign_in, write_config

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork")

#: No session_secret_file: the one made at start must be every worker's.
SERVE = f"""serve:
  users:
    - {{name: anna, password_hash: "{ANNA_HASH}"}}
  login_limit: {{failures: 3, within: 10m}}
"""


@pytest.fixture
def server(tmp_path):
    path = write_config(tmp_path, SERVE)
    seed(path)
    proc = Process(path, {}, args=("--workers", "2"), before=("--log-format", "json"))
    try:
        wait_for_workers(proc, 2)
        yield proc
    finally:
        if proc.proc.poll() is None:
            proc.stop()


def answered_by(server: Process, since: int) -> list[tuple[str, int, int]]:
    """(path, status, pid) of each request logged after the first `since` log lines."""
    found = []
    for line in server.lines[since:]:
        if line.startswith("{") and '"logger": "qmon.web.access"' in line:
            record = json.loads(line)
            method, path, status = record["message"].split()[:3]
            found.append((path, int(status), record["pid"]))
    return found


def fan_out(server: Process, request, times: int = 16) -> list[httpx.Response]:
    """`request(client)` `times` times at once, each on a new connection."""

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            return request(client)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(times)))
    time.sleep(0.3)  # the access log lines are written after the responses
    return answers


def until_both_workers(server: Process, request, path: str) -> list[httpx.Response]:
    """Batches of `request` until both workers have answered `path`; all the answers."""
    answers: list[httpx.Response] = []
    mark = len(server.lines)
    for _ in range(20):
        answers += fan_out(server, request)
        if len({pid for p, _, pid in answered_by(server, mark) if p == path}) == 2:
            return answers
    raise AssertionError("one worker answered every request: " + server.log[-2000:])


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry))
    return found


def wait_for_workers(server: Process, count: int, gone: int | None = None) -> set[int]:
    """The worker pids once there are `count` of them (without `gone`)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = children(server.proc.pid)
        if len(now) == count and gone not in now:
            return now
        time.sleep(0.05)
    raise AssertionError(f"not {count} workers: {now}\n{server.log}")


def test_workers_share_the_session_secret_and_a_sign_out(server):
    assert "qmon serve (2 workers): listening on" in server.log
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert sign_in(client).status_code == 303
        cookie = {COOKIE: client.cookies[COOKIE]}
        page = client.get("/journey")
    assert page.status_code == 200

    def journey(client: httpx.Client) -> httpx.Response:
        client.cookies.update(cookie)
        return client.get("/journey")

    signed_in = until_both_workers(server, journey, "/journey")
    assert {r.status_code for r in signed_in} == {200}  # one secret, whichever worker

    with httpx.Client(base_url=server.url, timeout=10, cookies=cookie) as client:
        out = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    after = until_both_workers(server, journey, "/journey")
    assert {r.status_code for r in after} == {303}  # the copy is refused by both workers
    assert server.stop() == 0
    assert children(server.proc.pid) == set()


def test_the_sign_in_limit_counts_the_failures_of_every_worker(server):
    def wrong(client: httpx.Client) -> httpx.Response:
        return sign_in(client, password="not the password")

    first = [wrong(httpx.Client(base_url=server.url, timeout=10)) for _ in range(3)]
    assert [r.status_code for r in first] == [401, 401, 401]
    refused = until_both_workers(server, wrong, "/login")
    assert {r.status_code for r in refused} == {429}
    right = until_both_workers(server, sign_in, "/login")  # the user is refused too
    assert {r.status_code for r in right} == {429}


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(server):
    victim = min(children(server.proc.pid))
    os.kill(victim, signal.SIGKILL)
    wait_for_workers(server, 2, gone=victim)
    assert f"qmon serve worker {victim} ended by itself (signal SIGKILL)" in server.log
    answers = fan_out(server, lambda c: c.get("/healthz"))
    assert {r.status_code for r in answers} == {200}
    assert server.stop() == 0
    assert children(server.proc.pid) == set()


def test_workers_need_a_reachable_store_before_they_start(tmp_path):
    path = write_config(tmp_path, SERVE)
    text = path.read_text().replace(
        f"sqlite:///{tmp_path / 'qmon.db'}", "postgresql://nobody@127.0.0.1:1/none"
    )
    path.write_text(text)
    done = qmon("serve", "--config", path, "--port", "0", "--workers", "2")
    assert done.exit_code == 3, done.stderr
    assert "cannot open the store" in done.stderr
