"""SIGKILL in the middle of writing to the CRM (HubSpot and Salesforce), then a rerun:
nothing lost, nothing doubled.

`qmon check` runs as its own process against FakeHubSpot and kills itself right after the
SQL statement that settles a write (the CRM took it, the store has not committed that): the
rerun writes the same values again (harmless) and finds the task it made by its key instead
of making a second one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.hubspot import FakeHubSpot
from tests.faults import run_qmon, run_qmon_killed_at_statement
from tests.test_writeback_hubspot import T0, H, Portal, iso


@pytest.mark.parametrize(
    "statement",
    [
        r"^UPDATE writeback_records SET written",  # records taken, not yet settled
        r"^UPDATE writeback_tasks SET task_id",  # task created, its id not yet stored
        r"^UPDATE writeback_tasks SET attempts",  # try counted, task not yet created
    ],
)
def test_killed_mid_write_the_rerun_loses_and_doubles_nothing(
    statement: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    with FakeHubSpot(retry_after=0, search_rate_limit=None) as fake:
        portal = Portal(fake, tmp_path, database=database_url)
        monkeypatch.setenv("HUBSPOT_TOKEN", fake.access_token)
        portal.run("crm", "setup")
        portal.run("sync")
        args = ["check", "--as-of", iso(T0 + 5 * H)]
        killed = run_qmon_killed_at_statement(args, portal.config, tmp_path, statement, 1)
        assert killed.exit == -9, killed.stderr
        again = run_qmon(args, portal.config, tmp_path, None)
        assert again.exit == 0, again.stderr
        assert portal.props("broken")["qmon_status"] == "breached"
        assert portal.props("kept")["qmon_status"] == "met"
        assert portal.props("at_risk")["qmon_status"] == "at_risk"
        assert len(portal.tasks()) == 1
        third = run_qmon(args, portal.config, tmp_path, None)
        assert third.exit == 0 and len(portal.tasks()) == 1
        assert fake.access_token not in killed.stderr + again.stderr


@pytest.mark.parametrize(
    "statement",
    [r"^UPDATE writeback_records SET written", r"^UPDATE writeback_tasks SET task_id"],
)
def test_killed_mid_write_to_salesforce_the_rerun_loses_and_doubles_nothing(
    statement: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.salesforce import FakeSalesforce
    from tests.test_writeback_salesforce import Org

    with FakeSalesforce() as fake:
        org = Org(fake, tmp_path)
        for name, value in org.env.items():
            monkeypatch.setenv(name, value)
        org.run("crm", "setup")
        org.run("sync")
        args = ["check", "--as-of", iso(T0 + 5 * H)]
        killed = run_qmon_killed_at_statement(args, org.config, tmp_path, statement, 1)
        assert killed.exit == -9, killed.stderr
        again = run_qmon(args, org.config, tmp_path, None)
        assert again.exit == 0, again.stderr
        assert org.fields("broken")["Qmon_Status__c"] == "breached"
        assert org.fields("kept")["Qmon_Status__c"] == "met"
        assert len(org.tasks()) == 1
        assert run_qmon(args, org.config, tmp_path, None).exit == 0 and len(org.tasks()) == 1
