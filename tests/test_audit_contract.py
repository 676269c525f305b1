"""The worked example in ../shared/examples/audit-contract: shuffled events with mixed
offsets, calendars across daylight-saving changes and holidays, must give exactly the
expected audit JSON through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.clihelp import qmon

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"
CONTRACT = EXAMPLES / "audit-contract"
#: Targets, retarget, business days, deadlines from the record and repeating promises.
LANGUAGE = EXAMPLES / "promise-language"


def _counts(doc: dict, keys: dict | None = None) -> dict:
    """The document without instances, each row with only the fields `keys` (by default
    `doc` itself) gives: the older example predates the `not_evaluated` counts."""
    keys = keys or doc
    return {
        part: [{k: row[k] for k in keys[part][n]} for n, row in enumerate(rows)]
        if isinstance(rows, list) else rows
        for part, rows in doc.items() if part != "instances"
    }


def _key(inst: dict) -> tuple:
    return (inst["promise"], inst["subject_type"], inst["subject_id"], inst["started_at"])


@pytest.fixture(params=[CONTRACT, LANGUAGE], ids=["audit-contract", "promise-language"])
def contract(tmp_path: Path, request) -> Path:
    example: Path = request.param
    if not example.is_dir():
        pytest.skip(f"the shared example is not beside the project ({example})")
    work = tmp_path / "contract"
    shutil.copytree(example, work)
    return work


def test_audit_matches_the_contract(contract: Path):
    """Every field the example's document gives is exact (instances in any order); the
    `reason` texts are free-form, only their presence matters."""
    cfg = contract / "qmon.yaml"
    imported = qmon("--config", cfg, "import", contract / "events.jsonl")
    assert imported.exit_code == 0, imported.output
    as_of = (contract / "as_of.txt").read_text().strip()
    result = qmon("--config", cfg, "audit", "--as-of", as_of, "--format", "json", "--instances")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    expected = json.loads((contract / "expected-audit.json").read_text())

    assert _counts(got, expected) == _counts(expected)
    got_instances = sorted(got["instances"], key=_key)
    want_instances = sorted(expected["instances"], key=_key)
    assert [_key(i) for i in got_instances] == [_key(i) for i in want_instances]
    for g, w in zip(got_instances, want_instances, strict=True):
        assert round(g.pop("elapsed_seconds")) == round(w.pop("elapsed_seconds")), _key(w)
        if "reason" in w:
            assert (g.pop("reason") is None) == (w.pop("reason") is None), _key(w)
        assert {k: g[k] for k in w} == w, _key(w)


def test_contract_is_the_same_on_postgresql(contract: Path, monkeypatch, request):
    """Same store code on PostgreSQL: same document."""
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("QMON_DATABASE_URL", url)
    cfg = contract / "qmon.yaml"
    assert qmon("--config", cfg, "import", contract / "events.jsonl").exit_code == 0
    as_of = (contract / "as_of.txt").read_text().strip()
    result = qmon("--config", cfg, "audit", "--as-of", as_of, "--format", "json")
    expected = json.loads((contract / "expected-audit.json").read_text())
    assert _counts(json.loads(result.stdout), expected) == _counts(expected)
