"""Months of a Dutch B2B supplier's CRM activity, invented but plausible, for `qmon demo`.

The demo has to look like a real company in every report qmon makes, so the data keeps the
habits that make promises hard to keep: customers write mostly in office hours but also in
the evening and at weekends; staff work Monday to Friday, not on Dutch public holidays, and
take lunch; response times have long tails; one owner is slower than the rest; two promises
get better over the months; some work is never done. Everything comes from one
`random.Random(seed)` and the given `end`, never from the clock, so the same arguments always
give the same company (and the same tests).

The work is split by job: `cast` says who the company is (staff, customers, channels, time
zone), `timing` when things happen, `company` each journey's story; this module keeps the
public surface, from the window to the files `qmon demo` writes.
"""

from __future__ import annotations

import csv
import random
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from qmon.demo.cast import (
    ACCOUNTS,
    CHANNELS,
    CRM_URL,
    KEY_ACCOUNTS,
    SALES_OWNERS,
    SLOW_OWNER,
    SOURCE,
    SUPPORT_OWNERS,
    TZ,
)
from qmon.demo.company import Company
from qmon.events import CORE_FIELDS, Event
from qmon.timeutil import iso_z, to_us

ATTRIBUTE_COLUMNS: tuple[str, ...] = ("amount", "priority", "promised_date", "score", "tier")
CSV_COLUMNS: tuple[str, ...] = CORE_FIELDS + ATTRIBUTE_COLUMNS
CONFIG_NAME = "qmon.yaml"
EVENTS_NAME = "events.csv"

__all__ = [
    "ACCOUNTS",
    "ATTRIBUTE_COLUMNS",
    "CHANNELS",
    "CONFIG_NAME",
    "CRM_URL",
    "CSV_COLUMNS",
    "EVENTS_NAME",
    "KEY_ACCOUNTS",
    "SALES_OWNERS",
    "SLOW_OWNER",
    "SOURCE",
    "SUPPORT_OWNERS",
    "TZ",
    "DemoFiles",
    "generate_events",
    "window_start",
    "write_demo",
]


@dataclass(frozen=True)
class DemoFiles:
    """What `write_demo` wrote: the config to load and the events to import."""

    config_path: Path
    events_path: Path


def window_start(end: datetime, months: int) -> datetime:
    """The instant `months` calendar months before `end` (UTC), where the demo's history begins.

    Calendar months rather than 30-day blocks, so six months before 20 November is 20 May;
    a day that month lacks becomes its last day (31 August - 6 months = 28/29 February).
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    at = end.astimezone(UTC)
    year, month = divmod(at.year * 12 + at.month - 1 - months, 12)
    day = min(at.day, monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def generate_events(*, end: datetime, months: int = 6, seed: int = 7) -> Iterator[Event]:
    """The demo company's events from `window_start(end, months)` to `end`, oldest first.

    Deterministic: the same (end, months, seed) give the same events with the same ids.
    Work that would happen after `end` is left out, so the last days hold open instances,
    as a live CRM does.

    Raises:
        ValueError: for a naive `end` or fewer than one month.
    """
    end_us = to_us(end)
    start_us = to_us(window_start(end, months))
    # Survey answers draw from their own generator, so adding them left every story as it was.
    company = Company(random.Random(seed), start_us, end_us, random.Random(seed + 1_000_003),
                      random.Random(seed + 2_000_003))  # fmt: skip
    company.run()
    return iter(company.events())


def write_demo(directory: Path, *, end: datetime, months: int = 6, seed: int = 7) -> DemoFiles:
    """Write the demo config (`qmon.yaml`, the packaged template) and `events.csv`.

    The CSV has the canonical columns plus one per attribute, timestamps in UTC with `Z`, so
    it also shows what an importable CRM export looks like.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / CONFIG_NAME
    template = resources.files("qmon.demo").joinpath(CONFIG_NAME).read_text(encoding="utf-8")
    config_path.write_text(template, encoding="utf-8")
    events_path = directory / EVENTS_NAME
    with events_path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(CSV_COLUMNS)
        for ev in generate_events(end=end, months=months, seed=seed):
            out.writerow(
                (
                    ev.source,
                    ev.id,
                    iso_z(ev.occurred_us),
                    ev.type,
                    ev.subject_type,
                    ev.subject_id,
                    ev.account or "",
                    ev.owner or "",
                    ev.channel or "",
                    ev.link or "",
                    *(ev.attributes.get(name, "") for name in ATTRIBUTE_COLUMNS),
                )
            )
    return DemoFiles(config_path, events_path)
