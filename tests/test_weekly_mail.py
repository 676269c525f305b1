"""The weekly report by e-mail, to a real SMTP server (aiosmtpd) on 127.0.0.1: the MIME
structure Outlook and Gmail need, TLS and login, clear errors without the password, and the
agent sending it once a week, on time, once."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qmon.agent import run_agent
from qmon.config import load_config
from qmon.events import Event
from qmon.reports.weekly import IsoWeek
from qmon.reports.weekly.delivery import MARK, due_week
from qmon.store import Store
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.smtp import SmtpServer

PASSWORD = "s3cret-smtp-pw"
AS_OF = "2026-11-25T10:00:00Z"


def _config(tmp_path: Path, smtp: SmtpServer | None, *, security: str = "starttls",
            port: int | None = None, password: str = "${SMTP_PASSWORD}",
            schedule: str = "") -> Path:  # fmt: skip
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: sqlite:///{tmp_path / "q.db"}
language: nl
promises:
  - id: quote-24h
    title: Offerte binnen 24 uur
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
    objective: 90%
notify:
  email:
    smtp: {{host: 127.0.0.1, port: {port or smtp.port}, security: {security}, username: qmon,
           password: "{password}", timeout: 5s}}
    from: qmon@acme.nl
    to: [kwaliteit@acme.nl, directie@acme.nl]
{schedule}"""
    )
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    day = datetime(2026, 11, 17, 9, tzinfo=UTC)
    events = []
    for k in range(6):
        start = to_us(day) + k * 3600_000_000
        events.append(Event("crm", f"r{k}", start, "quote.requested", "deal", f"D{k}",
                            link=f"https://crm.example/deal/D{k}"))  # fmt: skip
        late = 30 if k == 0 else 2
        events.append(Event("crm", f"s{k}", start + late * 3600_000_000, "quote.sent", "deal",
                            f"D{k}"))  # fmt: skip
    store.ingest(events)
    store.close()
    return path


def _env(smtp: SmtpServer) -> dict[str, str]:
    return {"SMTP_PASSWORD": PASSWORD, "SSL_CERT_FILE": str(smtp.ca_file)}


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_report_is_sent_as_html_with_text_part_and_inline_charts(tmp_path: Path, security: str):
    with SmtpServer(tmp_path, security=security, user="qmon", password=PASSWORD) as smtp:
        config = _config(tmp_path, smtp, security=security)
        result = qmon("--config", config, "report", "weekly", "--as-of", AS_OF, "--send",
                      env=_env(smtp))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "weekly report 2026-W47 sent to kwaliteit@acme.nl, directie@acme.nl" in result.stdout
    assert PASSWORD not in result.output
    [mail] = smtp.received
    assert mail.login == "qmon"
    assert mail.sender == "qmon@acme.nl"
    assert mail.recipients == ["kwaliteit@acme.nl", "directie@acme.nl"]
    msg = mail.message
    assert msg["Subject"] == "Beloftes nagekomen — week 2026-W47"
    assert msg["Message-ID"].endswith("@acme.nl>") and msg["Date"]
    # multipart/alternative: text/plain first, then multipart/related (html + images)
    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert "- quote-24h (sales): 83.3 %" in plain.get_content()  # 5 of 6 quotes in time
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    assert cids == {"journey", "phases", "promise-quote-24h"}  # no surveys: no voice chart
    assert {i["Content-ID"].strip("<>") for i in images} == cids
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        assert image.get_content().startswith(b"\x89PNG\r\n\x1a\n")
    assert 'href="https://crm.example/deal/D0"' in html
    assert "data:image" not in html


def test_smtp_failures_exit_3_with_a_reason_and_never_the_password(tmp_path: Path):
    with SmtpServer(tmp_path, user="qmon", password="another") as smtp:
        config = _config(tmp_path, smtp)
        wrong = qmon("--config", config, "report", "weekly", "--as-of", AS_OF, "--send",
                     env=_env(smtp))  # fmt: skip
        smtp.handler.refuse = "554 5.7.1 message refused by policy"
        assert smtp.received == []
    assert wrong.exit_code == 3
    assert f"SMTP 127.0.0.1:{smtp.port} refused the login of qmon: 535" in wrong.output
    down = qmon(
        "--config", config, "report", "weekly", "--as-of", AS_OF, "--send", env=_env(smtp)
    )  # fmt: skip  (the server has stopped)
    assert down.exit_code == 3
    assert f"SMTP 127.0.0.1:{smtp.port} could not be reached" in down.output
    for result in (wrong, down):
        assert PASSWORD not in result.output and "Traceback" not in result.output


