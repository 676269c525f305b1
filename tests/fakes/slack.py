"""A local, in-memory Slack workspace that speaks the Web API wire format over a real socket.

Why a server and not mocks: qmon posts alerts through ``slack_sdk.WebClient``, and what can
break is the contract between that library and Slack -- the URL it builds from ``base_url``,
whether it sends a JSON or a form body, how the token travels, which exception it raises for
an ``ok: false`` answer, what its retry handlers do with a 429 and its ``Retry-After`` or with a
dropped connection. Patching the library away would test none of that. So this fake is an HTTP
server on 127.0.0.1 and the real client talks to it::

    with FakeSlack() as fake:
        alerts = fake.add_channel("alerts")
        client = WebClient(token=fake.token, base_url=fake.base_url)  # base_url ends in /api/
        posted = client.chat_postMessage(channel="#alerts", text="SLA breached", blocks=[...])
        client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Resolved")
        assert fake.messages(alerts)[0].text == "Resolved"

Where the wire format comes from (read, not copied):

* Slack's method reference (docs.slack.dev/reference/methods/…, mirrored as JSON in
  ``slack-ruby/slack-api-ref`` ``methods/*``): ``chat.postMessage`` (``channel`` "an encoded ID
  or channel name"; ``blocks``/``attachments`` "a JSON-based array …, presented as a URL-encoded
  string"; one of text/blocks/attachments required; success example ``{"ok", "channel", "ts",
  "message": {"text", "bot_id", "type": "message", "ts", …}}``; errors ``channel_not_found``,
  ``not_in_channel``, ``is_archived``, ``msg_too_long``, ``no_text``, ``invalid_blocks``,
  ``invalid_blocks_format``, ``missing_scope``), ``chat.update`` (``channel`` must be an ID;
  omitted blocks/attachments "will be retained", an empty array removes them; answer ``{"ok",
  "channel", "ts", "text", "message"}``; errors ``message_not_found``, ``cant_update_message``,
  ``is_inactive``), ``auth.test`` (``{"ok", "url", "team", "user", "team_id", "user_id"}`` plus
  ``bot_id`` for bot tokens; ``not_authed``, ``invalid_auth``, ``token_revoked``) and
  ``conversations.list`` (``types`` default ``public_channel``, ``limit`` default 100 and "no
  larger than 1000", ``cursor`` / ``response_metadata.next_cursor``, ``exclude_archived``).
  Every method documents "Tokens should be passed as an HTTP Authorization header or
  alternatively, as a POST parameter"; application errors come back as HTTP 200 with
  ``ok: false``.
* Slack's rate-limit guide (docs.slack.dev/apis/web-api/rate-limits): limits apply "per API
  method per app per workspace" in tiers of requests per minute; ``chat.postMessage`` is
  special: "generally allows posting one message per second per channel", short bursts
  tolerated, plus a workspace-wide limit; an exceeded limit answers HTTP 429 with
  ``Retry-After`` in seconds.
* ``slackapi/python-slack-sdk`` ``tests/slack_sdk/web/mock_web_api_handler.py``: the 429 body
  ``{"ok": false, "error": "ratelimited"}``; Slack's 5xx answers are an HTML "Server Error"
  page, not JSON; ``RemoteDisconnected`` is what a client sees when the server closes the
  connection without answering.
* ``slack_sdk`` 3.x itself (installed): every method is POSTed; ``chat_postMessage`` and
  ``chat_update`` send JSON bodies, ``auth_test`` and ``conversations_list`` form bodies (with
  booleans as ``"1"``/``"0"``); the method URL is ``urljoin(base_url, method)`` after
  ``WebClient`` has appended a missing trailing ``/`` (3.x does; a hand-built URL must end in
  ``/``), so a ``base_url`` without ``/api/`` lands outside the API (the fake answers 404);
  ``RateLimitErrorRetryHandler`` sleeps ``int(Retry-After) + random()`` seconds and the default
  handler list is one ``ConnectionErrorRetryHandler`` (one retry, with back-off).

Where the fake had to guess, the docstring or constant says so, so that a test that depends on
it knows it leans on an assumption. The main ones: ``unknown_method`` answered with HTTP 404;
``invalid_json`` for a JSON body that does not parse; a missing ``channel`` is
``channel_not_found``; ``chat.update`` keeps the old text when ``text`` is omitted; the
``block_id`` values echoed in responses (Slack fills in random ones, the fake numbers them);
the text of the injected HTML 5xx page.

What is deliberately *not* modelled: DMs and user IDs as ``channel`` (``channel_not_found``),
threads beyond storing ``thread_ts``, ``chat.postEphemeral``/``chat.delete``/files, Block Kit
validation beyond "an array of objects with a ``type``, at most 50", mrkdwn and link parsing,
``as_user``/``username``/icons (stored in ``params``, not applied), the workspace-wide posting
limit, edit windows, the Events API. Timeouts (a server that accepts and never answers) are not
modelled either; use :meth:`FakeSlack.go_down` or :meth:`FakeSlack.drop_next`.

Nothing here reaches the network: the server binds 127.0.0.1 on a free port and the client is
pointed at it with ``base_url=``; nothing in this module opens an outgoing connection.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeHandler, Reply

if TYPE_CHECKING:
    from slack_sdk import WebClient

DEFAULT_TOKEN = "xoxb-0000000000-0000000000000-qmonfakeslacktoken0000"
"""Bot tokens look like ``xoxb-<team>-<bot>-<secret>``; the fake only compares strings."""

API_PREFIX = "/api/"
"""Slack serves the Web API under ``https://slack.com/api/<method>``; so does the fake."""

