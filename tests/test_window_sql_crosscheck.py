"""The engine against an independent formulation: the hand-written window SQL the benchmark
compares with must count exactly what `qmon audit` counts, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from qmon.events import Event
from qmon.promises.calendar import WALL_CLOCK
from qmon.promises.promise import Promise, Role
from qmon.reports.audit import AuditQuery, run_audit
from qmon.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from window_sql import counts  # noqa: E402

H = 3_600_000_000
T0 = 1_780_000_000_000_000


class _Config:
    """Just what run_audit reads."""

    def __init__(self, promise: Promise) -> None:
        from zoneinfo import ZoneInfo

        self.promises = (promise,)
        self.timezone = ZoneInfo("Europe/Amsterdam")


def random_events(seed: int, n_subjects: int = 300) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for s in range(n_subjects):
        t = T0
        for k in range(rng.randrange(1, 8)):
            # coarse times so that ties between start and stop happen too
            t += rng.choice([0, 1, 2, 6, 12, 23, 24, 25, 48]) * H
            etype = rng.choice(["quote.requested", "quote.sent", "note.added"])
            out.append(Event("file", f"{s}-{k}", t, etype, "deal", f"D-{s}"))
    rng.shuffle(out)
    return out


@pytest.mark.parametrize(
    "shown", [{}, {"by": "owner", "keep_instances": True}], ids=["counts", "with-context"]
)
def test_engine_counts_equal_window_sql(database_url, shown):
    """Both ways the audit reads events: bare, and with owner, channel and account."""
    promise = Promise(
        "quote-24h", "Quote", "sales",
        {"quote.requested": Role.START, "quote.sent": Role.STOP}, 24 * H, WALL_CLOCK,
    )
    store = Store.open(database_url)
    store.ingest(random_events(seed=3))
    as_of = T0 + 200 * H
    query = AuditQuery(as_of_us=as_of, **shown)
    result = run_audit(_Config(promise), store, query)  # type: ignore[arg-type]
    tally = result.promises[0][1]
    raw = store.engine.raw_connection()
    style = "qmark" if store.dialect == "sqlite" else "pyformat"
    expected = counts(raw.cursor(), style, "quote.requested", "quote.sent", as_of, 24 * H)
    raw.close()
    store.close()
    assert (tally.met, tally.breached, tally.open) == expected
    assert sum(expected) > 100