def test_untrusted_certificate_is_refused(tmp_path: Path):
    with SmtpServer(tmp_path, user="qmon", password=PASSWORD) as smtp:
        config = _config(tmp_path, smtp)
        result = qmon(
            "--config",
            config,
            "report",
            "weekly",
            "--as-of",
            AS_OF,
            "--send",
            env={"SMTP_PASSWORD": PASSWORD},
        )  # fmt: skip (no SSL_CERT_FILE)
    assert result.exit_code == 3
    assert "could not be reached: SSLCertVerificationError" in result.output
    assert smtp.received == []


@pytest.mark.parametrize(
    ("now", "marked", "expected"),
    [
        ("2026-11-23T07:59:00+01:00", None, None),  # Monday before 08:00: not yet due
        ("2026-11-23T08:00:00+01:00", None, IsoWeek(2026, 47)),  # due
        ("2026-11-26T15:00:00+01:00", None, IsoWeek(2026, 47)),  # agent was down: catch up
        ("2026-11-26T15:00:00+01:00", IsoWeek(2026, 47), None),  # already sent
        ("2026-11-23T09:00:00+01:00", IsoWeek(2026, 46), IsoWeek(2026, 47)),  # last week's sent
        # Down for two weeks: only the latest report goes, once.
        ("2026-11-30T09:00:00+01:00", IsoWeek(2026, 46), IsoWeek(2026, 48)),
    ],
)
def test_the_report_is_due_once_a_week_from_the_configured_time(
    tmp_path: Path, now: str, marked: IsoWeek | None, expected: IsoWeek | None
):
    path = _config(tmp_path, None, port=25, password="unused",
                   schedule="schedule: {weekly_report: mon 08:00}")  # fmt: skip
    config = load_config(path)
    store = Store.open(config.database_url)
    try:
        if marked is not None:
            store.mark(MARK, marked.start_us(config.timezone))
        assert due_week(config, store, to_us(datetime.fromisoformat(now))) == expected
    finally:
        store.close()


def test_agent_sends_the_due_report_once_and_retries_after_a_failure(
    tmp_path: Path, monkeypatch, caplog
):
    """The agent sends last week's report at start (its due time has passed), not again on
    later ticks or after a restart; a report the server refused is sent on a later tick, and
    the refusal is one warning line, without a traceback."""
    with SmtpServer(tmp_path, user="qmon", password=PASSWORD) as smtp:
        for name, value in _env(smtp).items():
            monkeypatch.setenv(name, value)
        config = load_config(_config(tmp_path, smtp, schedule="schedule: {check: 1s}"))
        store = Store.open(config.database_url)
        smtp.handler.refuse = "451 4.3.0 try again later"

        def run_for(seconds: float) -> None:
            stop = threading.Event()
            agent = threading.Thread(target=run_agent, args=(config, store), kwargs={"stop": stop})
            agent.start()
            time.sleep(seconds)
            stop.set()
            agent.join(10)

        try:
            with caplog.at_level(logging.INFO, logger="qmon"):
                run_for(1.5)
            assert smtp.received == []
            refusals = [r for r in caplog.records if "451" in r.getMessage()]
            assert refusals and all(r.levelno == logging.WARNING for r in refusals)
            assert all(r.exc_info is None for r in refusals)
            assert refusals[0].getMessage() == (
                f"weekly_report failed: SMTP 127.0.0.1:{smtp.port} answered 451: 4.3.0 try "
                "again later"
            )
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            smtp.handler.refuse = None
            run_for(2.5)  # start: due, sent; further ticks: nothing
            assert len(smtp.received) == 1
            run_for(1.5)  # restart: already sent
        finally:
            store.close()
    assert len(smtp.received) == 1
    assert smtp.received[0].message["Subject"].startswith("Beloftes nagekomen — week")
