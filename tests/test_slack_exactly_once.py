"""Exactly once, also when Slack's answer never arrives: a message Slack took while qmon did
not hear so (a lost answer, or a crash before the ledger's commit) is found in the channel's
history by its metadata on the next try, and not posted again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qmon.alerts import check as check_module
from qmon.alerts import deliver as deliver_module
from qmon.config import load_config
from qmon.events import Event
from qmon.store import Store
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.slack import FakeSlack

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def iso(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def slack():
    with FakeSlack(retry_after=0, ts_start=int(NOW.timestamp())) as fake:
        fake.add_channel("kwaliteit")
        yield fake


def setup(tmp_path: Path, slack: FakeSlack, broken: int = 1) -> Path:
    path = tmp_path / "qmon.yaml"
    path.write_text(
        f"""version: 1
database: sqlite:///{tmp_path / "q.db"}
promises:
  - id: quote-24h
    title: Quote within 24 hours
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
notify:
  slack: {{token: "{slack.token}", channel: "#kwaliteit", base_url: "{slack.base_url}",
          digest_over: 10}}
"""
    )
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    start = to_us(NOW - timedelta(hours=30))
    store.ingest(Event("crm", f"r{k}", start, "quote.requested", "deal", f"D{k}")
                 for k in range(broken))  # fmt: skip
    store.close()
    return path


def run(path: Path, minutes: float):
    return qmon("--config", path, "check", "--as-of", iso(minutes))


def test_a_lost_answer_is_found_in_history_and_not_posted_again(tmp_path: Path, slack):
    path = setup(tmp_path, slack)
    slack.lose_answer_next(method="chat.postMessage")
    first = run(path, 0)
    assert first.exit_code == 3 and "not delivered" in first.output
    assert len(slack.messages("kwaliteit")) == 1  # Slack took it; qmon did not hear so
    second = run(path, 2)
    assert second.exit_code == 0, second.output
    assert "1 sent" in second.output
    assert len(slack.messages("kwaliteit")) == 1
    assert [r.api_method for r in slack.requests("conversations.history")] == [
        "conversations.history"
    ]
    # The ledger has the message's ts: a late stop updates that very message in place.
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    store.ingest(
        [Event("crm", "s0", to_us(NOW + timedelta(minutes=3)), "quote.sent", "deal", "D0")]
    )
    store.close()
    assert run(path, 4).exit_code == 0
    [message] = slack.messages("kwaliteit")
    assert message.edited and "late" in message.text.lower()
    assert len(slack.requests("chat.postMessage")) == 1


def test_a_crash_before_the_ledger_commit_does_not_post_twice(tmp_path: Path, slack, monkeypatch):
    path = setup(tmp_path, slack)
    settle = deliver_module._settle

    def crash_when_marking_sent(store, rows, assignments, params):
        if assignments.startswith("status = 'sent'"):
            raise KeyboardInterrupt("killed between Slack's answer and the commit")
        settle(store, rows, assignments, params)

    monkeypatch.setattr(deliver_module, "_settle", crash_when_marking_sent)
    store = Store.open(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        with pytest.raises(KeyboardInterrupt):
            check_module.run_check(load_config(path), store, to_us(NOW))
    finally:
        store.close()
    monkeypatch.setattr(deliver_module, "_settle", settle)
    assert len(slack.messages("kwaliteit")) == 1
    assert run(path, 2).exit_code == 0
    assert len(slack.messages("kwaliteit")) == 1
    assert run(path, 10).exit_code == 0
    assert len(slack.requests("chat.postMessage")) == 1


def test_a_lost_digest_settles_all_its_alerts(tmp_path: Path, slack):
    path = setup(tmp_path, slack, broken=12)
    slack.lose_answer_next(method="chat.postMessage")
    assert run(path, 0).exit_code == 3
    assert run(path, 2).exit_code == 0
    [digest] = slack.messages("kwaliteit")
    assert "12" in digest.text
    assert len(slack.requests("chat.postMessage")) == 1
    status = qmon("--config", path, "status", "--format", "json")
    assert '"waiting": 0' in status.stdout


def test_without_history_scopes_it_posts_again_and_says_why(tmp_path: Path, slack):
    slack.scopes = [s for s in slack.scopes if not s.endswith(":history")]
    path = setup(tmp_path, slack)
    slack.lose_answer_next(method="chat.postMessage")
    assert run(path, 0).exit_code == 3
    again = run(path, 2)
    assert again.exit_code == 0  # delivered: a warning, not a failure
    assert "warning: " in again.output and "missing_scope" in again.output
    assert "posting again" in again.output
    assert len(slack.messages("kwaliteit")) == 2  # at least once, never lost
