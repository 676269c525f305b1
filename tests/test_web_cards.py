"""The CRM card API: HubSpot's v3 signature and qmon's own, against the real app.

HubSpot's vector is computed here the documented way (its "Validating requests" guide: the
method, the full URI with the characters of its table decoded, the body and the timestamp,
HMAC-SHA256 with the app's client secret, base64) and cross-checked with HubSpot's own
Python client (`hubspot.utils.signature.Signature`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import httpx
import pytest
from hubspot.utils.signature import Signature

from qmon.connectors.hubspot.attributes import SUBJECT_TYPES
from qmon.connectors.hubspot.mapping import TYPE_IDS
from qmon.connectors.salesforce.mapping import SUBJECT_PREFIXES
from qmon.web.cards import HUBSPOT_SUBJECTS, SALESFORCE_SUBJECTS, salesforce_id18
from qmon.web.signatures import hubspot_signature, hubspot_uri, qmon_signature
from tests.test_web_helpers import seed, serve_section, serving, write_config

HUBSPOT_SECRET = "hubspot-app-client-secret-1234"
SALESFORCE_SECRET = "salesforce-card-secret-5678"
PUBLIC = "https://qmon.example.com"
OPPORTUNITY = "0065g00000AbCdEAAV"
#: The documented table: these and no other escapes are decoded before signing.
TABLE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
HUBSPOT_QUERY = (
    "/api/crm/hubspot/card?objectId=123456&objectTypeId=0-3&portalId=62515"
    "&userEmail=anna%40example.com&userId=7&note=a%2Cb%20c%26d"
)


def documented_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    for encoded, decoded in TABLE.items():
        uri = uri.replace(encoded, decoded)
    source = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


@pytest.fixture
def config(tmp_path):
    (tmp_path / "hubspot.secret").write_text(HUBSPOT_SECRET + "\n")
    (tmp_path / "card.secret").write_text(SALESFORCE_SECRET)
    path = write_config(
        tmp_path,
        serve_section(
            f"  public_url: {PUBLIC}\n"
            "  hubspot_card: {client_secret_file: hubspot.secret}\n"
            "  salesforce_card: {secret_file: card.secret}\n"
        ),
    )
    seed(path)
    return path


def now_ms() -> str:
    return str(int(time.time() * 1000))


def hubspot_get(
    client: httpx.Client,
    target: str,
    *,
    secret: str = HUBSPOT_SECRET,
    base: str = PUBLIC,
    signed_target: str | None = None,
    body: bytes = b"",
    sent_body: bytes | None = None,
    timestamp: str | None = None,
    skew_ms: int = 0,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET `target` signed as HubSpot signs it: over the URL it called (`base` + target);
    `skew_ms` moves the timestamp from now (read when the request is made, not when the
    tests were collected)."""
    stamp = timestamp or str(int(now_ms()) + skew_ms)
    request = client.build_request("GET", target, content=sent_body if sent_body else None)
    sent = signed_target or request.url.raw_path.decode()
    request.headers["X-HubSpot-Signature-v3"] = documented_v3(
        secret, "GET", base + sent, body, stamp
    )
    request.headers["X-HubSpot-Request-Timestamp"] = stamp
    for name, value in (headers or {}).items():
        if value is None:
            del request.headers[name]
        else:
            request.headers[name] = value
    return client.send(request)


def salesforce_get(
    client: httpx.Client,
    target: str,
    *,
    secret: str = SALESFORCE_SECRET,
    signed_target: str | None = None,
    body: bytes = b"",
    sent_body: bytes | None = None,
    timestamp: str | None = None,
    headers: dict[str, str | None] | None = None,
) -> httpx.Response:
    stamp = timestamp or now_ms()
    request = client.build_request("GET", target, content=sent_body if sent_body else None)
    sent = signed_target or request.url.raw_path.decode()
    mac = hmac.new(secret.encode(), f"GET\n{sent}\n{stamp}\n".encode() + body, hashlib.sha256)
    request.headers["X-Qmon-Signature"] = "v1=" + base64.b64encode(mac.digest()).decode()
    request.headers["X-Qmon-Timestamp"] = stamp
    for name, value in (headers or {}).items():
        if value is None:
            del request.headers[name]
        else:
            request.headers[name] = value
    return client.send(request)


def test_qmon_computes_hubspots_v3_signature_as_documented_and_as_hubspots_client():
    uri = PUBLIC + HUBSPOT_QUERY
    stamp = "1700000000000"
    ours = hubspot_signature(HUBSPOT_SECRET, "GET", uri, b"", stamp)
    assert ours == documented_v3(HUBSPOT_SECRET, "GET", uri, b"", stamp)
    theirs = Signature.get_signature(
        HUBSPOT_SECRET, "", "v3", http_uri=hubspot_uri(uri), http_method="GET", timestamp=stamp
    )
    assert ours == theirs
    assert hubspot_uri(uri).endswith("userEmail=anna@example.com&userId=7&note=a,b%20c%26d")
    assert hubspot_uri("/x?a=%3a%2f%5B") == "/x?a=:/%5B"  # any case; only the table's


