"""`qmon serve`: the dashboard and the CRM cards' API; `qmon serve hash-password`.

The web stack (Starlette, uvicorn, authlib, argon2) is imported inside the commands, so
that `qmon --help` and every other command never load it (tests/test_cli_startup.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from qmon.cli.common import bad_argument, config_of, err_console, handle_errors, open_store, state
from qmon.ops import logs

if TYPE_CHECKING:
    from collections.abc import Callable
    from socket import socket

    from starlette.types import ASGIApp

    from qmon.config import QmonConfig
    from qmon.web.settings import WebSettings

app = typer.Typer(invoke_without_command=True)

#: Shorter than this a password is refused: it would fall to a guess of a few thousand tries.
MIN_PASSWORD = 10


@app.callback()
@handle_errors
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, "--host", help="Listen on this address (default: serve.host, else 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        min=0,
        max=65535,
        help="Listen on this port (default: serve.port, else 8400; 0 picks a free one).",
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="The configuration file (as `qmon --config`)."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=64,
        help="Serve with this many processes on the one socket, about one per core "
        "(default: serve.workers, else 1). Needs fork: Linux or macOS.",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also log each request (method, path, status, time)."
    ),
) -> None:
    """Serve the dashboard (record and instance pages, qmon's health) and the API of the
    HubSpot and Salesforce record cards, until stopped with Ctrl-C or SIGTERM.

    Users sign in with a name and password from `serve.users` (make the hash with `qmon
    serve hash-password`) or with single sign-on (`serve.oidc`). Put a TLS-terminating proxy
    in front for anything beyond this machine, and set `serve.public_url`.

    Examples:

        qmon serve

        qmon serve --host 0.0.0.0 --port 8400 --config /etc/qmon/qmon.yaml

        qmon serve --workers 4      # four processes, for four cores

    Exit codes: 0 stopped by a signal; 2 a bad config (no users and no oidc, an unreadable
    secret file), or --workers on a system without fork; 3 the store cannot be reached, the
    address cannot be listened on, or the workers keep failing.
    """
    if ctx.invoked_subcommand is not None:
        return
    if config is not None:
        state(ctx).config_path = config
    logs.verbose(verbose)
    from qmon.web.app import create_app
    from qmon.web.server import serve as run

    loaded = config_of(ctx)
    settings, sock = prepare(loaded, host, port)
    count = settings.workers if workers is None else workers
    if count > 1:
        _serve_workers(loaded, settings, sock, count)
        return
    store = open_store(loaded)
    try:
        app_ = create_app(loaded, settings, store)
        say_listening("qmon serve", sock, settings)
        if not run(app_, sock):
            raise typer.Exit(3)
    finally:
        store.close()
        sock.close()


def _serve_workers(config: QmonConfig, settings: WebSettings, sock: socket, count: int) -> None:
    """`count` worker processes on `sock`, each over a store of its own (`qmon.web.workers`)."""
    from qmon.web.app import create_app
    from qmon.web.workers import Supervisor, can_fork

    try:
        if not can_fork():
            raise bad_argument("--workers", "several workers need fork (Linux, macOS); "
                               "serve with one process here")  # fmt: skip
        open_store(config).close()  # reachable and current (exit 3 here, not in each worker)

        def make_app() -> tuple[ASGIApp, Callable[[], None]]:
            store = open_store(config)
            return create_app(config, settings, store), store.close

        say_listening(f"qmon serve ({count} workers)", sock, settings)
        code = Supervisor(make_app, sock, count).run()
    finally:
        sock.close()
    if code:
        raise typer.Exit(code)


def prepare(config: QmonConfig, host: str | None, port: int | None) -> tuple[WebSettings, socket]:
    """The web settings with their secrets read (exit 2 on a problem, every one at once) and
    the listening socket (exit 3 when the address cannot be had); warns what is missing.
    Shared by `qmon serve` and `qmon run --serve`."""
    from qmon.web.server import listen
    from qmon.web.settings import load_settings, log

    settings = load_settings(config)
    if settings.session_secret_generated:
        log.warning(
            "no session secret (serve.session_secret_file or QMON_SESSION_SECRET): using one "
            "made for this process; everyone is signed out when qmon serve restarts"
        )
    if settings.public_url is None:
        log.warning(
            "serve.public_url is not set: links in the CRM cards use the address each "
            "request came to"
        )
    return settings, listen(host or settings.host, settings.port if port is None else port)


def say_listening(command: str, sock: socket, settings: WebSettings) -> None:
    from qmon.web.server import address

    err_console.print(
        f"{command}: listening on {address(sock)}"
        + (f" (public URL {settings.public_url})" if settings.public_url else ""),
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


@app.command("hash-password")
@handle_errors
def hash_password(
    from_stdin: bool = typer.Option(
        False, "--stdin", help="Read the password from the first line of stdin (no prompt)."
    ),
) -> None:
    """Print an argon2 hash of a password, for `serve.users`. The password is asked twice
    (not shown), or read from stdin with --stdin; it is never printed or stored.

    Example:

        qmon serve hash-password

    and put what it prints in the config:

        serve:
          users:
            - {name: anna, password_hash: "$argon2id$v=19$m=65536,t=3,p=4$..."}

    Exit codes: 0 printed; 2 the password is empty, too short, or the two did not match.
    """
    import argon2

    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        try:
            password = typer.prompt("Password", hide_input=True)
            again = typer.prompt("Repeat it", hide_input=True)
        except typer.Abort:  # Ctrl-C or end of input at the prompt
            raise bad_argument("password", "no password given") from None
        if password != again:
            raise bad_argument("password", "the two passwords are not the same")
    if len(password) < MIN_PASSWORD:
        raise bad_argument("password", f"use a password of at least {MIN_PASSWORD} characters")
    typer.echo(argon2.PasswordHasher().hash(password))
