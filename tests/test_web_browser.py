"""The dashboard as the Quality Manager uses it, in a real browser: Playwright driving
Debian's Chromium (headless; no browser is downloaded), against the real application under
uvicorn. The walk (tests/web_walk.py): sign in, health, a record, one of its instances and
its CRM link, the actions page, log an action and see it listed, a refused one, the CSV
downloads; every page at 1280 and 390 pixels wide (screenshots, nothing wider than the
window) and scanned by axe-core for serious or critical accessibility problems.

axe-core comes from the npm registry (`npm pack`, a pinned version) into tests/.cache/ the
first time; without npm or the registry that one check is skipped with the reason, and the
rest of the walk still runs. `.ci/run` installs Chromium; without it the module is skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from qmon.config import load_config
from qmon.reports import actions
from qmon.store import Store
from qmon.timeutil import now_us
from tests.test_web_actions import add_tasks
from tests.test_web_helpers import HOSTILE_ID, NOW, PASSWORD, seed, serving, write_config

playwright = pytest.importorskip("playwright.sync_api", reason="needs the dev extra's playwright")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (.ci/run installs it)")

from tests import web_walk  # noqa: E402 - needs playwright, checked above

AXE_VERSION = "4.14.1"
CACHE = Path(__file__).parent / ".cache"


def _axe_source() -> tuple[str | None, str]:
    """axe.min.js of `AXE_VERSION`, fetched once with `npm pack`; or None and why not."""
    target = CACHE / f"axe-core-{AXE_VERSION}" / "axe.min.js"
    if target.is_file():
        return target.read_text(encoding="utf-8"), ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed"
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    try:
        done = subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(CACHE)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, "npm pack axe-core timed out"
    archive = CACHE / f"axe-core-{AXE_VERSION}.tgz"
    if done.returncode != 0 or not archive.is_file():
        return (
            None,
            f"npm pack axe-core@{AXE_VERSION} failed: "
            f"{done.stderr.strip()[-300:] or done.returncode}",
        )
    with tarfile.open(archive) as packed:
        member = packed.extractfile("package/axe.min.js")
        assert member is not None
        source = member.read().decode("utf-8")
    target.parent.mkdir(exist_ok=True)
    target.write_text(source, encoding="utf-8")
    archive.unlink()
    return source, ""


@pytest.fixture(scope="module")
def axe() -> tuple[str | None, str]:
    return _axe_source()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    config = write_config(tmp_path)
    seed(config)
    store = Store.open(load_config(config).database_url)
    try:
        actions.add(store, "quote-24h", "corrective", "Offertesjablonen in het CRM",
                    NOW.date(), now_us())  # fmt: skip
    finally:
        store.close()
    add_tasks(config)
    with serving(config) as app:
        yield app.url


CRM_PAGE = "<!doctype html><title>CRM</title><h1>Deal D-1 in the CRM</h1>"


def test_the_quality_managers_walk(browser, dashboard, axe, tmp_path: Path):
    started = time.monotonic()
    axe_source, why_not = axe
    context = browser.new_context(locale="en-GB", accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    walk = web_walk.Walk(page, dashboard, tmp_path / "shots", axe_source)
    try:
        web_walk.sign_in(walk, "anna", PASSWORD)
        web_walk.open_health(walk)
        web_walk.open_record(walk, "deal", "D-1", "/record/deal/D-1")
        instance = web_walk.open_instance(walk)
        assert instance == "/instance/quote-24h/deal/D-1/1"
        web_walk.follow_crm_link(walk, CRM_PAGE)
        web_walk.open_record(walk, "deal", "D-2", "/record/deal/D-2")  # at risk
        web_walk.open_record(walk, "deal", HOSTILE_ID, "/record/deal/" + quote(HOSTILE_ID, safe=""))
        web_walk.open_actions(walk)
        number = web_walk.log_action(
            walk, "Offerte binnen 24 uur (quote-24h)", "recovery",
            "Called the customer back about D-1", "2026-11-02",
        )  # fmt: skip
        row = page.locator("table.actions tbody tr", has_text="Called the customer back")
        playwright.expect(row).to_have_count(1)
        playwright.expect(row.locator("td").first).to_have_text(str(number))
        problems = web_walk.refused_action(
            walk, "First reply within 4 hours (first-reply-4h)", "corrective", "   ", "2026-11-03"
        )
        assert problems == ["Description: Say what was done."]
        name, rows = web_walk.download_csv(walk, 0)
        assert name == "qmon-actions.csv"
        assert [(r["id"], r["description"]) for r in rows if r["kind"] == "recovery"] == [
            (str(number), "Called the customer back about D-1")
        ]
        name, rows = web_walk.download_csv(walk, 1)
        assert name == "qmon-tasks.csv" and len(rows) == 3
        page.goto(walk.url("/record/deal/D-1"))
        name, rows = web_walk.download_csv(walk)
        assert name == "qmon-deal-D-1.csv" and rows[0]["status"] == "breached"
    finally:
        context.close()
    assert not walk.problems, "\n".join(walk.problems)
    assert walk.checked == ["login", "health", "record deal D-1", "instance",
                            "record deal D-2", f"record deal {HOSTILE_ID}", "actions",
                            "actions-logged", "actions-refused"]  # fmt: skip
    for name in walk.checked:
        for width in web_walk.WIDTHS:
            shot = tmp_path / "shots" / f"{web_walk.shot_name(name)}-{width}.png"
            assert shot.stat().st_size > 1000
    assert time.monotonic() - started < 60
    if axe_source is None:
        pytest.skip(f"the accessibility scan did not run: {why_not}")


def test_the_content_security_policy_refuses_an_injected_script(browser, dashboard):
    """What the walk relies on: the pages' policy is on, so an inline script is refused."""
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text))
    try:
        page.goto(dashboard + "/login")
        with pytest.raises(playwright.Error, match="Content Security Policy"):
            page.add_script_tag(content="window.injected = true")
        assert page.evaluate("typeof window.injected") == "undefined"
    finally:
        context.close()
    assert any("Content Security Policy" in text for text in seen)


