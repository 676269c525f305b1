"""Crash faults: `qmon import`, `qmon sync` and `qmon check` killed with SIGKILL at random
moments, run again, and held against a run that was never killed.

For each kind a scenario is built once (a large CSV; a fake HubSpot and a fake Salesforce
with a few thousand records in four streams; a store whose events make hundreds of alerts,
and a fake Slack) and run once to completion without a kill: the reference. Each trial then
starts from the same initial store, runs the real `qmon` command line as a child process
(`python -m qmon`), SIGKILLs it after `fraction` x the reference's duration (the fraction
drawn from a seeded RNG by the caller), looks at what the kill left, runs the command again
to completion and compares:

- **import**: after the kill the events table is the initial one or the reference's (an
  import is all or nothing); after the rerun it equals the reference's (source, event_id and
  every column); no reader process (`qmon.ingest_worker`) outlives the kill or prints a
  traceback on the way out.
- **sync**: after the kill every stored CRM record has exactly the reference's events (no
  half record), nothing else is stored, and every record modified before a stream's cursor is
  stored (the cursor never runs ahead of what was committed); after the rerun the events
  table and every cursor equal the reference's, each stream is marked synced, and one more
  sync finds nothing new, changed or deleted.
- **check**: after the kill the ledger is empty or holds every alert (one transaction), no
  message carries an alert the ledger lacks, none was posted twice, and every alert the
  ledger calls sent is in Slack; after the rerun the ledger equals the reference's (keys,
  routes, texts, all sent) and every alert is in exactly one Slack message, counted per alert
  key in the messages' metadata over all channels of the fake; one more check finds and posts
  nothing.

Every broken invariant is a line in `Trial.violations`; none is expected. Used by
tests/test_crash_faults.py (a few trials per kind, fixed seeds) and bench/bench_faults.py
(many). The process is killed alone, not its process group, as the kernel's OOM killer or a
`kill -9` would.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from tests.pgschema import private_schema

ROOT = Path(__file__).resolve().parent.parent
KINDS: tuple[str, ...] = ("import", "sync", "check")

#: How long a run (reference or rerun) may take before the harness gives up on it.
RUN_TIMEOUT_S = 300
#: How long a reader process may outlive the import it served.
ORPHAN_GRACE_S = 10


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is: enough that the work, not the interpreter's start, fills
    most of a run."""

    import_rows: int = 80_000  # rows of the CSV; the store starts with a third of them older
    sync_records: int = 2_500  # records per stream, four streams over two CRMs
    check_alerts: int = 500  # alerts posted one by one; as many again go as one digest


#: For CI: each run about a second on SQLite. 32,000 rows are 4.4 MB, over
#: `qmon.ingest.BACKGROUND_FROM_BYTES`: the import still has its reader process.
SMALL = Sizes(import_rows=32_000, sync_records=600, check_alerts=100)


@dataclass
class Trial:
    """One killed run and its rerun: where it was killed and what held."""

    kind: str
    database: str  # sqlite | postgresql
    fraction: float  # of the reference's duration, drawn by the caller
    delay_ms: float  # fraction x the reference's duration
    killed_ms: float | None  # when SIGKILL was sent; None: the run ended before
    phase: str  # what the kill left, coarsely: "before the commit", "some pages stored"...
    state: str  # and in detail: "nothing imported", "3,200 of 10,000 records"...
    killed_exit: int  # the killed run's exit status (-9 when killed)
    rerun_exit: int
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the whole trial

    @property
    def ok(self) -> bool:
        return not self.violations

    def line(self) -> str:
        at = "ended first" if self.killed_ms is None else f"killed at {self.killed_ms:,.0f} ms"
        outcome = "ok" if self.ok else "VIOLATED: " + "; ".join(self.violations)
        return f"{self.kind:6} {self.database:10} {at:20} {self.state:42} {outcome}"


# --- the store, read and reset without qmon ---------------------------------------------------


def engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed)


