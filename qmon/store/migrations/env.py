"""Alembic's entry point for qmon's store. qmon runs migrations itself (`qmon.store.migrate`)
on a connection it opened, passed in `config.attributes["connection"]`; there is no
alembic.ini and no URL here, so a password never passes through Alembic's logging."""

from __future__ import annotations

from alembic import context

from qmon.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