TEAM_ID = "T0000000001"
TEAM_NAME = "qmon test workspace"
TEAM_DOMAIN = "qmon-test"
BOT_USER_ID = "U0000000001"
BOT_USER_NAME = "qmon"
BOT_ID = "B0000000001"
APP_ID = "A0000000001"
OTHER_USER_ID = "U0000000099"
"""Author of messages added with :meth:`FakeSlack.add_message`: a person, not the bot."""

DEFAULT_SCOPES: tuple[str, ...] = (
    "chat:write", "channels:read", "groups:read", "channels:history", "groups:history",
)
"""What qmon's Slack app asks for (the history scopes let it look up whether a message whose
answer was lost did arrive). ``chat:write.public`` (post to public channels without
joining) is left out on purpose, so ``not_in_channel`` is what a test sees by default."""

TS_EPOCH = 1_700_000_000
TS_STEP_MICROS = 100
"""Message timestamps are ``"<seconds>.<6 digits>"`` and unique per channel. The fake hands them
out from one deterministic counter (``1700000000.000100``, ``…000200``, …) rather than the
clock, so they are unique and increasing across all channels and tests can predict them."""

MAX_TEXT_LENGTH = 40_000
"""The docs say text over 40,000 characters is truncated; the fake refuses it with
``msg_too_long`` instead (the stricter reading: a client that passes here passes there)."""

MAX_BLOCKS = 50
"""Block Kit's "up to 50 blocks" per message; more is ``invalid_blocks``."""

CONVERSATIONS_LIST_DEFAULT_LIMIT = 100
CONVERSATIONS_LIST_MAX_LIMIT = 1000
HISTORY_DEFAULT_LIMIT = 100
HISTORY_MAX_LIMIT = 999
"""``conversations.history``: ``limit`` "default 100", "maximum of 999" (method reference)."""

POST_MESSAGE_PER_CHANNEL_PER_SECOND = 1
"""Slack's documented special limit for ``chat.postMessage``. Off by default; turn it on with
``fake.set_rate_limit("chat.postMessage", POST_MESSAGE_PER_CHANNEL_PER_SECOND, window=1.0,
per_channel=True)``. The fake allows no burst above the limit, where Slack tolerates short
ones (stricter again)."""

METHODS: frozenset[str] = frozenset({
    "auth.test", "chat.postMessage", "chat.update", "conversations.history", "conversations.list",
})
"""The Web API methods the fake answers; anything else under ``/api/`` is ``unknown_method``."""

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

SERVER_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Server Error | FakeSlack</title></head>\n"
    "<body><h1>Server Error</h1><p>FakeSlack injected this error.</p></body></html>\n"
)
"""Stand-in for the HTML page Slack's edge serves with a 5xx (wording is the fake's own)."""

_CONVERSATION_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})
_TYPE_SCOPES = {"public_channel": "channels:read", "private_channel": "groups:read",
                "mpim": "mpim:read", "im": "im:read"}


# --- stored state -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageVersion:
    """One version of a message: the original post or the result of one ``chat.update``.

    Attributes:
        text: The message text after this version.
        blocks: The blocks after this version (as sent, parsed from JSON), or None.
        attachments: The attachments after this version, or None.
        params: Everything the client sent in the request that made this version (the token
            removed); ``unfurl_links`` and friends are here as sent (``False`` in a JSON body,
            ``"0"`` in a form body).
        edited_ts: None for the original post; for an update, the ``edited.ts`` Slack reports.
    """

    text: str
    blocks: list[Any] | None
    attachments: list[Any] | None
    params: dict[str, Any]
    edited_ts: str | None = None


@dataclass
class Message:
    """A message as the fake keeps it; the current text and blocks are the latest version's.

    Read it, do not change it: changes go through ``chat.update`` (or :meth:`FakeSlack.add_message`
    for messages by other people).
    """

    channel: str
    ts: str
    user: str
    bot_id: str | None
    thread_ts: str | None
    versions: list[MessageVersion]
    metadata: dict[str, Any] | None = None  # chat.postMessage's ``metadata``, as sent

    @property
    def text(self) -> str:
        return self.versions[-1].text

    @property
    def blocks(self) -> list[Any] | None:
        return self.versions[-1].blocks

    @property
    def attachments(self) -> list[Any] | None:
        return self.versions[-1].attachments

    @property
    def params(self) -> dict[str, Any]:
        """What the original ``chat.postMessage`` sent (``unfurl_links``, ``thread_ts`` …)."""
        return self.versions[0].params

    @property
    def updates(self) -> list[MessageVersion]:
        """The ``chat.update`` versions, oldest first (empty if never edited)."""
        return self.versions[1:]

    @property
    def edited(self) -> bool:
        return len(self.versions) > 1


@dataclass
class Channel:
    """A public or private channel. ``is_member`` is whether the *bot* has joined it."""

    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_archived: bool = False
    messages: list[Message] = field(default_factory=list, repr=False)


@dataclass(frozen=True, repr=False)
class LoggedRequest:
    """One request the fake answered, so tests can assert what the client actually sent.

    Attributes:
        api_method: ``"chat.postMessage"`` etc.; the raw path for requests outside ``/api/``.
        http_method: ``"POST"`` for everything ``slack_sdk`` sends.
        path: The request path, e.g. ``/api/chat.postMessage``.
        params: The parsed arguments: a JSON body as decoded (booleans stay booleans, blocks
            stay a list), form and query values as strings. The ``token`` argument, if sent,
            is taken out (see ``token``).
        content_type: The request's Content-Type without parameters, or None.
        headers: Every request header, names lower-cased (``headers["authorization"]``).
        token: The token the fake authenticated the request with (from the bearer header, else
            the form ``token`` argument), or None.
        status: The HTTP status answered.
        ok, error: The answer's ``ok`` and ``error`` (None where the answer is not Slack JSON).

    ``repr()`` never shows the token or the Authorization header.
    """

    api_method: str
    http_method: str
    path: str
    params: dict[str, Any]
    content_type: str | None
    headers: Mapping[str, str]
    token: str | None
    status: int
    ok: bool | None
    error: str | None

    def header(self, name: str) -> str | None:
        """A request header by name, case-insensitively."""
        return self.headers.get(name.lower())

    def __repr__(self) -> str:
        headers = {name: ("<redacted>" if name in ("authorization", "cookie") else value)
                   for name, value in self.headers.items()}
        return (f"LoggedRequest(api_method={self.api_method!r}, status={self.status}, "
                f"ok={self.ok!r}, error={self.error!r}, params={self.params!r}, "
                f"headers={headers!r})")


