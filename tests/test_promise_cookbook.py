"""docs/promises.md cannot rot: every YAML block on it that holds promises validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.clihelp import qmon

PAGE = Path(__file__).resolve().parents[1] / "docs" / "promises.md"
FENCE = re.compile(r"^```yaml\n(.*?)^```$", re.MULTILINE | re.DOTALL)
OFFICE_NL = {
    "timezone": "Europe/Amsterdam",
    "hours": {"mon-fri": ["09:00-12:30", "13:00-17:00"]},
    "holidays": ["NL"],
}
BASE = {
    "version": 1,
    "timezone": "Europe/Amsterdam",
    "phases": ["pre-sales", "sales", "after-sales", "loyalty"],
}


def promise_blocks() -> list[tuple[int, str]]:
    """(line on the page, text) of each ```yaml block that holds `promises:`."""
    page = PAGE.read_text(encoding="utf-8")
    return [
        (page.count("\n", 0, m.start()) + 1, m.group(1))
        for m in FENCE.finditer(page)
        if re.search(r"^promises:", m.group(1), re.MULTILINE)
    ]


def as_config(text: str) -> dict:
    """A block as a whole config: itself if it has a version, else wrapped in the demo's
    version, phases and office-nl calendar (its own calendars added)."""
    block = yaml.safe_load(text)
    if "version" in block:
        return block
    calendars = {"office-nl": OFFICE_NL, **block.pop("calendars", {})}
    return {**BASE, "calendars": calendars, **block}


def test_the_page_has_every_recipe():
    assert len(BLOCKS) >= 8  # five examples and three products


BLOCKS = promise_blocks()


@pytest.mark.parametrize(("line", "text"), BLOCKS, ids=[f"line-{n}" for n, _ in BLOCKS])
def test_recipe_validates(line, text, tmp_path):
    config = tmp_path / "qmon.yaml"
    config.write_text(yaml.safe_dump(as_config(text), sort_keys=False), encoding="utf-8")
    result = qmon("--config", config, "promises", "validate")
    assert result.exit_code == 0, f"docs/promises.md:{line}: {result.output}"
