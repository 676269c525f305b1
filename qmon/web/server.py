"""Running the application under uvicorn, on a socket qmon opens itself.

qmon binds the socket before uvicorn starts, so a port in use is an error with words (exit
code 3) and `--port 0` can say which port it got. uvicorn's own access log, proxy-header
handling and logging setup are off: qmon logs each request itself (without query strings)
and believes forwarded headers only from `serve.trusted_proxies` (`qmon.web.app`).
SIGINT and SIGTERM end the server gracefully (requests under way finish) and `qmon serve`
then exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from qmon.errors import QmonError
from qmon.exit_codes import ExitCode

#: How long requests under way may take to finish when the server is asked to stop.
GRACE_S = 10


class CannotListen(QmonError):
    """The address cannot be listened on (in use, not this machine's, not permitted)."""

    exit_code = ExitCode.SOURCE_FAILED


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host.strip("[]"), port), family=family, backlog=128)
    except OSError as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def address(sock: socket.socket) -> str:
    """`http://host:port` of a listening socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        ws="none",
        http="h11",
        loop="asyncio",
        timeout_graceful_shutdown=GRACE_S,
    )


class Server(uvicorn.Server):
    """uvicorn's server, stopped by SIGINT or SIGTERM without raising the signal again
    afterwards (uvicorn's own does, and the process would end by it, not with exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(app: ASGIApp, sock: socket.socket) -> bool:
    """Serve on `sock` until asked to stop; whether the server had started."""
    server = Server(uvicorn_config(app))
    server.run(sockets=[sock])
    return server.started
