"""Who may see what: local users with argon2 hashes, the sign-in limit, and the gate.

- **Passwords** are checked with argon2 (argon2-cffi). A user name that is not configured is
  checked against a dummy hash made with the same parameters, so an unknown name takes as
  long as a wrong password and the answer is the same words.
- **The sign-in limit**: after `login_limit.failures` failed sign-ins within
  `login_limit.within`, for one user name or from one client address, further attempts for
  it are refused (429, with Retry-After) without checking the password, until the oldest
  failure is that old. A successful sign-in clears the user's count, not the address's.
- **The gate**: nothing is served without a signed-in session but `/healthz`, the static
  files, the sign-in pages and the CRM card API (whose requests are signed instead). Any
  other page redirects to `/login` (and back after signing in); any other `/api/` answer is
  401 JSON.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import SecretStr
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from qmon.store.web_state import WebState

PUBLIC_PATHS = frozenset({"/healthz", "/login", "/login/oidc", "/login/oidc/callback"})
PUBLIC_PREFIXES = ("/static/", "/api/crm/")


@dataclass(frozen=True)
class Account:
    """The signed-in user, as `request.user`."""

    name: str
    via: str  # local | oidc

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name


class Passwords:
    """Checks local users' passwords in about the same time whether the user exists or not."""

    def __init__(self, users: Mapping[str, SecretStr]) -> None:
        self._users = {name.casefold(): (name, h) for name, h in users.items()}
        self._hasher = argon2.PasswordHasher()
        first = next(iter(users.values()), None)
        params = argon2.extract_parameters(first.get_secret_value()) if first else None
        hasher = (
            argon2.PasswordHasher(
                time_cost=params.time_cost, memory_cost=params.memory_cost,
                parallelism=params.parallelism, hash_len=params.hash_len,
                salt_len=params.salt_len, type=params.type,
            )
            if params else self._hasher
        )  # fmt: skip
        self._dummy = hasher.hash(secrets.token_urlsafe(24))

    def name_of(self, name: str) -> str | None:
        """The configured spelling of a user name (names are matched without case)."""
        found = self._users.get(name.casefold())
        return found[0] if found else None

    def verify(self, name: str, password: str) -> str | None:
        """The user's configured name if the password is theirs, else None."""
        found = self._users.get(name.casefold())
        encoded = found[1].get_secret_value() if found else self._dummy
        try:
            self._hasher.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return found[0] if found else None


class LoginLimiter:
    """Failed sign-ins per key (a user name, a client address) in a sliding window, counted
    in the store so that every worker process sees every failure (`WebState`)."""

    def __init__(self, state: WebState, failures: int, window_s: int) -> None:
        self.state = state
        self.failures = failures
        self.window_s = window_s

    def retry_after(self, keys: Iterable[str], now: float | None = None) -> int:
        """Seconds until any of `keys` may try again; 0 when all may now."""
        now_us = _us(now)
        window_us = self.window_s * 1_000_000
        wait_us = 0
        for times in self.state.failures(keys, now_us - window_us).values():
            if len(times) >= self.failures:
                wait_us = max(wait_us, times[-self.failures] + window_us - now_us)
        return -(-wait_us // 1_000_000) if wait_us > 0 else 0

    def failed(self, keys: Iterable[str], now: float | None = None) -> None:
        now_us = _us(now)
        self.state.failed(keys, now_us, now_us - self.window_s * 1_000_000)

    def succeeded(self, key: str) -> None:
        self.state.forget_failures(key)


def _us(now: float | None) -> int:
    return int((time.time() if now is None else now) * 1_000_000)


def limit_keys(user: str, client: str | None) -> list[str]:
    return [f"user:{user.casefold()}", f"addr:{client or '-'}"]


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c in target for c in "\\\r\n\t")
    ):
        return "/"
    return target


class AuthGate:
    """Lets through signed-in sessions and the public paths; the rest sign in first. The
    session of a user since removed from the file ends at their next request.
    """

    def __init__(self, app: ASGIApp, local_users: Iterable[str]) -> None:
        self.app = app
        self.local_users = frozenset(local_users)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = scope["session"]
        user, via = session.get("user"), session.get("via")
        known = via == "oidc" or (via == "local" and user in self.local_users)
        if isinstance(user, str) and known:
            scope["user"] = Account(user, via)
            await self.app(scope, receive, send)
            return
        if "user" in session:
            session.clear()
        scope["user"] = None
        path: str = scope["path"]
        if is_public(path):
            await self.app(scope, receive, send)
            return
        if path.startswith("/api/"):
            response = JSONResponse(
                {"error": "sign in first: this API needs a signed-in session"}, status_code=401
            )
        else:
            raw = scope.get("raw_path") or path.encode()
            query = scope["query_string"]
            target = (raw + (b"?" + query if query else b"")).decode("latin-1")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
        await response(scope, receive, send)
