"""`qmon check` against the fake Slack Web API, through the real slack-sdk.

Each alert once (also across repeated checks), an outage delays but loses nothing, a breach
that is later kept has its message updated in place, routes pick the channel.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from qmon.alerts.sources import stale_promises
from qmon.config import load_config
from qmon.events import Event
from qmon.store import Store
from qmon.timeutil import now_us, to_us
from tests.clihelp import qmon
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(hours: float) -> int:
    return to_us(NOW + timedelta(hours=hours))


def iso(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def ev(n: str, hours: float, type_: str = "quote.requested", link: str | None = None) -> Event:
    return Event("crm", f"{n}-{type_}", at(hours), type_, "deal", n, owner="anna", link=link)


@pytest.fixture
def slack():
    with FakeSlack(retry_after=0) as fake:
        fake.add_channel("kwaliteit")
        fake.add_channel("sales")
        yield fake


def setup(tmp_path: Path, database_url: str, slack: FakeSlack | None, routes: str = "") -> Path:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: {database_url}
language: nl
promises:
  - id: quote-24h
    title: Offerte binnen 24 uur
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
    warn_at: 50%
notify:
  slack:
    token: ${{SLACK_BOT_TOKEN}}
    channel: "#kwaliteit"
    base_url: {slack.base_url if slack else "http://127.0.0.1:9/api/"}
{routes}"""
    )
    store = Store.open(database_url)
    store.ingest(
        [
            ev("D-1", -30, link="https://crm.example/deal/D-1"),  # broken 6 hours ago
            ev("D-2", -15),  # 15 of 24 hours: at risk
            ev("D-3", -2),  # fine
            ev("D-4", -100),  # broken days ago: history, not news
        ]
    )
    store.close()
    return path


def check(path: Path, slack: FakeSlack, hours: float = 0, *extra: str):
    return qmon("--config", path, "check", "--as-of", iso(hours), *extra,
                env={"SLACK_BOT_TOKEN": slack.token})  # fmt: skip


def test_each_alert_is_sent_once(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack)
    result = check(path, slack)
    assert result.exit_code == 0, result.output
    assert "2 new alert(s); 2 sent, 0 updated; 0 waiting" in result.stdout
    texts = slack.texts("kwaliteit")
    assert len(texts) == 2
    assert texts[0].startswith("Belofte gebroken: Offerte binnen 24 uur — deal D-1 (sales)")
    assert "Belofte in gevaar" in texts[1] and "tijd over 9h 00m" in texts[1]
    blocks = str(slack.messages("kwaliteit")[0].blocks)
    assert "<https://crm.example/deal/D-1|deal D-1>" in blocks
    assert "20-11-2026 06:00" not in blocks  # deadlines are local: 07:00 in Amsterdam
    assert "20-11-2026 07:00 (Europe/Amsterdam)" in blocks

    for hours in (0, 0.1):
        result = check(path, slack, hours)
        assert result.exit_code == 0 and "0 new alert(s)" in result.stdout
    assert len(slack.texts("kwaliteit")) == 2
    assert slack.token not in result.output


def test_an_outage_delays_alerts_and_loses_none(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack)
    slack.go_down()
    result = check(path, slack)
    assert result.exit_code == 3
    assert "2 waiting" in result.stdout and "not delivered: Slack chat.postMessage failed" in (
        result.stderr
    )
    slack.come_back()
    result = check(path, slack, 0.01)  # before the next try is due
    assert "0 sent" in result.stdout and len(slack.texts("kwaliteit")) == 0
    result = check(path, slack, 0.05)  # three minutes later: due
    assert result.exit_code == 0, result.output
    assert "2 sent" in result.stdout and len(slack.texts("kwaliteit")) == 2
    check(path, slack, 0.1)
    assert len(slack.texts("kwaliteit")) == 2