def test_a_signed_hubspot_request_gets_the_record_card(config):
    with serving(config) as app, app.client() as client:
        answer = hubspot_get(client, HUBSPOT_QUERY)
        assert answer.status_code == 200, answer.text
        assert "set-cookie" not in answer.headers  # the signature is the authentication
        assert answer.headers["cache-control"] == "no-store"
        card = answer.json()
        assert card["version"] == 1
        assert card["record"] == {
            "subject_type": "deal",
            "subject_id": "123456",
            "url": f"{PUBLIC}/record/deal/123456",
            "crm_link": None,
        }
        (promise,) = card["promises"]
        assert set(promise) == {
            "promise_id",
            "title",
            "phase",
            "cycle",
            "status",
            "at_risk",
            "paused",
            "started_at",
            "stopped_at",
            "deadline",
            "elapsed_seconds",
            "allowed_seconds",
            "instance_url",
        }
        assert promise["promise_id"] == "quote-24h" and promise["status"] == "open"
        assert promise["allowed_seconds"] == 86400
        assert 7190 <= promise["elapsed_seconds"] <= 7300
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", promise["deadline"])
        assert promise["instance_url"] == f"{PUBLIC}/instance/quote-24h/deal/123456/1"

        ticket = hubspot_get(client, "/api/crm/hubspot/card?objectId=777&objectTypeId=0-5")
        assert ticket.status_code == 200
        assert ticket.json()["record"]["subject_type"] == "case"
        assert ticket.json()["promises"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"body": b"", "sent_body": b'{"objectId": 1}'},
            "the signature does not match the request",
        ),
        ({"secret": "another-secret"}, "the signature does not match the request"),
        (
            {"skew_ms": -6 * 60 * 1000},
            "X-HubSpot-Request-Timestamp is more than 5 minutes from this server's clock",
        ),
        (
            {"skew_ms": 6 * 60 * 1000},
            "X-HubSpot-Request-Timestamp is more than 5 minutes from this server's clock",
        ),
        ({"timestamp": "yesterday"}, "X-HubSpot-Request-Timestamp must be milliseconds since 1970"),
        ({"timestamp": "\u00b2"}, "X-HubSpot-Request-Timestamp must be milliseconds since 1970"),
        (
            {"signed_target": HUBSPOT_QUERY.replace("123456", "123457")},
            "the signature does not match the request",
        ),
        ({"base": "http://127.0.0.1"}, "the signature does not match the request"),
        ({"headers": {"X-HubSpot-Signature-v3": None}}, "missing X-HubSpot-Signature-v3 header"),
        (
            {"headers": {"X-HubSpot-Request-Timestamp": None}},
            "missing X-HubSpot-Request-Timestamp header",
        ),
    ],
    ids=[
        "tampered body",
        "wrong secret",
        "stale",
        "future",
        "no number",
        "a digit int() refuses",
        "changed query",
        "another host",
        "no signature",
        "no timestamp",
    ],
)
def test_a_hubspot_request_not_signed_right_is_refused(config, change, message):
    with serving(config) as app, app.client() as client:
        answer = hubspot_get(client, HUBSPOT_QUERY, **change)
        assert answer.status_code == 401
        assert answer.json() == {"error": message}


def test_without_a_public_url_hubspot_signs_the_address_it_called(tmp_path):
    path = write_config(
        tmp_path, serve_section("  hubspot_card: {client_secret_file: hubspot.secret}\n")
    )
    (tmp_path / "hubspot.secret").write_text(HUBSPOT_SECRET)
    seed(path)
    with serving(path) as app, app.client() as client:
        answer = hubspot_get(client, HUBSPOT_QUERY, base=app.url)
        assert answer.status_code == 200, answer.text
        assert answer.json()["record"]["url"] == f"{app.url}/record/deal/123456"


def test_hubspot_parameters_are_checked_after_the_signature(config):
    with serving(config) as app, app.client() as client:
        answer = hubspot_get(client, "/api/crm/hubspot/card?objectId=1&objectTypeId=0-1")
        assert answer.status_code == 400
        assert answer.json() == {"error": "objectTypeId must be 0-3 (a deal) or 0-5 (a ticket)"}
        answer = hubspot_get(client, "/api/crm/hubspot/card?objectId=x1&objectTypeId=0-3")
        assert answer.json() == {"error": "objectId must be a HubSpot record id (digits)"}