def reset_database(url: str) -> None:
    """An empty store again: SQLite's files removed, or every table of the schema dropped."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    engine = engine_for(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()


def _table_rows(url: str, sql: str, table: str) -> list[tuple[Any, ...]]:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            if table not in inspect(conn).get_table_names():
                return []
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def events_of(url: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every stored event by (source, event_id), with all its columns."""
    from qmon.events import ROW_COLUMNS

    rows = _table_rows(url, f"SELECT {', '.join(ROW_COLUMNS)} FROM events", "events")
    return {(row[0], row[1]): row for row in rows}


def cursors_of(url: str) -> dict[tuple[str, str], tuple[int | None, int | None]]:
    """(source, stream) -> (position_us, synced_us)."""
    rows = _table_rows(
        url, "SELECT source, stream, position_us, synced_us FROM sync_cursors", "sync_cursors"
    )
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def ledger_of(url: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The alerts ledger by key (promise, subject type, subject id, started, kind)."""
    columns = ("promise_id", "subject_type", "subject_id", "started_us", "kind", "route",
               "text", "blocks", "status", "slack_ts")  # fmt: skip
    rows = _table_rows(url, f"SELECT {', '.join(columns)} FROM alerts", "alerts")
    return {row[:5]: dict(zip(columns, row, strict=True)) for row in rows}


def diff_events(
    got: dict[tuple[str, str], tuple[Any, ...]], want: dict[tuple[str, str], tuple[Any, ...]]
) -> str | None:
    """None when equal; else how many events are lost, extra or different, with examples."""
    lost = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    if not (lost or extra or changed):
        return None
    parts = []
    for name, keys in (("lost", lost), ("extra", extra), ("different", changed)):
        if keys:
            parts.append(f"{len(keys):,} {name} (e.g. {keys[0][0]}/{keys[0][1]})")
    return "events " + ", ".join(parts)


# --- running qmon and killing it --------------------------------------------------------------


@dataclass
class Run:
    exit: int
    seconds: float
    killed_ms: float | None
    stdout: str
    stderr: str
    stderr_file: Path  # still written to by a child that outlives the run


def qmon_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "QMON_DATABASE_URL"}
    path = env.get("PYTHONPATH")
    env.update(PYTHONPATH=str(ROOT) + (os.pathsep + path if path else ""),
               QMON_CONFIG=str(config), COLUMNS="200", NO_COLOR="1")  # fmt: skip
    return env


def run_qmon(args: Sequence[str], config: Path, folder: Path, kill_after_s: float | None) -> Run:
    """`python -m qmon ARGS`, SIGKILLed after `kill_after_s` seconds if it still runs then.

    The process alone is killed, not its group: a reader process it started must notice by
    itself (checked by the import scenario)."""
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        began = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "qmon", *args], env=qmon_env(config),
                                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                cwd=folder)  # fmt: skip
        killed_ms = None
        try:
            if kill_after_s is not None:
                time.sleep(max(0.0, began + kill_after_s - time.perf_counter()))
                if proc.poll() is None:
                    killed_ms = (time.perf_counter() - began) * 1000
                    proc.send_signal(signal.SIGKILL)
            code = proc.wait(timeout=RUN_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        seconds = time.perf_counter() - began
    return Run(code, seconds, killed_ms, out.read_text(errors="replace"),
               err.read_text(errors="replace"), err)  # fmt: skip


_KILL_AT_STATEMENT = """
import os, re, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
pattern, nth, seen = re.compile(sys.argv[1], re.I), int(sys.argv[2]), [0]
@event.listens_for(Engine, "after_cursor_execute")
def _kill(conn, cursor, statement, parameters, context, executemany):
    if pattern.search(statement):
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
sys.argv = ["qmon", *sys.argv[3:]]
from qmon.cli import main
main()
"""


def run_qmon_killed_at_statement(
    args: Sequence[str], config: Path, folder: Path, pattern: str, nth: int
) -> Run:
    """`qmon ARGS`, SIGKILLed by itself right after its `nth` SQL statement matching the
    regular expression `pattern` (case-insensitive): a crash at an exact point of the
    program rather than at a moment."""
    command = ["-c", _KILL_AT_STATEMENT, pattern, str(nth), *args]
    began = time.perf_counter()
    err = folder / "stderr.txt"
    with err.open("w") as stderr:
        done = subprocess.run([sys.executable, *command], env=qmon_env(config), cwd=folder,
                              stdout=subprocess.PIPE, stderr=stderr, text=True,
                              timeout=RUN_TIMEOUT_S)  # fmt: skip
    return Run(done.returncode, time.perf_counter() - began, None, done.stdout,
               err.read_text(errors="replace"), err)  # fmt: skip


def processes_mentioning(marker: str) -> list[int]:
    """Live processes whose command line contains `marker` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


# --- scenarios --------------------------------------------------------------------------------


class Scenario:
    """One kind's world: its fakes, its initial store, its command, and what must hold."""

    kind = ""

    def __init__(self, folder: Path, url: str, sizes: Sizes) -> None:
        self.folder = folder
        self.url = url
        self.sizes = sizes
        self.config = folder / "qmon.yaml"

    def start(self) -> None:
        """Start the fakes and write the inputs (once per harness)."""

    def stop(self) -> None:
        """Stop the fakes."""

    def prepare(self) -> None:
        """The initial store (and fresh fakes where a run changes them), before every run."""
        reset_database(self.url)

    def args(self) -> list[str]:
        raise NotImplementedError

    def snapshot(self) -> Any:
        """What a run left, for comparison."""
        raise NotImplementedError

    def after_kill(self, snap: Any, reference: Any, run: Run) -> tuple[str, str, list[str]]:
        """What the kill left (coarsely and in detail) and the invariants it broke."""
        raise NotImplementedError

    def after_rerun(self, snap: Any, reference: Any) -> list[str]:
        """The invariants the rerun broke."""
        raise NotImplementedError

    def write_config(self, extra: dict[str, Any]) -> None:
        self.config.write_text(
            yaml.safe_dump({"version": 1, "database": self.url, **extra}, sort_keys=False)
        )


# -- import ------------------------------------------------------------------------------------

OWNERS = ("anna", "bram", "chris", "dewi", "eva", "femke")
CHANNELS = ("email", "phone", "web", "chat")
TYPES = (("deal", "quote.requested"), ("deal", "quote.sent"), ("case", "case.opened"),
         ("case", "case.first_response"), ("case", "case.closed"))  # fmt: skip
IMPORT_T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def write_csv(path: Path, rows: int, *, version: str, first: int = 0) -> None:
    """`rows` events (ids e-FIRST...), deterministic; `version` changes owner and note, so
    the same id in two files of different versions is an update."""
    rng = random.Random(f"{version}-{first}-{rows}")
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "occurred_at", "type", "subject_type", "subject_id", "account",
                      "owner", "channel", "link", "note", "priority"])  # fmt: skip
        for n in range(first, first + rows):
            subject_type, type_ = TYPES[n % len(TYPES)]
            moment = IMPORT_T0 + timedelta(seconds=n * 97 + rng.randrange(60))
            offset = "+01:00" if n % 2 else "Z"
            local = moment + timedelta(hours=1) if n % 2 else moment
            stamp = local.replace(tzinfo=None).isoformat() + offset
            subject = f"{'D' if subject_type == 'deal' else 'C'}-{n // 7}"
            out.writerow([
                f"e-{n}", stamp, type_, subject_type, subject, f"acct-{n % 389}",
                rng.choice(OWNERS) if version == "new" else "old-owner", rng.choice(CHANNELS),
                f"https://crm.example/{subject}", f"{version} note, ünïcode \"{n}\"",
                "" if n % 3 else rng.randrange(5),
            ])  # fmt: skip


