"""The `qmon serve` application: routes, middleware and what every request shares.

The URL map (docs/serve.md):

| path | what | sign-in |
|---|---|---|
| `/healthz` | `{"ok", "store"}`: qmon answers and its store is reachable | no |
| `/static/qmon.css` | the one stylesheet | no |
| `/login`, `/login/oidc`, `/login/oidc/callback` | signing in | no |
| `/logout` (POST) | signing out | yes |
| `/` | to `/journey` | yes |
| `/journey`, `/promises`, `/promise/{id}` | compliance over a period, from the figures | yes |
| `/actions` (GET, POST) | the actions log and its effect, logging one, the CRM's tasks | yes |
| `/health` | what `qmon status` shows | yes |
| `/record/{subject_type}/{subject_id}` | the record's promises (`?format=csv`) | yes |
| `/instance/{promise_id}/{subject_type}/{subject_id}/{cycle}` | one instance explained | yes |
| `/api/record/{subject_type}/{subject_id}` | the card JSON for a signed-in user | yes |
| `/api/crm/hubspot/card`, `/api/crm/salesforce/card` | the CRM cards' JSON | signed |

From the outside in: trusted proxies' headers (only when `serve.trusted_proxies` names
them), the security headers and access log (`ResponseGuard`, also on error pages), then
Starlette's error pages, the session cookie and the sign-in gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from qmon.config import QmonConfig
from qmon.store import Store
from qmon.store.web_state import WebState
from qmon.web import actions, cards, journey, login, pages
from qmon.web.auth import AuthGate, LoginLimiter, Passwords
from qmon.web.security import ResponseGuard
from qmon.web.sessions import SessionMiddleware, Sessions
from qmon.web.settings import WebSettings

#: No form or card request of qmon's is larger.
MAX_BODY = 64 * 1024


@dataclass
class WebContext:
    """What every request of one `qmon serve` process shares (`request.app.state.qmon`)."""

    config: QmonConfig
    settings: WebSettings
    store: Store
    sessions: Sessions
    passwords: Passwords
    limiter: LoginLimiter
    oidc: Any  # OidcLogin, imported (with authlib) only when `serve.oidc` is set
    cache: dict[str, Any] = field(default_factory=dict)


def routes() -> list[Any]:
    return [
        Route("/healthz", pages.healthz),
        Route("/login", login.login_form, methods=["GET"]),
        Route("/login", login.login, methods=["POST"]),
        Route("/login/oidc", login.oidc_start, methods=["GET"]),
        Route("/login/oidc/callback", login.oidc_callback, methods=["GET"], name="oidc_callback"),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/", pages.home),
        Route("/journey", journey.journey),
        Route("/promises", journey.promises_page),
        Route("/promise/{promise_id}", journey.promise),
        Route("/actions", actions.actions_page, methods=["GET"]),
        Route("/actions", actions.log_action, methods=["POST"]),
        Route("/health", pages.health),
        Route("/record/{subject_type}/{subject_id:path}", pages.record),
        Route(
            "/instance/{promise_id}/{subject_type}/{subject_id:path}/{cycle:int}", pages.instance
        ),
        Route("/api/record/{subject_type}/{subject_id:path}", pages.record_json),
        Route("/api/crm/hubspot/card", cards.hubspot_card, methods=["GET"]),
        Route("/api/crm/salesforce/card", cards.salesforce_card, methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("qmon.web", "static")]), name="static"),
    ]


def create_app(config: QmonConfig, settings: WebSettings, store: Store) -> ASGIApp:
    """The ASGI application of `qmon serve` over an open store."""
    state = WebState(store.engine)
    sessions = Sessions(
        settings.session_secret.get_secret_value(),
        state,
        lifetime_s=settings.session_lifetime_s,
        idle_s=settings.session_idle_s,
        https=settings.https,
    )
    oidc = None
    if settings.oidc is not None:
        from qmon.web.oidc import OidcLogin

        oidc = OidcLogin(settings.oidc)
    context = WebContext(
        config=config,
        settings=settings,
        store=store,
        sessions=sessions,
        passwords=Passwords(settings.users),
        limiter=LoginLimiter(state, settings.login_failures, settings.login_window_s),
        oidc=oidc,
    )
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(SessionMiddleware, sessions=sessions),
            Middleware(AuthGate, local_users=settings.users.keys()),
        ],
        exception_handlers={
            404: pages.not_found,
            405: pages.not_allowed,
            500: pages.server_error,
        },
        max_body_size=MAX_BODY,
    )
    app.state.qmon = context
    guarded: ASGIApp = ResponseGuard(app)
    if settings.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        guarded = ProxyHeadersMiddleware(guarded, trusted_hosts=list(settings.trusted_proxies))  # type: ignore[arg-type]
    return guarded