def test_a_signed_salesforce_request_gets_the_record_card(config):
    with serving(config) as app, app.client() as client:
        for record_id in (OPPORTUNITY, OPPORTUNITY[:15]):  # the 15-character form too
            answer = salesforce_get(client, f"/api/crm/salesforce/card?recordId={record_id}")
            assert answer.status_code == 200, answer.text
            card = answer.json()
            assert card["version"] == 1
            assert card["record"]["subject_type"] == "deal"
            assert card["record"]["subject_id"] == OPPORTUNITY
            assert [p["promise_id"] for p in card["promises"]] == ["quote-24h"]
        case = salesforce_get(client, "/api/crm/salesforce/card?recordId=5005g00000XyZaBAAV")
        assert case.json()["record"]["subject_type"] == "case"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sent_body": b"x"}, "the signature does not match the request"),
        ({"secret": "another-secret"}, "the signature does not match the request"),
        (
            {"timestamp": str(int(time.time() * 1000) - 301_000)},
            "X-Qmon-Timestamp is more than 5 minutes from this server's clock",
        ),
        (
            {"signed_target": f"/api/crm/salesforce/card?recordId={OPPORTUNITY[:-3]}AAW"},
            "the signature does not match the request",
        ),
        ({"headers": {"X-Qmon-Signature": None}}, "missing X-Qmon-Signature header"),
        ({"headers": {"X-Qmon-Signature": "v2=abc"}}, "X-Qmon-Signature has no v1= signature"),
        ({"headers": {"X-Qmon-Timestamp": None}}, "missing X-Qmon-Timestamp header"),
    ],
    ids=[
        "tampered body",
        "wrong secret",
        "stale",
        "changed query",
        "no signature",
        "another version",
        "no timestamp",
    ],
)
def test_a_salesforce_request_not_signed_right_is_refused(config, change, message):
    with serving(config) as app, app.client() as client:
        answer = salesforce_get(
            client, f"/api/crm/salesforce/card?recordId={OPPORTUNITY}", **change
        )
        assert answer.status_code == 401
        assert answer.json() == {"error": message}


def test_salesforce_ids_are_checked_after_the_signature(config):
    with serving(config) as app, app.client() as client:
        answer = salesforce_get(client, "/api/crm/salesforce/card?recordId=001000000000001")
        assert (answer.status_code, answer.json()) == (
            400,
            {"error": "recordId must be an Opportunity (006...) or a Case (500...)"},
        )
        answer = salesforce_get(client, "/api/crm/salesforce/card?recordId=006%3Cscript%3E")
        assert answer.json() == {
            "error": "recordId must be a Salesforce record id (15 or 18 characters)"
        }


def test_qmons_own_signature_is_the_documented_one():
    """docs/serve.md: v1=base64(HMAC-SHA256(secret, METHOD\\nPATH?QUERY\\nTIMESTAMP\\nBODY))."""
    mac = hmac.new(
        b"k", b"GET\n/api/crm/salesforce/card?recordId=1\n1700000000000\n", hashlib.sha256
    )
    expected = base64.b64encode(mac.digest()).decode()
    assert (
        qmon_signature("k", "GET", "/api/crm/salesforce/card?recordId=1", b"", "1700000000000")
        == expected
    )


def test_a_card_whose_secret_is_not_configured_is_not_there(tmp_path):
    path = write_config(tmp_path)
    with serving(path) as app, app.client() as client:
        answer = hubspot_get(client, HUBSPOT_QUERY)
        assert (answer.status_code, answer.json()) == (
            404,
            {"error": "the HubSpot card is not configured (serve.hubspot_card)"},
        )
        answer = salesforce_get(client, f"/api/crm/salesforce/card?recordId={OPPORTUNITY}")
        assert answer.status_code == 404


def test_a_card_secret_can_come_from_the_environment(tmp_path):
    path = write_config(tmp_path)
    seed(path)
    env = {
        "QMON_HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "QMON_SALESFORCE_CARD_SECRET": SALESFORCE_SECRET,
    }
    with serving(path, env) as app, app.client() as client:
        assert hubspot_get(client, HUBSPOT_QUERY, base=app.url).status_code == 200
        target = f"/api/crm/salesforce/card?recordId={OPPORTUNITY}"
        assert salesforce_get(client, target).status_code == 200


def test_salesforce_15_character_ids_get_their_checksum():
    assert salesforce_id18("0065g00000AbCdE") == "0065g00000AbCdEAAV"
    assert salesforce_id18("5005g00000XyZaB") == "5005g00000XyZaBAAV"
    assert salesforce_id18("001ABCDE0000000") == "001ABCDE0000000YHA"
    assert salesforce_id18("0065g00000AbCdEAAV") == "0065g00000AbCdEAAV"


def test_record_ids_map_to_subjects_as_the_connectors_map_them():
    assert {TYPE_IDS[o]: SUBJECT_TYPES[o] for o in ("deals", "tickets")} == HUBSPOT_SUBJECTS
    assert dict(SUBJECT_PREFIXES) == SALESFORCE_SUBJECTS