@dataclass
class _Response:
    status: int
    payload: Any = None
    text: str | None = None
    content_type: str = JSON_CONTENT_TYPE
    headers: dict[str, str] = field(default_factory=dict)


_DROP = object()
"""Returned by :meth:`FakeSlack.handle` when the connection is to be closed unanswered."""


@dataclass(frozen=True)
class _Fault:
    kind: Literal["http", "ok_false", "ratelimited", "drop", "lose_answer"]
    method: str | None
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    body: Literal["html", "json"] = "html"
    extra: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class _Limit:
    limit: int
    window: float
    per_channel: bool


class _ApiError(Exception):
    """An ``ok: false`` answer (HTTP 200 unless said otherwise)."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


# --- the fake workspace -----------------------------------------------------------------------


class FakeSlack:
    """An in-memory Slack workspace behind a local HTTP server; see the module docstring.

    Args:
        token: The bot token the fake accepts; more can be added with :meth:`add_token`.
        channels: Names of public channels the bot is a member of from the start (``general``
            by default; every workspace has one). Add more with :meth:`add_channel`.
        scopes: The OAuth scopes the token carries. ``chat.postMessage``/``chat.update`` need
            ``chat:write``; ``conversations.list`` needs ``channels:read`` / ``groups:read`` for
            the types it lists; with ``chat:write.public`` the bot may post to public channels
            it has not joined. A missing scope answers ``missing_scope`` with ``needed`` and
            ``provided``, as Slack does.
        retry_after: Fixed ``Retry-After`` seconds on every 429 from a :meth:`set_rate_limit`
            window. None (the default) sends the seconds until the window frees a slot,
            rounded up, at least 1. Tests set 0 so that a retrying client does not wait.
        clock: Monotonic seconds for the rate-limit windows (defaults to
            :func:`time.monotonic`); tests inject their own to step time without sleeping.

    Attributes:
        token: The token to give the client.
        scopes: As the argument (a list tests may change while the server runs).
        retry_after: As the argument; may be changed while the server runs.
        team_id, bot_user_id, bot_id: What ``auth.test`` reports.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        channels: Iterable[str] = ("general",),
        scopes: Iterable[str] = DEFAULT_SCOPES,
        retry_after: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        ts_start: int = TS_EPOCH,
    ) -> None:
        self.token = token
        self.ts_start = ts_start
        self.scopes = list(scopes)
        self.retry_after = retry_after
        self.team_id = TEAM_ID
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self._clock = clock
        self._lock = threading.RLock()
        self._tokens = {token}
        self._revoked: set[str] = set()
        self._channels: dict[str, Channel] = {}
        self._next_channel = 1
        self._ts_counter = 0
        self._faults: deque[_Fault] = deque()
        self._limits: dict[str, _Limit] = {}
        self._windows: dict[tuple[str, str | None, str | None], deque[float]] = {}
        self._log: list[LoggedRequest] = []
        self._rate_limited = 0
        self._dropped = 0
        self._down: Literal["refuse", "drop"] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        for name in channels:
            self.add_channel(name)

    def __repr__(self) -> str:
        state = "stopped" if self._port is None else (self._down or "up")
        return (f"<FakeSlack {state} port={self._port} channels={len(self._channels)} "
                f"requests={len(self._log)}>")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._port is None:
            self._serve(0)
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and forget the port."""
        self._halt()
        self._port = None
        self._down = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/`` -- what ``WebClient(base_url=...)`` needs.

        slack_sdk joins it with the method name by ``urljoin``, so the trailing slash matters
        (``WebClient`` 3.x appends one if missing). The URL stays the same across
        :meth:`go_down` and :meth:`come_back`.
        """
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._port}{API_PREFIX}"

    def client(self, *, token: str | None = None, **kwargs: Any) -> WebClient:
        """A real ``slack_sdk.WebClient`` pointed at this fake (imported lazily).

        This is only ``WebClient(token=token or self.token, base_url=self.base_url, **kwargs)``;
        pass ``retry_handlers=[...]`` or ``timeout=`` through ``kwargs``.
        """
        from slack_sdk import WebClient

        return WebClient(token=token or self.token, base_url=self.base_url, **kwargs)

    def _serve(self, port: int) -> None:
        try:
            server = _Server(("127.0.0.1", port), _Handler, self)
        except OSError as error:
            raise RuntimeError(f"FakeSlack could not bind 127.0.0.1:{port}: {error}") from error
        self._server = server
        self._port = server.server_address[1]
        # A short poll interval keeps stop() fast; shutdown() waits for one poll tick.
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,),
                                        name="fake-slack", daemon=True)
        self._thread.start()

    def _halt(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- outages and faults ------------------------------------------------------------------

    def go_down(self, mode: Literal["refuse", "drop"] = "refuse") -> None:
        """Make Slack unreachable until :meth:`come_back`; the client sees a connection error.

        ``"refuse"`` closes the listening socket and open connections: a connect fails with
        ``ECONNREFUSED`` (slack_sdk raises ``urllib.error.URLError``). ``"drop"`` keeps
        accepting but reads each request and closes the connection without an answer (slack_sdk
        raises ``http.client.RemoteDisconnected``); those requests count in
        :attr:`dropped_count`, not in the request log. Stored messages survive either way.
        """
        if mode not in ("refuse", "drop"):
            raise ValueError(f"unknown mode {mode!r}; use 'refuse' or 'drop'")
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        with self._lock:
            self._down = mode
        if mode == "refuse":
            self._halt()
        elif self._server is None:
            self._serve(self._port)

    def come_back(self) -> None:
        """End an outage: serve again on the same port, so ``base_url`` still holds."""
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        with self._lock:
            self._down = None
        if self._server is None:
            self._serve(self._port)

    @property
    def is_down(self) -> bool:
        return self._down is not None

    def fail_next(self, count: int = 1, status: int = 503, *, method: str | None = None,
                  retry_after: int | None = None,
                  body: Literal["html", "json"] = "html") -> None:
        """Answer the next ``count`` requests (to ``method``, or any) with HTTP ``status``.

        The body is an HTML error page by default, as Slack's edge sends for a 5xx (slack_sdk
        then reports "Received a response in a non-JSON format"); ``body="json"`` sends
        ``{"ok": false, "error": "service_unavailable"}`` for 503 and ``internal_error``
        otherwise (documented error codes; which one Slack pairs with which status is assumed).
        ``Retry-After`` is sent only when ``retry_after`` is given.

        Faults of every kind share one queue and come before authentication and rate limits:
        ``fail_next(1, 502); fail_next_ok_false("fatal_error")`` fails the next two requests
        in that order. A fault with a ``method`` waits for a request to that method.
        """
        self._queue(count, _Fault("http", method, status=status, retry_after=retry_after,
                                  body=body))

    def fail_next_ok_false(self, error: str, count: int = 1, *, method: str | None = None,
                           status: int = 200, **extra: Any) -> None:
        """Answer the next ``count`` requests with ``{"ok": false, "error": error, **extra}``.

        HTTP 200 by default, as Slack answers application errors (``fatal_error``,
        ``internal_error``, ``channel_not_found`` …); nothing is stored.
        """
        self._queue(count, _Fault("ok_false", method, status=status, error=error,
                                  extra=tuple(extra.items())))

    def rate_limit_next(self, count: int = 1, retry_after: int = 1, *,
                        method: str | None = None) -> None:
        """Answer the next ``count`` requests with 429, ``Retry-After: retry_after`` and
        ``{"ok": false, "error": "ratelimited"}``. Pass ``retry_after=0`` in tests."""
        self._queue(count, _Fault("ratelimited", method, status=429, retry_after=retry_after))

    def drop_next(self, count: int = 1, *, method: str | None = None) -> None:
        """Read the next ``count`` requests and close their connections without answering
        (a one-off network fault; slack_sdk raises ``RemoteDisconnected``)."""
        self._queue(count, _Fault("drop", method))

    def lose_answer_next(self, count: int = 1, *, method: str | None = None) -> None:
        """Carry out the next ``count`` requests, then close their connections without
        answering: the message *is* posted, but the client never hears so (a timeout or a
        reset after Slack took it). The one fault that tests "sent exactly once"."""
        self._queue(count, _Fault("lose_answer", method))

    def clear_faults(self) -> None:
        """Forget injected faults that no request has used up yet."""
        with self._lock:
            self._faults.clear()

    def _queue(self, count: int, fault: _Fault) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        if fault.method is not None and fault.method not in METHODS:
            raise ValueError(f"unknown method {fault.method!r}; the fake serves "
                             f"{', '.join(sorted(METHODS))}")
        with self._lock:
            self._faults.extend([fault] * count)

    def _take_fault(self, api_method: str | None) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.method is None or fault.method == api_method:
                del self._faults[index]
                return fault
        return None

    # -- rate limits -------------------------------------------------------------------------

    def set_rate_limit(self, method: str, limit: int, *, window: float = 60.0,
                       per_channel: bool = False) -> None:
        """Allow ``limit`` requests to ``method`` per ``window`` seconds, then answer 429.

        Counted per token (Slack: "per API method per app per workspace") and, with
        ``per_channel``, per channel too -- Slack's ``chat.postMessage`` limit of about one
        message per second per channel is ``set_rate_limit("chat.postMessage", 1, window=1.0,
        per_channel=True)``. Tiers are ``window=60.0`` with 1, 20, 50 or 100 (tier 1-4). The
        window slides; refused requests do not count. The 429 carries ``Retry-After`` (see
        ``retry_after`` on the constructor).
        """
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        if limit < 1 or window <= 0:
            raise ValueError("limit must be positive and window greater than zero")
        with self._lock:
            self._limits[method] = _Limit(limit, window, per_channel)

    def clear_rate_limits(self) -> None:
        """Remove every :meth:`set_rate_limit` limit and its window."""
        with self._lock:
            self._limits.clear()
            self._windows.clear()

    def _admit(self, api_method: str, token: str, channel: str | None) -> _Response | None:
        rule = self._limits.get(api_method)
        if rule is None:
            return None
        key = (api_method, token, channel if rule.per_channel else None)
        now = self._clock()
        hits = self._windows.setdefault(key, deque())
        while hits and hits[0] <= now - rule.window:
            hits.popleft()
        if len(hits) < rule.limit:
            hits.append(now)
            return None
        wait = hits[0] + rule.window - now
        retry_after = self.retry_after if self.retry_after is not None else max(1, math.ceil(wait))
        return _ratelimited(retry_after)

    # -- tokens, the request log -------------------------------------------------------------

    def add_token(self, token: str) -> None:
        """Accept another token for the same bot (rate limits are kept per token)."""
        with self._lock:
            self._tokens.add(token)
            self._revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        """Stop accepting ``token``; later requests with it get ``token_revoked``."""
        with self._lock:
            self._tokens.discard(token)
            self._revoked.add(token)

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Every request answered so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def requests(self, api_method: str) -> list[LoggedRequest]:
        """The logged requests to one method, oldest first."""
        with self._lock:
            return [r for r in self._log if r.api_method == api_method]

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._log)

    @property
    def rate_limited_count(self) -> int:
        """How many 429s the fake has sent, injected ones included."""
        with self._lock:
            return self._rate_limited

    @property
    def dropped_count(self) -> int:
        """How many requests were read and left unanswered (``drop_next``, ``go_down("drop")``)."""
        with self._lock:
            return self._dropped

    def clear_request_log(self) -> None:
        """Forget the log and the counters (not messages, faults or rate-limit windows)."""
        with self._lock:
            self._log.clear()
            self._rate_limited = 0
            self._dropped = 0

    # -- channels and messages (test side) ---------------------------------------------------

    def add_channel(self, name: str, *, channel_id: str | None = None, is_private: bool = False,
                    is_member: bool = True, is_archived: bool = False) -> str:
        """Create a channel and return its ID (``C0000000001``, ``C0000000002``, …).

        ``is_member=False`` is a channel the bot has not joined: posting to a public one is
        ``not_in_channel`` (unless the token has ``chat:write.public``), a private one is
        invisible to the bot (``channel_not_found``, and not listed), as in Slack.
        """
        name = name.removeprefix("#")
        with self._lock:
            if any(c.name == name for c in self._channels.values()):
                raise ValueError(f"channel #{name} exists already")
            if channel_id is None:
                channel_id = f"C{self._next_channel:010d}"
                self._next_channel += 1
            if channel_id in self._channels:
                raise ValueError(f"channel id {channel_id} exists already")
            self._channels[channel_id] = Channel(channel_id, name, is_private, is_member,
                                                 is_archived)
            return channel_id

    def channel(self, ref: str) -> Channel:
        """A channel by ID, name or ``#name`` (the live object; change it through the setters)."""
        with self._lock:
            found = self._find(ref, by_name=True)
            if found is None:
                raise KeyError(f"no channel {ref!r}")
            return found

    @property
    def channels(self) -> list[Channel]:
        with self._lock:
            return list(self._channels.values())

    def set_member(self, ref: str, is_member: bool = True) -> None:
        """The bot joins (or leaves) a channel."""
        with self._lock:
            self.channel(ref).is_member = is_member

    def archive_channel(self, ref: str) -> None:
        """Archive a channel: posts get ``is_archived``, updates ``is_inactive``."""
        with self._lock:
            self.channel(ref).is_archived = True

    def messages(self, ref: str) -> list[Message]:
        """The messages of a channel (by ID, name or ``#name``), oldest first, replies included."""
        with self._lock:
            return list(self.channel(ref).messages)

    def texts(self, ref: str) -> list[str]:
        """The current text of each message in a channel, oldest first."""
        return [m.text for m in self.messages(ref)]

    def message(self, ref: str, ts: str) -> Message:
        """One message by channel and ``ts``."""
        with self._lock:
            for message in self.channel(ref).messages:
                if message.ts == ts:
                    return message
        raise KeyError(f"no message {ts} in {ref!r}")

    @property
    def all_messages(self) -> list[Message]:
        """Every message in every channel, in posting order."""
        with self._lock:
            found = [m for c in self._channels.values() for m in c.messages]
        return sorted(found, key=lambda m: _ts_key(m.ts))

    def add_message(self, ref: str, text: str, *, user: str = OTHER_USER_ID,
                    blocks: list[Any] | None = None) -> str:
        """Post a message as someone else (the bot may not ``chat.update`` it); returns its ts."""
        with self._lock:
            channel = self.channel(ref)
            ts = self._next_ts()
            version = MessageVersion(text, copy.deepcopy(blocks), None, {})
            channel.messages.append(Message(channel.id, ts, user, None, None, [version]))
            return ts

    def _find(self, ref: str, *, by_name: bool) -> Channel | None:
        ref = ref.strip()
        if ref in self._channels:
            return self._channels[ref]
        if not by_name:
            return None
        name = ref.removeprefix("#").lower()
        return next((c for c in self._channels.values() if c.name.lower() == name), None)

    def _next_ts(self) -> str:
        self._ts_counter += TS_STEP_MICROS
        seconds, micros = divmod(self._ts_counter, 1_000_000)
        return f"{self.ts_start + seconds}.{micros:06d}"

    # -- the HTTP side -----------------------------------------------------------------------

    def handle(self, http_method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> Any:
        """Answer one request: a response, or ``_DROP`` to close the connection unanswered.

        The whole exchange runs under the lock, so concurrent clients see a consistent
        workspace, ``ts`` values are unique, and the log is in the order requests were answered.
        """
        parts = urlsplit(target)
        lowered = {name.lower(): value for name, value in headers.items()}
        api_method = (parts.path[len(API_PREFIX):] if parts.path.startswith(API_PREFIX)
                      else None)
        params, token, parse_error = _read_params(parts.query, lowered, body)
        with self._lock:
            if self._down == "drop":
                self._dropped += 1
                return _DROP
            fault = self._take_fault(api_method)
            if fault is not None and fault.kind == "drop":
                self._dropped += 1
                return _DROP
            lose_answer = fault is not None and fault.kind == "lose_answer"
            if lose_answer:
                fault = None
            try:
                response = self._route(api_method, parts.path, params, token, parse_error,
                                       fault)
            except _ApiError as error:
                response = _Response(error.status, {"ok": False, "error": error.error,
                                                    **error.extra})
            if response.status == 429:
                self._rate_limited += 1
            payload = response.payload if isinstance(response.payload, dict) else {}
            content_type = lowered.get("content-type")
            self._log.append(LoggedRequest(
                api_method=api_method if api_method is not None else parts.path,
                http_method=http_method, path=parts.path, params=copy.deepcopy(params),
                content_type=content_type.split(";")[0].strip() if content_type else None,
                headers=lowered, token=token, status=response.status, ok=payload.get("ok"),
                error=payload.get("error")))
            if lose_answer:
                self._dropped += 1
                return _DROP
            return response

    def _route(self, api_method: str | None, path: str, params: dict[str, Any],
               token: str | None, parse_error: str | None, fault: _Fault | None) -> _Response:
        if fault is not None:
            return _injected(fault)
        if api_method is None or "/" in api_method or not api_method:
            return _Response(404, text=f"FakeSlack: no such path {path}; the Web API lives "
                                       f"under {API_PREFIX}<method> (does base_url end in "
                                       f"'/api/'?)\n", content_type="text/plain; charset=utf-8")
        if api_method not in METHODS:
            # Assumed: Slack answers unknown methods with 404 and this JSON.
            raise _ApiError("unknown_method", status=404, req_method=api_method)
        if token is None:
            raise _ApiError("not_authed")
        if token in self._revoked:
            raise _ApiError("token_revoked")
        if token not in self._tokens:
            raise _ApiError("invalid_auth")
        if parse_error is not None:
            raise _ApiError(parse_error)
        channel_ref = params.get("channel")
        channel = self._find(str(channel_ref), by_name=True) if channel_ref else None
        channel_key = channel.id if channel is not None else (
            str(channel_ref) if channel_ref else None)
        limited = self._admit(api_method, token, channel_key)
        if limited is not None:
            return limited
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.list": self._conversations_list,
        }[api_method]
        response = handler(params)
        response.headers["x-oauth-scopes"] = ",".join(self.scopes)
        return response

    def _require_scope(self, *needed: str) -> None:
        missing = [scope for scope in needed if scope not in self.scopes]
        if missing:
            raise _ApiError("missing_scope", needed=",".join(missing),
                            provided=",".join(self.scopes))

    # -- methods -----------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> _Response:
        """``auth.test``: who the bot token is. No scope needed."""
        return _Response(200, {
            "ok": True, "url": f"https://{TEAM_DOMAIN}.slack.com/", "team": TEAM_NAME,
            "user": BOT_USER_NAME, "team_id": self.team_id, "user_id": self.bot_user_id,
            "bot_id": self.bot_id, "is_enterprise_install": False,
        })

    def _post_message(self, params: dict[str, Any]) -> _Response:
        """``chat.postMessage``: channel by ID, ``name`` or ``#name``; text and/or blocks.

        The checks, in order: ``chat:write``; the channel exists and the bot can see it
        (``channel_not_found``); not archived (``is_archived``); the bot is a member, or the
        channel is public and the token has ``chat:write.public`` (``not_in_channel``); blocks
        and attachments are JSON arrays (``invalid_blocks_format`` / ``invalid_attachments``)
        of at most 50 typed blocks (``invalid_blocks``); there is text, blocks or attachments
        (``no_text``); text within :data:`MAX_TEXT_LENGTH` (``msg_too_long``). ``thread_ts``
        is stored as given, not checked.
        """
        self._require_scope("chat:write")
        channel = self._visible(params, by_name=True)
        if channel.is_archived:
            raise _ApiError("is_archived")
        if not channel.is_member and not (not channel.is_private
                                          and "chat:write.public" in self.scopes):
            raise _ApiError("not_in_channel")
        blocks = _json_list(params, "blocks", "invalid_blocks_format")
        attachments = _json_list(params, "attachments", "invalid_attachments")
        _check_blocks(blocks)
        text = _text(params.get("text"))
        if not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError("msg_too_long")
        thread_ts = params.get("thread_ts")
        metadata = _metadata(params.get("metadata"))
        message = Message(channel.id, self._next_ts(), self.bot_user_id, self.bot_id,
                          str(thread_ts) if thread_ts else None,
                          [MessageVersion(text, blocks or None, attachments or None,
                                          copy.deepcopy(params))], metadata)
        channel.messages.append(message)
        return _Response(200, {"ok": True, "channel": channel.id, "ts": message.ts,
                               "message": self._render(message)})

    def _update(self, params: dict[str, Any]) -> _Response:
        """``chat.update``: a channel *ID* and the message's ``ts``.

        ``blocks``/``attachments`` left out keep the message's current ones; an empty array
        removes them (documented). ``text`` left out keeps the current text (assumed). A
        channel given by name is ``channel_not_found`` (the docs ask for an ID; the stricter
        reading). Errors: ``message_not_found`` for an unknown ts, ``cant_update_message`` for
        a message the bot did not post, ``is_inactive`` in an archived channel, and the
        ``chat.postMessage`` content checks.
        """
        self._require_scope("chat:write")
        channel = self._visible(params, by_name=False)
        ts = str(params.get("ts") or "")
        message = next((m for m in channel.messages if m.ts == ts), None)
        if message is None:
            raise _ApiError("message_not_found")
        if message.user != self.bot_user_id:
            raise _ApiError("cant_update_message")
        if channel.is_archived:
            raise _ApiError("is_inactive")
        current = message.versions[-1]
        blocks = (_json_list(params, "blocks", "invalid_blocks_format") if "blocks" in params
                  else current.blocks)
        attachments = (_json_list(params, "attachments", "invalid_attachments")
                       if "attachments" in params else current.attachments)
        _check_blocks(blocks)
        text = _text(params["text"]) if "text" in params else current.text
        if not text and not blocks and not attachments:
            raise _ApiError("no_text")
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError("msg_too_long")
        message.versions.append(MessageVersion(text, blocks or None, attachments or None,
                                               copy.deepcopy(params), self._next_ts()))
        return _Response(200, {"ok": True, "channel": channel.id, "ts": message.ts,
                               "text": text, "message": self._render(message)})

    def _conversations_list(self, params: dict[str, Any]) -> _Response:
        """``conversations.list``: channels the bot can see, in creation order, cursor-paged.

        Public channels are all listed (member or not, with ``is_member``); private ones only
        where the bot is a member. The cursor is opaque (base64 of an offset). ``mpim`` and
        ``im`` are accepted and list nothing.
        """
        types = [t.strip() for t in str(params.get("types") or "public_channel").split(",")
                 if t.strip()]
        if not types or any(t not in _CONVERSATION_TYPES for t in types):
            raise _ApiError("invalid_types")
        self._require_scope(*dict.fromkeys(_TYPE_SCOPES[t] for t in types))
        limit = _int_param(params, "limit", CONVERSATIONS_LIST_DEFAULT_LIMIT, "invalid_limit")
        if not 1 <= limit <= CONVERSATIONS_LIST_MAX_LIMIT:
            raise _ApiError("invalid_limit")
        offset = _decode_cursor(params.get("cursor"))
        exclude_archived = _flag(params.get("exclude_archived"))
        visible = [c for c in self._channels.values()
                   if ("private_channel" if c.is_private else "public_channel") in types
                   and (c.is_member or not c.is_private)
                   and not (exclude_archived and c.is_archived)]
        page = visible[offset:offset + limit]
        more = offset + limit < len(visible)
        return _Response(200, {
            "ok": True,
            "channels": [_render_channel(c) for c in page],
            "response_metadata": {"next_cursor": _encode_cursor(offset + limit) if more else ""},
        })

    def _history(self, params: dict[str, Any]) -> _Response:
        """``conversations.history``: a channel *ID*'s messages, newest first, cursor-paged.

        Needs ``channels:history`` (public) or ``groups:history`` (private) and, for a bot,
        membership (``not_in_channel``). ``oldest``/``latest`` bound the ``ts`` (exclusive
        unless ``inclusive``); ``limit`` 1-999, default 100 (``invalid_limit``). Message
        ``metadata`` is included only with ``include_all_metadata`` (the method reference's
        argument; that Slack leaves it out otherwise is the stricter reading). Answer: ``{"ok",
        "messages", "has_more", "pin_count", "response_metadata": {"next_cursor"}}``. Not
        modelled: the 1 request a minute and 15 messages a page that Slack imposes since 2025
        on apps distributed commercially outside its Marketplace (internal apps, as qmon is
        installed, keep Tier 3).
        """
        channel = self._visible(params, by_name=False)
        self._require_scope("groups:history" if channel.is_private else "channels:history")
        if not channel.is_member:
            raise _ApiError("not_in_channel")
        limit = _int_param(params, "limit", HISTORY_DEFAULT_LIMIT, "invalid_limit")
        if not 1 <= limit <= HISTORY_MAX_LIMIT:
            raise _ApiError("invalid_limit")
        inclusive = _flag(params.get("inclusive"))
        oldest = _ts_bound(params, "oldest")
        latest = _ts_bound(params, "latest")

        def within(message: Message) -> bool:
            key = _ts_key(message.ts)
            if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
                return False
            return latest is None or key < latest or (key == latest and inclusive)

        chosen = sorted((m for m in channel.messages if within(m)),
                        key=lambda m: _ts_key(m.ts), reverse=True)
        offset = _decode_cursor(params.get("cursor"))
        page = chosen[offset:offset + limit]
        more = offset + limit < len(chosen)
        with_metadata = _flag(params.get("include_all_metadata"))
        rendered = []
        for message in page:
            item = self._render(message)
            if with_metadata and message.metadata is not None:
                item["metadata"] = copy.deepcopy(message.metadata)
            rendered.append(item)
        return _Response(200, {
            "ok": True, "messages": rendered, "has_more": more, "pin_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(offset + limit) if more else ""},
        })

    def _visible(self, params: dict[str, Any], *, by_name: bool) -> Channel:
        channel = self._find(str(params.get("channel") or ""), by_name=by_name)
        if channel is None or (channel.is_private and not channel.is_member):
            raise _ApiError("channel_not_found")
        return channel

    def _render(self, message: Message) -> dict[str, Any]:
        """A message as Slack echoes it. Blocks get a ``block_id`` where they had none (Slack
        fills in random ones; the fake numbers them); :attr:`Message.blocks` stays as sent."""
        rendered: dict[str, Any] = {
            "user": message.user, "type": "message", "ts": message.ts, "text": message.text,
            "team": self.team_id,
        }
        if message.bot_id is not None:
            rendered.update(bot_id=message.bot_id, app_id=APP_ID)
        if message.blocks is not None:
            rendered["blocks"] = [
                {**block, "block_id": block.get("block_id") or f"b{index}"}
                for index, block in enumerate(copy.deepcopy(message.blocks), start=1)]
        if message.attachments is not None:
            rendered["attachments"] = copy.deepcopy(message.attachments)
        if message.thread_ts is not None:
            rendered["thread_ts"] = message.thread_ts
        if message.edited:
            rendered["edited"] = {"user": message.user, "ts": message.versions[-1].edited_ts}
        return rendered


