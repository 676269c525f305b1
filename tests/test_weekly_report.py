"""The weekly report: its numbers equal `qmon audit` for the same week, its pieces are right
(weeks, trend, error budget, time to fulfil, customer voice), and `qmon report weekly`
behaves as documented (text, --out with embedded charts, exit codes, Dutch)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qmon.config import load_config
from qmon.demo.generator import generate_events, write_demo
from qmon.promises.compliance import Tally
from qmon.promises.engine import Instance
from qmon.reports.actions import list_actions
from qmon.reports.audit_format import percent
from qmon.reports.weekly import IsoWeek, build, last_complete_week
from qmon.reports.weekly.figures import _fulfilment, trend
from qmon.store import Store
from qmon.timeutil import to_us
from tests.clihelp import qmon

AMS = ZoneInfo("Europe/Amsterdam")
END = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)  # a Wednesday in 2026-W48
AS_OF = "2026-11-25T10:30:00Z"


@pytest.fixture
def demo(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four months of the demo company in the store; returns the config path."""
    files = write_demo(tmp_path / "demo", end=END, months=4)
    monkeypatch.setenv("QMON_DATABASE_URL", database_url)
    store = Store.open(database_url)
    store.ingest(generate_events(end=END, months=4))
    store.close()
    return files.config_path


def _counts(row: dict) -> tuple:
    return row["met"], row["breached"], row["open"], row["compliance"]


def _tally(t: Tally) -> tuple:
    return t.met, t.breached, t.open, None if t.compliance is None else round(t.compliance, 6)


@pytest.mark.parametrize("week", ["2026-W47", "2026-W44"])
def test_the_numbers_equal_qmon_audit_for_the_same_week(demo: Path, week: str):
    config = load_config(demo)
    store = Store.open(config.database_url)
    try:
        figures = build(config, store, IsoWeek.parse(week), to_us(END))
    finally:
        store.close()
    monday = IsoWeek.parse(week).monday()
    period = ["--from", monday.isoformat(), "--to", date.fromordinal(monday.toordinal() + 7)
              .isoformat(), "--as-of", AS_OF, "--format", "json"]  # fmt: skip
    audit = json.loads(qmon("--config", demo, "audit", *period).stdout)
    assert {p["id"]: _counts(p) for p in audit["promises"]} == {
        item.promise.id: _tally(item.this) for item in figures.promises
    }
    assert {p["phase"]: _counts(p) for p in audit["phases"]} == {
        ph.phase: _tally(ph.this) for ph in figures.phases
    }
    for by, mine in (("owner", figures.by_owner), ("channel", figures.by_channel)):
        rows = json.loads(qmon("--config", demo, "audit", *period, "--by", by).stdout)
        overall = {
            r[by] or "—": _counts(r) for r in rows["breakdown"]["rows"] if r["promise"] is None
        }
        assert overall == {key: _tally(t) for key, t in mine}
    # Last week's column is the audit of the week before.
    before = IsoWeek.parse(week).shift(-1).monday()
    earlier = ["--from", before.isoformat(), "--to", monday.isoformat(), "--as-of", AS_OF,
               "--format", "json"]  # fmt: skip
    audit = json.loads(qmon("--config", demo, "audit", *earlier).stdout)
    assert {p["id"]: _counts(p) for p in audit["promises"]} == {
        item.promise.id: _tally(item.last) for item in figures.promises
    }
    # The text report shows those very figures.
    text = qmon("--config", demo, "report", "weekly", "--week", week, "--as-of", AS_OF).stdout
    for item in figures.promises:
        assert (
            f"- {item.promise.id} ({item.promise.phase}): {percent(item.this.compliance)}" in text
        )
    breached = sum(item.this.breached for item in figures.promises)
    assert breached > 0 and len(figures.breaches) == breached
    # Worst first relative to each instance's own allowance (targets and dates differ).
    overdue = [b.overdue_us / max(abs(b.instance.allowed_us), 1) for b in figures.breaches]
    assert overdue == sorted(overdue, reverse=True) and all(o > 0 for o in overdue)


def test_report_html_has_every_chart_embedded_and_links_to_the_crm(demo: Path, tmp_path: Path):
    out = tmp_path / "weekly.html"
    result = qmon("--config", demo, "report", "weekly", "--as-of", AS_OF, "--out", out)
    assert result.exit_code == 0, result.output
    assert "weekly report 2026-W47 written to" in result.stdout
    html = out.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    config = load_config(demo)
    # journey, phases, one per promise, customer voice (the demo has surveys)
    assert len(images) == 2 + len(config.promises) + 1
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert 'href="https://crm.example.nl/' in html
    assert "cid:" not in html
    assert 'lang="en"' in html and "The journey at a glance" in html


def test_report_speaks_dutch_when_the_config_says_so(demo: Path):
    text = demo.read_text()
    demo.write_text(text.replace("version: 1", "version: 1\nlanguage: nl", 1))
    out = qmon("--config", demo, "report", "weekly", "--as-of", AS_OF).stdout
    assert out.startswith("Beloftes nagekomen — week 2026-W47")
    assert "DE KLANTREIS IN ÉÉN OOGOPSLAG" in out and "STEM VAN DE KLANT" in out


