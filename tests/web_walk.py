"""The dashboard walked in a real browser (Playwright driving Debian's Chromium), one function
per step a Quality Manager takes; no tests here (tests/test_web_browser.py walks it).

Each step goes to a page the way a person would (a link, a button, a form), checks that it
is the page it should be, and ends with `Walk.check(name)`: a screenshot at every width in
`WIDTHS`, the layout at each (the page no wider than the window, no element's box outside
it) and, when axe-core could be had, an accessibility scan (serious and critical
violations). What goes wrong is collected in `Walk.problems` with the page's name, so that
one run lists every problem; a step's own expectations fail at once (`expect`).

To walk further (the journey, a phase, a promise, a breach, its instance), add a function
here in the same shape: take the `Walk`, click from the page before, `expect` what makes
the page itself, `walk.check("name")`, and return what the next step needs.

The pages' Content-Security-Policy forbids inline scripts, so axe-core is not injected with
a `<script>` tag (Chromium refuses it, which `Walk.problems` would report as a console
error); it is evaluated through the DevTools protocol (`page.evaluate`), which the policy
does not govern, and the page's own policy stays on for everything else.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Download, Page, expect

#: A desktop browser and a phone (an iPhone 12 to 15 is 390 CSS pixels wide).
WIDTHS = (1280, 390)
HEIGHT = {1280: 800, 390: 844}
#: axe-core's impacts that fail the walk.
FAILING_IMPACTS = ("serious", "critical")

#: Whether the page is wider than the window, and which elements stick out of it.
_LAYOUT = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      const classes = typeof el.className === "string" ? el.className.trim() : "";
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (classes ? "." + classes.replace(/\\s+/g, ".") : "");
      out.push(name + " [" + Math.round(box.left) + ", " + Math.round(box.right) + "]");
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          overflowing: out.slice(0, 10)};
}"""

_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


