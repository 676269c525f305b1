"""The worked example in ../shared/examples/audit-contract: shuffled events with mixed
offsets, calendars across daylight-saving changes and holidays, must give exactly the
expected audit JSON through the real command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.clihelp import qmon

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "examples" / "audit-contract"


def _key(inst: dict) -> tuple:
    return (inst["promise"], inst["subject_type"], inst["subject_id"], inst["started_at"])


@pytest.fixture
def contract(tmp_path: Path) -> Path:
    if not CONTRACT.is_dir():
        pytest.skip(f"the shared audit contract is not beside the project ({CONTRACT})")
    work = tmp_path / "contract"
    shutil.copytree(CONTRACT, work)
    return work


def test_audit_matches_the_contract(contract: Path):
    cfg = contract / "qmon.yaml"
    imported = qmon("--config", cfg, "import", contract / "events.jsonl")
    assert imported.exit_code == 0, imported.output
    as_of = (contract / "as_of.txt").read_text().strip()
    result = qmon("--config", cfg, "audit", "--as-of", as_of, "--format", "json", "--instances")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    expected = json.loads((contract / "expected-audit.json").read_text())

    assert {k: v for k, v in got.items() if k != "instances"} == {
        k: v for k, v in expected.items() if k != "instances"
    }
    got_instances = sorted(got["instances"], key=_key)
    want_instances = sorted(expected["instances"], key=_key)
    assert [_key(i) for i in got_instances] == [_key(i) for i in want_instances]
    for g, w in zip(got_instances, want_instances, strict=True):
        assert round(g.pop("elapsed_seconds")) == round(w.pop("elapsed_seconds")), _key(w)
        assert g == w


def test_contract_is_the_same_on_postgresql(contract: Path, monkeypatch, request):
    """Same store code on PostgreSQL: same document."""
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("QMON_DATABASE_URL", url)
    cfg = contract / "qmon.yaml"
    assert qmon("--config", cfg, "import", contract / "events.jsonl").exit_code == 0
    as_of = (contract / "as_of.txt").read_text().strip()
    result = qmon("--config", cfg, "audit", "--as-of", as_of, "--format", "json")
    expected = json.loads((contract / "expected-audit.json").read_text())
    expected.pop("instances")
    assert json.loads(result.stdout) == expected
