"""Fields the store indexes have a size limit, the same on SQLite and PostgreSQL (whose index
entries hold at most 2,704 bytes): `KEY_BYTES` for the source, id, type, subject, account,
owner, channel and attribute names, `VALUE_BYTES` for an attribute's value.

A file row over a limit is a bad row naming its line and field (PostgreSQL would refuse the
whole import with an error naming neither); a CRM record's over-long attribute is not kept
and an event with an over-long key is left out, each with a warning, so a sync never stalls
on one record. Everything at the limits imports on both stores and is read by a promise."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from qmon.events import KEY_BYTES, VALUE_BYTES
from qmon.store import Store
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
HEADER = ["source", "id", "occurred_at", "type", "subject_type", "subject_id", "account",
          "owner", "channel", "priority"]  # fmt: skip


def noise(size: int, seed: int, alphabet: str = string.ascii_letters) -> str:
    """`size` bytes of text that does not compress (PostgreSQL would compress a repeat), in
    characters of one UTF-8 width."""
    width = len(alphabet[0].encode())
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(size // width))


CJK = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2000))  # 3 bytes each
EMOJI = "".join(chr(c) for c in range(0x1F300, 0x1F300 + 500))  # 4 bytes each


def config(tmp_path: Path, url: str, start: str = "quote.requested") -> Path:
    path = tmp_path / "qmon.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "database": url, "timezone": "Europe/Amsterdam",
        "promises": [{"id": "quote", "phase": "sales", "start": start, "stop": "quote.sent",
                      "when": {"priority": {"not": "low"}}, "within": "24h"}],
    }, sort_keys=False))  # fmt: skip
    return path


def row(**fields: str) -> dict[str, str]:
    base = {"source": "file", "id": "e1", "occurred_at": "2026-03-02T09:00:00+01:00",
            "type": "quote.requested", "subject_type": "deal", "subject_id": "D-1",
            "account": "", "owner": "", "channel": "", "priority": "high"}  # fmt: skip
    return {**base, **fields}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    lines = [",".join(HEADER)] + [",".join(r[h] for h in HEADER) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if v}, ensure_ascii=False)
                            + "\n" for r in rows), encoding="utf-8")  # fmt: skip
    return path


OVER = [
    ("owner", noise(KEY_BYTES + 1, 1), f"field 'owner' is {KEY_BYTES + 1:,} bytes long"),
    ("subject_id", noise(KEY_BYTES + 3, 2, CJK), f"field 'subject_id' is {KEY_BYTES + 3:,}"),
    ("id", noise(KEY_BYTES + 4, 3, EMOJI), f"field 'id' is {KEY_BYTES + 4:,} bytes long"),
    ("channel", noise(4 * KEY_BYTES, 4), f"field 'channel' is {4 * KEY_BYTES:,} bytes long"),
    ("priority", noise(VALUE_BYTES + 1, 5), f"field 'priority' is {VALUE_BYTES + 1:,} bytes"),
    ("priority", noise(VALUE_BYTES + 4, 6, EMOJI), f"field 'priority' is {VALUE_BYTES + 4:,}"),
]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize(("field", "value", "said"), OVER, ids=[f"{f}-{i}" for i, (f, _, _)
                                                               in enumerate(OVER)])  # fmt: skip
def test_a_row_over_a_limit_is_a_bad_row_naming_its_line_and_field(
    tmp_path, kind, field, value, said
):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    rows = [row(), row(id="e2", type="quote.sent", occurred_at="2026-03-02T10:00:00+01:00"),
            row(**{"id": "e3", "subject_id": "D-2", field: value})]  # fmt: skip
    write = write_csv if kind == "csv" else write_jsonl
    path = write(tmp_path / f"events.{kind}", rows)
    line = 4 if kind == "csv" else 3  # after the header, or without one
    result = qmon("-c", config(tmp_path, url), "import", path)
    assert result.exit_code == 2, result.output
    assert f"events.{kind}:{line}: {said}" in result.output
    assert "nothing was imported" in result.output
    # --skip-invalid imports the good rows and still names the bad one (and exits 2)
    result = qmon("-c", config(tmp_path, url), "import", "--skip-invalid", path)
    assert result.exit_code == 2, result.output
    assert "the good rows were imported" in result.output
    assert f"events.{kind}:{line}: {said}" in result.output
    store = Store.open(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 2
    store.close()


@pytest.mark.parametrize("alphabet", [string.ascii_letters, CJK], ids=["ascii", "cjk"])
def test_every_field_at_its_limit_imports_on_both_stores_and_is_read(
    database_url, tmp_path, alphabet
):
    """The widest index entries: every key field and the attribute value at their limits, in
    text that does not compress."""
    long_type = "quote." + noise(KEY_BYTES - 6, 10)
    keys = {name: noise(KEY_BYTES, seed, alphabet)
            for seed, name in enumerate(["source", "subject_id", "account", "owner",
                                         "channel"], 20)}  # fmt: skip
    keys["subject_type"] = noise(KEY_BYTES, 30)  # no spaces, printable: letters only
    value = noise(VALUE_BYTES, 40, alphabet)
    start = row(id=noise(KEY_BYTES, 50, alphabet), type=long_type, priority=value, **keys)
    stop = row(id="e2", type="quote.sent", occurred_at="2026-03-02T10:00:00+01:00",
               priority="", **keys)  # fmt: skip
    assert all(len(v.encode()) <= KEY_BYTES for v in keys.values())
    path = write_csv(tmp_path / "events.csv", [start, stop])
    cfg = config(tmp_path, database_url, start=long_type)
    result = qmon("-c", cfg, "import", path)
    assert result.exit_code == 0, result.output
    result = qmon("-c", cfg, "audit", "--as-of", "2026-03-03T00:00:00Z", "--format", "json")
    assert result.exit_code == 0, result.output
    (found,) = json.loads(result.stdout)["promises"]
    assert (found["met"], found["breached"], found["not_evaluated"]) == (1, 0, 0)


def test_a_crm_value_over_the_limit_is_not_kept_and_the_sync_goes_on(database_url, tmp_path):
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        long = noise(VALUE_BYTES + 500, 60)
        deal = fake.add("deals", {"dealstage": "appointmentscheduled", "pipeline": "default",
                                  "promised_delivery_date": long},
                        created_at=T0, updated_at=T0)  # fmt: skip
        other = fake.add("deals", {"dealstage": "appointmentscheduled", "pipeline": "default",
                                   "promised_delivery_date": "2026-12-01"},
                         created_at=T0, updated_at=T0)  # fmt: skip
        path = tmp_path / "qmon.yaml"
        source = {"access_token": fake.access_token, "base_url": fake.base_url,
                  "portal_id": 62515, "backoff_seconds": 0.01, "search_rate": 1000,
                  "objects": ["deals"]}  # fmt: skip
        path.write_text(yaml.safe_dump({
            "version": 1, "database": database_url, "sources": {"hubspot": source},
            "mappings": {"hubspot": {"attributes": {
                "promised_date": "deal.promised_delivery_date"}}},
        }, sort_keys=False))  # fmt: skip
        result = qmon("--config", path, "sync")
        assert result.exit_code == 0, result.stdout + result.stderr
        assert "field 'promised_date' is 1,500 bytes long" in result.stderr, result.stderr
        assert long not in result.stderr  # the warning names the field, not its content
    store = Store.open(database_url)
    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT subject_id, attributes FROM events WHERE type = 'deal.created'"
            " ORDER BY subject_id")).all()  # fmt: skip
        carried = conn.execute(text(
            "SELECT subject_id, name, value FROM event_attributes ORDER BY subject_id, name"
        )).all()  # fmt: skip
    store.close()
    kept = {sid: json.loads(attrs) for sid, attrs in rows}
    assert kept[str(deal)] == {"pipeline": "default"}
    assert kept[str(other)] == {"pipeline": "default", "promised_date": "2026-12-01"}
    assert (str(other), "promised_date", "2026-12-01") in carried
    assert not any(sid == str(deal) and name == "promised_date" for sid, name, _ in carried)
