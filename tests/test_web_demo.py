"""`qmon demo` makes the dashboard work at once on its data: it prints the command and a
password made for this demo, and a real `qmon serve` on the demo config lets `demo` in."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx

from tests.clihelp import qmon
from tests.test_web_cli import Process
from tests.test_web_helpers import sign_in


def test_the_demo_prints_how_to_open_its_dashboard_and_that_works(tmp_path: Path):
    folder = tmp_path / "demo"
    done = qmon("demo", "--dir", folder, "--months", "1")
    assert done.exit_code == 0, done.output
    config = folder / "qmon.yaml"
    assert f"  qmon --config {config} serve        # then open http://127.0.0.1:8400" in done.stdout
    found = re.search(r"sign in as demo with the password (\S+) \(also in (\S+)\)", done.stdout)
    assert found, done.stdout
    password, kept = found.group(1), Path(found.group(2))
    assert kept == folder / "dashboard-password.txt"
    assert kept.read_text().strip() == password and len(password) >= 16
    for secret in (kept, folder / "dashboard-session.secret"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    text = config.read_text()
    assert "serve:\n  session_secret_file: dashboard-session.secret\n" in text
    assert password not in text  # only its argon2 hash
    assert qmon("--config", config, "promises", "validate").exit_code == 0

    server = Process(config, {})
    try:
        assert "no session secret" not in server.log
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert sign_in(client, "demo", "not the password").status_code == 401
            assert sign_in(client, "demo", password).status_code == 303
            page = client.get("/actions")
            assert page.status_code == 200
            assert "Offertesjablonen in het CRM" in page.text  # the demo's logged action
            assert client.get("/health").status_code == 200
    finally:
        assert server.stop() == 0, server.log

    again = qmon("demo", "--dir", folder, "--months", "1")  # re-run: a new password
    assert again.exit_code == 0, again.output
    assert kept.read_text().strip() != password
    assert config.read_text().count("serve:") == 1