def test_report_options_are_checked(demo: Path):
    for args, message in (
        (["--week", "2026-W60"], "not an ISO week like 2026-W47"),
        (["--week", "2026-W49"], "2026-W49 has not started yet"),
        (["--send"], "notify.email is not configured"),
        (["--as-of", "yesterday"], "not an ISO-8601 instant"),
    ):
        result = qmon("--config", demo, "report", "weekly", "--as-of", AS_OF, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output


@pytest.mark.parametrize(
    ("text", "year", "week"),
    [
        ("2026-W47", 2026, 47),
        ("2026w01", 2026, 1),
        (" 2026-W53 ", 2026, 53),
        ("2020-W53", 2020, 53),
    ],
)
def test_iso_weeks_parse(text: str, year: int, week: int):
    assert IsoWeek.parse(text) == IsoWeek(year, week)


@pytest.mark.parametrize("text", ["2025-W53", "2026-W00", "26-W01", "2026-47", "W47", ""])
def test_bad_iso_weeks_are_refused(text: str):
    with pytest.raises(ValueError, match="not an ISO week"):
        IsoWeek.parse(text)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Monday 00:30 in Amsterdam is still Sunday 23:30 UTC: the local week counts.
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), IsoWeek(2026, 47)),
        (datetime(2026, 11, 22, 22, 59, tzinfo=UTC), IsoWeek(2026, 46)),
        # The first days of 2027 are in 2026-W53; the week before them is W52.
        (datetime(2027, 1, 2, 12, 0, tzinfo=UTC), IsoWeek(2026, 52)),
        (datetime(2027, 1, 4, 12, 0, tzinfo=UTC), IsoWeek(2026, 53)),
    ],
)
def test_last_complete_week_is_local(instant: datetime, expected: IsoWeek):
    assert last_complete_week(to_us(instant), AMS) == expected


def test_a_week_across_the_dst_change_is_167_or_169_hours():
    spring, autumn = IsoWeek(2026, 13), IsoWeek(2026, 43)  # 29 March and 25 October 2026
    assert spring.shift(1).start_us(AMS) - spring.start_us(AMS) == 167 * 3600_000_000
    assert autumn.shift(1).start_us(AMS) - autumn.start_us(AMS) == 169 * 3600_000_000


def _inst(elapsed_h: float, stopped: bool = True) -> Instance:
    status = "met" if stopped else "open"
    return Instance("p", "sales", "deal", "D", 1, 0, 1 if stopped else None,
                    int(elapsed_h * 3600e6), status, False, False, None)  # fmt: skip


@pytest.mark.parametrize(
    ("hours", "median", "p90"),
    [
        ([], None, None),
        ([5], 5, 5),
        ([1, 3], 2, 3),
        ([4, 1, 3, 2, 5, 6, 7, 8, 9, 10], 5.5, 9),  # nearest rank: the 9th of 10
        ([1] * 9 + [100], 1, 1),
        ([1] * 8 + [50, 100], 1, 50),
    ],
)
def test_time_to_fulfil_median_and_p90(hours: list[float], median, p90):
    f = _fulfilment([_inst(h) for h in hours] + [_inst(99, stopped=False)])
    assert f.count == len(hours)
    assert f.median_us == (None if median is None else int(median * 3600e6))
    assert f.p90_us == (None if p90 is None else int(p90 * 3600e6))


@pytest.mark.parametrize(
    ("this", "last", "expected"),
    [
        (Tally(met=9, breached=1), Tally(met=8, breached=2), "up"),
        (Tally(met=8, breached=2), Tally(met=9, breached=1), "down"),
        (Tally(met=900, breached=100), Tally(met=905, breached=100), "steady"),
        (Tally(met=1), Tally(open=3), None),  # last week not evaluated: no arrow
    ],
)
def test_trend(this: Tally, last: Tally, expected):
    assert trend(this, last) == expected