# --- helpers ----------------------------------------------------------------------------------


def _read_params(query: str, headers: Mapping[str, str],
                 body: bytes) -> tuple[dict[str, Any], str | None, str | None]:
    """The arguments, the token, and a parse error if the body cannot be read.

    Query-string arguments come first and the body overrides them. The token is the bearer
    header, else a ``token`` form or query argument; a ``token`` inside a JSON body is taken
    out but not honoured (Slack requires the header with JSON bodies). Form values are strings;
    repeated names keep the last value.
    """
    params: dict[str, Any] = {name: values[-1] for name, values
                              in parse_qs(query, keep_blank_values=True).items()}
    form_token = params.pop("token", None)
    error = None
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if body:
        if content_type == "application/json":
            try:
                decoded = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError):
                decoded = None
            if isinstance(decoded, dict):
                decoded.pop("token", None)
                params.update(decoded)
            else:
                error = "invalid_json"  # assumed error code
        elif content_type in ("application/x-www-form-urlencoded", "text/plain"):
            form = {name: values[-1] for name, values in
                    parse_qs(body.decode("utf-8", errors="replace"),
                             keep_blank_values=True).items()}
            form_token = form.pop("token", form_token)
            params.update(form)
        elif not content_type:
            error = "missing_post_type"
        else:
            error = "invalid_post_type"  # multipart bodies (file uploads) are not modelled
    scheme, _, credential = (headers.get("authorization") or "").partition(" ")
    token = credential.strip() if scheme.lower() == "bearer" and credential.strip() \
        else form_token
    return params, token or None, error


