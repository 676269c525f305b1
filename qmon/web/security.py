"""The headers every response carries, and the one access log line per request.

`ResponseGuard` wraps the whole application, outside Starlette's own error handling, so that
error pages carry the same headers as any other page:

- `Content-Security-Policy`: everything from qmon itself only, no inline script or style
  (the pages have none: one stylesheet, no JavaScript), no framing (`frame-ancestors
  'none'`), forms post only to qmon, no `<base>` or plug-ins.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, `X-Frame-Options:
  DENY` (for browsers older than frame-ancestors), `Cross-Origin-Opener-Policy`.
- `Cache-Control: no-store` on everything but the static files: pages and API answers hold
  CRM data.
- `Strict-Transport-Security` on answers over https.

The access log line (`qmon.web.access`, INFO: shown with `--verbose`) names the method, the
path without its query (a sign-in callback's query holds a one-time code), the status, the
time taken and the client address.
"""

from __future__ import annotations

import logging
import os
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qmon.textsafe import terminal_text

access_log = logging.getLogger("qmon.web.access")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
STATIC_PREFIX = "/static/"


class ResponseGuard:
    """Adds the security headers to every HTTP response and logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def guarded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                static = scope["path"].startswith(STATIC_PREFIX) and status == 200
                headers["Cache-Control"] = "public, max-age=3600" if static else "no-store"
                if scope.get("scheme") == "https":
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        try:
            await self.app(scope, receive, guarded)
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %s %.0f ms %s",
                scope["method"],
                terminal_text(scope["path"], markup=False),
                status or 500,
                (time.perf_counter() - started) * 1000,
                client[0] if client else "-",
                extra={"pid": os.getpid()},  # which worker (`qmon serve --workers`)
            )