class ImportScenario(Scenario):
    """`qmon import` of a large CSV into a store that already holds an older version of a
    third of its rows (updates) and rows the file does not have (kept)."""

    kind = "import"

    def start(self) -> None:
        rows = self.sizes.import_rows
        self.csv = self.folder / "events.csv"
        write_csv(self.csv, rows, version="new")
        self.old_csv = self.folder / "older.csv"
        # Rows e-(2/3 rows) ... e-(rows + rows/6): the first part is updated by the import.
        write_csv(self.old_csv, rows // 2, version="old", first=rows - rows // 3)

    def prepare(self) -> None:
        from qmon.ingest import import_files
        from qmon.store import Store

        super().prepare()
        self.write_config({})
        store = Store.open(self.url)
        try:
            import_files(store, [self.old_csv], source="crm")
        finally:
            store.close()
        self.initial = events_of(self.url)

    def args(self) -> list[str]:
        return ["import", str(self.csv), "--source", "crm"]

    def snapshot(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        return events_of(self.url)

    def after_kill(self, snap, reference, run) -> tuple[str, str, list[str]]:
        violations = []
        if snap == self.initial:
            phase, state = "before the commit", "nothing imported"
        elif snap == reference:
            phase, state = "after the commit", "all imported"
        else:
            phase, state = "half imported", "part imported"
            violations.append(
                "after the kill the store is neither as before nor fully imported: "
                + (diff_events(snap, reference) or "")
            )
        marker = str(self.csv)
        deadline = time.monotonic() + ORPHAN_GRACE_S
        while (left := processes_mentioning(marker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left:
            violations.append(f"reader process(es) {left} still running {ORPHAN_GRACE_S} s "
                              "after the import was killed")  # fmt: skip
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        # The killed process printed nothing more; what is there now is its reader's.
        said = run.stderr_file.read_text(errors="replace")
        if run.killed_ms is not None and "Traceback" in said:
            last = said.strip().splitlines()[-1]
            violations.append(f"the reader process printed a traceback after the kill ({last})")
        return phase, state, violations

    def after_rerun(self, snap, reference) -> list[str]:
        problem = diff_events(snap, reference)
        return [f"after the rerun: {problem}"] if problem else []


# -- sync --------------------------------------------------------------------------------------

SYNC_T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)  # stamps in the past: cursors not clamped


@dataclass
class SyncSnapshot:
    events: dict[tuple[str, str], tuple[Any, ...]]
    cursors: dict[tuple[str, str], tuple[int | None, int | None]]

    def records(self) -> dict[tuple[str, str], set[tuple[Any, ...]]]:
        """(source, record) -> its events."""
        found: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
        for row in self.events.values():
            found.setdefault((row[0], row[-1]), set()).add(row)
        return found


class SyncScenario(Scenario):
    """`qmon sync` of HubSpot (tickets, deals) and Salesforce (Case, Opportunity), each stream
    `sync_records` records in small pages, three records to a modification stamp (so stamps
    are shared across page edges), a few archived or deleted."""

    kind = "sync"

    def start(self) -> None:
        from tests.fakes.hubspot import FakeHubSpot
        from tests.fakes.salesforce import FakeSalesforce

        n = self.sizes.sync_records
        self.hubspot = FakeHubSpot(retry_after=0, search_rate_limit=None).start()
        self.salesforce = FakeSalesforce(daily_api_limit=10**8, batch_size=250).start()
        stamp = lambda i: SYNC_T0 + timedelta(seconds=20 * (i // 3))  # noqa: E731
        for i in range(n):
            at = stamp(i)
            stage = "2" if i % 4 == 0 else "1"
            ticket = self.hubspot.add(
                "tickets", {"subject": f"Ticket {i}", "hs_pipeline_stage": stage,
                            "source_type": "EMAIL"}, created_at=at, updated_at=at)  # fmt: skip
            self.hubspot.add("deals", {"dealname": f"Deal {i}", "dealstage": "qualifiedtobuy"},
                             created_at=at, updated_at=at)  # fmt: skip
            case = self.salesforce.add_record("Case", {
                "Subject": f"Case {i}", "Status": "New", "Origin": ("Email", "Phone")[i % 2],
                "CreatedDate": at, "SystemModstamp": at})  # fmt: skip
            self.salesforce.add_record("Opportunity", {
                "Name": f"Opportunity {i}", "StageName": "Prospecting", "CreatedDate": at,
                "SystemModstamp": at})  # fmt: skip
            if i % 97 == 5:
                self.hubspot.archive("tickets", ticket, archived_at=at + timedelta(seconds=1))
                self.salesforce.delete_record("Case", case, at=at + timedelta(seconds=1))
        common = {"backoff_seconds": 0.01, "lookback": "5m"}
        self.write_config({"sources": {
            "hubspot": {"access_token": self.hubspot.access_token,
                        "base_url": self.hubspot.base_url, "portal_id": 62515,
                        "objects": ["tickets", "deals"], "page_size": 100,
                        "search_rate": 1000, **common},
            "salesforce": {"instance_url": self.salesforce.instance_url,
                           "login_url": self.salesforce.instance_url,
                           "auth": {"method": "client_credentials", "consumer_key": "k",
                                    "consumer_secret": "s"},
                           "ca_bundle": self.salesforce.ca_cert_path,
                           "objects": ["Case", "Opportunity"], "page_size": 250,
                           "bulk_threshold": None, **common},
        }})  # fmt: skip

    def stop(self) -> None:
        self.hubspot.stop()
        self.salesforce.stop()

    def stamps(self) -> dict[tuple[str, str], dict[str, int]]:
        """(source, stream) -> record -> its modification stamp (UTC microseconds)."""
        from qmon.timeutil import to_us

        found: dict[tuple[str, str], dict[str, int]] = {}
        for stream in ("tickets", "deals"):
            found["hubspot", stream] = {f"{stream}/{o.id}": to_us(o.updated_at)
                                        for o in self.hubspot.objects(stream)}  # fmt: skip
        for stream in ("Case", "Opportunity"):
            found["salesforce", stream] = {f"{stream}/{r['Id']}": to_us(r["SystemModstamp"])
                                           for r in self.salesforce.records(stream)}  # fmt: skip
        return found

    def args(self) -> list[str]:
        return ["sync"]

    def snapshot(self) -> SyncSnapshot:
        return SyncSnapshot(events_of(self.url), cursors_of(self.url))

    def after_kill(self, snap: SyncSnapshot, reference: SyncSnapshot, run) -> tuple:
        violations = []
        want = reference.records()
        got = snap.records()
        extra = sorted(set(got) - set(want))
        if extra:
            violations.append(f"after the kill {len(extra)} record(s) stored that the "
                              f"reference does not have (e.g. {extra[0][1]})")  # fmt: skip
        half = sorted(r for r in set(got) & set(want) if got[r] != want[r])
        if half:
            violations.append(f"after the kill {len(half)} record(s) stored with other events "
                              f"than the reference's (e.g. {half[0][1]})")  # fmt: skip
        for (source, stream), stamps in self.stamps().items():
            position = snap.cursors.get((source, stream), (None, None))[0]
            if position is None:
                continue
            behind = sorted(r for r, s in stamps.items() if s < position
                            and (source, r) in want and (source, r) not in got)  # fmt: skip
            if behind:
                violations.append(
                    f"after the kill the {source} {stream} cursor is past {len(behind)} "
                    f"record(s) that were not stored (e.g. {behind[0]}): they would be missed"
                )
        stored = len(set(got) & set(want))
        state = f"{stored:,} of {len(want):,} records"
        done = sum(1 for k, v in snap.cursors.items() if v[1] is not None)
        if not stored:
            phase = "no page stored"
        elif done == len(reference.cursors):
            phase = "all streams synced"
        else:
            phase = "some pages stored"
        return phase, state, violations

    def after_rerun(self, snap: SyncSnapshot, reference: SyncSnapshot) -> list[str]:
        from qmon.config import load_config
        from qmon.store import Store
        from qmon.sync import run_sync

        violations = []
        if problem := diff_events(snap.events, reference.events):
            violations.append(f"after the rerun: {problem}")
        positions = {k: v[0] for k, v in snap.cursors.items()}
        want = {k: v[0] for k, v in reference.cursors.items()}
        if positions != want:
            violations.append(f"after the rerun the cursors are {positions}, not {want}")
        unsynced = sorted(k for k, v in snap.cursors.items() if v[1] is None)
        if unsynced or set(snap.cursors) != set(reference.cursors):
            violations.append(f"after the rerun streams not marked synced: {unsynced}")
        for (source, stream), stamps in self.stamps().items():
            position = positions.get((source, stream))
            if position is None or position < max(stamps.values()):
                violations.append(f"after the rerun the {source} {stream} cursor {position} "
                                  "does not cover every record")  # fmt: skip
        store = Store.open(self.url)
        try:
            report = run_sync(load_config(self.config), store)
        finally:
            store.close()
        for source in report.sources:
            total = source.total()
            c = total.counts
            if not source.ok or (c.new, c.updated, c.deleted) != (0, 0, 0):
                violations.append(
                    f"one more {source.source} sync: ok={source.ok}, {c.new} new, {c.updated} "
                    f"updated, {c.deleted} deleted (all should be 0)"
                )
        if problem := diff_events(events_of(self.url), reference.events):
            violations.append(f"after one more sync: {problem}")
        return violations


# -- check -------------------------------------------------------------------------------------

CHECK_AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class CheckSnapshot:
    ledger: dict[tuple[Any, ...], dict[str, Any]]
    posted: Counter[str]  # Slack alert key -> messages carrying it
    keys: dict[str, tuple[Any, ...]]  # Slack alert key -> ledger key, for the ledger's rows
    post_requests: int


def slack_key(ledger_key: tuple[Any, ...]) -> str:
    """The key qmon tags an alert's Slack message with (its metadata), for a ledger key."""
    from qmon.alerts.deliver import slack_key as _slack_key

    names = ("promise_id", "subject_type", "subject_id", "started_us", "kind")
    return _slack_key(SimpleNamespace(**dict(zip(names, ledger_key, strict=True))))


class CheckScenario(Scenario):
    """`qmon check` over a store whose events break or put at risk `check_alerts` instances
    of a sales promise (posted one by one to #kwaliteit) and more of an after-sales promise
    (routed to #support, where they are more than `digest_over` and go as one digest), both
    promises burning their error budget. A fresh fake Slack for every run."""

    kind = "check"

    def start(self) -> None:
        from qmon.events import Event
        from qmon.timeutil import to_us

        n = self.sizes.check_alerts
        as_of = CHECK_AS_OF
        events = []
        for i in range(n):  # two thirds broke in the last day, one third at risk
            hours = 30 if i % 3 else 20
            start = to_us(as_of - timedelta(hours=hours, minutes=i % 50))
            events.append(Event("crm", f"q-{i}", start, "quote.requested", "deal", f"D-{i}",
                                owner=OWNERS[i % 6],
                                link=f"https://crm.example/D-{i}"))  # fmt: skip
        for i in range(n // 2):  # kept: no alert
            start = to_us(as_of - timedelta(hours=40))
            events.append(Event("crm", f"k-{i}", start, "quote.requested", "deal", f"K-{i}"))
            events.append(Event("crm", f"ks-{i}", start + 3600_000_000, "quote.sent", "deal",
                                f"K-{i}"))  # fmt: skip
        for i in range(n + 15):  # after-sales: all broke, more than digest_over
            start = to_us(as_of - timedelta(hours=9, minutes=i % 50))
            events.append(Event("crm", f"c-{i}", start, "case.opened", "case", f"C-{i}"))
        self.events = events

    def prepare(self) -> None:
        from qmon.store import Store
        from tests.fakes.slack import FakeSlack

        super().prepare()
        if getattr(self, "slack", None) is not None:
            self.slack.stop()
        self.slack = FakeSlack(retry_after=0, ts_start=int(CHECK_AS_OF.timestamp())).start()
        for channel in ("kwaliteit", "support"):
            self.slack.add_channel(channel)
        self.write_config({
            "timezone": "UTC",
            "promises": [
                {"id": "quote-24h", "title": "Quote within 24 hours", "phase": "sales",
                 "start": "quote.requested", "stop": "quote.sent", "within": "24h",
                 "objective": "95%", "warn_at": "75%"},
                {"id": "first-reply-8h", "title": "First reply within 8 hours",
                 "phase": "after-sales", "start": "case.opened", "stop": "case.first_response",
                 "within": "8h", "objective": "90%"},
            ],
            "notify": {"slack": {
                "token": self.slack.token, "channel": "#kwaliteit",
                "base_url": self.slack.base_url, "digest_over": self.sizes.check_alerts + 5,
                "routes": [{"phase": "after-sales", "channel": "#support"}]}},
        })  # fmt: skip
        store = Store.open(self.url)
        try:
            store.ingest(self.events)
        finally:
            store.close()

    def stop(self) -> None:
        if getattr(self, "slack", None) is not None:
            self.slack.stop()
            self.slack = None

    def args(self) -> list[str]:
        return ["check", "--as-of", CHECK_AS_OF.isoformat().replace("+00:00", "Z")]

    def snapshot(self) -> CheckSnapshot:
        from qmon.alerts.slack import METADATA_EVENT

        ledger = ledger_of(self.url)
        posted: Counter[str] = Counter()
        for message in self.slack.all_messages:
            metadata = message.metadata or {}
            if metadata.get("event_type") == METADATA_EVENT:
                posted.update(metadata["event_payload"]["alerts"])
        keys = {slack_key(k): k for k in ledger}
        return CheckSnapshot(ledger, posted, keys, len(self.slack.requests("chat.postMessage")))

    def _posting(self, snap: CheckSnapshot, when: str) -> list[str]:
        violations = []
        twice = [k for k, count in snap.posted.items() if count > 1]
        if twice:
            violations.append(f"{when} {len(twice)} alert(s) posted more than once "
                              f"(e.g. {snap.keys.get(twice[0], twice[0])})")  # fmt: skip
        unknown = [k for k in snap.posted if k not in snap.keys]
        if unknown:
            violations.append(f"{when} {len(unknown)} alert(s) posted that the ledger lacks")
        claimed = [k for k, row in snap.ledger.items()
                   if row["status"] == "sent" and snap.posted[slack_key(k)] == 0]  # fmt: skip
        if claimed:
            violations.append(f"{when} {len(claimed)} alert(s) marked sent but not in Slack "
                              f"(e.g. {claimed[0]})")  # fmt: skip
        return violations

    def after_kill(self, snap: CheckSnapshot, reference: CheckSnapshot, run) -> tuple:
        violations = self._posting(snap, "after the kill")
        if snap.ledger and set(snap.ledger) != set(reference.ledger):
            violations.append(f"after the kill the ledger has {len(snap.ledger)} of "
                              f"{len(reference.ledger)} alerts (all or none expected)")  # fmt: skip
        posted = sum(1 for k in reference.keys if snap.posted[k])
        sent = sum(1 for row in snap.ledger.values() if row["status"] == "sent")
        if not snap.ledger:
            phase, state = "ledger empty", "ledger empty"
        else:
            state = f"{posted:,} of {len(reference.keys):,} alerts posted, {sent:,} marked sent"
            phase = "some posted"
            if not posted:
                phase = "ledger full, none posted"
            elif posted == len(reference.keys):
                phase = "all posted"
        return phase, state, violations

    def after_rerun(self, snap: CheckSnapshot, reference: CheckSnapshot) -> list[str]:
        from qmon.alerts.check import run_check
        from qmon.config import load_config
        from qmon.store import Store
        from qmon.timeutil import to_us

        violations = self._posting(snap, "after the rerun")
        lost = set(reference.ledger) - set(snap.ledger)
        extra = set(snap.ledger) - set(reference.ledger)
        if lost or extra:
            violations.append(f"after the rerun the ledger lacks {len(lost)} and has {len(extra)} "
                              "alerts more than the reference")  # fmt: skip
        fields = ("route", "text", "blocks", "status")
        row = lambda ledger, k: [ledger[k][f] for f in fields]  # noqa: E731
        differ = [k for k in set(snap.ledger) & set(reference.ledger)
                  if row(snap.ledger, k) != row(reference.ledger, k)]  # fmt: skip
        if differ:
            violations.append(f"after the rerun {len(differ)} ledger row(s) differ from the "
                              f"reference's (e.g. {differ[0]})")  # fmt: skip
        unsent = [k for k, row in snap.ledger.items() if row["status"] != "sent"]
        if unsent:
            violations.append(f"after the rerun {len(unsent)} alert(s) not sent")
        missing = [k for k in reference.keys if snap.posted[k] == 0]
        if missing:
            violations.append(f"after the rerun {len(missing)} alert(s) never posted to Slack "
                              f"(e.g. {reference.keys[missing[0]]})")  # fmt: skip
        store = Store.open(self.url)
        try:
            again = run_check(load_config(self.config), store, to_us(CHECK_AS_OF))
        finally:
            store.close()
        posts = len(self.slack.requests("chat.postMessage"))
        if again.found or again.delivered or again.failed or posts != snap.post_requests:
            violations.append(f"one more check: {len(again.found)} new, {again.delivered} sent, "
                              f"{posts - snap.post_requests} posts (all should be 0)")  # fmt: skip
        return violations


SCENARIOS: dict[str, type[Scenario]] = {
    "import": ImportScenario, "sync": SyncScenario, "check": CheckScenario,
}  # fmt: skip


# --- the harness ------------------------------------------------------------------------------


def database_kind(url: str) -> str:
    return make_url(url).get_backend_name()


class FaultHarness:
    """One kind on one database: a reference run once, then trials. For example::

    with FaultHarness("sync", url, tmp_path) as harness:
        trial = harness.trial(0.4)  # killed at 40% of the reference's duration
        assert trial.ok, trial.violations
    """

    def __init__(self, kind: str, url: str, folder: Path, sizes: Sizes = Sizes()) -> None:
        if kind not in SCENARIOS:
            raise ValueError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
        self.kind = kind
        self.url = url
        self.folder = folder / kind
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scenario = SCENARIOS[kind](self.folder, url, sizes)
        self.reference_seconds = 0.0
        self._reference: Any = None

    def __enter__(self) -> FaultHarness:
        self.scenario.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.scenario.stop()

    def reference(self) -> Any:
        """The state after a run that was not killed (computed once)."""
        if self._reference is None:
            self.scenario.prepare()
            run = run_qmon(self.scenario.args(), self.scenario.config, self.folder, None)
            if run.exit != 0:
                raise RuntimeError(f"the reference `qmon {self.kind}` exited with {run.exit}:\n"
                                   f"{run.stdout}\n{run.stderr}")  # fmt: skip
            self.reference_seconds = run.seconds
            self._reference = self.scenario.snapshot()
        return self._reference

    def trial(self, fraction: float) -> Trial:
        """Kill a run at `fraction` of the reference's duration, rerun it, compare."""
        began = time.perf_counter()
        reference = self.reference()
        delay = fraction * self.reference_seconds
        self.scenario.prepare()
        killed = run_qmon(self.scenario.args(), self.scenario.config, self.folder, delay)
        violations = []
        if killed.killed_ms is None and killed.exit != 0:
            violations.append(f"the run that was not killed exited with {killed.exit}: "
                              f"{killed.stderr.strip()[-300:]}")  # fmt: skip
        phase, state, found = self.scenario.after_kill(self.scenario.snapshot(), reference, killed)
        violations += found
        rerun = run_qmon(self.scenario.args(), self.scenario.config, self.folder, None)
        if rerun.exit != 0:
            violations.append(f"the rerun exited with {rerun.exit}: "
                              f"{rerun.stderr.strip()[-300:]}")  # fmt: skip
        violations += self.scenario.after_rerun(self.scenario.snapshot(), reference)
        return Trial(
            kind=self.kind,
            database=database_kind(self.url),
            fraction=fraction,
            delay_ms=delay * 1000,
            killed_ms=killed.killed_ms,
            phase=phase,
            state=state,
            killed_exit=killed.exit,
            rerun_exit=rerun.exit,
            violations=violations,
            seconds=time.perf_counter() - began,
        )


def fractions(seed: int, count: int) -> Iterator[float]:
    """Where to kill, as fractions of the reference's duration: uniform, seeded."""
    rng = random.Random(seed)
    for _ in range(count):
        yield rng.random()


__all__ = ["KINDS", "SMALL", "FaultHarness", "Run", "Sizes", "Trial", "fractions",
           "private_schema", "run_qmon", "run_qmon_killed_at_statement"]  # fmt: skip
