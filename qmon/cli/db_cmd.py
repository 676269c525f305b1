"""`qmon db upgrade|current`: the store's schema migrations (see `qmon.store.migrate`)."""

from __future__ import annotations

import typer

from qmon.cli.common import config_of, console, handle_errors
from qmon.exit_codes import ExitCode

app = typer.Typer(
    help="The store's schema: upgrade it to this qmon's version, or show where it stands.",
    no_args_is_help=True,
)


@app.command("upgrade")
@handle_errors
def upgrade(ctx: typer.Context) -> None:
    """Upgrade the store's schema to the one this qmon writes, in one transaction (on SQLite
    and PostgreSQL alike: a failed upgrade changes nothing). Safe to repeat; an up-to-date
    store is left alone. Stores made before qmon had migrations are adopted in place.

    Run it after installing a new qmon and before starting its agents; back up the database
    first. An empty store needs no upgrade: qmon creates it at the newest schema.

    Example: qmon db upgrade

    Exit codes: 0 upgraded or already current; 3 the store could not be reached, or its
    schema is newer than this qmon.
    """
    from qmon.store import Store, migrate

    store = Store.open(config_of(ctx).database_url, check_schema=False)
    try:
        with store.engine.connect() as conn:
            found = migrate.state(conn)
        if found.newer:
            raise found.mismatch()
        if not (found.current or found.empty):  # a migration may read every event
            now = found.revision or "(before migrations)"
            console.print(f"upgrading the store's schema from revision {now} to {migrate.HEAD}:"
                          " on a large store this takes a while; stopped, it leaves the store"
                          " as it was", highlight=False)  # fmt: skip
        before, after = migrate.upgrade(store.engine)
    finally:
        store.close()
    if before == after:
        console.print(f"the store's schema is up to date (revision {after})", highlight=False)
    else:
        was = "an empty store" if found.empty else f"revision {before or '(before migrations)'}"
        console.print(f"upgraded the store's schema from {was} to revision {after}",
                      highlight=False)  # fmt: skip


@app.command("current")
@handle_errors
def current(ctx: typer.Context) -> None:
    """Show the store's schema revision and whether it is the one this qmon writes.

    Exit codes: 0 current (or an empty store, which qmon creates at first use); 3 the store
    needs `qmon db upgrade`, its schema is newer than this qmon, or it could not be reached.
    """
    from qmon.store import Store, migrate

    store = Store.open(config_of(ctx).database_url, check_schema=False)
    try:
        with store.engine.connect() as conn:
            found = migrate.state(conn)
    finally:
        store.close()
    if found.current or found.empty:
        what = "empty (created at first use)" if found.empty else "up to date"
        console.print(f"revision {found.revision or '-'} of {migrate.HEAD}: {what}",
                      highlight=False)  # fmt: skip
        return
    need = "newer than this qmon: upgrade qmon" if found.newer else "run `qmon db upgrade`"
    console.print(f"revision {found.revision or '(before migrations)'} of {migrate.HEAD}: {need}",
                  highlight=False)  # fmt: skip
    raise typer.Exit(int(ExitCode.SOURCE_FAILED))
