"""`qmon serve --workers N`: N server processes on the one listening socket.

One process serves pages on one core (the work holds the GIL); on a machine with more, N
processes accept from the same socket, each with its own store connections and its own
figures cache. What they must agree on lives in the store: signed-out sessions and failed
sign-ins (`qmon.store.web_state`). The session secret is read (or made) before the workers
start, so a cookie signed by one is good in all.

The first process supervises: it forks the workers, starts again one that ends by itself
(unless workers keep ending within `SHORT_LIFE_S` of starting, `MAX_QUICK_DEATHS` times in
a row: then the problem is not passing and it stops them all, exit 3), and on SIGINT or
SIGTERM asks every worker to stop (requests under way get `GRACE_S`) and exits 0.
POSIX only (fork).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections.abc import Callable

from starlette.types import ASGIApp

from qmon.web.server import GRACE_S, serve

log = logging.getLogger("qmon.serve")

#: A worker that ends sooner than this after starting has most likely failed to start.
SHORT_LIFE_S = 5.0
MAX_QUICK_DEATHS = 3
#: How often the supervisor looks at its workers.
POLL_S = 0.1


def can_fork() -> bool:
    return hasattr(os, "fork")


class Supervisor:
    """Forks `workers` processes that each build their application with `make_app` (after
    the fork: a store connection must not be shared between processes) and serve `sock`."""

    def __init__(
        self, make_app: Callable[[], tuple[ASGIApp, Callable[[], None]]], sock: socket.socket,
        workers: int,
    ) -> None:  # fmt: skip
        self.make_app = make_app
        self.sock = sock
        self.workers = workers
        self.children: dict[int, float] = {}  # pid: when started (monotonic)
        self.stopping = False

    def run(self) -> int:
        """Serve until a signal (exit code 0) or until workers keep failing (3)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(self.workers):
                self._start()
            return self._watch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all()

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def _start(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 3
            try:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)
                app, close = self.make_app()
                try:
                    code = 0 if serve(app, self.sock) else 3
                finally:
                    close()
            except BaseException:  # noqa: BLE001 - a worker must end here, never return
                log.exception("qmon serve worker %d failed", os.getpid())
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = time.monotonic()
        log.info("qmon serve worker %d started", pid)

    def _watch(self) -> int:
        quick_deaths = 0
        while not self.stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid == 0 or pid not in self.children:
                time.sleep(POLL_S)
                continue
            lived = time.monotonic() - self.children.pop(pid)
            if self.stopping:
                break
            log.error("qmon serve worker %d ended by itself (%s); starting another", pid,
                      _how(status))  # fmt: skip
            quick_deaths = quick_deaths + 1 if lived < SHORT_LIFE_S else 0
            if quick_deaths >= MAX_QUICK_DEATHS:
                log.error("qmon serve workers keep ending right after they start; stopping")
                return 3
            self._start()
        return 0

    def _stop_all(self) -> None:
        for pid in self.children:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S + 5
        while self.children and time.monotonic() < deadline:
            for pid in list(self.children):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    self.children.pop(pid)
            time.sleep(POLL_S)
        for pid in self.children:  # past the grace: requests under way are cut
            _signal(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.children.clear()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
