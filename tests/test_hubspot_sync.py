"""How the HubSpot streams read: keyset search, the 10,000 cap, archives, limits and failures.

Each test drives the real connector (and the real hubspot-api-client) against FakeHubSpot on
127.0.0.1, reads the streams directly and stores the pages as the sync does, or runs the sync
itself; what the fake saw (`request_log`) shows how the connector asked.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from qmon.config import load_config
from qmon.connectors.base import (
    Page,
    SourceAuthError,
    SourceLimitReached,
    SourceUnreachable,
    SyncError,
)
from qmon.connectors.hubspot import HubSpotConnector
from qmon.connectors.hubspot.api import MissingScopes
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec
from qmon.store import Store
from qmon.sync import run_sync
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    # Search pacing is tested on a virtual clock (below); elsewhere it would only wait.
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'qmon.db'}")
    yield store
    store.close()


class VirtualClock:
    """Monotonic seconds that only move when someone sleeps: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def connect(
    fake: FakeHubSpot, token: str | None = None, clock: VirtualClock | None = None, **settings: Any
) -> HubSpotConnector:
    settings = {"portal_id": 62515, "backoff_seconds": 0.01, "search_rate": 1000, **settings}
    spec = HubSpotSourceSpec(
        access_token=token or fake.access_token, base_url=fake.base_url, **settings
    )
    if clock is None:
        return HubSpotConnector("hubspot", spec, HubSpotMappingSpec())
    return HubSpotConnector("hubspot", spec, HubSpotMappingSpec(), clock=clock, sleep=clock.sleep)


def read(connector: HubSpotConnector, object_type: str, since_us: int | None = None) -> list[Page]:
    (stream,) = [s for s in connector.streams() if s.name == object_type]
    return list(stream.read(since_us))


def store_pages(store: Store, object_type: str, pages: list[Page]) -> None:
    for page in pages:
        store.apply_page("hubspot", object_type, page.changes, page.high_water_us)


def add_tickets(fake: FakeHubSpot, seconds: list[float]) -> list[str]:
    return [
        fake.add("tickets", {"hs_pipeline_stage": "1"}, created_at=at(s), updated_at=at(s))
        for s in seconds
    ]


def searches(fake: FakeHubSpot) -> list[Any]:
    return [r for r in fake.request_log if r.path.endswith("/search")]


def records_read(pages: list[Page]) -> list[str]:
    return [c.record for page in pages for c in page.changes if not c.deleted]


def stamp_us(fake: FakeHubSpot, object_type: str, record: str) -> int:
    return to_us(fake.get(object_type, record.split("/")[1]).updated_at)


# --- search by keyset -------------------------------------------------------------------------


