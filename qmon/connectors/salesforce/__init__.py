"""Salesforce: opportunities, stage history, quotes, cases, case history, responses, tasks and
events, synced incrementally with queryAll.

Configuration, login methods and default mappings: docs/connectors/salesforce.md.
"""

from qmon.connectors.registry import SourceKind
from qmon.connectors.salesforce.connector import SalesforceConnector, connect
from qmon.connectors.salesforce.spec import (
    SalesforceMappingSpec,
    SalesforceSourceSpec,
    provided_attributes,
)

KIND = SourceKind(
    "salesforce", SalesforceSourceSpec, SalesforceMappingSpec, connect, provided_attributes
)

__all__ = ["KIND", "SalesforceConnector", "SalesforceMappingSpec", "SalesforceSourceSpec"]
