"""Single sign-on: qmon serve against a local OpenID Connect provider (tests/fakes/oidc.py).

The browser's part is played by two httpx clients: one for qmon (with its cookies), one for
the provider's authorize redirect; every hop goes over a real socket.
"""

from __future__ import annotations

import html
import socket
from pathlib import Path

import httpx
import pytest

from qmon.web.oidc import groups
from tests.fakes.oidc import FakeOidc
from tests.test_web_helpers import seed, serving, write_config

OIDC_SECRET = "oidc-client-secret-do-not-show"


@pytest.fixture
def provider():
    with FakeOidc(client_secret=OIDC_SECRET) as fake:
        yield fake


def oidc_config(tmp_path: Path, issuer: str, extra: str = "") -> Path:
    (tmp_path / "oidc.secret").write_text(OIDC_SECRET)
    serve = f"""serve:
  session_secret_file: session.secret
  oidc:
    issuer: {issuer}
    client_id: qmon
    client_secret_file: oidc.secret
    allowed_domains: [example.com]
    allowed_groups: [qmon-users]
    label: Example ID
{extra}"""
    path = write_config(tmp_path, serve)
    seed(path)
    return path


def single_sign_on(client: httpx.Client, next_path: str = "/journey") -> httpx.Response:
    start = client.get("/login/oidc", params={"next": next_path})
    assert start.status_code == 302, start.text
    with httpx.Client(timeout=10) as browser:
        back = browser.get(start.headers["location"])
    assert back.status_code == 302, back.text
    return client.get(back.headers["location"])


def test_a_user_of_an_allowed_domain_signs_in_with_pkce_state_and_nonce(tmp_path, provider):
    provider.login_as("u-1", email="anna@example.com", email_verified=True)
    with serving(oidc_config(tmp_path, provider.issuer)) as app, app.client() as client:
        login = client.get("/login")
        assert 'href="/login/oidc?next=/"' in login.text and "Sign in with Example ID" in login.text
        assert 'name="password"' not in login.text  # no local users configured
        done = single_sign_on(client, "/record/deal/D-1")
        assert (done.status_code, done.headers["location"]) == (303, "/record/deal/D-1")
        page = client.get("/record/deal/D-1")
        assert page.status_code == 200 and "Signed in as anna@example.com" in page.text

        asked = provider.authorize_params[-1]
        assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
        assert asked["nonce"] and asked["state"]
        assert asked["scope"] == "openid email profile"
        assert asked["redirect_uri"] == f"{app.url}/login/oidc/callback"
        token = provider.token_forms[-1]
        assert token["grant_type"] == "authorization_code" and token["code_verifier"]
        assert "client_secret" not in token  # sent as HTTP Basic, not in the form


def test_a_member_of_an_allowed_group_signs_in(tmp_path, provider):
    provider.login_as(
        "u-2", email="piet@partner.example", email_verified=True, groups=["staff", "qmon-users"]
    )
    with serving(oidc_config(tmp_path, provider.issuer)) as app, app.client() as client:
        assert single_sign_on(client).status_code == 303
        assert "Signed in as piet@partner.example" in client.get("/journey").text


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "eve@elsewhere.example", "email_verified": True, "groups": ["staff"]},
        {"email": "eve@example.com", "email_verified": False},
        {"email": "eve@example.com"},
        {"email": "eve@example.com.evil.example", "email_verified": True},
    ],
    ids=["other domain and group", "unverified", "verification unknown", "lookalike domain"],
)
def test_a_user_who_is_not_allowed_gets_a_clear_403(tmp_path, provider, claims):
    provider.login_as("u-3", **claims)
    with serving(oidc_config(tmp_path, provider.issuer)) as app, app.client() as client:
        refused = single_sign_on(client)
        assert refused.status_code == 403
        text = html.unescape(refused.text)
        assert f"Your account ({claims['email']}) may not use qmon" in text
        assert "Ask the administrator to allow your domain or group." in text
        assert client.get("/journey").status_code == 303


def test_unverified_e_mail_can_be_allowed_for_providers_without_the_claim(tmp_path, provider):
    provider.login_as("u-4", email="anna@example.com")
    path = oidc_config(tmp_path, provider.issuer, "    require_verified_email: false\n")
    with serving(path) as app, app.client() as client:
        assert single_sign_on(client).status_code == 303


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("nonce", "the ID token was not accepted (invalid_claim: nonce)"),
        ("issuer", "the ID token was not accepted (invalid_claim: iss)"),
        ("audience", "the ID token was not accepted (invalid_claim: aud)"),
        ("expired", "the ID token was not accepted (expired_token"),
        ("key", "the ID token was not accepted (bad_signature)"),
    ],
)
def test_a_wrong_id_token_is_refused(tmp_path, provider, tamper, reason):
    provider.login_as("u-5", email="anna@example.com", email_verified=True)
    with serving(oidc_config(tmp_path, provider.issuer)) as app, app.client() as client:
        provider.tamper = tamper
        refused = single_sign_on(client)
        assert refused.status_code == 400
        assert reason in html.unescape(refused.text)
        assert client.get("/journey").status_code == 303


def test_a_callback_with_another_state_or_a_used_code_is_refused(tmp_path, provider):
    provider.login_as("u-6", email="anna@example.com", email_verified=True)
    with serving(oidc_config(tmp_path, provider.issuer)) as app, app.client() as client:
        start = client.get("/login/oidc")
        with httpx.Client(timeout=10) as browser:
            callback = browser.get(start.headers["location"]).headers["location"]
        forged = httpx.URL(callback).copy_set_param("state", "forged")
        refused = client.get(str(forged))
        assert refused.status_code == 400
        assert "its state does not match" in html.unescape(refused.text)
        with app.client() as attacker:  # the callback in another browser: no such state
            assert attacker.get(callback).status_code == 400
        assert client.get("/journey").status_code == 303


def test_the_provider_must_be_the_configured_issuer_and_reachable(tmp_path, provider):
    provider.login_as("u-7", email="anna@example.com", email_verified=True)
    provider.tamper = "discovery"
    with serving(oidc_config(tmp_path, provider.issuer)) as app, app.client() as client:
        refused = client.get("/login/oidc")
        assert refused.status_code == 502
        assert "names another issuer" in refused.text
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with serving(oidc_config(tmp_path, nowhere)) as app, app.client() as client:
        refused = client.get("/login/oidc")
        assert refused.status_code == 502
        assert "the sign-in provider could not be reached" in refused.text


def test_a_wrong_client_secret_is_the_providers_refusal(tmp_path, provider):
    provider.login_as("u-8", email="anna@example.com", email_verified=True)
    path = oidc_config(tmp_path, provider.issuer)
    (tmp_path / "oidc.secret").write_text("another-secret")
    with serving(path) as app, app.client() as client:
        refused = single_sign_on(client)
        assert refused.status_code == 400
        assert "the provider refused the sign-in (invalid_client)" in html.unescape(refused.text)


def test_groups_are_read_from_a_list_a_string_or_a_dotted_path():
    claims = {"groups": ["a", 3, "b"], "role": "c", "realm_access": {"roles": ["d"]}}
    assert groups(claims, "groups") == {"a", "b"}
    assert groups(claims, "role") == {"c"}
    assert groups(claims, "realm_access.roles") == {"d"}
    assert groups(claims, "missing.path") == set()