def _injected(fault: _Fault) -> _Response:
    if fault.kind == "ratelimited":
        return _ratelimited(fault.retry_after if fault.retry_after is not None else 1)
    if fault.kind == "ok_false":
        return _Response(fault.status, {"ok": False, "error": fault.error, **dict(fault.extra)})
    if fault.body == "json":
        error = "service_unavailable" if fault.status == 503 else "internal_error"
        response = _Response(fault.status, {"ok": False, "error": error})
    else:
        response = _Response(fault.status, text=SERVER_ERROR_PAGE,
                             content_type="text/html; charset=utf-8")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def _ratelimited(retry_after: int) -> _Response:
    return _Response(429, {"ok": False, "error": "ratelimited"},
                     headers={"Retry-After": str(retry_after)})


def _json_list(params: Mapping[str, Any], name: str, error: str) -> list[Any] | None:
    """A JSON array argument, given as an array (JSON body) or a JSON string (form body)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    value = _parsed(value, error)
    if not isinstance(value, list):
        raise _ApiError(error)
    return copy.deepcopy(value)


def _check_blocks(blocks: list[Any] | None) -> None:
    if blocks is None:
        return
    if len(blocks) > MAX_BLOCKS or not all(
            isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
        raise _ApiError("invalid_blocks")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> bool:
    """A boolean argument: JSON ``true``, or form ``1``/``true`` (slack_sdk sends ``1``/``0``)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true")


