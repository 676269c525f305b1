"""`qmon crm setup --emit-metadata DIR`: qmon's Salesforce fields as SFDX source.

For admins who deploy metadata rather than let qmon create fields through the Tooling API:
the custom fields (`objects/<Object>/fields/<Field>.field-meta.xml`) and a permission set
granting read and edit on them (`permissionsets/Qmon_Writeback.permissionset-meta.xml`), in
a Salesforce DX project, deployed with `sf project deploy start --source-dir force-app` and
assigned with `sf org assign permset --name Qmon_Writeback` (docs/connectors/salesforce.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from qmon.connectors.salesforce.crm_setup import (
    PERMISSION_SET,
    wanted_fields,
)
from qmon.safeio import write_atomically

_NS = "http://soap.sforce.com/2006/04/metadata"
API_VERSION = "59.0"


def field_xml(name: str, label: str, meta: dict[str, Any]) -> str:
    """One CustomField's `.field-meta.xml`."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<CustomField xmlns="{_NS}">',
        f"    <fullName>{escape(name)}</fullName>",
        "    <description>Written by qmon</description>",
        f"    <label>{escape(label)}</label>",
    ]
    for key in ("length", "precision", "scale"):
        if key in meta:
            lines.append(f"    <{key}>{int(meta[key])}</{key}>")
    lines.append(f"    <type>{escape(meta['type'])}</type>")
    if "valueSet" in meta:
        definition = meta["valueSet"]["valueSetDefinition"]
        lines += [
            "    <valueSet>",
            f"        <restricted>{str(meta['valueSet']['restricted']).lower()}</restricted>",
            "        <valueSetDefinition>",
            f"            <sorted>{str(definition['sorted']).lower()}</sorted>",
        ]
        for value in definition["value"]:
            lines += [
                "            <value>",
                f"                <fullName>{escape(value['fullName'])}</fullName>",
                "                <default>false</default>",
                f"                <label>{escape(value['label'])}</label>",
                "            </value>",
            ]
        lines += ["        </valueSetDefinition>", "    </valueSet>"]
    lines.append("</CustomField>")
    return "\n".join(lines) + "\n"


def permission_set_xml(fields: Sequence[str]) -> str:
    """The permission set granting read and edit on `Object.Field`s."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<PermissionSet xmlns="{_NS}">',
        "    <description>Lets qmon write its fields (qmon crm setup)</description>",
    ]
    for field in sorted(fields):
        lines += [
            "    <fieldPermissions>",
            "        <editable>true</editable>",
            f"        <field>{escape(field)}</field>",
            "        <readable>true</readable>",
            "    </fieldPermissions>",
        ]
    lines += ["    <label>qmon writeback</label>", "</PermissionSet>"]
    return "\n".join(lines) + "\n"


def emit(
    directory: Path, objects: Sequence[str], fields: dict[str, str], *, tasks: bool
) -> list[Path]:
    """Write the SFDX project into `directory`; the files written."""
    wanted = wanted_fields(fields, objects, tasks)
    base = directory / "force-app" / "main" / "default"
    written: list[Path] = []
    for obj, name, label, meta in wanted:
        path = base / "objects" / obj / "fields" / f"{name}.field-meta.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, field_xml(name, label, meta))
        written.append(path)
    permset = base / "permissionsets" / f"{PERMISSION_SET}.permissionset-meta.xml"
    permset.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(permset, permission_set_xml([f"{o}.{n}" for o, n, _, _ in wanted]))
    written.append(permset)
    project = directory / "sfdx-project.json"
    if not project.exists():
        body = {
            "packageDirectories": [{"path": "force-app", "default": True}],
            "name": "qmon-writeback",
            "sourceApiVersion": API_VERSION,
        }
        write_atomically(project, json.dumps(body, indent=2) + "\n")
        written.append(project)
    return written