def test_error_budget_left_and_voice_from_a_csv_export(tmp_path: Path):
    """Through the public surface: a CSV with survey scores and quotes, `qmon import`, then
    the report. A 95 % objective over 40 decided quotes allows 2 breaches: 1 broken leaves
    half the budget."""
    rows = ["id,occurred_at,type,subject_type,subject_id,score"]
    n = 0

    def add(when: str, type_: str, subject: str, score: str = "") -> None:
        nonlocal n
        n += 1
        rows.append(f"e{n},{when},{type_},deal,{subject},{score}")

    for k in range(40):
        day = 16 + k % 5  # Monday 16 to Friday 20 November 2026
        add(f"2026-11-{day:02d}T09:00:00+01:00", "quote.requested", f"D{k}")
        late = k < 1
        add(f"2026-11-{day + 2 if late else day:02d}T10:00:00+01:00", "quote.sent", f"D{k}")
    for score in ("10", "9", "8", "3"):  # NPS: 2 promoters, 1 detractor of 4 -> 25
        add("2026-11-18T12:00:00+01:00", "survey.nps", "D1", score)
    for score in ("5", "4", "2"):  # CSAT: 2 of 3 satisfied
        add("2026-11-19T12:00:00+01:00", "survey.csat", "D2", score)
    add("2026-11-19T12:00:00+01:00", "survey.ces", "D3", "6")
    add("2026-11-19T12:00:00+01:00", "survey.ces", "D3", "not a number")  # not counted
    (tmp_path / "events.csv").write_text("\n".join(rows) + "\n")
    config = tmp_path / "qmon.yaml"
    config.write_text(
        f"""version: 1
database: sqlite:///{tmp_path / "q.db"}
timezone: Europe/Amsterdam
phases: [sales]
promises:
  - id: quote-24h
    title: Quote within 24 hours
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
    objective: 95%
"""
    )
    assert qmon("--config", config, "import", tmp_path / "events.csv").exit_code == 0
    loaded = load_config(config)
    store = Store.open(loaded.database_url)
    try:
        figures = build(loaded, store, IsoWeek(2026, 47), to_us(datetime(2026, 11, 25, tzinfo=UTC)))
    finally:
        store.close()
    quote = figures.promises[0]
    assert (quote.this.met, quote.this.breached) == (39, 1)
    assert quote.budget_left == pytest.approx(0.5)
    week = figures.voice[-1]
    assert week.value("nps") == pytest.approx(25)
    assert week.value("csat") == pytest.approx(200 / 3)
    assert week.value("ces") == pytest.approx(6) and week.count("ces") == 1
    assert all(w.value("nps") is None for w in figures.voice[:-1])
    text = qmon("--config", config, "report", "weekly", "--as-of", "2026-11-25T00:00:00Z").stdout
    assert "error budget left (28 days): 50 %" in text
    assert "- W47: compliance 97.5 %, NPS 25, CSAT 67, CES 6.0" in text


def test_breaches_beyond_the_listed_ones_are_counted_not_dropped(tmp_path: Path):
    from qmon.events import Event
    from qmon.reports.weekly.figures import BREACHES_LISTED

    config = tmp_path / "qmon.yaml"
    config.write_text(
        f"""version: 1
database: sqlite:///{tmp_path / "q.db"}
promises:
  - {{id: quote-24h, phase: sales, start: quote.requested, stop: quote.sent, within: 24h}}
"""
    )
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    start = to_us(datetime(2026, 11, 17, 9, tzinfo=UTC))
    store.ingest(Event("f", f"r{k}", start + k * 60_000_000, "quote.requested", "deal", f"D{k}")
                 for k in range(BREACHES_LISTED + 2))  # fmt: skip
    store.close()
    text = qmon("--config", config, "report", "weekly", "--as-of", AS_OF).stdout
    assert text.count("- quote-24h deal D") == BREACHES_LISTED
    assert "and 2 more (see `qmon audit --instances`)" in text


def test_actions_of_the_twelve_weeks_show_with_their_effect(demo: Path):
    for day, text in (("2026-10-05", "Dagelijkse controle op open offertes"),
                      ("2026-06-01", "Te oud voor dit rapport")):  # fmt: skip
        added = qmon("--config", demo, "actions", "add", "quote-24h", text, "--kind",
                     "corrective", "--date", day)  # fmt: skip
        assert added.exit_code == 0, added.output
    report = qmon("--config", demo, "report", "weekly", "--as-of", AS_OF).stdout
    config = load_config(demo)
    store = Store.open(config.database_url)
    try:
        [effect] = [a for a in list_actions(config, store, to_us(END)) if a.day.month == 10]
    finally:
        store.close()
    assert effect.before is not None and effect.after is not None
    assert (
        f"- 2026-10-05 quote-24h (corrective): Dagelijkse controle op open offertes; "
        f"4 weeks before {percent(effect.before)}, after {percent(effect.after)}"
    ) in report
    assert "Te oud voor dit rapport" not in report


@pytest.mark.parametrize("language", ["en", "nl"])
def test_no_chart_text_overlaps_another(tmp_path: Path, language: str):
    """Titles, legends and labels of every promise's chart stand apart once drawn (the
    "time to fulfil" legend used to sit on its title)."""
    from qmon.reports.weekly.charts import overlapping_texts, promise_figure
    from qmon.reports.weekly.words import Words

    files = write_demo(tmp_path / "demo", end=END, months=4)
    config = load_config(files.config_path, environ={})
    store = Store.open(config.database_url)
    try:
        store.ingest(generate_events(end=END, months=4))
        figures = build(config, store, IsoWeek.parse("2026-W47"), to_us(END))
    finally:
        store.close()
    labels = [f"W{w.week:02d}" for w in figures.weeks]
    for item in figures.promises:
        fig = promise_figure(item, labels, Words(language))
        assert overlapping_texts(fig) == [], item.promise.id
