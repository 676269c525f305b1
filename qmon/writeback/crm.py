"""Which CRM record a subject is, what qmon's fields are called there, and who writes them.

A subject is the journey object a promise is about (`deal`, `case`, `account`...); its id is
the CRM record's id, as the connectors store it (docs/connectors). In HubSpot the object type
follows from the subject type; in Salesforce from the id's key prefix (006 Opportunity, 500
Case...), falling back on the subject type.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from qmon.config import QmonConfig
from qmon.config.writeback_spec import SourceWriteback
from qmon.writeback.protocol import Writer

HUBSPOT_OBJECTS: Mapping[str, str] = {
    "deal": "deals",
    "case": "tickets",
    "account": "companies",
    "contact": "contacts",
}
SALESFORCE_PREFIXES: Mapping[str, str] = {
    "006": "Opportunity",
    "500": "Case",
    "001": "Account",
    "0Q0": "Quote",
    "003": "Contact",
}
SALESFORCE_OBJECTS: Mapping[str, str] = {
    "deal": "Opportunity",
    "case": "Case",
    "account": "Account",
    "quote": "Quote",
    "contact": "Contact",
}
#: The objects `writeback.<source>.objects` may name, per kind.
OBJECTS: Mapping[str, tuple[str, ...]] = {
    "hubspot": tuple(HUBSPOT_OBJECTS.values()),
    "salesforce": tuple(SALESFORCE_OBJECTS.values()),
}
DEFAULT_FIELDS: Mapping[str, Mapping[str, str]] = {
    "hubspot": {
        "status": "qmon_status",
        "next_due": "qmon_next_due",
        "breaches": "qmon_breaches",
        "promise": "qmon_promise",
        "link": "qmon_link",
    },
    "salesforce": {
        "status": "Qmon_Status__c",
        "next_due": "Qmon_Next_Due__c",
        "breaches": "Qmon_Breaches__c",
        "promise": "Qmon_Promise__c",
        "link": "Qmon_Link__c",
    },
}
_WRITERS = {
    "hubspot": "qmon.connectors.hubspot.writer",
    "salesforce": "qmon.connectors.salesforce.writer",
}


def crm_object(kind: str, subject_type: str, subject_id: str) -> str | None:
    """The CRM object type of a subject in a source of `kind`, or None if it has none."""
    if kind == "hubspot":
        return HUBSPOT_OBJECTS.get(subject_type)
    return SALESFORCE_PREFIXES.get(subject_id[:3]) or SALESFORCE_OBJECTS.get(subject_type)


def field_names(kind: str, spec: SourceWriteback) -> dict[str, str]:
    """Canonical name -> the CRM field's API name, the defaults with the config's changes."""
    chosen = spec.fields.model_dump(exclude_none=True)
    return {**DEFAULT_FIELDS[kind], **chosen}


def targets(config: QmonConfig) -> dict[str, SourceWriteback]:
    """The sources qmon writes back to, by name (empty when `writeback:` is not set)."""
    return dict(config.extra.get("writeback") or {})


def writer(config: QmonConfig, source: str) -> Writer:
    """The writer of a configured writeback source (its CRM client is made at first use)."""
    source_config = config.sources[source]
    spec = targets(config)[source]
    module = importlib.import_module(_WRITERS[source_config.kind])
    made: Writer = module.make_writer(
        source_config, field_names(source_config.kind, spec), config.timezone
    )
    return made