@dataclass
class Walk:
    """One signed-in (or not yet) browser tab on the dashboard."""

    page: Page
    base_url: str
    shots: Path
    axe_source: str | None = None
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A page's own status (a refused form's 400) is the step's to judge; what a page
        # loads is judged in `_response`. Anything else (a CSP refusal) is a problem.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"{self.page.url}: console error: {message.text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.problems.append(f"{self.page.url}: {response.url} answered {response.status}")

    def url(self, path: str) -> str:
        return self.base_url + path

    def check(self, name: str) -> None:
        """Screenshots, layout and accessibility of the page now shown."""
        page = self.page
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT[width]})
            page.screenshot(path=str(self.shots / f"{shot_name(name)}-{width}.png"),
                            full_page=True)  # fmt: skip
            found = page.evaluate(_LAYOUT)
            if found["scrollWidth"] > found["innerWidth"]:
                self.problems.append(
                    f"{name} at {width}px: the page is {found['scrollWidth']}px wide"
                )
            for element in found["overflowing"]:
                self.problems.append(f"{name} at {width}px: {element} is outside the window")
            if self.axe_source is not None:
                for v in self.accessibility():
                    self.problems.append(
                        f"{name} at {width}px: axe {v['impact']} {v['id']} ({v['help']}): "
                        + ", ".join(v["nodes"])
                    )
        page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT[WIDTHS[0]]})
        self.checked.append(name)

    def accessibility(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page now shown."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(self.axe_source)
        return [v for v in self.page.evaluate(_AXE) if v["impact"] in FAILING_IMPACTS]


def shot_name(name: str) -> str:
    """A page's name as a file name: letters, digits and dashes, at most 60."""
    return re.sub(r"[^A-Za-z0-9-]+", "_", name)[:60]


def sign_in(walk: Walk, name: str, password: str) -> None:
    """From the sign-in form to the first page (the journey)."""
    page = walk.page
    page.goto(walk.url("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    walk.check("login")
    page.get_by_label("User name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/journey$"))
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()


def open_nav(walk: Walk, word: str) -> None:
    """A page of the navigation bar, by its word."""
    walk.page.get_by_role("navigation").get_by_role("link", name=word, exact=True).click()
    expect(walk.page.get_by_role("heading", level=1)).to_have_text(word)


def open_health(walk: Walk) -> None:
    open_nav(walk, "Health")
    expect(walk.page.get_by_role("heading", name="Agent jobs")).to_be_visible()
    walk.check("health")


def open_record(walk: Walk, subject_type: str, subject_id: str, path: str) -> None:
    """A record's page, as a CRM's `qmon_link` opens it (`path` is that link's path)."""
    walk.page.goto(walk.url(path))
    heading = walk.page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"Record: {subject_type} {subject_id}")
    walk.check(f"record {subject_type} {subject_id}")


def open_instance(walk: Walk, row: int = 0) -> str:
    """From a record's page, an instance's (its `row`-th "details" link); returns its path."""
    walk.page.get_by_role("link", name="details").nth(row).click()
    expect(walk.page.get_by_role("heading", name="The clock, segment by segment")).to_be_visible()
    walk.check("instance")
    return walk.page.url.removeprefix(walk.base_url)


def follow_crm_link(walk: Walk, crm_page: str) -> None:
    """The instance's "Open in the CRM" link (the CRM is played by a route that answers
    `crm_page` for it), and back."""
    page = walk.page
    link = page.get_by_role("link", name="Open in the CRM")
    target = link.get_attribute("href")
    assert target and target.startswith("https://"), target
    page.route(target, lambda route: route.fulfill(content_type="text/html", body=crm_page))
    link.click()
    expect(page).to_have_url(target)
    page.go_back()
    expect(page.get_by_role("link", name="Open in the CRM")).to_be_visible()


def open_actions(walk: Walk) -> None:
    open_nav(walk, "Actions")
    expect(walk.page.get_by_role("heading", name="Log an action")).to_be_visible()
    walk.check("actions")


def fill_action(walk: Walk, promise: str, kind: str, description: str, day: str) -> None:
    """Fill in the actions form and send it: `promise` as the list shows it, `kind` the
    word its choice starts with."""
    page = walk.page
    page.get_by_label("Promise", exact=True).select_option(label=promise)
    page.get_by_role("radio", name=re.compile(rf"^{re.escape(kind)}\b")).check()
    page.get_by_label("Description", exact=True).fill(description)
    page.get_by_label("Date", exact=True).fill(day)
    page.get_by_role("button", name="Log the action").click()


def log_action(walk: Walk, promise: str, kind: str, description: str, day: str) -> int:
    """Log an action with the form; returns its number, from the page's notice."""
    fill_action(walk, promise, kind, description, day)
    page = walk.page
    notice = page.get_by_role("status")
    expect(notice).to_have_text(re.compile(r"^Action \d+ logged\.$"))
    number = int(re.findall(r"\d+", notice.inner_text())[0])
    expect(page).to_have_url(re.compile(rf"/actions\?logged={number}$"))
    walk.check("actions-logged")
    return number


def refused_action(walk: Walk, promise: str, kind: str, description: str, day: str
                   ) -> list[str]:  # fmt: skip
    """Send the form with something the browser's own checks let through but qmon refuses
    (a description of spaces, a day outside 1900-2999...); returns the problems the page
    lists."""
    fill_action(walk, promise, kind, description, day)
    alert = walk.page.get_by_role("alert")
    expect(alert).to_be_visible()
    walk.check("actions-refused")
    return [item.inner_text() for item in alert.get_by_role("listitem").all()]


def download_csv(walk: Walk, nth: int = 0) -> tuple[str, list[dict[str, str]]]:
    """The `nth` "Download as CSV" link of the page: its file name and rows."""
    with walk.page.expect_download() as info:
        walk.page.get_by_role("link", name="Download as CSV").nth(nth).click()
    download: Download = info.value
    path = download.path()
    assert path is not None
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    return download.suggested_filename, rows


# -- the journey down to one broken instance -----------------------------------------------


def open_journey(walk: Walk) -> None:
    """The journey (the first page after signing in): its phases, for this week."""
    open_nav(walk, "Journey")
    expect(walk.page.get_by_role("heading", level=2).first).to_be_visible()
    walk.check("journey")


def open_phase(walk: Walk, phase: str) -> None:
    """From the journey, a phase's promises (the phase's heading is the link)."""
    walk.page.get_by_role("heading", level=2).get_by_role("link", name=phase, exact=True).click()
    expect(walk.page.get_by_role("heading", level=1)).to_have_text(f"Promises: {phase}")
    walk.check(f"promises {phase}")


def open_promise(walk: Walk, title: str) -> None:
    """From a list of promises, one promise's page, by its title."""
    walk.page.get_by_role("link", name=title, exact=True).click()
    expect(walk.page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(walk.page.get_by_role("img", name=re.compile("Compliance per week"))).to_be_visible()
    walk.check(f"promise {title}")


def change_period(walk: Walk, word: str) -> str:
    """The period picker's `word` (Week, Month, Quarter); returns the period now shown."""
    picker = walk.page.locator("form.period")
    picker.get_by_role("link", name=word, exact=True).click()
    expect(picker.get_by_role("link", name=word, exact=True)).to_have_attribute(
        "aria-current", "true"
    )
    shown = picker.locator("legend strong").inner_text()
    walk.check(f"period {word}")
    return shown


def custom_period(walk: Walk, first: str, last: str) -> str:
    """The picker's own dates (From, To, Show); returns the period now shown."""
    picker = walk.page.locator("form.period")
    picker.get_by_label("From").fill(first)
    picker.get_by_label("To").fill(last)
    picker.get_by_role("button", name="Show").click()
    shown = picker.locator("legend strong").inner_text()
    expect(picker.locator("legend strong")).to_have_text(f"{first} – {last}")
    walk.check("period custom")
    return shown


def open_breach(walk: Walk, record: str) -> str:
    """From a promise's page, one of the period's breaches (its record's link) to the
    instance's page; returns its path."""
    walk.page.get_by_role("link", name=record, exact=True).click()
    expect(walk.page.get_by_role("heading", name="The clock, segment by segment")).to_be_visible()
    walk.check(f"breach {record}")
    return walk.page.url.removeprefix(walk.base_url)
