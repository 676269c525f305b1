"""`qmon run`: the agent, syncing and checking on the configured schedule."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import typer

from qmon.cli.common import bad_argument, config_of, handle_errors, open_store
from qmon.ops import logs

if TYPE_CHECKING:
    from qmon.config import QmonConfig


@handle_errors
def run(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every job run."),
    metrics_port: int | None = typer.Option(
        None,
        "--metrics-port",
        min=1,
        max=65535,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (docs/operations.md).",
    ),
    metrics_host: str = typer.Option(
        "127.0.0.1", "--metrics-host", help="The address the metrics are served on."
    ),
    serve: bool = typer.Option(
        False, "--serve", help="Serve the dashboard too, in this process (as `qmon serve`)."
    ),
    serve_host: str | None = typer.Option(
        None, "--serve-host", help="With --serve: listen on this address (default serve.host)."
    ),
    serve_port: int | None = typer.Option(
        None,
        "--serve-port",
        min=0,
        max=65535,
        help="With --serve: listen on this port (default serve.port; 0 picks a free one).",
    ),
) -> None:
    """Run the agent: `qmon sync` and `qmon check` on the schedule in the config
    (`schedule: {sync: 15m, check: 5m}`), in its time zone, until SIGTERM or Ctrl-C.

    Each source syncs as its own job. Runs missed while the agent was down are caught up
    once at start; a job never overlaps itself. On PostgreSQL several agents may run against
    one database (on several hosts, for availability): they share the jobs, never run one
    twice, and take over a dead agent's within a minute. On SQLite one agent acts on a store
    (a second one exits with code 3). Run it under systemd or a container orchestrator with
    a restart policy (docs/deployment.md); `qmon db upgrade` first after an upgrade of qmon.

    With --serve the dashboard and the CRM cards' API (`qmon serve`, docs/serve.md) run in
    the same process, on `serve.host` and `serve.port`; SIGTERM stops both, the jobs under
    way and the requests under way finishing first. A problem in `serve:` exits with code
    2, an address that cannot be listened on with 3, before any job runs.
    """
    from qmon.agent import job_names, run_agent

    logs.verbose(verbose)
    config = config_of(ctx)
    if not serve and (serve_host is not None or serve_port is not None):
        raise bad_argument("--serve-host/--serve-port", "they need --serve")
    stop = threading.Event()
    web = None
    if serve:
        web = _Dashboard(config, serve_host, serve_port, stop)
    store = open_store(config) if web is None else web.store
    server = None
    try:
        metrics = None
        if metrics_port is not None:
            from qmon.ops.metrics import AgentMetrics

            metrics = AgentMetrics(config, store, jobs=job_names(config))
            try:
                server = metrics.serve(metrics_host, metrics_port)
            except OSError as exc:
                raise bad_argument(
                    "--metrics-port",
                    f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc.strerror or exc}",
                ) from None
        if web is not None and not web.start():
            raise typer.Exit(3)
        run_agent(config, store, stop=stop, metrics=metrics)
    finally:
        if web is not None:
            web.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        store.close()
    if web is not None and web.failed:
        raise typer.Exit(3)


class _Dashboard:
    """`qmon serve` in a thread beside the agent, on the agent's store."""

    def __init__(self, config: QmonConfig, host: str | None, port: int | None,
                 stop: threading.Event) -> None:  # fmt: skip
        from qmon.cli.serve_cmd import prepare, say_listening
        from qmon.web.app import create_app
        from qmon.web.server import Background
        from qmon.web.settings import log

        self.failed = False
        settings, self.sock = prepare(config, host, port)
        if settings.workers > 1:
            log.warning("serve.workers is for `qmon serve`: beside the agent the dashboard is "
                        "one process; run `qmon serve` on its own for %d", settings.workers)
        try:
            self.store = open_store(config)
        except BaseException:
            self.sock.close()
            raise

        def ended() -> None:  # the server stopped by itself: stop the agent too
            log.error("the dashboard stopped; stopping the agent")
            self.failed = True
            stop.set()

        self.background = Background(create_app(config, settings, self.store), self.sock, ended)
        self._say = lambda: say_listening("qmon run", self.sock, settings)

    def start(self) -> bool:
        if not self.background.start():
            self.failed = True
            return False
        self._say()
        return True

    def stop(self) -> None:
        if self.background.thread.is_alive():
            self.background.stop()
        self.sock.close()