def test_a_breach_kept_late_is_updated_in_place(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack)
    check(path, slack)
    store = Store.open(database_url)
    store.ingest([ev("D-1", 1, "quote.sent")])
    store.close()
    result = check(path, slack, 1.5)
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.stdout
    first = slack.messages("kwaliteit")[0]
    assert first.text.startswith("Te laat nagekomen: Offerte binnen 24 uur")
    assert "te laat met 7h 00m" in first.text.lower()
    assert len(slack.texts("kwaliteit")) == 2  # updated, not posted again
    check(path, slack, 2)
    assert len(slack.messages("kwaliteit")[0].updates) == 1


def test_routes_pick_the_channel_and_dry_run_changes_nothing(tmp_path, database_url, slack):
    routes = '    routes:\n      - {promise: quote-24h, channel: "#sales"}\n'
    path = setup(tmp_path, database_url, slack, routes)
    result = check(path, slack, 0, "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.count("would alert") == 2
    assert slack.request_count == 0
    check(path, slack)
    assert len(slack.texts("sales")) == 2 and slack.texts("kwaliteit") == []


def test_without_slack_alerts_are_listed_not_recorded(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack)
    text = path.read_text()
    path.write_text(text[: text.index("notify:")])
    for _ in range(2):
        result = qmon("--config", path, "check", "--as-of", iso(0))
        assert result.exit_code == 0, result.output
        assert result.stdout.count("new alert: ") == 2


QUIET = """    quiet_hours: office
calendars:
  office:
    timezone: Europe/Amsterdam
    hours: {mon-fri: ["09:00-17:00"]}
"""


def test_at_risk_alerts_wait_for_opening_hours_breaches_do_not(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack, QUIET)
    result = check(path, slack, 8)  # Friday 21:00 in Amsterdam: closed
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.stdout and "1 waiting" in result.stdout
    assert slack.texts("kwaliteit")[0].startswith("Belofte gebroken")
    result = check(path, slack, 9.5)  # still Friday night; D-2 has broken meanwhile: at once
    assert "1 sent" in result.stdout and "0 waiting" in result.stdout
    assert slack.texts("kwaliteit")[1].startswith(
        "Belofte gebroken: Offerte binnen 24 uur — deal D-2"
    )
    check(path, slack, 68.5)  # Monday 09:30: the waiting at-risk alert was superseded
    assert len(slack.texts("kwaliteit")) == 2


def test_a_waiting_at_risk_alert_is_dropped_once_it_is_old_news(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack, QUIET)
    check(path, slack, 8)
    result = check(path, slack, 20)  # Saturday: D-2 broke (sent at once), D-3 at risk: waits
    assert "1 sent" in result.stdout and "1 waiting" in result.stdout
    result = check(path, slack, 68.5)  # Monday 09:30: D-3 broke on Saturday; nothing stale
    assert "0 sent" in result.stdout and "0 waiting" in result.stdout
    assert len(slack.texts("kwaliteit")) == 2


def test_many_alerts_at_once_go_as_one_digest(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack, "    digest_over: 1\n")
    result = check(path, slack)
    assert result.exit_code == 0 and "2 sent" in result.stdout
    [digest] = slack.messages("kwaliteit")
    assert digest.text == "2 beloftes vragen aandacht"
    assert "deal D-1" in str(digest.blocks) and "deal D-2" in str(digest.blocks)
    store = Store.open(database_url)
    store.ingest([ev("D-1", 1, "quote.sent")])
    store.close()
    result = check(path, slack, 1.5)  # kept late: a digest is not rewritten for one alert
    assert result.exit_code == 0 and "0 waiting" in result.stdout
    assert len(slack.messages("kwaliteit")) == 1 and not digest.updates


# --- qmon status -----------------------------------------------------------------------------


def test_status_shows_checks_the_outbox_and_promises_without_data(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack)
    text = path.read_text().replace(
        "notify:",
        "  - id: callback-90m\n    phase: pre-sales\n    start: call.requested\n"
        "    stop: call.logged\n    within: 90m\nnotify:",
    )
    path.write_text(text)
    env = {"SLACK_BOT_TOKEN": slack.token}
    result = qmon("--config", path, "status", "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    before = json.loads(result.stdout)
    assert before["last_check"] is None and before["outbox"]["waiting"] == 0
    assert before["not_evaluated"] == ["callback-90m"]

    slack.go_down()
    check(path, slack)
    result = qmon("--config", path, "status", "--format", "json", env=env)
    after = json.loads(result.stdout)
    assert after["last_check"] == "2026-11-20T12:00:00Z"
    assert after["outbox"]["waiting"] == 2
    assert after["outbox"]["last_error"].startswith("Slack chat.postMessage failed")
    result = qmon("--config", path, "status", env=env)
    assert "alerts waiting: 2" in result.stdout
    assert "promises not evaluated (no data): callback-90m" in result.stdout
    assert slack.token not in result.output


@pytest.mark.parametrize(
    ("events", "evaluated"),
    [
        ([], False),  # no data at all
        ([("D-1", -3, "call.requested")], False),  # open, within its 24 h: nothing decided
        ([("D-1", -30, "call.requested")], True),  # open past its deadline: broken
        ([("D-1", -3, "call.requested"), ("D-1", -2, "call.logged")], True),  # kept
        ([("D-1", -2, "call.logged")], False),  # a stop without a start decides nothing
        ([("D-1", -3, "call.requested"), ("D-1", 2, "call.logged")], False),  # stop after now
    ],
)
def test_status_counts_a_promise_evaluated_once_it_has_a_decided_instance(
    tmp_path, database_url, events, evaluated
):
    from qmon.reports.status import collect

    path = tmp_path / "qmon.yaml"
    path.write_text(f"version: 1\ndatabase: '{database_url}'\npromises:\n"
                    "  - {id: call-24h, phase: sales, start: call.requested, stop: call.logged,"
                    " within: 24h}\n")  # fmt: skip
    store = Store.open(database_url)
    store.ingest([ev(n, hours, type_) for n, hours, type_ in events])
    status = collect(load_config(path), store, at(0))
    assert status.not_evaluated == ([] if evaluated else ["call-24h"])
    store.close()


# --- qmon actions ----------------------------------------------------------------------------


def test_actions_are_logged_and_show_their_effect(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack)
    env = {"SLACK_BOT_TOKEN": slack.token}
    store = Store.open(database_url)
    # Before 2026-11-10 quotes were late; after it, on time.
    store.ingest(
        [ev(f"B-{n}", -24 * (15 - n)) for n in range(4)]
        + [ev(f"A-{n}", -24 * (8 - n)) for n in range(3)]
        + [ev(f"A-{n}", -24 * (8 - n) + 2, "quote.sent") for n in range(3)]
    )
    store.close()
    result = qmon("--config", path, "actions", "add", "quote-24h", "Quote template in the CRM",
                  "--kind", "corrective", "--date", "2026-11-10", env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "action 1 logged: corrective on quote-24h from 2026-11-10" in result.stdout
    result = qmon("--config", path, "actions", "add", "quote-42h", "x", "--kind", "recovery",
                  env=env)  # fmt: skip
    assert result.exit_code == 2 and "unknown promise 'quote-42h'" in result.stderr
    result = qmon("--config", path, "actions", "add", "quote-24h", "x", "--kind", "corective",
                  env=env)  # fmt: skip
    assert result.exit_code == 2 and "did you mean 'corrective'" in result.stderr

    result = qmon("--config", path, "actions", "list", "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    [action] = json.loads(result.stdout)
    # Evaluated as of now (after 2026-11-21): before, B-0..3 broken; after, A-0..2 kept and
    # D-1..4 (from setup) broken: 3 of 7.
    assert (action["compliance_before"], action["compliance_after"]) == (0.0, 0.428571)
    result = qmon("--config", path, "actions", "list", env=env)
    assert "Quote template in the CRM" in result.stdout and "42.9%" in result.stdout


def test_a_source_that_stops_syncing_is_alerted_once_and_once_more_when_back(
    tmp_path, database_url, slack
):
    path = setup(tmp_path, database_url, slack)
    path.write_text(
        path.read_text()
        + "sources:\n  hubspot:\n    access_token: pat-x\n    base_url: http://127.0.0.1:9\n"
        + "schedule: {sync: 15m}\n"
    )
    result = check(path, slack)
    assert "new alert: hubspot stale" in result.stdout
    assert any("Bron hubspot is nog nooit volledig" in t for t in slack.texts("kwaliteit"))
    check(path, slack, 0.1)
    count = len(slack.texts("kwaliteit"))

    store = Store.open(database_url)
    for stream in ("deals", "tickets"):
        store.mark_synced("hubspot", stream, at(0.2))
    store.close()
    result = check(path, slack, 0.25)
    assert "new alert: hubspot recovered" in result.stdout
    assert slack.texts("kwaliteit")[-1] == ":white_check_mark: Bron hubspot synchroniseert weer"
    check(path, slack, 0.3)
    assert len(slack.texts("kwaliteit")) == count + 1

    result = check(path, slack, 1.2)  # 60 minutes without a sync: more than 3 x 15m
    assert "new alert: hubspot stale" in result.stdout
    assert "niet meer gesynchroniseerd sinds 2026-11-20 13:12" in slack.texts("kwaliteit")[-1]


# --- the generic JSON webhook, with pytest-httpx ------------------------------------------------

HOOK = "https://outlook.example/webhookb2/secret-key-123"


def test_alerts_go_to_the_webhook_once_and_again_after_a_failure(tmp_path, httpx_mock):
    path = setup(tmp_path, f"sqlite:///{tmp_path / 'q.db'}", None)
    text = path.read_text()
    path.write_text(text[: text.index("notify:")] + f"notify:\n  webhook: {{url: {HOOK}}}\n")
    httpx_mock.add_response(url=HOOK, method="POST", status_code=500)
    httpx_mock.add_response(url=HOOK, method="POST", status_code=500)
    result = qmon("--config", path, "check", "--as-of", iso(0))
    assert result.exit_code == 3 and "webhook failed: HTTP 500" in result.stderr
    assert HOOK not in result.output and "secret-key" not in result.output

    httpx_mock.add_response(url=HOOK, method="POST", status_code=200)
    httpx_mock.add_response(url=HOOK, method="POST", status_code=200)
    result = qmon("--config", path, "check", "--as-of", iso(0.05))
    assert result.exit_code == 0, result.output
    assert "2 to the webhook" in result.stdout
    posted = [request for request in httpx_mock.get_requests() if request.url == HOOK]
    assert len(posted) == 4
    last = json.loads(posted[-2].content)
    assert last["kind"] == "breached" and last["subject_id"] == "D-1"
    assert last["text"].startswith("Belofte gebroken: Offerte binnen 24 uur")
    result = qmon("--config", path, "check", "--as-of", iso(0.1))
    assert "0 waiting" in result.stdout  # nothing posted twice (pytest-httpx would fail)
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    with store.engine.connect() as conn:
        stamps = conn.execute(sqlalchemy.text("SELECT webhook_sent_us FROM alerts")).scalars()
        assert sorted(stamps) == [at(0.05)] * 2  # when the webhook took them, for the metrics
    store.close()


# --- error-budget burn ------------------------------------------------------------------------


def test_a_promise_burning_its_error_budget_is_alerted_once_a_day(tmp_path, slack):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    path = setup(tmp_path, url, slack, "    digest_over: 50\n")
    path.write_text(path.read_text().replace("    warn_at: 50%\n", "    warn_at: 50%\n"
                                             "    objective: 90%\n"))  # fmt: skip
    result = check(path, slack, 0)  # one breach in the last day: too little to say anything
    assert "burn" not in result.stdout

    store = Store.open(url)
    # Ten quotes whose 24 hours ran out in the last 1.5 hours, never sent; five kept.
    store.ingest(
        [ev(f"R-{n}", -25.5 + 0.15 * n) for n in range(10)]
        + [ev(f"K-{n}", -5 - n) for n in range(5)]
        + [ev(f"K-{n}", -4.5 - n, "quote.sent") for n in range(5)]
    )
    store.close()
    result = check(path, slack, 0.1)
    # Broken 11 of 16 decided in the last day: 6.9x a 10% budget; 10 of 10 in the last 2 h.
    assert "new alert: quote-24h burn_slow" in result.stdout
    burning = [t for t in slack.texts("kwaliteit") if t.startswith(":fire:")]
    assert len(burning) == 1 and "Foutbudget brandt op: Offerte binnen 24 uur" in burning[0]
    check(path, slack, 3)
    assert len([t for t in slack.texts("kwaliteit") if t.startswith(":fire:")]) == 1


# --- promises fed only by a stale source ------------------------------------------------------

FED = """  - id: callback-2h
    phase: pre-sales
    start: call.requested
    stop: call.logged
    within: 2h
  - id: reply-4h
    phase: after-sales
    start: case.opened
    stop: case.replied
    within: 4h
"""

SOURCES = """sources:
  hubspot:
    access_token: pat-x
    base_url: http://127.0.0.1:9
  salesforce:
    instance_url: https://acme.my.salesforce.com
    login_url: https://acme.my.salesforce.com
    auth: {method: client_credentials, consumer_key: k, consumer_secret: s}
schedule: {sync: 15m}
"""


def setup_sources(tmp_path: Path, database_url: str, slack: FakeSlack, salesforce_us: int) -> Path:
    """quote-24h fed by `crm` (not configured) and HubSpot, callback-2h by HubSpot alone, reply-4h
    by HubSpot and Salesforce. HubSpot has never synced (stale); Salesforce synced at
    `salesforce_us`."""
    path = setup(tmp_path, database_url, slack)
    path.write_text(path.read_text().replace("notify:", FED + "notify:") + SOURCES)
    store = Store.open(database_url)
    store.ingest(
        [
            Event("hubspot", "q", at(-28), "quote.requested", "deal", "Q-1"),  # broken 4 h ago
            Event("hubspot", "h", at(-5), "call.requested", "deal", "H-1"),  # broken 3 h ago
            Event("hubspot", "c1", at(-1), "case.opened", "case", "C-1"),  # fine
            Event("salesforce", "c2", at(-6), "case.opened", "case", "C-2"),  # broken 2 h ago
        ]
    )
    store.mark_synced("salesforce", "Case", salesforce_us)
    store.close()
    return path


def test_a_promise_fed_only_by_a_stale_source_is_alerted_only_once_it_syncs_again(
    tmp_path, database_url, slack
):
    path = setup_sources(tmp_path, database_url, slack, at(-0.1))
    result = check(path, slack)
    assert result.exit_code == 0, result.output
    assert "new alert: hubspot stale" in result.stdout
    assert "salesforce stale" not in result.stdout
    assert "new alert: breached quote-24h  deal Q-1" in result.stdout  # crm feeds it too
    assert "new alert: breached reply-4h  case C-2" in result.stdout  # Salesforce is fresh
    assert "callback-2h" not in result.stdout
    assert "4 new alert(s)" in result.stdout  # D-1, D-2 (at risk), Q-1, C-2
    assert not any("H-1" in t for t in slack.texts("kwaliteit"))
    assert "callback-2h" not in check(path, slack, 0.1).stdout

    store = Store.open(database_url)
    for stream in ("deals", "tickets"):
        store.mark_synced("hubspot", stream, at(0.2))
    store.mark_synced("salesforce", "Case", at(0.2))
    store.close()
    result = check(path, slack, 0.25)
    assert result.exit_code == 0, result.output
    assert "new alert: hubspot recovered" in result.stdout
    assert "new alert: breached callback-2h  deal H-1" in result.stdout  # within the 24 h
    assert "1 new alert(s)" in result.stdout
    assert any("H-1" in t for t in slack.texts("kwaliteit"))


def test_status_lists_promises_fed_only_by_a_stale_source(tmp_path, database_url, slack):
    path = setup_sources(tmp_path, database_url, slack, now_us())  # status runs at the real now
    env = {"SLACK_BOT_TOKEN": slack.token}
    result = qmon("--config", path, "status", "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stale_promises"] == [{"promise": "callback-2h", "sources": ["hubspot"]}]
    assert data["not_evaluated"] == ["callback-2h"]
    result = qmon("--config", path, "status", env=env)
    assert "promises not evaluated (no data): none" in result.stdout
    assert "promises not evaluated (stale source): callback-2h (hubspot)" in result.stdout
    report = qmon("--config", path, "report", "weekly", env=env)  # its data health says so too
    assert "alleen gevoed worden door een bron die niet" in report.stdout  # language: nl
    assert "callback-2h (hubspot)" in report.stdout


def test_stale_promises_follows_the_staleness_rule_and_reads_no_events_when_fresh(
    tmp_path, database_url, slack
):
    path = setup_sources(tmp_path, database_url, slack, at(0))
    config = load_config(path, environ={"SLACK_BOT_TOKEN": slack.token})
    store = Store.open(database_url)
    statements: list[str] = []
    sqlalchemy.event.listen(store.engine, "before_cursor_execute",
                            lambda _c, _cur, sql, *_: statements.append(sql))  # fmt: skip
    try:
        assert stale_promises(config, store, at(0)) == {"callback-2h": ["hubspot"]}
        for stream in ("deals", "tickets"):
            store.mark_synced("hubspot", stream, at(0))
        statements.clear()
        assert stale_promises(config, store, at(0.5)) == {}
        assert statements and not any("events" in sql for sql in statements)
        # 45 minutes is three intervals, not more than three; a second later both are stale.
        assert stale_promises(config, store, at(0.75)) == {}
        stale = stale_promises(config, store, at(0.75) + 1_000_000)
        assert stale == {"callback-2h": ["hubspot"], "reply-4h": ["hubspot", "salesforce"]}
    finally:
        store.close()


def test_alerts_use_each_instances_own_allowance_and_deadline(tmp_path, database_url, slack):
    """A target per priority and a date from the record: the message says the clock against
    what was promised to that record, with its own deadline, and a deal without a date is
    not alerted (not evaluated, never broken)."""
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: {database_url}
language: en
promises:
  - id: quote
    title: Quote per priority
    phase: sales
    start: quote.requested
    stop: quote.sent
    warn_at: 50%
    targets:
      - {{when: {{priority: urgent}}, within: 4h}}
      - {{within: 24h}}
  - id: on-date
    title: Delivered on the promised date
    phase: sales
    start: order.confirmed
    stop: order.delivered
    deadline: {{attribute: promised_date}}
notify:
  slack:
    token: ${{SLACK_BOT_TOKEN}}
    channel: "#kwaliteit"
    base_url: {slack.base_url}
"""
    )
    store = Store.open(database_url)
    quote = ev("D-1", -6)
    quote.attributes = {"priority": "urgent"}  # 6 h of 4: broken; of 24 h it would be fine
    order = Event("crm", "O-1/confirmed", at(-48), "order.confirmed", "order", "O-1",
                  attributes={"promised_date": iso(-1)})  # fmt: skip
    undated = Event("crm", "O-2/confirmed", at(-48), "order.confirmed", "order", "O-2")
    store.ingest([quote, ev("D-2", -6), order, undated])
    store.close()
    result = check(path, slack)
    assert result.exit_code == 0, result.output
    texts = slack.texts("kwaliteit")
    assert len(texts) == 2, texts  # D-2 (24 h) is fine, O-2 (no date) is not evaluated
    assert any("deal D-1" in t for t in texts) and any("order O-1" in t for t in texts)
    blocks = " ".join(str(m.blocks) for m in slack.messages("kwaliteit"))
    assert "6h 00m of 4h 00m" in blocks  # the urgent target, not the default 24 h
    assert "2d 0h 00m of 1d 23h 00m" in blocks  # the order: 48 h of the 47 h to its date


def test_with_a_public_url_each_alert_links_to_its_instance_page(tmp_path, database_url, slack):
    path = setup(tmp_path, database_url, slack, routes="serve:\n  public_url: https://qmon.example.com\n")
    assert check(path, slack).exit_code == 0
    broken = slack.messages("kwaliteit")[0]
    assert "https://qmon.example.com/instance/quote-24h/deal/D-1/1" in str(broken.blocks)
    assert broken.text.endswith(" — https://qmon.example.com/instance/quote-24h/deal/D-1/1")
    assert "<https://crm.example/deal/D-1|deal D-1>" in str(broken.blocks)  # the CRM's too
