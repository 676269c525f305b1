"""Salesforce fields as attributes with their field history: `qmon sync` against
FakeSalesforce through simple-salesforce, the stored events read back from the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from qmon.connectors.salesforce.spec import SalesforceMappingSpec, provided_attributes
from qmon.store import Store
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.salesforce import FakeSalesforce
from tests.test_salesforce_connector import ENV, write_config

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ms(minutes: float) -> int:
    return to_us(at(minutes)) // 1000


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as fake:
        yield fake


def stored(tmp_path: Path) -> list[tuple[str, str, float, dict]]:
    store = Store.open(f"sqlite:///{tmp_path / 'qmon.db'}")
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT event_id, type, occurred_us, attributes FROM events "
                "WHERE type IN ('case.opened', 'case.changed', 'deal.created', 'deal.changed') "
                "ORDER BY event_id"
            )).all()  # fmt: skip
    finally:
        store.close()
    return [(i, t, (o - to_us(T0)) / 60e6, json.loads(a) if a else {}) for i, t, o, a in rows]


def history(fake: FakeSalesforce, sobject: str, parent: str, record: str, field: str,
            old: str | None, new: str | None, minute: float) -> str:  # fmt: skip
    return fake.add_record(sobject, {parent: record, "Field": field, "OldValue": old,
                                     "NewValue": new, "CreatedDate": at(minute)})  # fmt: skip


def sync(path: Path) -> None:
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 0, result.output


def test_case_and_opportunity_attributes_with_their_history(tmp_path, fake) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    case = fake.add_record("Case", {"CreatedDate": at(0), "SystemModstamp": now,
                                    "Priority": "High", "Origin": "Phone"})  # fmt: skip
    history(fake, "CaseHistory", "CaseId", case, "Priority", "Low", "Medium", 30)
    gone = history(fake, "CaseHistory", "CaseId", case, "Priority", "Medium", "High", 90)
    history(fake, "CaseHistory", "CaseId", case, "Status", "New", "Working", 90)  # not mapped
    fake.add_field("Opportunity", "RecordTypeId", "reference")
    fake.add_field("Opportunity", "Promised_Date__c", "date")
    projects = fake.add_record("RecordType", {"Name": "Projects", "DeveloperName": "Projects",
                                              "SobjectType": "Opportunity"})  # fmt: skip
    opp = fake.add_record("Opportunity", {"CreatedDate": at(0), "SystemModstamp": now,
                                          "StageName": "Prospecting", "RecordTypeId": projects,
                                          "Promised_Date__c": "2026-12-01"})  # fmt: skip
    path = write_config(tmp_path, fake, objects=["Opportunity", "Case"], extra=(
        "mappings:\n  salesforce:\n    attributes: {promised_date: Opportunity.Promised_Date__c}\n"
    ))  # fmt: skip
    sync(path)
    assert stored(tmp_path) == [
        (f"Case/{case}/changed@{ms(30)}", "case.changed", 30, {"priority": "Medium"}),
        (f"Case/{case}/changed@{ms(90)}", "case.changed", 90, {"priority": "High"}),
        (f"Case/{case}/opened", "case.opened", 0, {"priority": "Low", "origin": "Phone"}),
        (f"Opportunity/{opp}/created", "deal.created", 0,
         {"record_type": "Projects", "promised_date": "2026-12-01"}),
    ]  # Case.Type and Opportunity.Type never set: no value; untracked fields hold since creation

    sync(path)  # read again: the same events, no duplicates
    assert len(stored(tmp_path)) == 4

    # A removed history row loses its event when the case is read again.
    fake.delete_record("CaseHistory", gone)
    fake.update_record("Case", case, {"SystemModstamp": datetime.now(UTC)})
    sync(path)
    assert [e[0] for e in stored(tmp_path)][:2] == [f"Case/{case}/changed@{ms(30)}",
                                                     f"Case/{case}/opened"]  # fmt: skip


def test_fields_need_their_object_and_names_are_checked(tmp_path, fake) -> None:
    path = write_config(tmp_path, fake, extra=(
        "mappings:\n  salesforce:\n    attributes:\n      tier: Tier__c\n"
        "      type: Case.Type\n      size: Account.Size__c\n"
    ))  # fmt: skip
    result = qmon("--config", path, "promises", "validate", env=ENV)
    assert result.exit_code == 2
    for line in (
        f"{path}:16: 'Tier__c' needs its object: write Case.Tier__c or Opportunity.Tier__c",
        f"{path}:17: attribute name 'type' is an event field qmon sets itself; choose another "
        "name",
        f"{path}:18: 'Account.Size__c': attributes are read from Case and Opportunity fields",
    ):
        assert line in result.stderr, result.stderr


def test_provided_attributes_are_the_defaults_and_the_mapping() -> None:
    assert provided_attributes(SalesforceMappingSpec()) == {
        "priority", "case_type", "origin", "deal_type", "record_type"}
    mapping = SalesforceMappingSpec(attributes={"tier": "Case.Tier__c", "origin": None})
    assert provided_attributes(mapping) == {"priority", "case_type", "deal_type", "record_type",
                                            "tier"}  # fmt: skip