def _int_param(params: Mapping[str, Any], name: str, default: int, error: str) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(error) from None


def _parsed(value: Any, error: str) -> Any:
    """An argument that is JSON: as sent in a JSON body, or parsed from a form's string."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise _ApiError(error) from None


def _metadata(value: Any) -> dict[str, Any] | None:
    """``chat.postMessage``'s ``metadata``: an object (JSON body) or a JSON string (form body)
    with a string ``event_type`` and an object ``event_payload``; else
    ``invalid_metadata_format`` (not JSON) or ``invalid_metadata_schema`` (documented codes)."""
    if value is None or value == "":
        return None
    value = _parsed(value, "invalid_metadata_format")
    if not (isinstance(value, dict) and isinstance(value.get("event_type"), str)
            and isinstance(value.get("event_payload"), dict)):
        raise _ApiError("invalid_metadata_schema")
    return copy.deepcopy(value)


def _ts_bound(params: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """``oldest``/``latest``: a Slack ts or Unix seconds, as (seconds, microseconds); not a
    number is ``invalid_ts_oldest`` / ``invalid_ts_latest`` (assumed codes)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise _ApiError(f"invalid_ts_{name}") from None
    whole = math.floor(seconds)
    return whole, round((seconds - whole) * 1_000_000)


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        label, _, number = base64.b64decode(str(cursor), validate=True).decode().partition(":")
        if label != "offset" or not number.isdigit():
            raise ValueError(cursor)
        return int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _ApiError("invalid_cursor") from None


def _render_channel(channel: Channel) -> dict[str, Any]:
    """A conversation object with the flags clients read (private channels made since 2021
    have ``is_channel: true`` with ``is_private: true``; ``is_group`` is the legacy flag)."""
    return {
        "id": channel.id, "name": channel.name, "name_normalized": channel.name,
        "is_channel": True, "is_group": False, "is_im": False, "is_mpim": False,
        "is_private": channel.is_private, "is_archived": channel.is_archived,
        "is_general": channel.name == "general", "is_member": channel.is_member,
        "created": TS_EPOCH,
    }


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


# --- transport --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that does not wait for idle connections on close and can drop
    the ones it has open (for :meth:`FakeSlack.go_down`)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 fake: FakeSlack) -> None:
        super().__init__(address, handler)
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def close_connections(self) -> None:
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops its socket; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(FakeHandler):
    server_version = "FakeSlack/1.0"
    server: _Server

    def reply(self, response: Any) -> Reply | None:
        if response is _DROP:
            return None
        if response.text is not None:
            data = response.text.encode()
        else:
            data = b"" if response.payload is None else json.dumps(response.payload).encode()
        return response.status, {"Content-Type": response.content_type, **response.headers}, data
