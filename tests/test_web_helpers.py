"""What the `qmon serve` tests share (no tests here): a config, a small store, and the real
application under uvicorn on 127.0.0.1, reached with httpx over the socket.

Passwords are hashed with cheap argon2 parameters, so that a test signs in in milliseconds;
qmon checks an unknown user against a dummy hash made with the same parameters.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import argon2
import httpx

from qmon.config import load_config
from qmon.events import Event
from qmon.store import Store
from qmon.timeutil import to_us
from qmon.web.app import create_app
from qmon.web.server import Server, address, listen, uvicorn_config
from qmon.web.settings import WebSettings, load_settings

PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "Tr0ub4dor&3-is-bob's"
_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
ANNA_HASH = _HASHER.hash(PASSWORD)
BOB_HASH = _HASHER.hash(OTHER_PASSWORD)
SESSION_SECRET = "session-secret-that-is-long-enough-0123456789"
HOSTILE_ID = '<script>alert("x")</script>/../D-9'
HOSTILE_OWNER = '=HYPERLINK("https://evil.example","click")'

#: Every test's store is written relative to this instant: now, to the second.
NOW = datetime.now(UTC).replace(microsecond=0)
#: The instant `seed` writes its events around: set when it runs (a whole test suite may
#: run for minutes after this module is imported, and pages evaluate as of the real now).
_ANCHOR = [NOW]

PROMISES = """\
promises:
  - id: quote-24h
    title: Offerte binnen 24 uur
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
    warn_at: 50%
  - id: first-reply-4h
    title: First reply within 4 hours
    phase: after-sales
    start: case.opened
    stop: case.first_response
    pause: case.waiting_on_customer
    resume: case.customer_replied
    within: 4h
"""


def serve_section(extra: str = "", users: bool = True) -> str:
    lines = ["serve:", "  session_secret_file: session.secret"]
    if users:
        lines += [
            "  users:",
            f'    - {{name: anna, password_hash: "{ANNA_HASH}"}}',
            f'    - {{name: bob, password_hash: "{BOB_HASH}"}}',
        ]
    return "\n".join(lines) + "\n" + extra


def write_config(
    tmp_path: Path, serve: str | None = None, *, language: str = "en", promises: str = PROMISES
) -> Path:
    """A config in tmp_path with a SQLite store beside it and the session secret's file."""
    (tmp_path / "session.secret").write_text(SESSION_SECRET + "\n")
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"version: 1\ndatabase: sqlite:///{tmp_path / 'qmon.db'}\ntimezone: Europe/Amsterdam\n"
        f"language: {language}\n{promises}{serve_section() if serve is None else serve}"
    )
    return path


def at(hours: float) -> int:
    return to_us(_ANCHOR[0] + timedelta(hours=hours))


def ev(
    subject: str,
    hours: float,
    type_: str,
    *,
    kind: str = "deal",
    n: int = 0,
    link: str | None = None,
    owner: str | None = "anna",
) -> Event:
    return Event(
        "crm", f"{subject}-{type_}-{n}", at(hours), type_, kind, subject, owner=owner, link=link
    )


def seed(config_path: Path) -> None:
    """A few deals and a case: broken, at risk, kept, paused, and one with hostile values."""
    _ANCHOR[0] = datetime.now(UTC).replace(microsecond=0)
    store = Store.open(load_config(config_path).database_url)
    store.ingest(
        [
            ev("D-1", -30, "quote.requested", link="https://crm.example/deal/D-1"),  # broken
            ev("D-2", -15, "quote.requested"),  # 15 of 24 hours: at risk
            ev("D-3", -5, "quote.requested"),
            ev("D-3", -2, "quote.sent"),  # kept
            ev("D-3", -1, "quote.requested", n=1),  # a second cycle, open
            ev("C-1", -3, "case.opened", kind="case"),
            ev("C-1", -2, "case.waiting_on_customer", kind="case"),
            ev("C-1", -1, "case.customer_replied", kind="case"),
            ev(HOSTILE_ID, -30, "quote.requested", owner=HOSTILE_OWNER, link="javascript:alert(1)"),
            ev("123456", -2, "quote.requested"),  # a HubSpot deal id
            ev("0065g00000AbCdEAAV", -2, "quote.requested"),  # a Salesforce Opportunity id
        ]
    )
    store.close()


@dataclass
class Running:
    url: str
    settings: WebSettings
    store: Store

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]


@contextmanager
def serving(config_path: Path, env: dict[str, str] | None = None) -> Iterator[Running]:
    """The real application under uvicorn on a free port of 127.0.0.1, in a thread."""
    config = load_config(config_path)
    settings = load_settings(config, env or {})
    store = Store.open(config.database_url)
    sock = listen("127.0.0.1", 0)
    server = Server(uvicorn_config(create_app(config, settings, store)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield Running(address(sock), settings, store)
    finally:
        server.should_exit = True
        thread.join(15)
        store.close()
        sock.close()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(
    client: httpx.Client, name: str = "anna", password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": password, "next": next_path},
    )