def test_pages_come_oldest_first_and_records_at_a_page_edge_are_neither_skipped_nor_doubled(
    fake: FakeHubSpot,
) -> None:
    # Stamps shared across page edges (page_size 5): the page keeps the records before its
    # last stamp, and the next query starts at that stamp.
    ids = add_tickets(fake, [0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 7, 7, 7, 8, 9, 9])
    pages = read(connect(fake, page_size=5), "tickets")
    got = records_read(pages)
    assert sorted(got) == sorted(f"tickets/{i}" for i in ids) and len(got) == len(set(got))
    marks = [p.high_water_us for p in pages]
    assert marks == sorted(marks)
    for page in pages:  # a page's mark: every record modified before it has been delivered
        assert all(stamp_us(fake, "tickets", c.record) <= page.high_water_us for c in page.changes)
    bodies = [r.body for r in searches(fake)]
    assert all("after" not in body for body in bodies)  # never offset paging
    starts = [int(b["filterGroups"][0]["filters"][0]["value"]) for b in bodies]
    assert starts == sorted(starts) and bodies[0]["sorts"] == [
        {"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}
    ]


def test_more_records_at_one_stamp_than_a_page_are_walked_by_id(fake: FakeHubSpot) -> None:
    ids = add_tickets(fake, [0, 1] + [2] * 12 + [3, 4])
    pages = read(connect(fake, page_size=5), "tickets")
    got = records_read(pages)
    assert sorted(got) == sorted(f"tickets/{i}" for i in ids) and len(got) == len(set(got))
    walks = [r.body for r in searches(fake) if r.body["sorts"][0]["propertyName"] == "hs_object_id"]
    stamp_ms = to_us(at(2)) // 1000
    assert [f["filters"] for f in walks[0]["filterGroups"]] == [[
        {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(stamp_ms)},
        {"propertyName": "hs_object_id", "operator": "GT", "value": "0"},
    ]]  # fmt: skip
    assert len(walks) == 3  # 5 + 5 + 2 records at that stamp


def test_more_than_ten_thousand_records_are_read_in_time_slices(fake: FakeHubSpot) -> None:
    for n in range(10_050):
        moment = at(n)
        fake.add("notes", {"hs_timestamp": moment}, created_at=moment, updated_at=moment)
    pages = read(connect(fake, burst_limit=1000), "notes")
    got = records_read(pages)
    assert len(got) == len(set(got)) == 10_050
    assert all(r.status == 200 for r in fake.request_log)  # the fake refuses past 10,000
    assert all("after" not in r.body for r in searches(fake))
    assert len(searches(fake)) == 51  # 199 new records a page: one re-read at each edge


def test_more_than_ten_thousand_records_at_one_stamp_are_each_read_once(fake: FakeHubSpot) -> None:
    for n in (0, 1):
        fake.add("notes", {"hs_timestamp": at(n)}, created_at=at(n), updated_at=at(n))
    for _ in range(10_050):  # e.g. an import: one millisecond for all of them
        fake.add("notes", {"hs_timestamp": at(2)}, created_at=at(2), updated_at=at(2))
    fake.add("notes", {"hs_timestamp": at(3)}, created_at=at(3), updated_at=at(3))
    pages = read(connect(fake, burst_limit=1000), "notes")
    got = records_read(pages)
    assert len(got) == len(set(got)) == 10_053
    assert all(r.status == 200 for r in fake.request_log)
    assert all("after" not in r.body for r in searches(fake))


# --- cursors, incremental reads, archives -----------------------------------------------------


def write_config(tmp_path: Path, fake: FakeHubSpot, **source: Any) -> Path:
    path = tmp_path / "qmon.yaml"
    settings = {"access_token": fake.access_token, "base_url": fake.base_url,
                "portal_id": 62515, "backoff_seconds": 0.01, "search_rate": 1000,
                **source}  # fmt: skip
    data = {"version": 1, "database": f"sqlite:///{tmp_path / 'q.db'}",
            "sources": {"hubspot": settings}}  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_cursor_is_the_last_stamp_and_the_next_sync_reads_from_it_minus_the_lookback(
    tmp_path: Path, fake: FakeHubSpot
) -> None:
    ids = add_tickets(fake, [0, 60, 120, 600, 610])
    path = write_config(tmp_path, fake, objects=["tickets"], page_size=2, lookback="1m")
    config = load_config(path)
    store = Store.open(config.database_url)
    report = run_sync(config, store)
    assert report.ok and report.sources[0].total().counts.new == 5
    assert store.cursor("hubspot", "tickets") == to_us(at(610))

    fake.clear_request_log()
    report = run_sync(config, store)
    total = report.sources[0].total()
    assert (total.fetched, total.counts.unchanged) == (2, 2)  # only the last minute again
    first = searches(fake)[0].body["filterGroups"][0]["filters"][0]
    assert first == {"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                     "value": str(to_us(at(550)) // 1000)}  # fmt: skip

    fake.update("tickets", ids[0], {"hs_pipeline_stage": "2"}, updated_at=at(700))
    report = run_sync(config, store)
    total = report.sources[0].total()
    assert (total.counts.new, total.counts.updated) == (0, 1)
    assert store.cursor("hubspot", "tickets") == to_us(at(700))
    assert len(store.record_events("hubspot")[f"tickets/{ids[0]}"]) == 2  # opened, waiting
    store.close()


def test_archived_records_lose_their_events_and_the_listing_follows_paging_next_after(
    fake: FakeHubSpot, store: Store
) -> None:
    ids = add_tickets(fake, list(range(8)))
    connector = connect(fake, page_size=5)
    store_pages(store, "tickets", read(connector, "tickets"))
    assert len(store.record_events("hubspot")) == 8
    for object_id in ids[:6]:
        fake.archive("tickets", object_id, archived_at=at(3600))

    fake.clear_request_log()
    pages = read(connector, "tickets", since_us=to_us(at(0)))
    store_pages(store, "tickets", pages)
    assert set(store.record_events("hubspot")) == {f"tickets/{i}" for i in ids[6:]}
    deleted = [c.record for p in pages for c in p.changes if c.deleted]
    assert sorted(deleted) == sorted(f"tickets/{i}" for i in ids[:6])
    listed = [r for r in fake.request_log if r.method == "GET" and "archived" in r.query]
    assert [r.query.get("after") for r in listed] == [None, [ids[5]]]  # paging.next.after
    assert fake.request_log[0] is not None and listed[0] == fake.request_log[0]  # archives first


def test_only_records_archived_since_the_read_started_are_applied(fake: FakeHubSpot) -> None:
    old, recent, live = add_tickets(fake, [0, 0, 0])
    fake.archive("tickets", old, archived_at=at(60))
    fake.archive("tickets", recent, archived_at=at(7200))
    connector = connect(fake)
    deleted = lambda pages: [c.record for p in pages for c in p.changes if c.deleted]  # noqa: E731
    assert deleted(read(connector, "tickets", since_us=to_us(at(3600)))) == [f"tickets/{recent}"]
    assert sorted(deleted(read(connector, "tickets"))) == sorted(
        [f"tickets/{old}", f"tickets/{recent}"]
    )  # a full read applies every archive
    assert records_read(read(connector, "tickets")) == [f"tickets/{live}"]


# --- limits and failures --------------------------------------------------------------------


def test_429_waits_for_retry_after_and_5xx_are_retried_for_every_kind_of_call(
    fake: FakeHubSpot,
) -> None:
    ticket = add_tickets(fake, [0])[0]
    email = fake.add("emails", {"hs_timestamp": at(1), "hs_email_direction": "EMAIL"},
                     created_at=at(1), updated_at=at(1))  # fmt: skip
    fake.associate("emails", email, "tickets", ticket)
    fake.fail_next(1, 500, path="archived=True")
    fake.fail_next(1, 429, retry_after=7, path="/search")
    fake.fail_next(2, 503, path="/search")
    fake.fail_next(1, 502, path="/crm/v4/associations/")
    fake.fail_next(1, 503, retry_after=3, path="/crm/v4/associations/")
    clock = VirtualClock()
    connector = connect(fake, clock=clock, retries=2, backoff_seconds=0.5)
    pages = read(connector, "emails")
    (event,) = [e for p in pages for c in p.changes for e in c.events]
    assert (event.type, event.subject_id) == ("email.sent", ticket)
    assert [r.status for r in fake.request_log] == [
        500, 200,  # list archived: backoff 0.5 s
        429, 503, 503, 200,  # search: Retry-After 7 s, then backoff 0.5 s, 1 s
        502, 503, 200,  # associations to tickets: backoff 0.5 s, then its Retry-After 3 s
        200,  # associations to deals
    ]  # fmt: skip
    assert clock.sleeps == [0.5, 7, 0.5, 1.0, 0.5, 3]
    assert connector.usage().calls == 10


@pytest.mark.parametrize(
    "path", ["/search", "/crm/v4/associations/", "/batch/read", "archived=True"]
)
def test_persistent_server_errors_stop_with_source_unreachable(fake: FakeHubSpot, path) -> None:
    deal = fake.add("deals", {"dealstage": "qualifiedtobuy"}, created_at=at(0), updated_at=at(0))
    quote = fake.add("quotes", {"hs_status": "DRAFT"}, created_at=at(1), updated_at=at(1))
    fake.associate("quotes", quote, "deals", deal)
    fake.fail_next(3, 503, path=path)
    with pytest.raises(SourceUnreachable, match=r"HubSpot answered HTTP 503 to .*, also after 2 "
                       r"retries; try again later"):  # fmt: skip
        read(connect(fake, retries=2), "quotes")


def test_a_long_retry_after_stops_the_sync_cleanly(tmp_path: Path, fake: FakeHubSpot) -> None:
    add_tickets(fake, [0])
    path = write_config(tmp_path, fake, objects=["tickets"], max_wait_seconds=60)
    fake.fail_next(1, 429, retry_after=3600)
    result = qmon("--config", path, "sync")
    assert result.exit_code == 3
    assert "hubspot: stopped at the API limit" in result.stdout
    assert "HubSpot asks to wait 3600 s, longer than max_wait_seconds (60 s)" in result.stderr


def test_a_long_retry_after_on_a_5xx_is_not_waited_for_but_a_long_backoff_is_capped(
    fake: FakeHubSpot,
) -> None:
    add_tickets(fake, [0])
    fake.fail_next(1, 503, retry_after=900)
    with pytest.raises(SourceUnreachable, match="HubSpot asks to wait 900 s, longer than "
                       "max_wait_seconds \\(60 s\\)"):  # fmt: skip
        read(connect(fake, max_wait_seconds=60), "tickets")
    fake.fail_next(3, 502)
    clock = VirtualClock()
    read(connect(fake, clock=clock, backoff_seconds=40, max_wait_seconds=60), "tickets")
    assert clock.sleeps == [40, 60, 60]


def test_the_daily_limit_is_reported_and_stops_the_sync_when_used_up(fake: FakeHubSpot) -> None:
    fake.daily_limit = 1000
    add_tickets(fake, [0, 1, 2])
    connector = connect(fake)
    read(connector, "tickets")
    usage = connector.usage()
    # list archived, search, batch read: the search answer carries no daily headers.
    assert (usage.calls, usage.limit, usage.remaining) == (3, 1000, 997)
    fake.daily_limit = 3
    with pytest.raises(SourceLimitReached, match="HubSpot's daily API limit is used up"):
        read(connector, "tickets")


def test_search_is_paced_at_five_a_second_and_other_calls_at_the_burst_limit() -> None:
    clock = VirtualClock()  # shared by the fake's limiter and the client's pacing
    with FakeHubSpot(general_rate_limit=100, clock=clock) as fake:
        add_tickets(fake, list(range(30)))
        connector = connect(fake, clock=clock, page_size=2, search_rate=5)
        pages = read(connector, "tickets")
        assert len(records_read(pages)) == 30
        assert fake.rate_limited_count == 0  # the client kept under both limits by itself
        assert len(searches(fake)) == 30  # one record a page is read again at its edge
        assert clock.sleeps and clock.now - 1000 == pytest.approx(5.0)  # 30 searches: 6 s
        fake.fail_next(1, 429, retry_after=2)
        assert len(records_read(read(connector, "tickets"))) == 30
        assert fake.rate_limited_count == 1 and 2 in clock.sleeps


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        spec = HubSpotSourceSpec(access_token="pat-na1-x", base_url=
                                 f"http://127.0.0.1:{silent.getsockname()[1]}",
                                 portal_id=1, timeout_seconds=0.5, retries=0)  # fmt: skip
        connector = HubSpotConnector("hubspot", spec, HubSpotMappingSpec())
        with pytest.raises(SourceUnreachable, match="ReadTimeoutError, also after 0 retries"):
            read(connector, "tickets")


# --- tokens and secrets ---------------------------------------------------------------------

SECRET = "pat-eu1-11111111-2222-4333-8444-555555555555"


def failures(fake: FakeHubSpot) -> Iterator[SyncError]:
    """One error of each kind the connector raises, each with the client's exception behind."""
    add_tickets(fake, [0])
    fake.add_token(SECRET)
    attempts = [
        (lambda: fake.revoke_token(SECRET), SourceAuthError),  # 401
        (lambda: setattr(fake, "granted_scopes", set()), MissingScopes),  # 403
        (lambda: fake.fail_next(5, 503), SourceUnreachable),  # 5xx
        (lambda: fake.fail_next(1, 429, retry_after=999), SourceLimitReached),
    ]
    for arrange, kind in attempts:
        fake.add_token(SECRET)
        fake.granted_scopes = None
        fake.clear_faults()
        arrange()
        with pytest.raises(kind) as caught:
            read(connect(fake, token=SECRET, retries=1, max_wait_seconds=10), "tickets")
        yield caught.value
    # A 400: the API rejects the request (here an object type the fake does not know).
    spec = HubSpotSourceSpec(access_token=SECRET, base_url=fake.base_url)
    fake.add_token(SECRET)
    from qmon.connectors.hubspot.api import HubSpotApi

    with pytest.raises(SyncError) as caught:
        HubSpotApi(spec).search("contacts", {"limit": 1})
    yield caught.value


def test_errors_never_show_the_token_or_the_clients_exception(fake: FakeHubSpot) -> None:
    messages = []
    for error in failures(fake):
        shown = "".join(traceback.format_exception(error))
        assert SECRET not in shown and SECRET not in repr(error.args)
        assert "HTTP response headers" not in shown and "ApiException" not in shown
        messages.append(str(error))
    assert messages[0].startswith("HubSpot refused the access token (HTTP 401)")
    assert "the private app lacks tickets" in messages[1]
    assert messages[4] == (
        "HubSpot rejected search contacts (HTTP 400): Unable to infer object type from: contacts"
    )


def test_a_refused_token_fails_sync_and_check_without_showing_it(
    tmp_path: Path, fake: FakeHubSpot
) -> None:
    path = write_config(tmp_path, fake, objects=["deals"], access_token="${HUBSPOT_TOKEN}")
    result = qmon("--config", path, "sync", "--verbose", env={"HUBSPOT_TOKEN": SECRET})
    assert result.exit_code == 3
    assert "HubSpot refused the access token (HTTP 401)" in result.stderr
    assert SECRET not in result.output
    result = qmon("--config", path, "sources", "check", env={"HUBSPOT_TOKEN": SECRET})
    assert result.exit_code == 3 and "✗ access token: HubSpot refused" in result.stdout
    assert SECRET not in result.output


def test_the_verbose_log_tells_each_call_and_page_but_not_the_token(
    tmp_path: Path, fake: FakeHubSpot, caplog: pytest.LogCaptureFixture
) -> None:
    add_tickets(fake, [0, 1, 2])
    path = write_config(tmp_path, fake, objects=["tickets"], access_token="${HUBSPOT_TOKEN}")
    caplog.set_level(logging.DEBUG)  # what --verbose shows, and more (urllib3's own lines)
    result = qmon("--config", path, "sync", "--verbose", env={"HUBSPOT_TOKEN": fake.access_token})
    assert result.exit_code == 0, result.output
    assert "HubSpot search tickets: HTTP 200" in caplog.text
    assert "HubSpot tickets: 3 records from search" in caplog.text
    assert fake.access_token not in caplog.text + result.output
