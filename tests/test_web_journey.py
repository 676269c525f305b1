"""The Journey, Promises and Promise pages, page by page equal to `qmon audit`.

The demo company (three months, every form of promise) is checked once, then the real app
serves it; each page's figures (its `?format=json`, and the same numbers in its HTML) equal
`run_audit` for the same period as of the check's instant. Periods of each kind, a custom
one, a bad one; the breaches list links to instance pages; CSV downloads neutralise formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from qmon.alerts.check import run_check
from qmon.config import load_config
from qmon.demo.generator import write_demo
from qmon.figures import query
from qmon.ingest import import_files
from qmon.reports.audit import AuditQuery, phase_tallies, run_audit
from qmon.store import Store
from qmon.timeutil import to_us
from tests.test_web_helpers import SESSION_SECRET, serve_section, serving, sign_in

END = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    folder = tmp_path_factory.mktemp("demo")
    files = write_demo(folder, end=END, months=3, seed=5)
    (folder / "session.secret").write_text(SESSION_SECRET + "\n")
    text = files.config_path.read_text()
    if "\nserve:" in text:  # the demo's own serve section, replaced by the tests' users
        text = text[: text.index("\nserve:")] + "\n"
    files.config_path.write_text(text + serve_section())
    config = load_config(files.config_path)
    store = Store.open(config.database_url)
    import_files(store, [files.events_path], source="demo", attributes=config.kept_attributes)
    run_check(config, store, to_us(END))
    store.close()
    yield files.config_path, to_us(END)


def audit_of(config, store, as_of: int, period: query.Period, **more):
    lo, hi = period.bounds(config.timezone)
    return run_audit(config, store, AuditQuery(as_of_us=as_of, from_us=lo, to_us=hi, **more))


def tally_json(tally) -> dict:
    return {"met": tally.met, "breached": tally.breached, "open": tally.open,
            "at_risk": tally.at_risk, "not_evaluated": tally.not_evaluated,
            "compliance": tally.compliance}  # fmt: skip


def test_every_page_equals_the_audit(demo) -> None:
    path, as_of = demo
    config = load_config(path)
    day = query.day_of(as_of, config.timezone)
    week = query.period_of("week", day)
    asked = [
        ("", week),
        (f"?period=week&at={(day - timedelta(days=14)).isoformat()}", week.shift(-2)),
        (f"?period=month&at={day.isoformat()}", query.period_of("month", day)),
        ("?period=quarter&at=2026-08-15", query.period_of("quarter", day).shift(-1)),
        ("?period=custom&from=2026-10-01&to=2026-11-10",
         query.period_of("custom", day, date(2026, 10, 1), date(2026, 11, 10))),
    ]  # fmt: skip
    with serving(path) as app, app.client() as client:
        sign_in(client)
        store = app.store
        for suffix, period in asked:
            sep = "&" if suffix else "?"
            page = client.get(f"/journey{suffix}{sep}format=json").json()
            assert page["period"]["from"] == period.first.isoformat(), suffix
            history = [period.shift(k - 4) for k in range(5)]
            audits = [audit_of(config, store, as_of, p) for p in history]
            phases = [dict(phase_tallies(a.promises)) for a in audits]
            for shown in page["phases"]:
                want = [tally_json(ph.get(shown["phase"]) or type(audits[0].promises[0][1])())
                        for ph in phases]  # fmt: skip
                assert shown["history"] == want, (suffix, shown["phase"])
                assert shown["compliance"] == want[-1]

            listing = client.get(f"/promises{suffix}{sep}format=json").json()
            audit = audits[-1]
            assert [(p["promise"], p["compliance"]) for p in listing["promises"]] == [
                (pr.id, tally_json(t)) for pr, t in audit.promises]  # fmt: skip

            breakdowns = ("owner", "channel", "account") if "month" in suffix or not suffix else ()
            for promise, tally in audit.promises:
                figures = client.get(f"/promise/{promise.id}{suffix}{sep}format=json").json()
                assert figures["compliance"] == tally_json(tally), (suffix, promise.id)
                for by in breakdowns:
                    audit_by = audit_of(config, store, as_of, period, by=by)
                    want = {key: tally_json(t) for (pid, key), t in audit_by.breakdown.items()
                            if pid == promise.id}  # fmt: skip
                    got = {row["key"]: {k: v for k, v in row.items() if k != "key"}
                           for row in figures["by"][by]}  # fmt: skip
                    assert got == want, (suffix, promise.id, by)
                html = client.get(f"/promise/{promise.id}{suffix}").text
                assert promise.title.replace("&", "&amp;") in html


def test_the_weekly_chart_and_the_breaches_link_to_instances(demo) -> None:
    path, as_of = demo
    config = load_config(path)
    with serving(path) as app, app.client() as client:
        sign_in(client)
        broken = None
        for promise in config.promises:
            figures = client.get(f"/promise/{promise.id}?period=quarter&format=json").json()
            assert len(figures["weeks"]) == 12
            if figures["breaches"]:
                broken = (promise, figures["breaches"][0])
                break
        assert broken is not None, "the demo breaks some promise this quarter"
        promise, first = broken
        html = client.get(f"/promise/{promise.id}?period=quarter").text
        subject = f"{first['subject_type']}/{first['subject_id']}"
        link = f"/instance/{promise.id}/{subject}/{first['cycle']}"
        assert f'href="{link}"' in html
        assert client.get(link).status_code == 200
        assert "<svg" in html and "<polyline" in html and "style=" not in html
        rows = list(csv.reader(io.StringIO(client.get(
            f"/promise/{promise.id}?period=quarter&list=breaches&format=csv").text)))  # fmt: skip
        assert rows[0][:3] == ["subject_type", "subject_id", "cycle"]
        assert len(rows) - 1 == len(figures["breaches"])
        owners = client.get(f"/promise/{promise.id}?period=quarter&list=owner&format=csv").text
        assert owners.splitlines()[0].startswith("owner,met,breached")


def test_journey_in_dutch_with_links_down_to_promises(demo) -> None:
    path, _ = demo
    with serving(path) as app, app.client(headers={"Accept-Language": "nl"}) as client:
        sign_in(client)
        html = client.get("/journey").text
        assert "Nakoming" in html or "Pijnpunten" in html
        assert 'href="/promises?phase=' in html
        assert 'href="/promise/' in html
        assert "Cijfers per de laatste controle" in html


def test_a_bad_period_is_a_clear_400(demo) -> None:
    path, _ = demo
    with serving(path) as app, app.client() as client:
        sign_in(client)
        for query_string, why in [("period=year", "period must be one of"),
                                  ("period=custom&from=2026-11-10&to=2026-10-01",
                                   "to must not be before from"),
                                  ("period=week&at=2026-13-01", "at must be a date")]:  # fmt: skip
            page = client.get(f"/journey?{query_string}")
            assert page.status_code == 400 and why in page.text, query_string


def test_without_figures_the_pages_say_how_they_come(tmp_path: Path) -> None:
    from tests.test_web_helpers import write_config

    path = write_config(tmp_path)
    with serving(path) as app, app.client() as client:
        sign_in(client)
        page = client.get("/journey")
        assert page.status_code == 200 and "qmon check" in page.text


def test_requests_asking_for_the_same_figures_at_once_count_them_once() -> None:
    import threading
    import time
    from types import SimpleNamespace

    from qmon.web.journey import _cached

    ctx = SimpleNamespace(cache={})
    counted = []

    def count() -> int:
        counted.append(1)
        time.sleep(0.2)
        return 42

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(_cached(ctx, ("k",), 1, count)))
               for _ in range(10)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 10 and len(counted) == 1
    assert _cached(ctx, ("k",), 2, count) == 42 and len(counted) == 2  # a new instant
