"""HubSpot properties as attributes with their history: the mapping (tables), the config's
validation (`qmon promises validate`), and `qmon sync` against FakeHubSpot with the real
hubspot-api-client, the stored events read back from the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from qmon.connectors.hubspot.mapping import HubSpotMapper
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, provided_attributes
from qmon.store import Store
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


def ms(minutes: float) -> int:
    return to_us(at(minutes)) // 1000


def ticket(props: dict[str, Any], history: dict[str, list[tuple[str, float]]]) -> dict[str, Any]:
    """A ticket as batch read returns it; `history` lists (value, minute) oldest first."""
    return {
        "id": "9", "createdAt": iso(0), "updatedAt": iso(0), "archived": False,
        "properties": {"hs_object_id": "9", "createdate": iso(0), **props},
        "propertiesWithHistory": {
            name: [{"value": v, "timestamp": iso(m), "sourceType": "CRM_UI"}
                   for v, m in reversed(entries)]
            for name, entries in history.items()
        },
    }  # fmt: skip


def attribute_events(record: dict[str, Any], **mapping: Any) -> list[tuple[str, str, float, dict]]:
    mapper = HubSpotMapper("hubspot", HubSpotMappingSpec(**mapping), None)
    return [
        (e.id, e.type, (e.occurred_us - to_us(T0)) / 60e6, e.attributes)
        for e in mapper.events("tickets", record, {})
        if e.type in ("case.opened", "case.changed")
    ]


@pytest.mark.parametrize(
    "props, history, mapping, expected",
    [
        pytest.param(
            {"hs_ticket_priority": "URGENT"},
            {"hs_ticket_priority": [("LOW", 0), ("HIGH", 30), ("URGENT", 90)]}, {},
            [("tickets/9/opened", "case.opened", 0, {"priority": "LOW"}),
             (f"tickets/9/changed@{ms(30)}", "case.changed", 30, {"priority": "HIGH"}),
             (f"tickets/9/changed@{ms(90)}", "case.changed", 90, {"priority": "URGENT"})],
            id="changed twice"),
        pytest.param({}, {}, {}, [("tickets/9/opened", "case.opened", 0, {})],
                     id="never set: carries nothing"),
        pytest.param(
            {"hs_ticket_priority": "HIGH"}, {"hs_ticket_priority": [("HIGH", 20)]}, {},
            [("tickets/9/opened", "case.opened", 0, {}),
             (f"tickets/9/changed@{ms(20)}", "case.changed", 20, {"priority": "HIGH"})],
            id="set after creation"),
        pytest.param(
            {"hs_ticket_priority": "LOW"},
            {"hs_ticket_priority": [("HIGH", 0), ("", 10), ("HIGH", 20), ("LOW", 30)]}, {},
            [("tickets/9/opened", "case.opened", 0, {"priority": "HIGH"}),
             (f"tickets/9/changed@{ms(30)}", "case.changed", 30, {"priority": "LOW"})],
            id="cleared is skipped, a repeat makes no event"),
        pytest.param(
            {"hs_ticket_priority": "HIGH", "hs_pipeline": "0"},
            {"hs_ticket_priority": [("LOW", 0), ("HIGH", 45)],
             "hs_pipeline": [("0", 0), ("0", 45)]},
            {},
            [("tickets/9/opened", "case.opened", 0, {"priority": "LOW", "pipeline": "0"}),
             (f"tickets/9/changed@{ms(45)}", "case.changed", 45, {"priority": "HIGH"})],
            id="pipeline by default; changes at one instant are one event"),
        pytest.param(
            {"hs_ticket_priority": "HIGH", "segment": "smb"},
            {"hs_ticket_priority": [("HIGH", 0)], "segment": [("smb", 0), ("", 5)]},
            {"attributes": {"pipeline": None, "segment": "segment",
                            "urgency": "ticket.hs_ticket_priority"}},
            [("tickets/9/opened", "case.opened", 0,
              {"priority": "HIGH", "urgency": "HIGH", "segment": "smb"})],
            id="mapped: added to the defaults, null drops one, two names for one property"),
        pytest.param(
            {"hs_ticket_priority": "HIGH"}, {"hs_ticket_priority": [("HIGH", 0)]},
            {"rename": {"case.opened": None}},
            [(f"tickets/9/changed@{ms(0)}", "case.changed", 0, {"priority": "HIGH"})],
            id="creation event dropped: the initial values on a change at creation"),
    ],
)  # fmt: skip
def test_attribute_history_becomes_events(props, history, mapping, expected) -> None:
    assert attribute_events(ticket(props, history), **mapping) == expected


def test_without_a_history_the_current_value_holds_since_creation() -> None:
    record = ticket({"hs_ticket_priority": "MEDIUM"}, {})
    del record["propertiesWithHistory"]
    assert attribute_events(record) == [("tickets/9/opened", "case.opened", 0,
                                         {"priority": "MEDIUM"})]  # fmt: skip


def test_provided_attributes_are_the_defaults_and_the_mapping() -> None:
    assert provided_attributes(HubSpotMappingSpec()) == {"priority", "pipeline"}
    mapping = HubSpotMappingSpec(attributes={"tier": "company.customer_tier", "pipeline": None})
    assert provided_attributes(mapping) == {"priority", "tier"}


def test_unqualified_properties_are_read_on_deals_and_tickets_with_history() -> None:
    mapping = HubSpotMappingSpec(attributes={"segment": "segment", "tier": "company.tier"})
    mapper = HubSpotMapper("hubspot", mapping, None)
    assert mapper.history("deals") == ["dealstage", "pipeline", "segment"]
    assert mapper.history("tickets") == ["hs_pipeline_stage", "hs_ticket_priority",
                                         "hs_pipeline", "segment"]  # fmt: skip
    assert mapper.history("companies") == ["tier"] and mapper.reads_companies()
    assert "segment" in mapper.properties("deals")
    assert not HubSpotMapper("hubspot", HubSpotMappingSpec(), None).reads_companies()


def test_attribute_settings_are_validated_with_located_messages(tmp_path: Path) -> None:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        "version: 1\n"
        "sources:\n"
        "  hubspot: {access_token: x}\n"
        "mappings:\n"
        "  hubspot:\n"
        "    attributes:\n"
        "      tier: compny.customer_tier\n"
        "      Promised: deal.promised_date\n"
        "      owner: hubspot_owner_id\n"
        "      size: deal.Amount\n"
        "      empty: []\n"
    )
    result = qmon("--config", path, "promises", "validate")
    assert result.exit_code == 2
    for line in (
        f"{path}:7: 'compny.customer_tier': 'compny' is not an object attributes are read from "
        "(did you mean 'company'?); write deal.<property>, ticket.<property>, "
        "company.<property>, or <property> for deals and tickets",
        f"{path}:8: attribute name 'Promised' must be a lowercase word like 'priority' or "
        "'promised_date' (letters, digits and _)",
        f"{path}:9: attribute name 'owner' is an event field qmon sets itself; choose another "
        "name",
        f"{path}:10: 'deal.Amount' is not a HubSpot property's internal name like "
        "hs_ticket_priority (lowercase letters, digits and _; see Settings > Properties > the "
        "property's internal name)",
    ):
        assert line in result.stderr, result.stderr
    empty = f"{path}:11: an empty list names no property; write null to drop the attribute"
    assert empty in result.stderr
    assert "Traceback" not in result.stderr


# --- qmon sync against the fake ---------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        yield fake


def write_config(tmp_path: Path, fake: FakeHubSpot, objects: list[str],
                 attributes: dict[str, Any]) -> Path:  # fmt: skip
    path = tmp_path / "qmon.yaml"
    source = {"access_token": fake.access_token, "base_url": fake.base_url, "portal_id": 62515,
              "backoff_seconds": 0.01, "search_rate": 1000, "objects": objects}  # fmt: skip
    data = {"version": 1, "database": f"sqlite:///{tmp_path / 'q.db'}",
            "sources": {"hubspot": source},
            "mappings": {"hubspot": {"attributes": attributes}}}  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def stored(tmp_path: Path) -> list[tuple[str, str, str, int, dict[str, Any]]]:
    """(event id, type, subject, minute, attributes) of every stored event carrying some."""
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT event_id, type, subject_type, subject_id, occurred_us, attributes "
                "FROM events WHERE source = 'hubspot' ORDER BY event_id"
            )).all()  # fmt: skip
    finally:
        store.close()
    return [
        (event_id, kind, f"{subject_type}/{subject_id}",
         round((occurred - to_us(T0)) / 60e6), json.loads(attrs) if attrs else {})
        for event_id, kind, subject_type, subject_id, occurred, attrs in rows
    ]  # fmt: skip


def sync(path: Path) -> None:
    result = qmon("--config", path, "sync")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_sync_stores_attribute_changes_and_a_reread_replaces_them(
    tmp_path: Path, fake: FakeHubSpot
) -> None:
    deal = fake.add("deals", {"dealstage": "appointmentscheduled", "pipeline": "default",
                              "promised_delivery_date": "2026-12-01"},
                    created_at=at(0), updated_at=at(0))  # fmt: skip
    fake.update("deals", deal, {"promised_delivery_date": "2026-12-15"}, updated_at=at(60))
    fake.update("deals", deal, {"promised_delivery_date": "2026-12-20"}, updated_at=at(120))
    company = fake.add("companies", {"name": "Acme"}, created_at=at(0), updated_at=at(0))
    fake.update("companies", company, {"customer_tier": "key"}, updated_at=at(30))
    path = write_config(tmp_path, fake, ["deals"], {
        "tier": "company.customer_tier", "promised_date": "deal.promised_delivery_date"})
    sync(path)
    attributes = [e for e in stored(tmp_path) if e[1] != "deal.stage_changed"]
    assert attributes == [
        (f"companies/{company}/changed@{ms(30)}", "account.changed", f"account/{company}", 30,
         {"tier": "key"}),
        (f"deals/{deal}/changed@{ms(60)}", "deal.changed", f"deal/{deal}", 60,
         {"promised_date": "2026-12-15"}),
        (f"deals/{deal}/changed@{ms(120)}", "deal.changed", f"deal/{deal}", 120,
         {"promised_date": "2026-12-20"}),
        (f"deals/{deal}/created", "deal.created", f"deal/{deal}", 0,
         {"pipeline": "default", "promised_date": "2026-12-01"}),
    ]  # the company was created without a tier: no value at its creation

    # Read again (unchanged, then changed): the record's events are replaced as a set.
    sync(path)
    fake.update("deals", deal, {"pipeline": "projects"}, updated_at=at(180))
    sync(path)
    ids = [e[0] for e in stored(tmp_path) if e[1] == "deal.changed"]
    assert ids == [f"deals/{deal}/changed@{ms(m)}" for m in (60, 120, 180)]

    # A history entry that is gone (HubSpot drops a deleted property's history) loses its event.
    fake.forget_history("deals", deal, "promised_delivery_date", 1, updated_at=at(200))
    sync(path)
    ids = [e[0] for e in stored(tmp_path) if e[1] == "deal.changed"]
    assert ids == [f"deals/{deal}/changed@{ms(m)}" for m in (120, 180)]


def test_sources_check_names_the_companies_scope(tmp_path: Path, fake: FakeHubSpot) -> None:
    fake.add("deals", {"dealstage": "x"}, created_at=at(0), updated_at=at(0))
    fake.granted_scopes = {"crm.objects.deals.read"}
    path = write_config(tmp_path, fake, ["deals"], {"tier": "company.customer_tier"})
    result = qmon("--config", path, "sources", "check")
    assert result.exit_code == 3
    assert "deals property history readable" in result.stdout
    assert ("companies readable: the private app lacks the scope crm.objects.companies.read: "
            "add it under Settings > Integrations > Private apps > your app > Scopes"
            in " ".join(result.stdout.split())), result.stdout  # fmt: skip
