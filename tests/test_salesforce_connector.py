"""The Salesforce connector through the real simple-salesforce against FakeSalesforce (TLS).

What every connector must do is in the shared conformance suite; here is Salesforce's own,
through `qmon sync` / `run_sync` and a config file: logins, session expiry, API limits and
quota share, SOQL quoting, `sources check`, and the path from an org to `qmon audit`. The
mappings are in test_salesforce_mapping.py, paging, Bulk 2.0 and retries in
test_salesforce_sync.py.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qmon.config import load_config
from qmon.connectors.salesforce.wire import soql_string
from qmon.store import Store
from qmon.sync import run_sync
from qmon.timeutil import to_us
from tests.clihelp import qmon
from tests.fakes.salesforce import FakeSalesforce, _jwt_claims

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = "super-secret-consumer-value"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def us(minutes: float) -> int:
    return to_us(at(minutes))


def rest(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@pytest.fixture
def fake():
    with FakeSalesforce(batch_size=5) as fake:
        yield fake


def write_config(tmp_path: Path, fake: FakeSalesforce, auth: dict | None = None,
                 extra: str = "", **source) -> Path:  # fmt: skip
    path = tmp_path / "qmon.yaml"
    data = {
        "version": 1,
        "database": f"sqlite:///{tmp_path / 'qmon.db'}",
        "sources": {
            "salesforce": {
                "instance_url": fake.instance_url,
                "login_url": fake.instance_url,
                "auth": auth or {"method": "client_credentials", "consumer_key": "3MVG9-key",
                                 "consumer_secret": "${SF_SECRET}"},
                "ca_bundle": fake.ca_cert_path,
                "backoff_seconds": 0.01,
                **source,
            }
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data, sort_keys=False) + extra)
    return path


ENV = {"SF_SECRET": SECRET}
#: A mapping without attributes: a page of cases is then one request (no history read).
NO_ATTRIBUTES = ("mappings:\n  salesforce:\n    attributes: {priority: null, case_type: null, "
                 "deal_type: null, origin: null, record_type: null}\n")  # fmt: skip


def sync(path: Path, **kwargs):
    config = load_config(path, environ=ENV)
    store = Store.open(config.database_url)
    return run_sync(config, store, **kwargs), store


# --- SOQL quoting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, literal",
    [
        ("Closed Won", "'Closed Won'"),
        ("it's", "'it\\'s'"),
        ("x' OR Name != '", "'x\\' OR Name != \\''"),
        ('back\\slash "quoted"\n', "'back\\\\slash \\\"quoted\\\"\\n'"),
    ],
)
def test_user_text_cannot_leave_a_soql_literal(text: str, literal: str) -> None:
    assert soql_string(text) == literal


def test_a_hostile_id_is_just_a_value_to_the_org(fake) -> None:
    from simple_salesforce import Salesforce

    fake.add_record("Case", {"Subject": "a"})
    sf = Salesforce(instance=fake.instance, session_id=fake.session_id,
                    session=fake.make_session())  # fmt: skip
    hostile = "x') AND Subject != ('"
    answer = sf.query(f"SELECT Id FROM Case WHERE Subject IN ({soql_string(hostile)})")
    assert answer["totalSize"] == 0


# --- logins -----------------------------------------------------------------------------------


def test_client_credentials_login_sends_the_secret_only_to_the_token_endpoint(tmp_path, fake):
    fake.add_record("Case", {"CreatedDate": T0, "SystemModstamp": T0})
    report, store = sync(write_config(tmp_path, fake, objects=["Case"]))
    assert report.ok
    [login] = fake.token_requests
    assert login.grant_type == "client_credentials"
    assert login.params["client_secret"] == SECRET


def rsa_key() -> tuple[bytes, bytes]:
    """A private key (PEM, PKCS#8) and its public key, as a connected app's certificate has."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_jwt_login_sends_an_assertion_the_org_verifies(tmp_path, fake):
    private, public = rsa_key()
    fake.trust_jwt_key("3MVG9-key", public)  # the certificate uploaded to the connected app
    key_file = tmp_path / "sf.key"
    key_file.write_bytes(private)
    auth = {"method": "jwt", "username": "qm@acme.nl", "consumer_key": "3MVG9-key",
            "private_key_file": str(key_file)}  # fmt: skip
    before = time.time()
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert report.ok, report.sources[0].error
    [login] = fake.token_requests
    assert login.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = _jwt_claims(login.params["assertion"])
    assert (claims["iss"], claims["sub"], claims["aud"]) == (
        "3MVG9-key", "qm@acme.nl", fake.instance_url
    )
    assert int(before) + 180 <= claims["exp"] <= time.time() + 180  # signed now, 3 minutes

    # Another key than the app's certificate: refused, in words, without the key.
    other, _ = rsa_key()
    key_file.write_bytes(other)
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    error = str(report.sources[0].error)
    assert "Salesforce refused the jwt login" in error
    assert "invalid_grant: invalid assertion" in error
    assert "pre-authorized" in error and "PRIVATE KEY" not in error


def test_jwt_key_from_the_environment_and_an_explicit_audience(tmp_path, fake):
    private, public = rsa_key()
    fake.trust_jwt_key("3MVG9-key", public)
    auth = {"method": "jwt", "username": "qm@acme.nl", "consumer_key": "3MVG9-key",
            "private_key": "${SF_PRIVATE_KEY}", "audience": "https://test.salesforce.com"}
    path = write_config(tmp_path, fake, auth, objects=["Case"])
    config = load_config(path, environ={"SF_PRIVATE_KEY": private.decode()})
    report = run_sync(config, Store.open(config.database_url))
    assert report.ok, report.sources[0].error
    assert _jwt_claims(fake.token_requests[0].params["assertion"])["aud"] == (
        "https://test.salesforce.com"
    )
    auth["audience"] = "https://acme.my.salesforce.com"  # not an audience Salesforce accepts
    config = load_config(write_config(tmp_path, fake, auth, objects=["Case"]),
                         environ={"SF_PRIVATE_KEY": private.decode()})  # fmt: skip
    report = run_sync(config, Store.open(config.database_url))
    assert "invalid_grant: audience is invalid" in str(report.sources[0].error)


def test_a_session_id_is_used_as_given(tmp_path, fake):
    fake.add_record("Case", {"CreatedDate": T0})
    auth = {"method": "session", "session_id_file": str(tmp_path / "sid")}
    (tmp_path / "sid").write_text(fake.session_id + "\n")
    report, store = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert report.ok, report.sources[0].error
    assert fake.token_requests == [] and len(store.record_events("salesforce")) == 1


def test_password_login_appends_the_security_token(tmp_path, fake):
    secret_file = tmp_path / "pw"
    secret_file.write_text("hunter2\n")
    auth = {"method": "password", "username": "qm@acme.nl", "consumer_key": "k",
            "consumer_secret": "s", "password_file": str(secret_file),
            "security_token": "TOKEN"}  # fmt: skip
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert report.ok, report.sources[0].error
    assert fake.token_requests[0].params["password"] == "hunter2TOKEN"


def test_an_expired_session_logs_in_once_more(tmp_path, fake):
    for n in range(12):
        fake.add_record("Case", {"CreatedDate": at(n), "SystemModstamp": at(n)})
    path = write_config(tmp_path, fake, objects=["Case"])

    class ExpireAfterFirstPage:
        def stream_started(self, *a):
            pass

        def page_stored(self, *a):
            fake.expire_sessions()

        def stream_finished(self, *a):
            pass

    config = load_config(path, environ=ENV)
    store = Store.open(config.database_url)
    report = run_sync(config, store, progress=ExpireAfterFirstPage())
    assert report.ok, report.sources[0].error
    assert len(fake.token_requests) >= 2
    assert len(store.record_events("salesforce")) == 12


def test_a_session_id_cannot_be_renewed_and_says_so(tmp_path, fake):
    auth = {"method": "session", "session_id": "${SF_SESSION}"}
    path = write_config(tmp_path, fake, auth, objects=["Case"])
    fake.expire_sessions()
    session = fake.session_id
    result = qmon("--config", path, "sync", env={"SF_SESSION": session})
    assert result.exit_code == 3
    assert "a session id cannot be renewed by qmon" in result.stderr
    assert session not in result.output


def test_a_key_that_is_not_rsa_is_a_clear_error(tmp_path, fake):
    key_file = tmp_path / "sf.key"
    key_file.write_text("not a key")
    auth = {"method": "jwt", "username": "qm@acme.nl", "consumer_key": "3MVG9-key",
            "private_key_file": str(key_file)}  # fmt: skip
    report, _ = sync(write_config(tmp_path, fake, auth, objects=["Case"]))
    assert "private_key_file is not an RSA private key in PEM format" in str(
        report.sources[0].error
    )


def test_a_refused_login_is_clear_and_secret_free(tmp_path, fake):
    fake.reject_logins("invalid_client", "invalid client credentials")
    path = write_config(tmp_path, fake, objects=["Case"])
    result = qmon("--config", path, "sync", "--verbose", env=ENV)
    assert result.exit_code == 3
    assert "Salesforce refused the client_credentials login" in result.stderr
    assert "invalid_client: invalid client credentials" in result.stderr
    assert SECRET not in result.output
    result = qmon("--config", path, "sources", "check", env=ENV)
    assert result.exit_code == 3 and SECRET not in result.output


# --- API limits -------------------------------------------------------------------------------


def test_request_limit_exceeded_ends_the_sync_with_the_cursor_where_it_was(tmp_path, fake):
    for n in range(12):
        fake.add_record("Case", {"CreatedDate": at(n), "SystemModstamp": at(n)})
    fake.daily_api_limit = 100
    fake.api_requests_used = 98  # two pages fit, the third does not
    path = write_config(tmp_path, fake, objects=["Case"], extra=NO_ATTRIBUTES)
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 3
    assert "REQUEST_LIMIT_EXCEEDED" in result.stderr
    config = load_config(path, environ=ENV)
    store = Store.open(config.database_url)
    assert len(store.record_events("salesforce")) == 10
    assert store.cursor("salesforce", "Case") == us(9)
    fake.api_requests_used = 0  # a new day
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 0, result.output
    assert len(store.record_events("salesforce")) == 12


def test_the_sync_stops_at_its_quota_share(tmp_path, fake):
    for n in range(30):
        fake.add_record("Case", {"CreatedDate": at(n), "SystemModstamp": at(n)})
    fake.daily_api_limit = 100
    path = write_config(tmp_path, fake, objects=["Case"], api_quota_share="3%",
                        extra=NO_ATTRIBUTES)
    report, store = sync(path)
    source = report.sources[0]
    assert source.quota_stop
    assert str(source.error) == (
        "this sync made 3 API requests, its api_quota_share of 3% of the org's daily limit of "
        "100; 97 are left today; it stopped between pages and the next sync resumes from here "
        "(raise api_quota_share to read more per sync)"
    )
    assert len(store.record_events("salesforce")) == 15  # three pages of five, all stored
    assert store.cursor("salesforce", "Case") == us(14)
    assert (source.usage.calls, source.usage.remaining, source.usage.limit) == (3, 97, 100)
    assert fake.api_requests_used == 3
    report, store = sync(path)  # the next resumes from the cursor, minus the 10-minute lookback
    assert len(store.record_events("salesforce")) == 15 + 4
    assert store.cursor("salesforce", "Case") == us(18)


def test_persistent_5xx_stop_with_a_clear_message(tmp_path, fake):
    fake.add_record("Case", {"CreatedDate": T0, "SystemModstamp": T0})
    path = write_config(tmp_path, fake, objects=["Case"], retries=2)
    fake.fail_next(1, 503)  # the login is retried too
    report, _ = sync(path)
    assert report.ok
    fake.fail_next(10, 500)
    report, _ = sync(path)
    assert "also after 2 retries" in str(report.sources[0].error)


# --- sources check ----------------------------------------------------------------------------


def test_check_lists_objects_and_missing_fields(tmp_path, fake):
    fake.sobject("Case").fields.pop("origin")  # the integration user cannot read Case.Origin
    path = write_config(tmp_path, fake, objects=["Case", "Task"])
    result = qmon("--config", path, "sources", "check", env=ENV)
    assert result.exit_code == 3
    assert f"✓ login: client_credentials at {fake.instance_url}" in result.stdout
    assert "✓ API usage: 1 of 15,000 daily API requests used" in result.stdout
    assert (
        "✗ Case readable: Case.Origin is not readable: give the integration user read access "
        "to the field (field-level security), or set mappings.salesforce.case_channel_field "
        "to another field (or null)"
    ) in result.stdout
    assert "✓ Task readable" in result.stdout
    assert SECRET not in result.output


def test_check_says_what_is_not_there_and_whether_the_login_works(tmp_path):
    from tests.fakes.salesforce import default_sobjects

    schema = [o for o in default_sobjects() if o.name not in ("Quote", "QuoteDocument")]
    with FakeSalesforce(sobjects=schema) as fake:
        path = write_config(tmp_path, fake, objects=["Opportunity", "Quote"],
                            api_quota_share="20%")  # fmt: skip
        result = qmon("--config", path, "sources", "check", env=ENV)
        assert result.exit_code == 3
        assert (
            "✓ API usage: 1 of 15,000 daily API requests used; a sync makes at most 3,000 "
            "(20%, api_quota_share)"
        ) in result.stdout
        assert "✓ Opportunity readable: 7 fields" in result.stdout  # Type for `deal_type`
        assert (
            "✗ Quote readable: Quote is not available to the integration user (not enabled in "
            "the org, or no read access): give the user read access to Quote, or remove "
            "'Quote' from sources.salesforce.objects"
        ) in result.stdout

        fake.reject_logins("invalid_client_id", "client identifier invalid")
        result = qmon("--config", path, "sources", "check", env=ENV)
        assert result.exit_code == 3
        assert (
            "✗ login: Salesforce refused the client_credentials login at "
            f"{fake.instance_url} (invalid_client_id: client identifier invalid); check "
            "consumer_key and consumer_secret"
        ) in result.stdout
        assert "readable" not in result.stdout and SECRET not in result.output


# --- end to end: an org, `qmon sync`, `qmon audit` --------------------------------------------

PROMISES = """
promises:
  - id: quote-24h
    title: Quote within 24 hours
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
  - id: first-reply
    title: First reply within 4 hours
    phase: after-sales
    start: case.opened
    stop: case.first_response
    pause: case.waiting_on_customer
    resume: case.customer_replied
    within: 4h
"""


def test_sync_then_audit_shows_compliance_over_synced_data(tmp_path, fake):
    """The default mapping of a standard org feeds the demo-style promises."""
    for sent in (60, 3000, None):  # a quote document in time, one late, a quote Presented
        opp = fake.add_record("Opportunity", {"StageName": "Prospecting", "CreatedDate": at(0)})
        fake.add_record("OpportunityHistory", {"OpportunityId": opp, "StageName": "Prospecting",
                                               "CreatedDate": at(0)})  # fmt: skip
        fake.add_record("OpportunityHistory", {"OpportunityId": opp,
                                               "StageName": "Proposal/Price Quote",
                                               "CreatedDate": at(10)})  # fmt: skip
        quote = fake.add_record("Quote", {"OpportunityId": opp, "CreatedDate": at(20)})
        if sent is None:
            fake.update_record("Quote", quote, {"Status": "Presented", "LastModifiedDate": at(300),
                                                "SystemModstamp": at(300)})  # fmt: skip
        else:
            fake.add_record("QuoteDocument", {"QuoteId": quote, "CreatedDate": at(sent)})
    answered = fake.add_record("Case", {"CreatedDate": at(0), "Status": "New"})
    fake.add_record("EmailMessage", {"ParentId": answered, "Incoming": True,
                                     "CreatedDate": at(5), "MessageDate": at(5)})  # fmt: skip
    fake.add_record("EmailMessage", {"ParentId": answered, "Incoming": False,
                                     "CreatedDate": at(90), "MessageDate": at(90)})  # fmt: skip
    waited = fake.add_record("Case", {"CreatedDate": at(0), "Status": "New"})
    fake.add_record("CaseHistory", {"CaseId": waited, "Field": "Status", "OldValue": "New",
                                    "NewValue": "Waiting on Customer", "CreatedDate": at(60)})
    fake.add_record("CaseHistory", {"CaseId": waited, "Field": "Status",
                                    "OldValue": "Waiting on Customer", "NewValue": "Working",
                                    "CreatedDate": at(1000)})  # fmt: skip
    fake.add_record("CaseComment", {"ParentId": waited, "IsPublished": True,
                                    "CreatedDate": at(1100)})  # fmt: skip

    path = write_config(tmp_path, fake, extra=PROMISES)

    def audit() -> dict[str, tuple[int, int, int]]:
        result = qmon("--config", path, "audit", "--as-of", "2026-11-06T00:00:00Z",
                      "--format", "json", env=ENV)  # fmt: skip
        assert result.exit_code == 0, result.output
        return {p["id"]: (p["met"], p["breached"], p["open"])
                for p in json.loads(result.stdout)["promises"]}  # fmt: skip

    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 0, result.output
    assert "salesforce: ok" in result.stdout
    # first reply: 90 minutes; the other: 60 minutes, paused 940, then 100 more = 160 minutes.
    assert audit() == {"quote-24h": (2, 1, 0), "first-reply": (2, 0, 0)}

    # A new case answered late arrives with the next, incremental, sync.
    now = datetime.now(UTC) - timedelta(minutes=1)
    late = fake.add_record("Case", {"CreatedDate": at(2000), "SystemModstamp": now})
    fake.add_record("CaseComment", {"ParentId": late, "IsPublished": True,
                                    "CreatedDate": at(2400), "SystemModstamp": now})
    fake.clear_request_log()
    result = qmon("--config", path, "sync", env=ENV)
    assert result.exit_code == 0, result.output
    queries = [r.query["q"][0] for r in fake.request_log if "queryAll" in r.path]
    for sobject in ("Case", "CaseComment", "Opportunity", "Quote"):  # streams with a cursor
        [query] = [q for q in queries if f" FROM {sobject} " in q]
        assert f"FROM {sobject} WHERE SystemModstamp >= 2026-" in query
    assert audit() == {"quote-24h": (2, 1, 0), "first-reply": (2, 1, 0)}
