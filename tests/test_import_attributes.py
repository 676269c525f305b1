"""`qmon import` stores only what promises need: of a file's extra columns, the attributes
qmon reads (a survey's score, a stage) and those the config's `imports.attributes` names.
A note or a message body in an export is dropped as the file is read, in either reader
(this process, or the reader process of a large import)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from qmon.config import load_config
from qmon.ingest import import_files
from qmon.store import Store
from tests.clihelp import qmon

CSV = (
    "id,occurred_at,type,subject_type,subject_id,score,amount,body\n"
    'e-1,2026-11-20T09:00:00Z,survey.nps,case,C-1,9,,"Dear Anna, my invoice is wrong"\n'
    'e-2,2026-11-20T10:00:00Z,quote.sent,deal,D-1,,1200,"Offerte, zie bijlage"\n'
)
JSONL = (
    '{"id": "j-1", "occurred_at": "2026-11-20T09:00:00Z", "type": "deal.stage_changed",'
    ' "subject_type": "deal", "subject_id": "D-2", "stage": "Won", "priority": 2,'
    ' "note": "called the customer at home"}\n'
)


def _stored(url: str) -> dict[str, dict]:
    store = Store.open(url)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT event_id, attributes FROM events")).all()
    store.close()
    return {event_id: json.loads(attrs) if attrs else {} for event_id, attrs in rows}


def _files(tmp_path: Path) -> list[Path]:
    (tmp_path / "export.csv").write_text(CSV)
    (tmp_path / "export.jsonl").write_text(JSONL)
    return [tmp_path / "export.csv", tmp_path / "export.jsonl"]


@pytest.mark.parametrize("extra", [None, ["amount", "priority"]])
def test_import_keeps_only_the_attributes_qmon_reads_and_those_configured(
    database_url, tmp_path, extra
):
    config = tmp_path / "qmon.yaml"
    lines = ["version: 1", f"database: '{database_url}'"]
    if extra:
        lines.append(f"imports: {{attributes: {json.dumps(extra)}}}")
    config.write_text("\n".join(lines) + "\n")
    result = qmon("-c", config, "import", *_files(tmp_path))
    assert result.exit_code == 0, result.output
    stored = _stored(database_url)
    if extra:
        assert stored == {"e-1": {"score": "9"}, "e-2": {"amount": "1200"},
                          "j-1": {"stage": "Won", "priority": 2}}  # fmt: skip
    else:
        assert stored == {"e-1": {"score": "9"}, "e-2": {}, "j-1": {"stage": "Won"}}


def test_the_reader_process_of_a_large_import_drops_the_same_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    config_path = tmp_path / "qmon.yaml"
    config_path.write_text(f"version: 1\ndatabase: '{url}'\n")
    config = load_config(config_path)
    store = Store.open(url)
    summary = import_files(store, _files(tmp_path), background_from_bytes=0,
                           attributes=config.kept_attributes)  # fmt: skip
    store.close()
    assert summary.inserted == 3
    assert _stored(url) == {"e-1": {"score": "9"}, "e-2": {}, "j-1": {"stage": "Won"}}


def test_a_misspelt_imports_key_names_the_file_line_and_the_key(tmp_path):
    config = tmp_path / "qmon.yaml"
    config.write_text("version: 1\nimports:\n  atributes: [amount]\n")
    result = qmon("-c", config, "audit")
    assert result.exit_code == 2
    assert f"{config}:3" in result.output and "atributes" in result.output
    assert "attributes" in result.output.split("atributes", 1)[1]  # did you mean
