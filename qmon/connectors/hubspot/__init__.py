"""HubSpot: deals, tickets, quotes, engagements and survey responses, synced incrementally.

Configuration and default mappings: docs/connectors/hubspot.md.
"""

from qmon.connectors.hubspot.connector import HubSpotConnector, connect
from qmon.connectors.hubspot.spec import (
    HubSpotMappingSpec,
    HubSpotSourceSpec,
    provided_attributes,
)
from qmon.connectors.registry import SourceKind

KIND = SourceKind(
    "hubspot", HubSpotSourceSpec, HubSpotMappingSpec, connect, provided_attributes
)

__all__ = ["KIND", "HubSpotConnector", "HubSpotMappingSpec", "HubSpotSourceSpec"]
