"""A synthetic year of CRM activity for the benchmarks: N canonical events as CSV.

Deals get quote requests answered (mostly) within a day, some late, some never, some in a
second cycle; cases open, get a first response, wait on the customer and close; a share of
events are notes no promise reads. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2025, 11, 1, tzinfo=UTC)
SPAN_S = 365 * 86_400
OWNERS = ["anna", "bram", "chris", "dewi", "eva", "femke", "gijs", "hanna"]
CHANNELS = ["email", "phone", "web", "chat"]
HEADER = ["id", "occurred_at", "type", "subject_type", "subject_id", "account", "owner", "channel",
          "priority"]  # fmt: skip
#: A quote request's priority (its own generator: the rest of the stream is as before).
PRIORITIES = (("urgent", 0.1), ("high", 0.2), ("normal", 0.7))


def _iso(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def write_events(path: Path, n: int, seed: int = 1) -> int:
    """Write about `n` events to `path`; returns the exact count."""
    rng = random.Random(seed)
    urgency = random.Random(seed + 1)
    written = 0
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        subject = 0
        while written < n:
            subject += 1
            owner = rng.choice(OWNERS)
            channel = rng.choice(CHANNELS)
            account = f"acct-{rng.randrange(2000)}"
            t = rng.uniform(0, SPAN_S - 10 * 86_400)
            rows: list[tuple[str, float, str]] = []
            if subject % 2:
                kind, sid = "deal", f"D-{subject}"
                rows.append(("deal.created", t, "note"))
                for _ in range(1 if rng.random() < 0.8 else 2):
                    t += rng.uniform(3600, 5 * 86_400)
                    rows.append(("quote.requested", t, urgency.choices(
                        [p for p, _ in PRIORITIES], [w for _, w in PRIORITIES])[0]))  # fmt: skip
                    if rng.random() < 0.97:
                        t += rng.lognormvariate(10.2, 0.8)  # median ~7.5 h, ~13 % over 24 h
                        rows.append(("quote.sent", t, ""))
                for _ in range(rng.randrange(3)):
                    rows.append(("note.added", t + rng.uniform(0, 86_400), ""))
            else:
                kind, sid = "case", f"C-{subject}"
                rows.append(("case.opened", t, ""))
                t += rng.lognormvariate(8.5, 1.0)
                rows.append(("case.first_response", t, ""))
                if rng.random() < 0.3:
                    rows.append(("case.waiting_on_customer", t + 60, ""))
                    t += rng.uniform(3600, 3 * 86_400)
                    rows.append(("case.customer_replied", t, ""))
                t += rng.lognormvariate(10.5, 1.0)
                rows.append(("case.closed", t, ""))
            for i, (etype, at, extra) in enumerate(rows):
                priority = extra if etype == "quote.requested" else ""
                out.writerow([f"{sid}-{i}", _iso(at), etype, kind, sid, account, owner, channel,
                              priority])  # fmt: skip
                written += 1
    return written
