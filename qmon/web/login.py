"""The sign-in pages: `/login` (local users), `/login/oidc` and its callback, `/logout`.

Every form carries the session's CSRF token; a POST without it, or with another, is 403.
Failed sign-ins and refusals are logged (`qmon.web.auth`, WARNING) with the user name or
account and the client address, never the password.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qmon.web import render
from qmon.web.auth import limit_keys, safe_next
from qmon.web.oidc import SignInFailed, who
from qmon.web.sessions import csrf_ok, sign_in

log = logging.getLogger("qmon.web.auth")

#: Longer than this a user name or password is no user's; refused without hashing.
MAX_FIELD = 1024


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _login_page(
    request: Request, *, status: int = 200, message: str | None = None, name: str = "",
    next_path: str = "/", headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    ctx = request.app.state.qmon
    oidc = ctx.settings.oidc
    return render.page(
        request, "login.html.j2", status=status, headers=headers, message=message, name=name,
        next_path=next_path, local=bool(ctx.settings.users),
        sso_label=(oidc.label if oidc and oidc.label else None), sso=oidc is not None,
    )  # fmt: skip


async def login_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if request.scope.get("user") is not None:
        return RedirectResponse(next_path, status_code=303)
    return _login_page(request, next_path=next_path)


async def login(request: Request) -> Response:
    ctx = request.app.state.qmon
    async with request.form(max_files=0, max_fields=10, max_part_size=4096) as form:
        token, name = form.get("csrf_token"), form.get("username")
        password, next_path = form.get("password"), safe_next(str(form.get("next") or "/"))
    if not csrf_ok(request.session, token):
        return render.error(request, 403, "csrf")
    name = name if isinstance(name, str) else ""
    password = password if isinstance(password, str) else ""
    keys = limit_keys(name, _client(request))
    wait = await run_in_threadpool(ctx.limiter.retry_after, keys)  # the store: off the loop
    words = render.WORDS[render.language(request)]
    if wait:
        log.warning("sign-in refused (too many failures): user %r from %s", name[:80],
                    _client(request))  # fmt: skip
        message = words["too_many"].format(minutes=max(1, (wait + 59) // 60))
        return _login_page(request, status=429, message=message, name=name,
                           next_path=next_path, headers={"Retry-After": str(wait)})  # fmt: skip
    user = None
    if ctx.settings.users and name and len(name) <= MAX_FIELD and len(password) <= MAX_FIELD:
        user = await run_in_threadpool(ctx.passwords.verify, name, password)
    if user is None:
        await run_in_threadpool(ctx.limiter.failed, keys)
        log.warning("sign-in failed: user %r from %s", name[:80], _client(request))
        return _login_page(request, status=401, message=words["bad_login"], name=name,
                           next_path=next_path)  # fmt: skip
    await run_in_threadpool(ctx.limiter.succeeded, keys[0])
    sign_in(request.session, user, "local")
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    async with request.form(max_files=0, max_fields=5, max_part_size=1024) as form:
        token = form.get("csrf_token")
    if not csrf_ok(request.session, token):
        return render.error(request, 403, "csrf")
    await run_in_threadpool(request.app.state.qmon.sessions.revoke, dict(request.session))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _callback_url(request: Request) -> str:
    public = request.app.state.qmon.settings.public_url
    if public:
        return public + "/login/oidc/callback"
    return str(request.url_for("oidc_callback"))


async def oidc_start(request: Request) -> Response:
    oidc = request.app.state.qmon.oidc
    if oidc is None:
        return render.error(request, 404, "not_found")
    request.session["next"] = safe_next(request.query_params.get("next"))
    try:
        return await oidc.start(request, _callback_url(request))
    except SignInFailed as exc:
        log.warning("single sign-on could not start: %s", exc)
        return render.error(request, 502, "sso_failed", reason=str(exc))


async def oidc_callback(request: Request) -> Response:
    oidc = request.app.state.qmon.oidc
    if oidc is None:
        return render.error(request, 404, "not_found")
    next_path = safe_next(request.session.get("next"))
    try:
        claims = await oidc.finish(request)
    except SignInFailed as exc:
        log.warning("single sign-on failed from %s: %s", _client(request), exc)
        return render.error(request, 400, "sso_failed", reason=str(exc))
    account = who(claims)
    if not oidc.admits(claims):
        log.warning("single sign-on refused: %r from %s is not allowed", account,
                    _client(request))  # fmt: skip
        request.session.clear()
        return render.error(request, 403, "not_allowed", who=account)
    sign_in(request.session, account, "oidc")
    return RedirectResponse(next_path, status_code=303)
