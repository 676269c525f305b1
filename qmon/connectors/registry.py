"""The kinds of CRM source qmon can sync, and how a config entry becomes a connector.

Each CRM lives in its own package (`qmon.connectors.salesforce`, `qmon.connectors.hubspot`)
and describes itself with one `SourceKind`: the pydantic models for its `sources.<name>` and
`mappings.<name>` entries, and the function that builds a connector from them. The config
loader validates entries with these models (so a typo in a Salesforce setting is reported
like any other, with file, line and "did you mean"); the sync builds connectors through them.
Packages are imported only when a config uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from qmon.connectors.base import Connector

#: kind -> module that defines `KIND`.
_MODULES: dict[str, str] = {
    "salesforce": "qmon.connectors.salesforce",
    "hubspot": "qmon.connectors.hubspot",
}

KIND_NAMES: tuple[str, ...] = tuple(_MODULES)


@dataclass(frozen=True)
class SourceKind:
    """What a CRM package tells the rest of qmon about itself.

    Attributes:
        name: the kind, as written in `kind:` (or used as the source's name).
        source_spec: strict pydantic model of a `sources.<name>` entry (without `kind`).
        mapping_spec: strict pydantic model of a `mappings.<name>` entry; every field has a
            default, so `mapping_spec()` is the default mapping.
        connect: builds the connector from a source name and its validated `sources` and
            `mappings` entries.
        provided_attributes: the attribute names a source with a validated mapping stores
            (for `qmon promises validate`'s warning about a `when` that nothing maps).
    """

    name: str
    source_spec: type[BaseModel]
    mapping_spec: type[BaseModel]
    connect: Callable[[str, Any, Any], Connector]
    provided_attributes: Callable[[Any], set[str]] = lambda _mapping: set()


def source_kind(kind: str) -> SourceKind:
    """The `SourceKind` of a kind name from `KIND_NAMES`."""
    module = importlib.import_module(_MODULES[kind])
    found: SourceKind = module.KIND
    return found


@dataclass(frozen=True)
class SourceConfig:
    """A validated `sources.<name>` entry with its mapping."""

    name: str
    kind: str
    spec: Any
    mapping: Any

    def connect(self) -> Connector:
        return source_kind(self.kind).connect(self.name, self.spec, self.mapping)

    def provided_attributes(self) -> set[str]:
        """The attributes this source stores (its kind's defaults and its mapping)."""
        return source_kind(self.kind).provided_attributes(self.mapping)
