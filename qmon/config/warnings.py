"""Likely mistakes that are not errors: the config loads, and `qmon promises validate` says
them as `file:line: warning: ...` (as Pyrra warns about a target that looks like 95 for 0.95).
"""

from __future__ import annotations

from typing import Any

from qmon.config.yamlsource import YamlDocument, YamlPath
from qmon.connectors.registry import SourceConfig
from qmon.errors import Problem
from qmon.events import CONTEXT_ATTRIBUTES


def attribute_warnings(document: YamlDocument, sources: dict[str, SourceConfig]) -> list[Problem]:
    """A `when` or `deadline` on an attribute that no configured CRM source maps.

    Without CRM sources every event comes from file imports, which keep any column a promise
    names, so there is nothing to say; `owner`, `channel` and `account` every source has.
    """
    data = document.data
    if not sources or not isinstance(data, dict) or not isinstance(data.get("promises"), list):
        return []
    provided: set[str] = set(CONTEXT_ATTRIBUTES)
    for source in sources.values():
        provided |= source.provided_attributes()
    imports = data.get("imports")
    if isinstance(imports, dict) and isinstance(imports.get("attributes"), list):
        provided |= {a for a in imports["attributes"] if isinstance(a, str)}
    names = ", ".join(sorted(sources))
    found = []
    for path, attribute in _named_attributes(data["promises"]):
        if attribute in provided:
            continue
        message = (
            f"warning: attribute '{attribute}' is not mapped by any configured source "
            f"({names}), so no CRM event will carry it; map it with "
            f"mappings.<source>.attributes: {{{attribute}: <CRM field>}} (see "
            "docs/connectors/), or import it in a file column named "
            f"'{attribute}'"
        )
        found.append(Problem(document.file, document.line(path, key=True) or 1, message))
    return found


def _named_attributes(promises: list[Any]) -> list[tuple[YamlPath, str]]:
    """(where, attribute) for every attribute a promise's when, targets or deadline names."""
    out: list[tuple[YamlPath, str]] = []
    for n, promise in enumerate(promises):
        if not isinstance(promise, dict):
            continue
        whens: list[tuple[YamlPath, Any]] = [(("promises", n, "when"), promise.get("when"))]
        targets = promise.get("targets")
        for k, target in enumerate(targets if isinstance(targets, list) else ()):
            if isinstance(target, dict):
                whens.append((("promises", n, "targets", k, "when"), target.get("when")))
        for path, when in whens:
            for attribute in when if isinstance(when, dict) else ():
                if isinstance(attribute, str):
                    out.append((path + (attribute,), attribute.strip()))
        deadline = promise.get("deadline")
        if isinstance(deadline, dict) and isinstance(deadline.get("attribute"), str):
            out.append((("promises", n, "deadline", "attribute"), deadline["attribute"].strip()))
    return out
