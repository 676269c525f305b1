"""A local OpenID Connect provider on a real socket, for `qmon serve`'s single sign-on.

What it speaks (OpenID Connect Core 1.0 and Discovery 1.0, RFC 7636 for PKCE, RFC 7517 for
the key set; read, not copied):

* `GET /.well-known/openid-configuration`: `issuer`, `authorization_endpoint`,
  `token_endpoint`, `jwks_uri`, `response_types_supported: ["code"]`,
  `id_token_signing_alg_values_supported: ["RS256"]`, `code_challenge_methods_supported:
  ["S256"]`, `token_endpoint_auth_methods_supported`.
* `GET /jwks`: the RSA public key as a JWK (`kty`, `kid`, `use`, `alg`, `n`, `e`).
* `GET /authorize?response_type=code&client_id&redirect_uri&scope&state&nonce&
  code_challenge&code_challenge_method=S256`: there is no sign-in form: the user is whoever
  `login_as` named, and the answer is a 302 to `redirect_uri?code=...&state=...`. A request
  without PKCE, or with an unknown client or redirect URI, gets 400.
* `POST /token` (`grant_type=authorization_code`, `code`, `redirect_uri`, `code_verifier`;
  the client authenticated by HTTP Basic or `client_secret` in the form): checks the
  secret, that the code is unused and was issued for this redirect URI, and that
  `BASE64URL(SHA256(code_verifier))` is the challenge; answers `access_token`,
  `token_type`, `expires_in` and an `id_token` signed with RS256 (`iss`, `sub`, `aud`,
  `exp`, `iat`, `nonce`, and the user's claims).

`tamper` makes the next ID tokens wrong in one way, for the tests that qmon refuses them:
`nonce`, `issuer`, `audience` (another `aud`, our `azp`), `expired`, `key` (signed by
another key) or `discovery` (the discovery document names another issuer). Signing is
done here with `cryptography` (RSASSA-PKCS1-v1_5 with SHA-256), not with authlib, so qmon's
verification is not checked by the same code that signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.server import FakeHandler, Reply


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class _Handler(FakeHandler):
    def reply(self, response: Any) -> Reply | None:
        return response


class FakeOidc:
    """The provider. Use as a context manager; `issuer` is its URL."""

    def __init__(self, client_id: str = "qmon", client_secret: str = "oidc-client-secret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris: set[str] = set()  # empty: any (the test's port is not known yet)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-1"
        self.user: dict[str, Any] = {}
        self.tamper: str | None = None
        self._codes: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.authorize_params: list[dict[str, str]] = []
        self.token_forms: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- running -------------------------------------------------------------------------

    def __enter__(self) -> FakeOidc:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def issuer(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def login_as(self, sub: str, **claims: Any) -> None:
        """Who signs in at the next authorization request, with which claims."""
        self.user = {"sub": sub, **claims}

    # -- the protocol ----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        with self._lock:
            self.requests.append((method, parts.path))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "GET" and parts.path == "/.well-known/openid-configuration":
            return self._json(200, self.discovery())
        if method == "GET" and parts.path == "/jwks":
            return self._json(200, {"keys": [self.jwk()]})
        if method == "GET" and parts.path == "/authorize":
            return self._authorize(query)
        if method == "POST" and parts.path == "/token":
            return self._token(headers, body)
        return self._json(404, {"error": "not_found"})

    def discovery(self) -> dict[str, Any]:
        issuer = self.issuer + ("/other" if self.tamper == "discovery" else "")
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwk(self) -> dict[str, str]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }

    def _authorize(self, query: dict[str, str]) -> Reply:
        with self._lock:
            self.authorize_params.append(query)
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return self._json(400, {"error": "invalid_request"})
        redirect = query.get("redirect_uri", "")
        if self.redirect_uris and redirect not in self.redirect_uris:
            return self._json(400, {"error": "invalid_request", "error_description": "redirect"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return self._json(400, {"error": "invalid_request", "error_description": "PKCE"})
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = {
                "redirect_uri": redirect,
                "challenge": query["code_challenge"],
                "nonce": query.get("nonce"),
                "user": dict(self.user),
            }
        location = f"{redirect}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}, b""

    def _token(self, headers: Mapping[str, str], body: bytes) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self._lock:
            self.token_forms.append(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return self._json(401, {"error": "invalid_client"})
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return self._json(400, {"error": "invalid_grant"})
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._json(400, {"error": "invalid_grant", "error_description": "redirect"})
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
        return self._json(
            200,
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant["user"], grant["nonce"]),
            },
        )

    def id_token(self, user: dict[str, Any], nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer + ("/evil" if self.tamper == "issuer" else ""),
            "aud": "someone-else" if self.tamper == "audience" else self.client_id,
            "iat": now - (7200 if self.tamper == "expired" else 0),
            "exp": now + (-3600 if self.tamper == "expired" else 300),
            "nonce": "not-the-nonce" if self.tamper == "nonce" else nonce,
            **user,
        }
        if self.tamper == "audience":
            claims["azp"] = self.client_id  # for us, but not to us
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing = (
            _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        ).encode()
        key = self._other_key if self.tamper == "key" else self._key
        signature = key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
        return signing.decode() + "." + _b64(signature)

    @staticmethod
    def _json(status: int, data: Any) -> Reply:
        return status, {"Content-Type": "application/json"}, json.dumps(data).encode()
