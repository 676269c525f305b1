"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (authlib).

`/login/oidc` reads the provider's discovery document (its `issuer` must be the configured
one), keeps a fresh `state`, `nonce` and PKCE verifier in the session and redirects to the
provider. `/login/oidc/callback` refuses a `state` it did not hand out, exchanges the code
(with the verifier and the client secret) for tokens, and accepts the ID token only when
its signature verifies with the provider's published keys and its issuer, audience,
expiry and nonce are right (authlib's `CodeIDToken`, and the audience, which it leaves to
the caller).

Who is admitted then: an e-mail whose domain is in `allowed_domains` (and which the
provider says is verified, unless `require_verified_email: false`), or a member of one of
`allowed_groups` by the `group_claim` (a dotted path such as `realm_access.roles` reads
inside an object). Anyone else gets a 403 page that says why.
"""

from __future__ import annotations

import warnings
from typing import Any

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx, which
    # qmon already depends on and which works. Its module sets its warnings to "always"
    # when imported, so it is imported first and the filter comes after.
    import authlib.deprecate  # noqa: F401

    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
    from authlib.integrations.starlette_client import OAuth
from starlette.requests import Request
from starlette.responses import Response

from qmon.web.settings import OidcSettings

#: How long the provider may take to answer a discovery, key or token request.
TIMEOUT_S = 10


class SignInFailed(Exception):
    """The single sign-on could not be completed; the message says why, in words."""


class OidcLogin:
    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        oauth = OAuth()
        self.client = oauth.register(
            name="oidc",
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": " ".join(settings.scopes),
                "code_challenge_method": "S256",
                "timeout": TIMEOUT_S,
            },
        )

    async def start(self, request: Request, redirect_uri: str) -> Response:
        """The redirect to the provider's sign-in page."""
        try:
            metadata = await self.client.load_server_metadata()
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is one answer
            raise SignInFailed(
                f"the sign-in provider could not be reached ({type(exc).__name__})"
            ) from None
        if str(metadata.get("issuer", "")).rstrip("/") != self.settings.issuer:
            self.client.server_metadata = {}  # read it again next time
            raise SignInFailed("the provider's discovery document names another issuer")
        # One sign-in under way per session: an abandoned one's state goes.
        for key in [k for k in request.session if k.startswith("_state_oidc_")]:
            request.session.pop(key)
        return await self.client.authorize_redirect(request, redirect_uri)

    async def finish(self, request: Request) -> dict[str, Any]:
        """The verified claims of the ID token the provider's callback leads to."""
        # authlib checks `iss` (against the discovery document) and `azp`, but not that `aud`
        # holds our client id (OpenID Connect Core 3.1.3.7, step 3): both are asked for here.
        try:
            metadata = await self.client.load_server_metadata()
        except Exception as exc:  # noqa: BLE001 - any failure to reach it is one answer
            raise SignInFailed(
                f"the sign-in provider could not be reached ({type(exc).__name__})"
            ) from None
        issuer = metadata.get("issuer") or self.settings.issuer
        claims_options = {
            "iss": {"essential": True, "values": [issuer]},
            "aud": {"essential": True, "values": [self.settings.client_id]},
        }
        try:
            token = await self.client.authorize_access_token(request, claims_options=claims_options)
        except Exception as exc:  # noqa: BLE001 - state, token request, signature, claims
            raise SignInFailed(_reason(exc)) from None
        claims = token.get("userinfo")
        if not claims:
            raise SignInFailed("the provider sent no ID token")
        return dict(claims)

    def admits(self, claims: dict[str, Any]) -> bool:
        s = self.settings
        email = claims.get("email")
        verified = claims.get("email_verified") in (True, "true")
        if isinstance(email, str) and "@" in email and (verified or not s.require_verified_email):
            if email.rsplit("@", 1)[1].lower() in s.allowed_domains:
                return True
        return bool(set(s.allowed_groups) & groups(claims, s.group_claim))


def groups(claims: dict[str, Any], claim: str) -> set[str]:
    """The groups in `claim` (a dotted path into the claims): a list of names, or one."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {g for g in value if isinstance(g, str)}
    return set()


def who(claims: dict[str, Any]) -> str:
    """The name a signed-in user is shown and logged by."""
    for key in ("email", "preferred_username", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return "?"


def _reason(exc: Exception) -> str:
    """Why, in words; never the provider's free text, which may be anything."""
    if isinstance(exc, MismatchingStateError):
        return "the sign-in was not started here, or too long ago (its state does not match)"
    error = getattr(exc, "error", None)
    if isinstance(exc, OAuthError):
        return f"the provider refused the sign-in ({error})"
    if isinstance(error, str):  # joserfc's errors: a bad signature, a wrong claim
        claim = getattr(exc, "claim", None)
        detail = f"{error}: {claim}" if claim else str(error)
        return f"the ID token was not accepted ({detail})"
    return f"the provider's answer was not accepted ({type(exc).__name__})"
