"""Running the application under uvicorn, on a socket qmon opens itself.

qmon binds the socket before uvicorn starts, so a port in use is an error with words (exit
code 3) and `--port 0` can say which port it got. uvicorn's own access log, proxy-header
handling and logging setup are off: qmon logs each request itself (without query strings)
and believes forwarded headers only from `serve.trusted_proxies` (`qmon.web.app`).
SIGINT and SIGTERM end the server gracefully (requests under way finish) and `qmon serve`
then exits 0. Beside the agent (`qmon run --serve`) the server runs in a thread of its own
(`Background`); the agent's signal handlers stop both.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import anyio.to_thread
import uvicorn
from starlette.types import ASGIApp

from qmon.errors import QmonError
from qmon.exit_codes import ExitCode

#: How long requests under way may take to finish when the server is asked to stop.
GRACE_S = 10
#: Threads for the pages' (blocking) store reads in one process. The work holds the GIL, so
#: more threads only take turns more often: at 40 (anyio's default) an instance page took
#: a third longer under 20 clients than at 4 to 8 (bench/bench_serve.py). Within the store's
#: pool of 10, so the event loop's own session lookups never wait for a connection.
THREADS = 8


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
    # Accepted connections inherit it: without, a response written as headers then body
    # waits for the client's delayed ACK (40 ms) on every request of a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        http="auto",  # httptools when installed (it is a dependency), else h11
        loop="auto",  # uvloop when installed (not on Windows), else asyncio
        timeout_graceful_shutdown=GRACE_S,
    )


class Server(uvicorn.Server):
    """uvicorn's server, stopped by SIGINT or SIGTERM without raising the signal again
    afterwards (uvicorn's own does, and the process would end by it, not with exit 0)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await super().startup(sockets)

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


class Background:
    """The server in a thread of its own, beside the agent's jobs in the same process.

    `on_exit` is called from that thread if the server ends without being asked to (it
    failed), so the agent can stop too rather than run on without its dashboard.
    """

    def __init__(self, app: ASGIApp, sock: socket.socket, on_exit: Callable[[], None]) -> None:
        self.server = Server(uvicorn_config(app))
        self.sock = sock
        self.on_exit = on_exit
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="qmon-serve", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            if not self.stopping:
                self.on_exit()

    def start(self, timeout_s: float = 10) -> bool:
        """Start serving; whether the server is up within `timeout_s`."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        """Stop gracefully: requests under way get `GRACE_S` seconds."""
        self.stopping = True
        self.server.should_exit = True
        self.thread.join(GRACE_S + 5)
