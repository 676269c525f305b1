"""`qmon serve` and `qmon serve hash-password` as commands, and a real `qmon serve` process:
it starts, answers, stops on SIGTERM with exit 0, and no page, error page or log line it
writes holds a secret."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import argon2
import httpx
import pytest
from typer.testing import CliRunner

from qmon.cli import app
from tests.clihelp import qmon
from tests.fakes.oidc import FakeOidc
from tests.test_cli_startup import _imported
from tests.test_web_helpers import (
    ANNA_HASH,
    BOB_HASH,
    OTHER_PASSWORD,
    PASSWORD,
    SESSION_SECRET,
    csrf_of,
    seed,
    serve_section,
    sign_in,
    write_config,
)

ROOT = Path(__file__).resolve().parents[1]
WEB = ("starlette", "uvicorn", "authlib", "argon2", "itsdangerous", "jinja2", "qmon.web")


@pytest.mark.parametrize(
    "args", [("--help",), ("serve", "--help"), ("promises", "validate")], ids=" ".join
)
def test_other_commands_and_the_help_import_no_web_module(args):
    code, modules = _imported(*args)
    assert code == 0
    assert [m for m in modules if any(m == w or m.startswith(w + ".") for w in WEB)] == []


def test_the_help_explains_with_examples():
    serve = qmon("serve", "--help")
    assert serve.exit_code == 0
    assert "qmon serve --host 0.0.0.0 --port 8400" in serve.stdout
    assert "hash-password" in serve.stdout
    hashing = qmon("serve", "hash-password", "--help")
    assert hashing.exit_code == 0 and "password_hash:" in hashing.stdout


def test_hash_password_from_stdin_or_asked_twice():
    done = qmon_stdin(["serve", "hash-password", "--stdin"], "a long enough password\n")
    assert done.returncode == 0, done.stderr
    encoded = done.stdout.strip()
    assert encoded.startswith("$argon2id$")
    assert argon2.PasswordHasher().verify(encoded, "a long enough password")
    assert "a long enough password" not in done.stdout + done.stderr

    asked = CliRunner().invoke(
        app, ["serve", "hash-password"], input="another long one\nanother long one\n"
    )
    assert asked.exit_code == 0
    assert argon2.PasswordHasher().verify(asked.stdout.strip().splitlines()[-1], "another long one")
    differ = CliRunner().invoke(
        app, ["serve", "hash-password"], input="another long one\nanother long two\n"
    )
    assert differ.exit_code == 2
    assert "password: the two passwords are not the same" in differ.stderr
    ended = CliRunner().invoke(app, ["serve", "hash-password"], input="")  # end of input
    assert ended.exit_code == 2
    assert "password: no password given" in ended.stderr
    short = qmon_stdin(["serve", "hash-password", "--stdin"], "short\n")
    assert short.returncode == 2
    assert "password: use a password of at least 10 characters" in short.stderr


def qmon_stdin(args: list[str], text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qmon", *args],
        input=text,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_config_no_one_can_sign_in_with_is_exit_2(tmp_path):
    path = write_config(tmp_path, serve_section(users=False))
    done = qmon("--config", path, "serve", "--port", "0")
    assert done.exit_code == 2
    assert "qmon serve cannot start:" in done.stderr
    assert "serve.users: no one can sign in" in done.stderr


def test_an_address_in_use_is_exit_3(tmp_path):
    path = write_config(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = qmon("serve", "--config", path, "--port", str(port))
    assert done.exit_code == 3
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


class Process:
    """`qmon serve` as a real process; its stderr collected as it is written."""

    def __init__(
        self, config: Path, env: dict[str, str], args: tuple[str, ...] = (),
        before: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qmon", *before, "serve", "--config", str(config),
             "--port", "0", "-v", *args],  # fmt: skip
            cwd=ROOT,
            env={**os.environ, **env},
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url = ""
        started = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                if "listening on " in line:
                    self.url = line.split("listening on ")[1].split()[0]
                    started.set()
            started.set()

        threading.Thread(target=read, daemon=True).start()
        assert started.wait(60) and self.url, "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        time.sleep(0.1)
        return code

    @property
    def log(self) -> str:
        return "".join(self.lines)


def test_a_real_process_serves_stops_on_sigterm_and_shows_no_secret(tmp_path):
    hubspot_secret, sf_secret, oidc_secret = "hs-secret-7f3a9", "sf-secret-1b2c3", "oidc-5e6f7a8"
    (tmp_path / "hubspot.secret").write_text(hubspot_secret)
    with FakeOidc(client_secret=oidc_secret) as provider:
        (tmp_path / "oidc.secret").write_text(oidc_secret)
        path = write_config(
            tmp_path,
            serve_section(f"""\
  hubspot_card: {{client_secret_file: hubspot.secret}}
  oidc:
    issuer: {provider.issuer}
    client_id: qmon
    client_secret_file: oidc.secret
    allowed_domains: [example.com]
