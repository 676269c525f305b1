"""`qmon sources check` for HubSpot: the token, each object type, the associations, in words.

The fake grants scopes like a private app (`granted_scopes`) and refuses the rest with HubSpot's
403 `MISSING_SCOPES` body, which names the scopes required; each finding says which scope to
add, and never shows the token.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from qmon.config import load_config
from qmon.connectors.base import Finding
from qmon.connectors.hubspot import HubSpotConnector
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec
from tests.clihelp import qmon
from tests.fakes.hubspot import FakeHubSpot

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ALL_SCOPES = {
    "crm.objects.deals.read", "tickets", "crm.objects.quotes.read", "crm.objects.contacts.read",
    "crm.objects.feedback_submissions.read",
}  # fmt: skip
ADD = "Settings > Integrations > Private apps > your app > Scopes"


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        ticket = fake.add("tickets", {}, created_at=T0, updated_at=T0)
        deal = fake.add("deals", {}, created_at=T0, updated_at=T0)
        email = fake.add("emails", {"hs_email_direction": "EMAIL"}, created_at=T0, updated_at=T0)
        fake.associate("emails", email, "tickets", ticket)
        fake.associate("emails", email, "deals", deal)
        yield fake


def check(fake: FakeHubSpot, objects: list[str], **settings: object) -> list[Finding]:
    spec = HubSpotSourceSpec(access_token=fake.access_token, base_url=fake.base_url,
                             objects=objects, **settings)  # fmt: skip
    return HubSpotConnector("hubspot", spec, HubSpotMappingSpec()).check()


def lines(findings: list[Finding]) -> list[str]:
    return [f"{'✓' if f.ok else '✗'} {f.what}" + (f": {f.detail}" if f.detail else "")
            for f in findings]  # fmt: skip


def test_everything_readable(fake: FakeHubSpot) -> None:
    fake.granted_scopes = ALL_SCOPES
    assert lines(check(fake, ["deals", "emails", "feedback_submissions"])) == [
        "✓ access token: valid for portal 62515",
        "✓ deals readable",
        "✓ deals property history readable: dealstage, pipeline",
        "✓ emails readable",
        "✓ emails to tickets associations readable",
        "✓ emails to deals associations readable",
        "✓ feedback_submissions readable",  # none exist: no associations to try
    ]


@pytest.mark.parametrize(
    "missing, objects, expected",
    [
        ({"crm.objects.deals.read"}, ["deals"],
         [f"✗ deals readable: the private app lacks the scope crm.objects.deals.read: add it "
          f"under {ADD}"]),
        ({"tickets"}, ["tickets", "emails"],
         [f"✗ tickets readable: the private app lacks the scope tickets: add it under {ADD}",
          "✓ emails readable",
          f"✗ emails to tickets associations readable: the private app lacks the scope "
          f"tickets: add it under {ADD}",
          "✓ emails to deals associations readable"]),
        ({"crm.objects.quotes.read"}, ["quotes"],
         [f"✗ quotes readable: the private app lacks the scope crm.objects.quotes.read: add "
          f"it under {ADD}"]),
        ({"crm.objects.contacts.read"}, ["calls"],
         [f"✗ calls readable: the private app lacks the scope crm.objects.contacts.read: add "
          f"it under {ADD}"]),
        ({"crm.objects.contacts.read", "crm.objects.feedback_submissions.read"},
         ["feedback_submissions"],
         [f"✗ feedback_submissions readable: the private app lacks the scopes "
          f"crm.objects.contacts.read, crm.objects.feedback_submissions.read: add them under "
          f"{ADD}"]),
    ],
)  # fmt: skip
def test_a_missing_scope_is_named(fake, missing, objects, expected) -> None:
    fake.granted_scopes = ALL_SCOPES - missing
    assert lines(check(fake, objects))[1:] == expected


def test_a_portal_id_that_is_not_the_tokens_is_a_finding(fake: FakeHubSpot) -> None:
    findings = lines(check(fake, ["deals"], portal_id=1234))
    assert findings[:2] == [
        "✓ access token: valid for portal 62515",
        "✗ portal_id: the config says 1234 but the token is for portal 62515; record links "
        "would point at the wrong portal: set portal_id: 62515 or remove it",
    ]


def test_a_revoked_token_is_one_finding(fake: FakeHubSpot) -> None:
    fake.revoke_token(fake.access_token)
    assert lines(check(fake, ["deals"], portal_id=62515)) == [
        "✗ access token: HubSpot refused the access token (HTTP 401) for read account info: "
        "check that the private app token is current and not revoked"
    ]


def test_the_command_exits_3_and_a_sync_names_the_scope_too(tmp_path: Path,
                                                            fake: FakeHubSpot) -> None:  # fmt: skip
    fake.granted_scopes = ALL_SCOPES - {"tickets"}
    path = tmp_path / "qmon.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "database": f"sqlite:///{tmp_path / 'q.db'}",
        "sources": {"hubspot": {"access_token": "${HUBSPOT_TOKEN}", "base_url": fake.base_url,
                                "objects": ["deals", "tickets"]}},
    }))  # fmt: skip
    env = {"HUBSPOT_TOKEN": fake.access_token}
    result = qmon("--config", path, "sources", "check", env=env)
    assert result.exit_code == 3
    assert "✓ deals readable" in result.stdout
    assert "✗ tickets readable: the private app lacks the scope tickets" in result.stdout
    assert fake.access_token not in result.output

    result = qmon("--config", path, "sync", env=env)
    assert result.exit_code == 3
    assert (
        "hubspot: HubSpot refused list archived tickets (HTTP 403): the private app lacks "
        "tickets; add it under Settings > Integrations > Private apps > Scopes" in result.stderr
    )
    assert len(load_config(path, environ=env).sources) == 1