def test_the_accessibility_scan_finds_what_it_should(browser, axe, tmp_path: Path):
    """The scan is not blind: a page with the faults it must find fails it."""
    source, why_not = axe
    if source is None:
        pytest.skip(f"the accessibility scan cannot run: {why_not}")
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        page.set_content(
            '<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
            '<p><span class="status status-at-risk">at risk</span></p>'
            '<form><input name="q"></form></main></html>'
        )
        walk = web_walk.Walk(page, "", tmp_path / "shots", source)
        found = {v["id"] for v in walk.accessibility()}
    finally:
        context.close()
    assert {"image-alt", "label"} <= found


@pytest.fixture
def checked_dashboard(tmp_path: Path) -> Iterator[str]:
    """The same store after a `qmon check`, which keeps the journey's figures."""
    from qmon.alerts.check import run_check

    config_path = write_config(tmp_path)
    seed(config_path)
    config = load_config(config_path)
    store = Store.open(config.database_url)
    try:
        run_check(config, store, now_us())
    finally:
        store.close()
    with serving(config_path) as app:
        yield app.url


def test_the_journey_down_to_a_broken_instance(browser, checked_dashboard, axe, tmp_path: Path):
    axe_source, why_not = axe
    context = browser.new_context(locale="en-GB", accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(10_000)
    walk = web_walk.Walk(page, checked_dashboard, tmp_path / "shots", axe_source)
    try:
        web_walk.sign_in(walk, "anna", PASSWORD)
        web_walk.open_journey(walk)
        web_walk.open_phase(walk, "sales")
        web_walk.open_promise(walk, "Offerte binnen 24 uur")
        week = page.locator("form.period legend strong").inner_text()
        assert re.fullmatch(r"\d{4}-W\d{2}", week), week  # this ISO week by default
        assert re.fullmatch(r"\d{4}-\d{2}", web_walk.change_period(walk, "Month"))
        assert re.fullmatch(r"\d{4}-Q\d", web_walk.change_period(walk, "Quarter"))
        today = datetime.now(UTC).date()  # D-1 broke 30 hours ago: within these three days
        web_walk.custom_period(walk, (today - timedelta(days=3)).isoformat(), today.isoformat())
        instance = web_walk.open_breach(walk, "deal D-1")
        assert instance == "/instance/quote-24h/deal/D-1/1"
        web_walk.follow_crm_link(walk, CRM_PAGE)
        page.goto(walk.url("/promise/quote-24h"))
        name, rows = web_walk.download_csv(walk, 3)  # owner, channel, account, breaches
        assert name.startswith("qmon-quote-24h-breaches-")
        assert {r["subject_id"] for r in rows} >= {"D-1"}
    finally:
        context.close()
    assert not walk.problems, "\n".join(walk.problems)
    assert walk.checked == ["login", "journey", "promises sales", "promise Offerte binnen 24 uur",
                            "period Month", "period Quarter", "period custom",
                            "breach deal D-1"]  # fmt: skip
    if axe_source is None:
        pytest.skip(f"the accessibility scan did not run: {why_not}")