"""),
        )
        seed(path)
        server = Process(path, {"QMON_SALESFORCE_CARD_SECRET": sf_secret})
        answers: list[httpx.Response] = []
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                answers += [client.get("/healthz"), client.get("/login"), client.get("/nowhere")]
                answers.append(sign_in(client, password="wrong password"))
                answers.append(sign_in(client, name="nobody", password=PASSWORD))
                answers.append(client.post("/login", data={"csrf_token": "forged"}))
                answers.append(sign_in(client))
                answers += [
                    client.get(p)
                    for p in (
                        "/journey",
                        "/health",
                        "/record/deal/D-1",
                        "/instance/quote-24h/deal/D-1/1",
                        "/instance/quote-24h/deal/D-1/7",
                        "/record/deal/D-1?format=csv",
                    )
                ]
                answers.append(client.post("/logout", data={"csrf_token": "forged"}))
                forged = {"X-HubSpot-Signature-v3": "forged", "X-HubSpot-Request-Timestamp": "1"}
                card = "/api/crm/hubspot/card?objectId=1&objectTypeId=0-3"
                answers.append(client.get(card, headers=forged))
                answers.append(client.get("/api/crm/salesforce/card?recordId=x"))
                page = client.get("/journey")
                answers.append(client.post("/logout", data={"csrf_token": csrf_of(page.text)}))
                for claims in (
                    {"email": "anna@example.com", "email_verified": True},
                    {"email": "eve@evil.example", "email_verified": True},
                ):
                    provider.login_as("u", **claims)
                    start = client.get("/login/oidc")
                    answers.append(start)
                    back = httpx.get(start.headers["location"])
                    answers.append(client.get(back.headers["location"]))
                provider.tamper = "key"
                start = client.get("/login/oidc")
                answers.append(client.get(httpx.get(start.headers["location"]).headers["location"]))
        finally:
            code = server.stop(signal.SIGTERM)
    assert code == 0, server.log
    statuses = {a.status_code for a in answers}
    assert {200, 302, 303, 400, 401, 403, 404} <= statuses, statuses
    shown = server.log + "".join(
        a.text + "".join(f"{k}: {v}\n" for k, v in a.headers.items()) for a in answers
    )
    secrets = (
        SESSION_SECRET,
        oidc_secret,
        hubspot_secret,
        sf_secret,
        ANNA_HASH,
        BOB_HASH,
        ANNA_HASH.rsplit("$", 1)[1],
        PASSWORD,
        OTHER_PASSWORD,
    )
    for secret in secrets:
        assert secret not in shown
    assert "sign-in failed: user 'anna' from 127.0.0.1" in server.log
    assert "single sign-on refused: 'eve@evil.example' from 127.0.0.1 is not allowed" in server.log
    assert "GET /record/deal/D-1 200" in server.log  # --verbose: one line per request
    assert "code=" not in server.log  # the callback's query is not logged


def test_without_a_session_secret_it_warns_and_ctrl_c_ends_it_with_exit_0(tmp_path):
    path = write_config(
        tmp_path, serve_section().replace("  session_secret_file: session.secret\n", "")
    )
    server = Process(path, {})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/healthz").json() == {"ok": True, "store": True}
    assert server.stop(signal.SIGINT) == 0
    assert (
        "no session secret (serve.session_secret_file or QMON_SESSION_SECRET): using one "
        "made for this process; everyone is signed out when qmon serve restarts"
    ) in server.log
    assert "Traceback" not in server.log
