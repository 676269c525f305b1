"""Signing in to `qmon serve`: the gate, local users, CSRF, the sign-in limit, the cookie.

Every test runs the real application under uvicorn and talks to it over the socket.
"""

from __future__ import annotations

import html
import time
from urllib.parse import quote

import argon2
import pytest
from sqlalchemy import text

from qmon.store import Store
from qmon.store.web_state import WebState
from qmon.web.auth import LoginLimiter, Passwords, safe_next
from qmon.web.sessions import COOKIE, Sessions
from tests.test_web_helpers import (
    ANNA_HASH,
    OTHER_PASSWORD,
    PASSWORD,
    csrf_of,
    seed,
    serve_section,
    serving,
    sign_in,
    write_config,
)

TOO_MANY = "Too many failed sign-ins for this user or from this address. Try again in 15 minute(s)."
BAD_LOGIN = "The user name or password is not right."


@pytest.fixture
def config(tmp_path):
    path = write_config(tmp_path)
    seed(path)
    return path


def test_nothing_is_served_without_a_sign_in_but_health_static_and_the_sign_in(config):
    with serving(config) as app, app.client() as client:
        page = client.get("/record/deal/D-1?x=1")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=" + quote("/record/deal/D-1?x=1", safe="")
        for path in ("/", "/journey", "/health", "/instance/quote-24h/deal/D-1/1", "/nowhere"):
            assert client.get(path).status_code == 303, path
        api = client.get("/api/record/deal/D-1")
        assert api.status_code == 401
        assert api.json() == {"error": "sign in first: this API needs a signed-in session"}
        assert client.get("/api/anything").status_code == 401
        health = client.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"ok": True, "store": True})
        css = client.get("/static/qmon.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert client.get("/login").status_code == 200
        assert "set-cookie" not in client.get("/healthz").headers  # no session for monitors


def test_a_user_signs_in_is_sent_back_and_signs_out(config):
    with serving(config) as app, app.client() as client:
        signed = sign_in(client, next_path="/record/deal/D-1")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/record/deal/D-1"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "; HttpOnly" in cookie and "; SameSite=Lax" in cookie and "; Path=/" in cookie
        assert "Secure" not in cookie  # plain http, and no https public_url
        page = client.get("/record/deal/D-1")
        assert page.status_code == 200 and "Signed in as anna" in page.text
        copy = dict(client.cookies)

        out = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert client.get("/record/deal/D-1").status_code == 303
        with app.client(cookies=copy) as thief:
            assert thief.get("/journey").status_code == 303  # a copy of the cookie is revoked


def test_names_are_matched_without_case_and_shown_as_configured(config):
    with serving(config) as app, app.client() as client:
        assert sign_in(client, name="ANNA").status_code == 303
        assert "Signed in as anna" in client.get("/journey").text


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(config):
    with serving(config) as app, app.client() as client:
        wrong = sign_in(client, password="not the password")
        unknown = sign_in(client, name="mallory", password=PASSWORD)
        for answer in (wrong, unknown):
            assert answer.status_code == 401
            assert BAD_LOGIN in answer.text
            assert "Signed in as" not in answer.text
        assert client.get("/journey").status_code == 303


def test_an_unknown_user_is_checked_against_a_hash_like_the_users(monkeypatch):
    """The same argon2 work for an unknown name: a dummy hash with the users' parameters."""
    passwords = Passwords({"anna": argon2_secret(ANNA_HASH)})
    assert argon2.extract_parameters(passwords._dummy) == argon2.extract_parameters(ANNA_HASH)
    checked = []
    real = argon2.PasswordHasher.verify
    monkeypatch.setattr(
        argon2.PasswordHasher, "verify", lambda self, h, p: checked.append(h) or real(self, h, p)
    )
    assert passwords.verify("mallory", PASSWORD) is None
    assert passwords.verify("anna", "wrong") is None
    assert passwords.verify("Anna", PASSWORD) == "anna"
    assert checked == [passwords._dummy, ANNA_HASH, ANNA_HASH]


def argon2_secret(value: str):
    from pydantic import SecretStr

    return SecretStr(value)


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(config):
    with serving(config) as app, app.client() as client:
        client.get("/login")  # a session with a token exists now
        for data in ({}, {"csrf_token": "forged"}):
            refused = client.post("/login", data={**data, "username": "anna", "password": PASSWORD})
            assert refused.status_code == 403
            assert "The form was not sent from qmon's own page" in html.unescape(refused.text)
        with app.client() as stranger:  # no session at all
            token = csrf_of(client.get("/login").text)
            refused = stranger.post(
                "/login", data={"csrf_token": token, "username": "anna", "password": PASSWORD}
            )
            assert refused.status_code == 403

        sign_in(client)
        for data in ({}, {"csrf_token": "forged"}):
            assert client.post("/logout", data=data).status_code == 403
        assert client.get("/journey").status_code == 200  # still signed in


def test_five_failures_for_a_user_lock_that_user_from_every_address(tmp_path):
    path = write_config(tmp_path, serve_section("  trusted_proxies: [127.0.0.1]\n"))
    with serving(path) as app, app.client() as client:
        for n in range(5):
            failed = sign_in_from(client, f"10.0.0.{n}", "anna", "wrong")
            assert failed.status_code == 401
        locked = sign_in_from(client, "10.0.0.99", "anna", PASSWORD)
        assert locked.status_code == 429
        assert TOO_MANY in locked.text
        assert 800 < int(locked.headers["retry-after"]) <= 900
        assert sign_in_from(client, "10.0.0.99", "bob", OTHER_PASSWORD).status_code == 303


def test_five_failures_from_an_address_lock_that_address_for_every_user(tmp_path):
    path = write_config(tmp_path, serve_section("  trusted_proxies: [127.0.0.1]\n"))
    with serving(path) as app, app.client() as client:
        for n in range(5):
            assert sign_in_from(client, "10.0.0.7", f"guess{n}", "x").status_code == 401
        locked = sign_in_from(client, "10.0.0.7", "bob", OTHER_PASSWORD)
        assert locked.status_code == 429 and TOO_MANY in locked.text
        assert sign_in_from(client, "10.0.0.8", "bob", OTHER_PASSWORD).status_code == 303


def sign_in_from(client, address: str, name: str, password: str):
    client.cookies.clear()
    headers = {"X-Forwarded-For": address}
    token = csrf_of(client.get("/login", headers=headers).text)
    form = {"csrf_token": token, "username": name, "password": password}
    return client.post("/login", headers=headers, data=form)


@pytest.fixture
def state(database_url):
    """The web state over a store of each kind (the workers of one `qmon serve` share it)."""
    store = Store.open(database_url)
    yield WebState(store.engine)
    store.close()


def test_the_limit_window_slides(state):
    limiter = LoginLimiter(state, failures=3, window_s=60)
    keys = ["user:anna"]
    for at in (0, 10, 20):
        assert limiter.retry_after(keys, now=at) == 0
        limiter.failed(keys, now=at)
    assert limiter.retry_after(keys, now=30) == 30  # the first failure ages out at 60
    assert limiter.retry_after(keys, now=60) == 0
    limiter.failed(keys, now=61)
    assert limiter.retry_after(keys, now=62) == 8
    limiter.succeeded("user:anna")
    assert limiter.retry_after(keys, now=62) == 0


def test_the_limit_is_shared_through_the_store_and_forgets_what_left_its_window(state):
    one, other = (LoginLimiter(WebState(state.engine), failures=2, window_s=60) for _ in "ab")
    keys = ["user:anna", "addr:10.0.0.9"]
    one.failed(keys, now=1000)
    other.failed(keys, now=1010)  # as another worker process would
    assert one.retry_after(keys, now=1020) == other.retry_after(keys, now=1020) == 40
    assert one.retry_after(["addr:10.0.0.9"], now=1020) == 40
    other.succeeded("user:anna")  # a sign-in clears the user, not the address
    assert one.retry_after(["user:anna"], now=1020) == 0
    assert one.retry_after(keys, now=1020) == 40
    one.failed(["user:bert"], now=2000)  # the old failures are out of the window now
    with state.engine.connect() as conn:
        rows = conn.execute(text("SELECT key, at_us FROM web_login_failures")).all()
    assert rows == [("user:bert", 2000 * 1_000_000)]


def test_sessions_expire_when_idle_or_old_and_a_forged_one_is_none(monkeypatch, state):
    sessions = Sessions("x" * 40, state, lifetime_s=3600, idle_s=600, https=False)
    now = time.time()
    cookie = sessions.dump({"sid": "s1", "csrf": "c", "user": "anna", "via": "local", "iat": now})
    assert sessions.load(cookie)["user"] == "anna"
    assert sessions.load(cookie, now=now + 3601) == {}  # past the lifetime
    assert sessions.load(cookie[:-2] + "xx") == {}
    assert Sessions("y" * 40, state, lifetime_s=3600, idle_s=600, https=False).load(cookie) == {}
    monkeypatch.setattr(time, "time", lambda: now - 601)
    idle = sessions.dump({"sid": "s2", "csrf": "c", "user": "anna", "via": "local", "iat": now})
    monkeypatch.undo()
    assert sessions.load(idle) == {}  # signed 601 s ago, idle limit 600 s
    sessions.revoke({"sid": "s1"})
    assert sessions.load(cookie) == {}
    again = Sessions("x" * 40, WebState(state.engine), lifetime_s=3600, idle_s=600, https=False)
    assert again.load(cookie) == {}  # another process over the same store refuses it too
    assert again.load(cookie, now=now + 3600) == {}
    sessions.revoke({"sid": "s3"}, now=now + 3601)  # the next revocation forgets s1's
    with state.engine.connect() as conn:
        assert conn.execute(text("SELECT sid FROM web_revocations")).scalars().all() == ["s3"]


def test_cookies_are_secure_for_an_https_public_url(tmp_path):
    path = write_config(tmp_path, serve_section("  public_url: https://qmon.example.com\n"))
    with serving(path) as app, app.client() as client:
        # (httpx then keeps it for https only, as a browser does)
        assert "; Secure" in client.get("/login").headers["set-cookie"]


def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(tmp_path):
    https = {"X-Forwarded-Proto": "https"}
    with serving(write_config(tmp_path)) as app, app.client() as client:
        answer = client.get("/login", headers=https)
        assert "Secure" not in answer.headers["set-cookie"]
        assert "strict-transport-security" not in answer.headers
    path = write_config(tmp_path, serve_section("  trusted_proxies: [127.0.0.0/8]\n"))
    with serving(path) as app, app.client() as client:
        answer = client.get("/login", headers=https)
        assert "; Secure" in answer.headers["set-cookie"]
        assert answer.headers["strict-transport-security"] == "max-age=31536000"


def test_sessions_outlive_a_restart_with_a_secret_but_not_a_removed_user(tmp_path):
    path = write_config(tmp_path)
    with serving(path) as app, app.client() as client:
        sign_in(client)
        cookies = dict(client.cookies)
    with serving(path) as app, app.client(cookies=cookies) as client:
        assert client.get("/journey").status_code == 200
    bob_only = serve_section().replace(f'    - {{name: anna, password_hash: "{ANNA_HASH}"}}\n', "")
    path = write_config(tmp_path, bob_only)
    with serving(path) as app, app.client(cookies=cookies) as client:
        assert client.get("/journey").status_code == 303


def test_a_generated_secret_ends_sessions_at_a_restart(tmp_path):
    path = write_config(
        tmp_path, serve_section().replace("  session_secret_file: session.secret\n", "")
    )
    with serving(path) as app, app.client() as client:
        assert app.settings.session_secret_generated
        sign_in(client)
        cookies = dict(client.cookies)
    with serving(path) as app, app.client(cookies=cookies) as client:
        assert client.get("/journey").status_code == 303


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/record/deal/D-1", "/record/deal/D-1"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
        ("/a\r\nSet-Cookie: x", "/"),
    ],
)
def test_after_signing_in_qmon_goes_only_to_its_own_pages(target, safe):
    assert safe_next(target) == safe


def test_the_next_page_of_the_form_is_checked_too(config):
    with serving(config) as app, app.client() as client:
        answer = sign_in(client, next_path="//evil.example/")
        assert answer.headers["location"] == "/"
