"""Alerts about the data itself: a CRM source that stopped syncing, and its recovery.

A promise measured on stale data looks kept while work piles up unseen, so a source whose
last complete sync (every stream of it) is older than three sync intervals is alerted once,
and once more when it syncs again. Each staleness episode is keyed by the last good sync it
started from, so a source that fails again later is alerted again.

While it is stale, the promises fed only by stale sources are "not evaluated", never "kept"
(`stale_promises`): `qmon check` raises no instance alerts for them and `qmon status` lists them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from qmon.config import QmonConfig
from qmon.store import Store
from qmon.textsafe import slack_escape

STALE_AFTER_INTERVALS = 3

WORDS = {
    "en": {
        "stale": ":warning: Source {name} has not synced since {since}; promises fed by it "
        "are not evaluated on current data",
        "never": ":warning: Source {name} has never synced completely; run `qmon sync`",
        "recovered": ":white_check_mark: Source {name} syncs again",
    },
    "nl": {
        "stale": ":warning: Bron {name} is niet meer gesynchroniseerd sinds {since}; beloftes "
        "die ervan afhangen worden niet op actuele gegevens beoordeeld",
        "never": ":warning: Bron {name} is nog nooit volledig gesynchroniseerd; draai `qmon sync`",
        "recovered": ":white_check_mark: Bron {name} synchroniseert weer",
    },
}


@dataclass(frozen=True)
class SourceAlert:
    source: str
    kind: str  # stale | recovered
    since_us: int  # the last complete sync the episode started from (0: never)
    text: str

    @property
    def key(self) -> dict[str, object]:
        return {"p": f"source:{self.source}", "t": "source", "i": self.source,
                "s": self.since_us, "k": self.kind}  # fmt: skip


def last_complete_syncs(config: QmonConfig, store: Store) -> dict[str, int | None]:
    """For each configured source, when all its streams last completed (None: never)."""
    synced: dict[str, list[int | None]] = {}
    for cursor in store.sync_state():
        synced.setdefault(cursor.source, []).append(cursor.synced_us)
    found: dict[str, int | None] = {}
    for name in config.sources:
        times = synced.get(name) or [None]
        found[name] = None if None in times else min(t for t in times if t is not None)
    return found


def is_stale(config: QmonConfig, last_us: int | None, as_of_us: int) -> bool:
    """Never completely synced, or last completely synced more than STALE_AFTER_INTERVALS sync
    intervals (`schedule.sync`, default 15 minutes) before `as_of_us`."""
    interval = config.schedule.sync
    return last_us is None or as_of_us - last_us > STALE_AFTER_INTERVALS * interval


def stale_promises(config: QmonConfig, store: Store, as_of_us: int) -> dict[str, list[str]]:
    """Promise id -> the stale sources feeding it, for each promise all of whose events (of its
    types) come from stale configured sources. A promise with no events, or with events from a
    source that is not configured (file imports), is not in it. Without a stale source this
    reads only the sync cursors; with one, the small `event_sources` table, not the events."""
    stale = {
        name
        for name, last in last_complete_syncs(config, store).items()
        if is_stale(config, last, as_of_us)
    }
    types = sorted({t for p in config.promises for t in p.types()})
    if not stale or not types:
        return {}
    query = text("SELECT type, source FROM event_sources WHERE type IN :types").bindparams(
        bindparam("types", expanding=True)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query, {"types": types}).all()
    sources_of: dict[str, set[str]] = {}
    for type_, source in rows:
        sources_of.setdefault(type_, set()).add(source)
    found: dict[str, list[str]] = {}
    for promise in config.promises:
        feeding = set().union(*(sources_of.get(t, set()) for t in promise.types()))
        if feeding and feeding <= stale:
            found[promise.id] = sorted(feeding)
    return found


def source_alerts(
    config: QmonConfig, store: Store, conn: Connection, as_of_us: int, language: str
) -> Iterator[SourceAlert]:
    """Stale sources, and sources that recovered from an alerted staleness."""
    words = WORDS[language]
    for name, last in last_complete_syncs(config, store).items():
        if is_stale(config, last, as_of_us):
            since = datetime.fromtimestamp((last or 0) / 1e6, tz=config.timezone)
            template = words["never"] if last is None else words["stale"]
            text_ = template.format(name=slack_escape(name), since=since.strftime("%Y-%m-%d %H:%M"))
            yield SourceAlert(name, "stale", last or 0, text_)
            continue
        episodes = conn.execute(
            text(
                "SELECT started_us FROM alerts AS s WHERE s.subject_type = 'source'"
                " AND s.subject_id = :n AND s.kind = 'stale' AND NOT EXISTS (SELECT 1 FROM"
                " alerts AS r WHERE r.subject_type = 'source' AND r.subject_id = :n"
                " AND r.kind = 'recovered' AND r.started_us = s.started_us)"
            ),
            {"n": name},
        ).scalars()
        for since_us in episodes:
            recovered = words["recovered"].format(name=slack_escape(name))
            yield SourceAlert(name, "recovered", since_us, recovered)
