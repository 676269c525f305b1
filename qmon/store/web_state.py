"""What every `qmon serve` process must agree on, kept in the store: signed-out sessions and
recent failed sign-ins.

With `qmon serve --workers N` (or several servers on one PostgreSQL) a request may reach any
process, so a sign-out made in one must refuse the cookie in all of them, and the sign-in
limit must count the failures seen by all of them. Times are wall-clock microseconds.

Both tables stay small by themselves: a revocation is deleted once its session would have
expired anyway, a failure once it has left the limit's window. Within the window a key
gains no failures past the limit (the attempt is refused before a password is checked), so
one client address adds at most `serve.login_limit.failures` rows, however many user names
it tries.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, bindparam, text

_IS_REVOKED = text("SELECT 1 FROM web_revocations WHERE sid = :sid AND until_us > :now")
_FORGET_FAILURES = text("DELETE FROM web_login_failures WHERE at_us <= :since")
_FAILURES = text(
    "SELECT key, at_us FROM web_login_failures WHERE key IN :keys AND at_us > :since"
    " ORDER BY key, at_us"
).bindparams(bindparam("keys", expanding=True))


class WebState:
    """Revocations and failed sign-ins of `qmon serve`, over the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revoke(self, sid: str, until_us: int, now_us: int) -> None:
        """Refuse session `sid` until `until_us`; forgets revocations that have run out."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM web_revocations WHERE until_us <= :now"),
                         {"now": now_us})  # fmt: skip
            conn.execute(text("DELETE FROM web_revocations WHERE sid = :sid"), {"sid": sid})
            conn.execute(text("INSERT INTO web_revocations (sid, until_us) VALUES (:sid, :u)"),
                         {"sid": sid, "u": until_us})  # fmt: skip

    def is_revoked(self, sid: str, now_us: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(_IS_REVOKED, {"sid": sid, "now": now_us}).first() is not None

    def failures(self, keys: Iterable[str], since_us: int) -> dict[str, list[int]]:
        """Per key, the instants of its failures after `since_us`, oldest first. Forgets
        every key's failures at or before `since_us` (asked at each sign-in, this keeps no
        user name or address longer than the window, also when no failure follows)."""
        keys = list(keys)
        found: dict[str, list[int]] = {key: [] for key in keys}
        with self.engine.begin() as conn:
            conn.execute(_FORGET_FAILURES, {"since": since_us})
            for key, at_us in conn.execute(_FAILURES, {"keys": keys, "since": since_us}):
                found[key].append(at_us)
        return found

    def failed(self, keys: Iterable[str], at_us: int, since_us: int) -> None:
        """Count a failure for each key at `at_us`; forgets failures at or before `since_us`
        (out of the window)."""
        keys = list(keys)
        with self.engine.begin() as conn:
            conn.execute(_FORGET_FAILURES, {"since": since_us})
            for key in keys:
                conn.execute(text("INSERT INTO web_login_failures (key, at_us) VALUES (:k, :a)"),
                             {"k": key, "a": at_us})  # fmt: skip

    def forget_failures(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM web_login_failures WHERE key = :k"), {"k": key})
