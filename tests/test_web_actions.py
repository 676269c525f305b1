"""The Actions page over the socket: the log with each corrective action's effect as `qmon
actions list` shows it, logging one through the form (CSRF, every problem shown in the
reader's language, nothing stored on error, 303 back), the CRM's tasks as `qmon actions
tasks` shows them, and each list as CSV with formulas neutralised."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from qmon.config import load_config
from qmon.reports import actions
from qmon.store import Store
from qmon.timeutil import now_us
from tests.clihelp import qmon
from tests.test_web_helpers import NOW, at, csrf_of, seed, serving, sign_in, write_config

FORMULA = '=HYPERLINK("https://evil.example","click")'


@pytest.fixture
def config(tmp_path):
    path = write_config(tmp_path)
    seed(path)
    store = Store.open(load_config(path).database_url)
    try:
        today = NOW.date()
        actions.add(store, "quote-24h", "corrective", "Quote templates in the CRM",
                    today - timedelta(days=1), now_us())  # fmt: skip
        actions.add(store, "first-reply-4h", "recovery", FORMULA + "\nsecond line",
                    today - timedelta(days=3), now_us())  # fmt: skip
    finally:
        store.close()
    add_tasks(path)
    return path


def add_tasks(config_path) -> None:
    """Three tasks for broken promises, as the writeback's ledger holds them: created (its
    CRM id), failing (the CRM's refusal), waiting; the last one's owner a formula."""
    store = Store.open(load_config(config_path).database_url)
    try:
        with store.engine.begin() as conn:
            for n, (task_id, error) in enumerate(
                [("T-77", None), (None, "HTTP 403: no permission"), (None, None)]
            ):
                conn.execute(
                    text(
                        "INSERT INTO writeback_tasks (promise_id, subject_type, subject_id,"
                        " started_us, source, object_type, record_id, key, owner, title, body,"
                        " due_us, priority, created_us, task_id, update_pending, attempts,"
                        " next_try_us, last_error)"
                        " VALUES ('quote-24h', 'deal', :s, :start, 'crm', 'deals', :s, :key,"
                        " :owner, 't', 'b', :due, 'HIGH', :created, :task, false, 0, 0, :error)"
                    ),
                    {"s": f"D-{n + 1}", "start": at(-30), "key": f"k{n}",
                     "owner": FORMULA if n == 2 else "anna", "due": at(24), "created": at(-n),
                     "task": task_id, "error": error},
                )  # fmt: skip
    finally:
        store.close()


def _form(page: str, **fields: str) -> dict[str, str]:
    values = {"csrf_token": csrf_of(page), "promise": "quote-24h", "kind": "corrective",
              "description": "Daily check of open requests", "date": "2026-11-02"}  # fmt: skip
    values.update(fields)
    return values


def _stored(config) -> list[dict]:
    return json.loads(qmon("--config", config, "actions", "list", "--format", "json").stdout)


def test_the_page_shows_the_log_as_qmon_actions_list_does(config):
    listed = _stored(config)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/actions")
        assert page.status_code == 200
        html = page.text
        assert '<a href="/actions" aria-current="page">Actions</a>' in html
        assert '<h2 id="log-heading">Actions and their effect</h2>' in html
        rows = re.findall(r"<tr>\s*<td data-label=\"#\" class=\"number\">(\d+)</td>", html)
        assert [int(r) for r in rows] == [a["id"] for a in listed]  # oldest day first
        corrective = next(a for a in listed if a["kind"] == "corrective")
        for value in (corrective["compliance_before"], corrective["compliance_after"]):
            shown = "–" if value is None else f"{value * 100:.1f}%"
            assert f'class="number">{shown}</td>' in html
        assert '<th scope="col" class="number">4 weeks before</th>' in html
        assert "&#34;click&#34;)\nsecond line</td>" in html  # escaped, kept as written
        dutch = client.get("/actions", headers={"Accept-Language": "nl"}).text
        assert '<h2 id="log-heading">Acties en hun effect</h2>' in dutch
        assert ">corrigerend</td>" in dutch and ">herstel</td>" in dutch


def test_the_csv_downloads_equal_the_commands_json_with_formulas_neutralised(config):
    listed = _stored(config)
    tasks = json.loads(qmon("--config", config, "actions", "tasks", "--format", "json").stdout)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        got = client.get("/actions", params={"format": "csv"})
        assert got.headers["content-type"] == "text/csv; charset=utf-8"
        assert got.headers["content-disposition"] == 'attachment; filename="qmon-actions.csv"'
        rows = list(csv.DictReader(io.StringIO(got.text)))
        assert [r["id"] for r in rows] == [str(a["id"]) for a in listed]
        for row, action in zip(rows, listed, strict=True):
            want = {**action, "description": action["description"]}
            if want["description"].startswith("="):
                want["description"] = "'" + want["description"]
            for key, value in want.items():
                assert row[key] == ("" if value is None else str(value)), key
        got = client.get("/actions", params={"format": "csv", "list": "tasks"})
        assert got.headers["content-disposition"] == 'attachment; filename="qmon-tasks.csv"'
        rows = list(csv.DictReader(io.StringIO(got.text)))
        assert len(rows) == len(tasks) == 3
        for row, task in zip(rows, tasks, strict=True):
            if (task["owner"] or "").startswith("="):
                task["owner"] = "'" + task["owner"]
            assert row == {k: "" if v is None else str(v) for k, v in task.items()}


def test_the_tasks_show_as_qmon_actions_tasks_does(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        html = client.get("/actions").text
        tasks = html[html.index('id="tasks-heading"') :]
        assert tasks.index(">deal D-1</a>") < tasks.index(">deal D-2</a>")  # newest first
        assert '<a href="/record/deal/D-1">deal D-1</a>' in tasks
        assert '<td data-label="Task">crm T-77</td>' in tasks
        assert "failing: HTTP 403: no permission" in tasks
        assert "waiting to be created" in tasks and "not yet" in tasks
        assert "&#34;click&#34;)" in tasks and FORMULA not in tasks


def test_logging_an_action_redirects_back_and_lists_it(config):
    before = _stored(config)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/actions").text
        today = NOW.astimezone(load_config(config).timezone).date().isoformat()
        assert f'type="date" required value="{today}"' in page  # today, in the config's zone
        sent = client.post("/actions", data=_form(page, description="  Daily <b>check</b>  "))
        assert sent.status_code == 303
        number = max(a["id"] for a in before) + 1
        assert sent.headers["location"] == f"/actions?logged={number}"
        shown = client.get(sent.headers["location"]).text
        assert f'<p class="done" role="status">Action {number} logged.</p>' in shown
        for odd in ("\u00b2", "\u0663", "-1", "x"):  # no number int() reads as one: no notice
            odd_page = client.get("/actions", params={"logged": odd})
            assert odd_page.status_code == 200 and 'class="done"' not in odd_page.text
        assert "Daily &lt;b&gt;check&lt;/b&gt;</td>" in shown
    after = _stored(config)
    assert after[0] == {"id": number, "promise": "quote-24h", "kind": "corrective",
                        "description": "Daily <b>check</b>", "date": "2026-11-02",
                        "compliance_before": None, "compliance_after": None}  # fmt: skip
    assert after[1:] == before


@pytest.mark.parametrize(
    ("fields", "problems", "dutch"),
    [
        ({"promise": "no-such"}, ["Promise: Choose one of the promises."],
         ["Belofte: Kies een van de beloften."]),
        ({"kind": "preventive", "description": "   "},
         ["Kind: Choose corrective or recovery.", "Description: Say what was done."],
         ["Soort: Kies corrigerend of herstel.", "Omschrijving: Beschrijf wat er gedaan is."]),
        ({"description": "x" * 1001}, ["Description: Keep it to 1000 characters."],
         ["Omschrijving: Houd het bij 1000 tekens."]),
        ({"description": "a\x00b"},
         ["Description: It holds a character qmon cannot store (a NUL character)."],
         ["Omschrijving: Er staat een teken in dat qmon niet kan opslaan (een NUL-teken)."]),
        ({"date": "2.11.2026"}, ["Date: Give the date as YYYY-MM-DD."],
         ["Datum: Geef de datum als JJJJ-MM-DD."]),
        ({"date": "3000-01-01"}, ["Date: Give a date from the year 1900 to 2999."],
         ["Datum: Geef een datum van het jaar 1900 tot en met 2999."]),
    ],
    ids=["promise", "kind-and-description", "too-long", "nul", "date", "date-range"],
)  # fmt: skip
def test_every_problem_is_shown_in_the_readers_language_and_nothing_stored(
    config, fields, problems, dutch
):
    before = _stored(config)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        for language, expected in (("en", problems), ("nl", dutch)):
            headers = {"Accept-Language": language}
            page = client.get("/actions", headers=headers).text
            sent = client.post("/actions", data=_form(page, **fields), headers=headers)
            assert sent.status_code == 400
            summary = sent.text[sent.text.index('role="alert"') :]
            shown = re.findall(r'<li><a href="#(\w+)">([^<]+)</a></li>', summary)
            assert [message for _, message in shown] == expected
            for name, _ in shown:  # beside its field too, which points at it
                assert f'<p class="problem" id="{name}-problem">' in sent.text
                assert re.search(
                    rf'id="{name}"[^>]*aria-describedby="[^"]*{name}-problem', sent.text
                )
    assert _stored(config) == before


def test_a_refused_form_shows_what_was_sent_escaped(config):
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/actions").text
        hostile = '</textarea><script>alert("x")</script>'
        sent = client.post("/actions", data=_form(page, description=hostile, date="soon"))
        assert sent.status_code == 400
        assert "<script>" not in sent.text
        assert "&lt;/textarea&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</textarea>" in (
            sent.text
        )
        assert 'value="soon"' in sent.text
        assert '<option value="quote-24h" selected>' in sent.text
        assert '<input type="radio" name="kind" value="corrective" required checked>' in sent.text


def test_a_form_without_the_sessions_csrf_token_is_refused_and_stores_nothing(config):
    before = _stored(config)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        page = client.get("/actions").text
        for token in ("", "forged"):
            sent = client.post("/actions", data=_form(page, csrf_token=token))
            assert sent.status_code == 403
            assert "reload the page" in sent.text
        with app.client() as stranger:  # not signed in: to the sign-in page first
            sent = stranger.post("/actions", data=_form(page))
            assert sent.status_code == 303 and sent.headers["location"].startswith("/login")
    assert _stored(config) == before


def test_an_action_dated_outside_the_stored_dates_is_named_not_listed(config):
    store = Store.open(load_config(config).database_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO actions (promise_id, kind, description, day,"
                              " created_us) VALUES ('quote-24h', 'recovery', 'old', '0999-01-01',"
                              " 0)"))  # fmt: skip
    finally:
        store.close()
    with serving(config) as app, app.client() as client:
        sign_in(client)
        html = client.get("/actions").text
        assert "is dated 0999-01-01, outside the dates qmon stores" in html
        assert ">old</td>" not in html
    assert date(1900, 1, 1) <= date.fromisoformat(_stored(config)[0]["date"])
