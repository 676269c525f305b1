"""The HTTP side that every fake server shares: read a request, let the fake answer, write it.

Each fake (`hubspot`, `salesforce`, `slack`) keeps its API in a plain `handle(method, target,
headers, body)` and subclasses `FakeHandler` only to say its name and how its answer becomes
status, headers and bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

Reply = tuple[int, Mapping[str, str], bytes]


class FakeHandler(BaseHTTPRequestHandler):
    """Reads a request, asks `server.fake` for the answer, writes it with a Content-Length."""

    protocol_version = "HTTP/1.1"
    timeout = 5
    # Buffer the response so status, headers and body leave in one write: separate small
    # writes meet Nagle plus delayed ACK and cost ~40 ms per request.
    wbufsize = 64 * 1024

    def reply(self, response: Any) -> Reply | None:
        """Status, headers and body for the fake's answer; None closes without answering."""
        raise NotImplementedError

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.reply(self.server.fake.handle(self.command, self.path, self.headers, body))  # type: ignore[attr-defined]
        if answer is None:
            # The request has been read in full, so closing now is a clean FIN, not a reset.
            self.close_connection = True
            return
        status, headers, data = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines; the fake keeps its own request log."""


class PagingFault:
    """A fake's paging fault (`loop_paging`): which way it misbehaves, for how many answers.

    After that many bad answers it pages correctly again, so a client without a loop check
    ends (and its test fails on what it did) instead of hanging the test run.
    """

    def __init__(self, modes: tuple[str, ...]) -> None:
        self.modes = modes
        self.mode: str | None = None
        self.left = 0

    def set(self, mode: str | None, times: int = 0) -> None:
        if mode is not None and mode not in self.modes:
            raise ValueError(f"unknown paging fault {mode!r}")
        self.mode, self.left = mode, times

    def hits(self, mode: str) -> bool:
        """Whether this answer misbehaves in `mode` (and counts it)."""
        if self.mode != mode or self.left <= 0:
            return False
        self.left -= 1
        return True
