"""The reference evaluator (tests/promise_reference.py) reproduces the shared worked examples.

Without this, a disagreement between the reference and qmon could be the reference's fault:
it must first give exactly the documents ../shared/examples/ say the rules give.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.promise_reference import audit_document, instance_key

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"


def load(name: str) -> tuple[dict, list[dict], str, dict]:
    folder = EXAMPLES / name
    if not folder.is_dir():
        pytest.skip(f"the shared example is not beside the project ({folder})")
    config = yaml.safe_load((folder / "qmon.yaml").read_text())
    lines = (folder / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.strip()]
    as_of = (folder / "as_of.txt").read_text().strip()
    expected = json.loads((folder / "expected-audit.json").read_text())
    return config, events, as_of, expected


def comparable(inst: dict, fields: set[str]) -> dict:
    """An instance's fields as the examples compare them: seconds rounded, reason present."""
    out = {k: v for k, v in inst.items() if k in fields}
    for key in ("elapsed_seconds", "allowed_seconds"):
        if out.get(key) is not None:
            out[key] = round(out[key])
    if "reason" in out:
        out["reason"] = out["reason"] is not None
    return out


def assert_same_document(got: dict, expected: dict) -> None:
    summary_keys = set(expected["promises"][0])
    assert [{k: r[k] for k in summary_keys} for r in got["promises"]] == expected["promises"]
    assert [{k: r[k] for k in summary_keys - {"id"}} for r in got["phases"]] == expected[
        "phases"
    ]
    assert got["as_of"] == expected["as_of"]
    fields = set(expected["instances"][0])
    want = sorted(expected["instances"], key=instance_key)
    have = sorted(got["instances"], key=instance_key)
    assert [instance_key(i) for i in have] == [instance_key(i) for i in want]
    for h, w in zip(have, want, strict=True):
        assert comparable(h, fields) == comparable(w, fields), instance_key(w)


@pytest.mark.parametrize("example", ["promise-language", "audit-contract"])
def test_reference_reproduces_the_shared_example(example: str):
    config, events, as_of, expected = load(example)
    assert_same_document(audit_document(config, events, as_of), expected)


def test_reference_is_order_free():
    config, events, as_of, _ = load("promise-language")
    forward = audit_document(config, events, as_of)
    backward = audit_document(config, list(reversed(events)), as_of)
    assert sorted(forward["instances"], key=instance_key) == sorted(
        backward["instances"], key=instance_key
    )
