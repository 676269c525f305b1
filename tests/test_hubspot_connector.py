"""End to end: a HubSpot portal (FakeHubSpot), `qmon sync`, `qmon audit`.

What every connector must do (paging, cursors, deletes, retries, resume after a kill) is in the
shared conformance suite (tests/harness_hubspot.py); how the streams read in
test_hubspot_sync.py; the mappings in test_hubspot_mapping.py; `qmon sources check` in
test_hubspot_check.py. Here: the path from a portal's deals, quotes and tickets to compliance
figures, through the real command line and the real hubspot-api-client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text as sql

from qmon.config import load_config
from qmon.connectors.base import SourceAuthError
from qmon.connectors.hubspot.api import HubSpotApi
from qmon.connectors.hubspot.spec import HubSpotSourceSpec
from qmon.store import Store
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    # Pacing is tested in test_hubspot_sync.py (on a virtual clock); here it would only wait.
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        yield fake


PROMISES = {
    "promises": [
        {"id": "quote-24h", "title": "Quote within 24 hours", "phase": "sales",
         "start": "quote.requested", "stop": "quote.sent", "within": "24h"},
        {"id": "first-reply", "title": "First reply within 4 hours", "phase": "after-sales",
         "start": "case.opened", "stop": "case.first_response",
         "pause": "case.waiting_on_customer", "resume": "case.customer_replied",
         "within": "4h"},
    ]
}  # fmt: skip


def write_config(tmp_path: Path, sources: dict, mappings: dict | None = None) -> Path:
    path = tmp_path / "qmon.yaml"
    data = {"version": 1, "database": f"sqlite:///{tmp_path / 'qmon.db'}", **PROMISES,
            "sources": sources, **({"mappings": mappings} if mappings else {})}  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def portal(fake: FakeHubSpot, **settings: object) -> dict:
    return {"access_token": "${HUBSPOT_TOKEN}", "base_url": fake.base_url,
            "backoff_seconds": 0.01, "search_rate": 1000, **settings}  # fmt: skip


def env(fake: FakeHubSpot) -> dict[str, str]:
    return {"HUBSPOT_TOKEN": fake.access_token}


def seed(fake: FakeHubSpot) -> dict[str, str]:
    """Two deals asking for a quote (one answered in 1 h, one in 48 h) and three tickets (one
    answered in 1 h, one in 5 h of which 2 h waiting on the customer, one never answered)."""
    stages = lambda *entries: {"dealstage": [  # noqa: E731 (newest first, as HubSpot)
        {"value": v, "timestamp": at(m)} for v, m in reversed(entries)]}  # fmt: skip
    quick = fake.add(
        "deals",
        {"dealname": "on time"},
        created_at=at(0),
        updated_at=at(60),
        history=stages(("appointmentscheduled", 0), ("presentationscheduled", 10)),
    )
    slow = fake.add("deals", {"dealname": "late"}, created_at=at(0), updated_at=at(3000),
                    history=stages(("presentationscheduled", 20)))  # fmt: skip
    for deal, requested, sent in ((quick, 10, 70), (slow, 20, 20 + 48 * 60)):
        quote = fake.add("quotes", {}, created_at=at(requested + 5), updated_at=at(sent),
                         history={"hs_status": [
                             {"value": "APPROVAL_NOT_NEEDED", "timestamp": at(sent)},
                             {"value": "DRAFT", "timestamp": at(requested + 5)}]})  # fmt: skip
        fake.associate("quotes", quote, "deals", deal)
    answered = fake.add("tickets", {"first_agent_reply_date": at(60), "source_type": "EMAIL"},
                        created_at=at(0), updated_at=at(60))  # fmt: skip
    waited = fake.add("tickets", {"first_agent_reply_date": at(300), "source_type": "CHAT"},
                      created_at=at(0), updated_at=at(300),
                      history={"hs_pipeline_stage": [
                          {"value": "3", "timestamp": at(150)},
                          {"value": "2", "timestamp": at(30)},
                          {"value": "1", "timestamp": at(0)}]})  # fmt: skip
    silent = fake.add("tickets", {"hs_pipeline_stage": "1"}, created_at=at(0), updated_at=at(0))
    return {"quick": quick, "slow": slow, "answered": answered, "waited": waited,
            "silent": silent}  # fmt: skip


def audit(path: Path, fake: FakeHubSpot) -> dict[str, tuple[int, int, int]]:
    result = qmon("--config", path, "audit", "--as-of", "2026-11-06T00:00:00Z",
                  "--format", "json", env=env(fake))  # fmt: skip
    assert result.exit_code == 0, result.output
    return {
        p["id"]: (p["met"], p["breached"], p["open"]) for p in json.loads(result.stdout)["promises"]
    }


def test_sync_then_audit_shows_compliance_over_synced_data(tmp_path, fake):
    ids = seed(fake)
    path = write_config(
        tmp_path, {"hubspot": portal(fake)},
        {"hubspot": {"deal_stage_events": {"presentationscheduled": "quote.requested"}}},
    )  # fmt: skip
    result = qmon("--config", path, "sync", env=env(fake))
    assert result.exit_code == 0, result.output
    assert "hubspot: ok" in result.stdout
    # quote-24h: met in 1 h, breached in 48 h; first-reply: met in 1 h, met in 5 h minus the
    # 2 h wait, breached (never answered, 87 h by the as-of instant).
    assert audit(path, fake) == {"quote-24h": (1, 1, 0), "first-reply": (2, 1, 0)}

    config = load_config(path, environ=env(fake))
    store = Store.open(config.database_url)
    with store.engine.connect() as conn:
        rows = conn.execute(sql(
            "SELECT type, subject_id, channel, link FROM events WHERE record = :r ORDER BY type"
        ), {"r": f"tickets/{ids['waited']}"}).all()  # fmt: skip
    store.close()
    link = f"https://app.hubspot.com/contacts/62515/record/0-5/{ids['waited']}"
    assert rows == [(t, ids["waited"], "chat", link) for t in (
        "case.customer_replied", "case.first_response", "case.opened",
        "case.waiting_on_customer")]  # fmt: skip

    # Again: nothing new. Then the silent ticket is deleted (archived) in HubSpot.
    result = qmon("--config", path, "sync", env=env(fake))
    assert result.exit_code == 0, result.output
    fake.archive("tickets", ids["silent"], archived_at=datetime.now(UTC))
    result = qmon("--config", path, "sync", env=env(fake))
    assert result.exit_code == 0, result.output
    assert audit(path, fake) == {"quote-24h": (1, 1, 0), "first-reply": (2, 0, 0)}


def test_two_portals_are_two_sources_with_their_own_events(tmp_path):
    with FakeHubSpot() as nl, FakeHubSpot() as be:
        be.portal_id = 4711
        nl.add("tickets", {}, created_at=at(0), updated_at=at(0))
        be.add("tickets", {}, created_at=at(0), updated_at=at(0))
        be.add("tickets", {}, created_at=at(1), updated_at=at(1))
        sources = {
            name: {"kind": "hubspot", "access_token": f.access_token, "base_url": f.base_url,
                   "objects": ["tickets"]}
            for name, f in (("hubspot-nl", nl), ("hubspot-be", be))
        }  # fmt: skip
        path = write_config(tmp_path, sources)
        result = qmon("--config", path, "sync")
        assert result.exit_code == 0, result.output
        store = Store.open(load_config(path).database_url)
        assert len(store.record_events("hubspot-nl")) == 1
        assert len(store.record_events("hubspot-be")) == 2
        with store.engine.connect() as conn:
            links = conn.execute(sql("SELECT link FROM events WHERE source = 'hubspot-be'"))
            assert all("/contacts/4711/record/0-5/" in link for (link,) in links)
        store.close()


def test_the_token_can_come_from_a_secret_file(tmp_path, fake):
    secret = tmp_path / "hubspot.token"
    secret.write_text(fake.access_token + "\n")
    path = write_config(tmp_path, {"hubspot": {"access_token_file": str(secret),
                                               "base_url": fake.base_url,
                                               "search_rate": 1000}})  # fmt: skip
    result = qmon("--config", path, "sources", "check")
    assert result.exit_code == 0, result.output
    assert "✓ access token: valid for portal 62515" in result.stdout
    assert "✓ feedback_submissions readable" in result.stdout
    assert fake.access_token not in result.output


def test_an_unreadable_token_file_is_a_clear_error(tmp_path):
    spec = HubSpotSourceSpec(access_token_file=tmp_path / "missing")
    with pytest.raises(SourceAuthError, match="cannot read access_token_file .*missing: No such"):
        HubSpotApi(spec)
