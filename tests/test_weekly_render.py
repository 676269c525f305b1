"""The weekly report's HTML rendered by a real browser (headless Debian Chromium), so that a
layout that breaks (a table wider than the page, a chart that does not load) fails CI.

`.ci/run` installs Chromium when the machine lacks it; without it this test is skipped with
the reason."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from qmon.demo.generator import generate_events, write_demo
from qmon.store import Store
from tests.clihelp import qmon

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 800  # a mail client's reading pane
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]  # fmt: skip

#: Appended to a copy of the report: measures the layout after load, into the DOM.
PROBE = """<script>
window.addEventListener("load", function () {
  var page = document.querySelector(".page").getBoundingClientRect();
  var wide = [];
  document.querySelectorAll(".page *").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > page.right + 1) wide.push(el.tagName + "." + el.className);
  });
  var images = Array.prototype.map.call(document.images, function (img) {
    return {complete: img.complete, width: img.naturalWidth,
            shown: img.getBoundingClientRect().width};
  });
  var out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({scrollWidth: document.documentElement.scrollWidth,
    pageWidth: page.width, overflowing: wide, images: images});
  document.body.appendChild(out);
});
</script>"""

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (.ci/run installs it)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", *args],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("render")
    end = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    files = write_demo(folder, end=end, months=4)
    store = Store.open(f"sqlite:///{folder / 'qmon.db'}")
    store.ingest(generate_events(end=end, months=4))
    store.close()
    out = folder / "weekly.html"
    result = qmon("--config", files.config_path, "report", "weekly", "--as-of",
                  "2026-11-25T10:30:00Z", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def allow_probe(html: str) -> str:
    """The report with the probe added and allowed by its hash; the rest of the report's
    Content-Security-Policy stays as shipped, so the charts load under it or fail."""
    script = PROBE.removeprefix("<script>").removesuffix("</script>")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = "default-src &#39;none&#39;;"  # as the template's autoescape writes it
    assert html.count(policy) == 1
    html = html.replace(policy, f"{policy} script-src &#39;sha256-{digest}&#39;;")
    return html.replace("</body>", PROBE + "</body>")


def test_layout_fits_a_mail_pane_and_every_chart_loads(report: Path, tmp_path: Path):
    probe = tmp_path / "probe.html"
    probe.write_text(allow_probe(report.read_text(encoding="utf-8")))
    dom = _chromium(tmp_path, f"--window-size={WIDTH},2000", "--virtual-time-budget=5000",
                    "--dump-dom", probe.as_uri()).stdout  # fmt: skip
    layout = json.loads(dom.split('<pre id="layout">', 1)[1].split("</pre>", 1)[0]
                        .replace("&quot;", '"').replace("&amp;", "&"))  # fmt: skip
    assert layout["scrollWidth"] <= WIDTH, layout
    assert layout["overflowing"] == []
    assert len(layout["images"]) == 2 + 9 + 1  # journey, phases, 9 promises, customer voice
    for image in layout["images"]:
        assert image["complete"] and image["width"] > 0, image
        assert 0 < image["shown"] <= layout["pageWidth"]


def test_screenshot_shows_a_report_not_an_empty_page(report: Path, tmp_path: Path):
    png = tmp_path / "weekly.png"
    _chromium(tmp_path, f"--window-size={WIDTH},3000", f"--screenshot={png}", report.as_uri())
    image = Image.open(png).convert("RGB")
    assert image.size == (WIDTH, 3000)
    top = image.crop((0, 0, WIDTH, 1200))
    colours = top.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 200  # text, charts and the journey's colours, not a blank page
    # The journey picture is there: its chevrons are drawn in the status colours.
    status = {(0x2E, 0x7D, 0x32), (0xC6, 0x28, 0x28), (0xEF, 0x8F, 0x00), (0x9E, 0x9E, 0x9E)}
    assert any(colour in status for _, colour in colours)
