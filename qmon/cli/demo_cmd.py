"""`qmon demo`: a Dutch B2B company's six months, imported and audited in one command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from qmon.cli.common import console, handle_errors
from qmon.timeutil import to_us

if TYPE_CHECKING:
    from qmon.store import Store

MARKER = ".qmon-demo"
DEMO_USER = "demo"
PASSWORD_FILE = "dashboard-password.txt"
SESSION_FILE = "dashboard-session.secret"


@handle_errors
def demo(
    directory: Path = typer.Option(Path("qmon-demo"), "--dir", help="Where to write the demo."),
    months: int = typer.Option(6, "--months", min=1, max=36, help="How much history."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same company."),
) -> None:
    """Write a demo config and six months of realistic CRM activity, import it into SQLite
    and show the audit. Everything lands in --dir; your own config is not touched. The demo
    config has a dashboard user `demo` whose password is printed at the end, so that
    `qmon --config <dir>/qmon.yaml serve` shows the same data in a browser."""
    from qmon.config import load_config
    from qmon.demo.generator import write_demo
    from qmon.ingest import import_files
    from qmon.reports.audit import AuditQuery, run_audit
    from qmon.reports.audit_format import print_tables
    from qmon.reports.weekly import last_complete_week
    from qmon.reports.weekly.delivery import make
    from qmon.store import Store

    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()) and not (directory / MARKER).exists():
        raise typer.BadParameter(
            f"{directory} is not empty and not a qmon demo folder", param_hint="--dir"
        )
    (directory / MARKER).write_text("written by qmon demo; safe to delete\n")
    for stale in directory.glob("qmon.db*"):
        stale.unlink()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    files = write_demo(directory, end=end, months=months, seed=seed)
    password = _add_dashboard_user(directory, files.config_path)
    config = load_config(files.config_path)
    store = Store.open(config.database_url)
    try:
        summary = import_files(store, [files.events_path], source="demo",
                               attributes=config.kept_attributes)  # fmt: skip
        result = run_audit(config, store, AuditQuery(as_of_us=to_us(end), keep_instances=True))
        week = last_complete_week(to_us(end), config.timezone)
        _log_demo_action(store, end, months)
        report_path = directory / f"weekly-{week}.html"
        report_path.write_text(make(config, store, week, to_us(end)).html("data"), "utf-8")
        # One check, as the agent runs it: the dashboard's journey and promise pages read
        # the figures it keeps (no Slack is configured: nothing is sent).
        from qmon.alerts.check import run_check

        run_check(config, store, to_us(end))
    finally:
        store.close()
    console.print(
        f"[bold]qmon demo[/]: a Dutch B2B company, {months} months of CRM activity — "
        f"{summary.inserted:,} events imported from {files.events_path}\n"
    )
    print_tables(result, console, config.phases, with_instances=False)
    cfg = files.config_path
    late = next(
        (
            i
            for p, _ in result.promises
            if p.calendar_name
            for i in result.instances
            if i.promise_id == p.id and i.status == "breached" and i.stopped_us is not None
        ),
        None,
    )
    console.print(
        f"\nThe weekly report for {week} (what the Quality Manager gets by e-mail): "
        f"[bold]{report_path}[/] — open it in a browser.",
        highlight=False,
    )
    why = f"  qmon --config {cfg} explain {late.promise_id} {late.subject_id}\n" if late else ""
    console.print(
        "\nNext steps:\n"
        f"  qmon --config {cfg} promises list\n"
        f"  qmon --config {cfg} audit --by week --promise quote-24h\n"
        f"  qmon --config {cfg} audit --by owner --format json\n"
        f"  qmon --config {cfg} audit --instances --format csv > instances.csv\n"
        f"{why}"
        f"  qmon --config {cfg} check --dry-run      # what would be alerted in Slack now\n"
        f"  qmon --config {cfg} report weekly --week {week.shift(-1)}   # an earlier week\n"
        f"Edit {cfg} and run the audit again, or import your own CRM export with "
        f"`qmon --config {cfg} import export.csv`."
    )
    console.print(
        "\nThe dashboard on the demo data (the journey, each promise, its breaches, actions):\n"
        f"  qmon --config {cfg} serve        # then open http://127.0.0.1:8400\n"
        f"  sign in as {DEMO_USER} with the password {password} "
        f"(also in {directory / PASSWORD_FILE})",
        highlight=False, markup=False, soft_wrap=True,
    )  # fmt: skip


def _add_dashboard_user(directory: Path, config_path: Path) -> str:
    """Give the demo config a `serve:` section with one user, `demo`, whose password is made
    for this demo (and written beside it, readable by its owner only), and a session
    secret file, so that `qmon --config <demo> serve` works at once. Returns the password."""
    import secrets

    import argon2

    password = secrets.token_urlsafe(12)
    for name, value in ((PASSWORD_FILE, password), (SESSION_FILE, secrets.token_urlsafe(48))):
        path = directory / name
        path.unlink(missing_ok=True)
        path.touch(mode=0o600)
        path.write_text(value + "\n", encoding="utf-8")
    hashed = argon2.PasswordHasher().hash(password)
    with config_path.open("a", encoding="utf-8") as config:
        config.write(
            "\n# The dashboard: `qmon --config <this file> serve`, then sign in as demo with the\n"
            f"# password qmon demo printed (it is in {PASSWORD_FILE} beside this file). Remove\n"
            "# this section, or put your own users here (`qmon serve hash-password`), before\n"
            "# you use this file for real.\n"
            "serve:\n"
            f"  session_secret_file: {SESSION_FILE}\n"
            "  users:\n"
            f'    - {{name: {DEMO_USER}, password_hash: "{hashed}"}}\n'
        )
    return password


def _log_demo_action(store: Store, end: datetime, months: int) -> None:
    """The demo company's Quality Manager acted on slow quotes halfway the history, so the
    report's "actions and their effect" has something to show."""
    from qmon.reports import actions

    day = end.date() - timedelta(weeks=min(10, months * 2))
    actions.add(store, "quote-24h", "corrective",
                "Offertesjablonen in het CRM en dagelijkse controle op openstaande aanvragen",
                day, to_us(end))  # fmt: skip
