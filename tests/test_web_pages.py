"""The dashboard's pages over the socket: record, instance, health, the languages, the
security headers, escaping and CSV, and that a record page evaluates that record only."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote

import pytest

from qmon.config import load_config
from qmon.store import Store
from qmon.timeutil import now_us
from qmon.web import data, paths
from qmon.web.security import CONTENT_SECURITY_POLICY
from tests.clihelp import qmon
from tests.fakes.slack import FakeSlack
from tests.test_web_helpers import (
    HOSTILE_ID,
    HOSTILE_OWNER,
    csrf_of,
    seed,
    serve_section,
    serving,
    sign_in,
    write_config,
)


@pytest.fixture
def config(tmp_path):
    path = write_config(tmp_path)
    seed(path)
    return path


def test_a_record_lists_its_promise_instances_with_links(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/record/deal/D-3")
        assert page.status_code == 200
        text = page.text
        assert "<h1>Record: deal D-3</h1>" in text
        assert text.count('<span class="status status-met">kept</span>') == 1
        assert text.count('<span class="status status-open">open</span>') == 1
        assert text.index("/instance/quote-24h/deal/D-3/2") < text.index(
            "/instance/quote-24h/deal/D-3/1"
        )  # newest cycle first
        assert "3h 00m of 1d 0h 00m" in text  # cycle 1: kept after 3 hours
        at_risk = client.get("/record/deal/D-2").text
        assert '<span class="status status-at-risk">at risk</span>' in at_risk
        # the clock runs on while the suite runs (the store was written at import time)
        assert re.search(r"15h \d\dm of 1d 0h 00m", at_risk)
        broken = client.get("/record/deal/D-1").text
        assert '<a href="https://crm.example/deal/D-1" rel="noopener noreferrer">' in broken
        none = client.get("/record/deal/D-404").text
        assert "qmon knows no promise instances of this record (yet)." in none
        for word in ("Journey", "Promises", "Actions", "Health"):
            assert f">{word}</a>" in text


def test_an_instance_shows_the_clock_segment_by_segment_and_its_alerts(tmp_path, monkeypatch):
    with FakeSlack(retry_after=0) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
        slack.add_channel("kwaliteit")
        notify = (
            'notify:\n  slack:\n    token: ${SLACK_BOT_TOKEN}\n    channel: "#kwaliteit"\n'
            f"    base_url: {slack.base_url}\n"
        )
        config = write_config(tmp_path, serve_section() + notify)
        seed(config)
        checked = qmon("--config", config, "check")
        assert checked.exit_code == 0, checked.output
    with serving(config) as app, app.client() as client:
        sign_in(client)
        case = client.get("/instance/first-reply-4h/case/C-1/1")
        assert case.status_code == 200
        rows = re.findall(r'<tr class="clock-(\w+)">', case.text)
        assert rows == ["running", "paused", "running"]
        assert "paused (waiting on the customer)" in case.text
        assert re.search(r"<dt>Clock</dt><dd>2h \d\dm of 4h 00m</dd>", case.text)
        assert "No alert was raised about this instance." in case.text

        broken = client.get("/instance/quote-24h/deal/D-1/1")
        assert '<span class="status status-breached">broken</span>' in broken.text
        assert "<dt>Deadline</dt><dd>" in broken.text
        alerts = broken.text[broken.text.index("Alerts about this instance") :]
        assert '<td data-label="Kind">broken</td>' in alerts
        assert "sent 20" in alerts and "(#kwaliteit)" in alerts
        assert 'href="https://crm.example/deal/D-1"' in broken.text
        assert 'href="/record/deal/D-1">All promises of this record</a>' in broken.text

        for path in (
            "/instance/quote-24h/deal/D-1/9",
            "/instance/no-such/deal/D-1/1",
            "/instance/quote-24h/case/D-1/1",
        ):
            missing = client.get(path)
            assert missing.status_code == 404
            assert "qmon knows no such instance of this promise." in missing.text


def test_crm_values_are_escaped_and_unsafe_links_not_linked(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        path = "/record/deal/" + quote(HOSTILE_ID, safe="")
        page = client.get(path)
        assert page.status_code == 200
        assert "<script>" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;/../D-9" in page.text
        assert "javascript:" not in page.text
        instance = "/instance/quote-24h/deal/" + quote(HOSTILE_ID, safe="") + "/1"
        assert f'href="{instance}"' in page.text
        shown = client.get(instance)
        assert shown.status_code == 200 and "<script>" not in shown.text


def test_the_csv_download_neutralises_formulas(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        answer = client.get("/record/deal/" + quote(HOSTILE_ID, safe=""), params={"format": "csv"})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert re.fullmatch(
            r'attachment; filename="[A-Za-z0-9._-]+\.csv"', answer.headers["content-disposition"]
        )
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(rows) == 1
        assert rows[0]["owner"] == "'" + HOSTILE_OWNER
        assert rows[0]["subject_id"] == HOSTILE_ID  # `<` starts no formula
        assert rows[0]["status"] == "breached" and rows[0]["allowed_seconds"] == "86400"


def test_the_health_page_shows_what_qmon_status_shows(config):
    assert qmon("--config", config, "check").exit_code == 0
    status = json.loads(qmon("--config", config, "status", "--format", "json").stdout)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/health").text
        assert f"<dt>Last check</dt><dd>{status['last_check']}</dd>" in page
        assert status["not_evaluated"] == ["first-reply-4h"]
        assert "<li>no data: first-reply-4h</li>" in page
        assert "<dt>Alerts waiting</dt><dd>0</dd>" in page


def test_journey_promises_and_actions_answer_before_the_first_check(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        assert client.get("/").headers["location"] == "/journey"
        for path, heading in (
            ("/journey", "Journey"),
            ("/promises", "Promises"),
            ("/actions", "Actions"),
        ):
            page = client.get(path)
            assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text
            assert f'<a href="{path}" aria-current="page">' in page.text


def test_the_language_follows_the_browser_then_the_config(tmp_path):
    path = write_config(tmp_path, language="nl")
    seed(path)
    with serving(path) as app, app.client() as client:
        sign_in(client)
        page = client.get("/record/deal/D-1")
        assert '<html lang="nl">' in page.text and "gebroken" in page.text
        assert "Ingelogd als anna" in page.text and ">Klantreis</a>" in page.text
        english = client.get("/record/deal/D-1", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="en">' in english.text and ">broken<" in english.text
        other = client.get("/journey", headers={"Accept-Language": "fr-FR,de;q=0.5"})
        assert "<h1>Klantreis</h1>" in other.text  # neither: the config's language
        weighted = client.get("/journey", headers={"Accept-Language": "en;q=0.4, nl;q=0.8"})
        assert "<h1>Klantreis</h1>" in weighted.text
    path = write_config(tmp_path, serve_section("  language: nl\n"), language="en")
    with serving(path) as app, app.client() as client:
        assert "<h1>Inloggen</h1>" in client.get("/login").text  # serve.language wins


HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def test_every_response_carries_the_security_headers_and_no_inline_code(config):
    with serving(config) as app, app.client() as client:
        answers = [
            client.get("/login"),
            client.get("/healthz"),
            client.get("/static/qmon.css"),
            client.get("/api/record/deal/D-1"),
            client.get("/journey"),
            client.post("/login", data={"username": "x"}),
        ]
        sign_in(client)
        answers += [
            client.get(p)
            for p in (
                "/journey",
                "/health",
                "/record/deal/D-1",
                "/instance/quote-24h/deal/D-1/1",
                "/nowhere",
                "/record/deal/D-1?format=csv",
                "/api/record/deal/D-1",
            )
        ]
        answers += [client.get("/logout"), client.post("/logout", data={})]  # 405, 403
        statuses = sorted({a.status_code for a in answers})
        assert statuses == [200, 303, 401, 403, 404, 405]
        for answer in answers:
            for name, value in HEADERS.items():
                assert answer.headers.get(name) == value, (answer.url, name)
            if answer.headers.get("content-type", "").startswith("text/html"):
                html = answer.text
                assert "<script" not in html and "<style" not in html, answer.url
                assert not re.search(r"\sstyle=|\son[a-z]+=", html), answer.url
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert CONTENT_SECURITY_POLICY.startswith("default-src 'self'")


def test_every_form_carries_a_csrf_token(config):
    with serving(config) as app, app.client() as client:
        forms = [client.get("/login").text]
        sign_in(client)
        forms += [client.get(p).text for p in ("/journey", "/record/deal/D-1", "/health")]
        for html in forms:
            for form in re.findall(r"<form.*?</form>", html, flags=re.S):
                assert 'method="post"' in form
                assert csrf_of(form)


def test_an_error_in_a_page_is_a_plain_500_page(config, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the secret sauce")

    monkeypatch.setattr(data, "record_instances", broken)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/record/deal/D-1")
        assert page.status_code == 500
        assert "Something went wrong in qmon" in page.text
        assert "secret sauce" not in page.text and "Traceback" not in page.text
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        api = client.get("/api/record/deal/D-1")
        assert api.status_code == 500 and api.json() == {
            "error": "Something went wrong in qmon. The administrator can find it in the log."
        }


def test_the_signed_in_api_gives_the_card_contract(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        card = client.get("/api/record/deal/D-1").json()
        assert card["version"] == 1
        assert card["record"] == {
            "subject_type": "deal",
            "subject_id": "D-1",
            "url": f"{app.url}/record/deal/D-1",
            "crm_link": "https://crm.example/deal/D-1",
        }
        assert [(p["promise_id"], p["status"]) for p in card["promises"]] == [
            ("quote-24h", "breached")
        ]


def test_a_record_page_reads_only_that_record(config, monkeypatch):
    loaded = load_config(config)
    store = Store.open(loaded.database_url)
    asked = []
    real = Store.promise_events

    def spy(self, promise, as_of_us, **kwargs):
        asked.append(kwargs)
        return real(self, promise, as_of_us, **kwargs)

    monkeypatch.setattr(Store, "promise_events", spy)
    try:
        found = data.record_instances(loaded, store, "deal", "D-3", now_us())
    finally:
        store.close()
    assert asked == [{"subjects": [("deal", "D-3")]}] * len(loaded.promises)
    assert [(f.promise.id, f.instance.cycle) for f in found] == [("quote-24h", 2), ("quote-24h", 1)]


def test_the_qmon_link_the_writeback_puts_in_the_crm_opens_the_record_page(config):
    from qmon.writeback.values import record_link

    link = record_link("https://qmon.example.com", "deal", HOSTILE_ID)
    assert link == "https://qmon.example.com" + paths.record_path("deal", HOSTILE_ID)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get(link.removeprefix("https://qmon.example.com"))
        assert page.status_code == 200
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;/../D-9" in page.text
