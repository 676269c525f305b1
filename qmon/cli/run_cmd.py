"""`qmon run`: the agent, syncing and checking on the configured schedule."""

from __future__ import annotations

import logging

import typer

from qmon.agent import run_agent
from qmon.cli.common import config_of, handle_errors, open_store


@handle_errors
def run(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every job run."),
) -> None:
    """Run the agent: `qmon sync` and `qmon check` on the schedule in the config
    (`schedule: {sync: 15m, check: 5m}`), in its time zone, until SIGTERM or Ctrl-C.

    Runs missed while the agent was down are caught up once at start; a job never overlaps
    itself; only one agent acts on a store (a second one exits with code 3). Run it under
    systemd or a container orchestrator with a restart policy.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    config = config_of(ctx)
    store = open_store(config)
    try:
        run_agent(config, store)
    finally:
        store.close()
