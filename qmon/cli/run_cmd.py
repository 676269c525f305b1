"""`qmon run`: the agent, syncing and checking on the configured schedule."""

from __future__ import annotations

import typer

from qmon.cli.common import bad_argument, config_of, handle_errors, open_store
from qmon.ops import logs


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
) -> None:
    """Run the agent: `qmon sync` and `qmon check` on the schedule in the config
    (`schedule: {sync: 15m, check: 5m}`), in its time zone, until SIGTERM or Ctrl-C.

    Each source syncs as its own job. Runs missed while the agent was down are caught up
    once at start; a job never overlaps itself. On PostgreSQL several agents may run against
    one database (on several hosts, for availability): they share the jobs, never run one
    twice, and take over a dead agent's within a minute. On SQLite one agent acts on a store
    (a second one exits with code 3). Run it under systemd or a container orchestrator with
    a restart policy (docs/deployment.md); `qmon db upgrade` first after an upgrade of qmon.
    """
    from qmon.agent import job_names, run_agent

    logs.verbose(verbose)
    config = config_of(ctx)
    store = open_store(config)
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
        run_agent(config, store, metrics=metrics)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        store.close()
