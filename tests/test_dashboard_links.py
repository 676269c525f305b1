"""Links into the dashboard from Slack alerts, the webhook's text and the weekly report: there
with `serve.public_url`, absent without it, every value still escaped, and each link opens
the page it names on a real `qmon serve`."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from qmon import links
from qmon.alerts.message import digest_message, render
from qmon.config import load_config
from qmon.promises.engine import Instance
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.test_web_helpers import (
    HOSTILE_ID,
    NOW,
    seed,
    serve_section,
    serving,
    sign_in,
    write_config,
)

PUBLIC = "https://qmon.example.com"
AMS = ZoneInfo("Europe/Amsterdam")


def _instance(subject_id: str = "D-1", cycle: int = 2) -> Instance:
    start = to_us(NOW - timedelta(hours=30))
    return Instance("quote-24h", "sales", "deal", subject_id, cycle, start, None,
                    30 * 3_600_000_000, "breached", False, False, start + 24 * 3_600_000_000,
                    owner="anna", allowed_us=24 * 3_600_000_000)  # fmt: skip


@pytest.fixture
def promise(tmp_path):
    return load_config(write_config(tmp_path)).promise("quote-24h")


def test_an_alert_links_to_the_instance_page_beside_the_crm_link(promise):
    message = render("breached", promise, _instance(), "https://crm.example/deal/D-1", to_us(NOW),
                     AMS, "en", public_url=PUBLIC)  # fmt: skip
    page = f"{PUBLIC}/instance/quote-24h/deal/D-1/2"
    customer = message.blocks[1]["fields"][1]["text"]
    crm = "<https://crm.example/deal/D-1|deal D-1>"
    assert customer == f"*Customer*\n{crm} · <{page}|explained in qmon>"
    assert message.text.endswith(f" — {page}")  # what the webhook posts, too
    assert message.text.startswith("Promise broken: Offerte binnen 24 uur — deal D-1 (sales), ")
    dutch = render("late", promise, _instance(), None, to_us(NOW), AMS, "nl", public_url=PUBLIC)
    assert dutch.blocks[1]["fields"][1]["text"] == f"*Klant*\ndeal D-1 · <{page}|uitleg in qmon>"


def test_without_public_url_an_alert_is_as_before(promise):
    args = ("breached", promise, _instance(), "https://crm.example/deal/D-1", to_us(NOW), AMS)
    plain = render(*args)
    assert plain == render(*args, public_url=None)
    assert "qmon" not in plain.text and "/instance/" not in str(plain.blocks)
    assert plain.blocks[1]["fields"][1]["text"] == (
        "*Customer*\n<https://crm.example/deal/D-1|deal D-1>"
    )


def test_a_hostile_subject_id_stays_one_escaped_path_segment(promise):
    message = render("at_risk", promise, _instance(HOSTILE_ID, 1), "javascript:alert(1)",
                     to_us(NOW), AMS, public_url=PUBLIC + "/q&a")  # fmt: skip
    segment = quote(HOSTILE_ID, safe="")
    page = f"{PUBLIC}/q&amp;a/instance/quote-24h/deal/{segment}/1"
    assert f"<{page}|explained in qmon>" in message.blocks[1]["fields"][1]["text"]
    assert message.text.endswith(" — " + page)
    for text in (message.text, str(message.blocks)):
        assert "<script>" not in text and "javascript:" not in text


def test_a_digest_links_each_alert_and_shows_only_whole_lines(promise):
    texts = [
        render("breached", promise, _instance(f"D-{n}", 1), None, to_us(NOW), AMS,
               public_url=PUBLIC).text
        for n in range(20)
    ]  # fmt: skip
    title, blocks = digest_message(25, texts)
    body = blocks[1]["text"]["text"]
    lines = body.split("\n")
    assert lines[0].startswith(f"• <{PUBLIC}/instance/quote-24h/deal/D-0/1|Promise broken: ")
    assert all(re.fullmatch(r"• <https://[^|<>]+\|[^<>]+>", line) for line in lines[:-1])
    assert len(body) <= 2900
    shown = len(lines) - 1
    assert lines[-1] == f"and {25 - shown} more"
    plain = [render("breached", promise, _instance(f"D-{n}", 1), None, to_us(NOW), AMS).text
             for n in range(3)]  # fmt: skip
    expected = "\n".join(f"• {t[:140]}" for t in plain)
    assert digest_message(3, plain)[1][1]["text"]["text"] == expected


def _weekly(tmp_path: Path, public_url: str | None, out: Path) -> str:
    extra = f"  public_url: {public_url}\n" if public_url else ""
    config = write_config(tmp_path, serve_section(extra))
    seed(config)
    week = (NOW - timedelta(hours=30)).astimezone(AMS).isocalendar()  # when D-1 started
    iso = f"{week.year}-W{week.week:02d}"
    text = qmon("--config", config, "report", "weekly", "--week", iso)
    html = qmon("--config", config, "report", "weekly", "--week", iso, "--out", out)
    assert text.exit_code == 0 and html.exit_code == 0, text.output + html.output
    return text.stdout


def test_the_weekly_report_links_promises_and_breaches_to_the_dashboard(tmp_path):
    out = tmp_path / "weekly.html"
    text = _weekly(tmp_path, PUBLIC, out)
    html = out.read_text(encoding="utf-8")
    assert f'<a href="{PUBLIC}/promise/quote-24h">Offerte binnen 24 uur</a>' in html
    assert f'<a href="{PUBLIC}/promise/first-reply-4h">' in html
    d1 = f"{PUBLIC}/instance/quote-24h/deal/D-1/1"
    assert (
        '<a href="https://crm.example/deal/D-1" rel="noopener noreferrer">deal D-1</a>'
        f'<br><a class="muted" href="{d1}">explained in qmon</a>'
    ) in html
    hostile = f"{PUBLIC}/instance/quote-24h/deal/{quote(HOSTILE_ID, safe='')}/1"
    assert f'href="{hostile}"' in html and "<script>" not in html
    assert f"\n  {PUBLIC}/promise/quote-24h\n" in text
    assert f"\n  https://crm.example/deal/D-1\n  {d1}\n" in text


def test_without_public_url_the_weekly_report_has_no_dashboard_links(tmp_path):
    out = tmp_path / "weekly.html"
    text = _weekly(tmp_path, None, out)
    html = out.read_text(encoding="utf-8")
    for shown in (text, html):
        assert "/promise/" not in shown and "/instance/" not in shown
        assert "explained in qmon" not in shown
    assert 'href="https://crm.example/deal/D-1"' in html


def test_the_links_open_the_pages_they_name(tmp_path):
    config = write_config(tmp_path)
    seed(config)
    instance = links.instance_path("quote-24h", "deal", HOSTILE_ID, 1)
    with serving(config) as app, app.client() as client:
        sign_in(client)
        assert client.get(instance).status_code == 200
        record = links.record_path("deal", HOSTILE_ID)
        assert f'href="{instance}"' in client.get(record).text
    assert links.public_url(load_config(config)) is None
    with_url = write_config(tmp_path, serve_section(f"  public_url: {PUBLIC}/\n"))
    assert links.public_url(load_config(with_url)) == PUBLIC
