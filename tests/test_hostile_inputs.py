"""Hostile input (issue 14): every case gets one clear line, the documented exit code, no
traceback, and bounded time and memory.

Each case is a row: the files it writes, the command, the exit code and a piece of the
message. Cases that try to exhaust memory or hang run a real `qmon` process under an address
space limit (`RLIMIT_AS`) and a timeout; the rest run in-process through the CLI.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.clihelp import qmon

MEMORY_LIMIT = 1 << 30  # address space, not resident memory: Python and its libraries need ~400 MB
TIMEOUT_SECONDS = 30  # wall clock: a hang ends here, however busy the machine is
CPU_AT_MOST = 3.0  # seconds of CPU a case may take, ~1 s of it start-up
RESIDENT_AT_MOST = 300 << 20  # peak resident memory (qmon starts at ~70 MB)

CONFIG = """\
version: 1
database: sqlite:///store.db
promises:
  - {id: quote-24h, title: Q, phase: sales, start: quote.requested, stop: quote.sent,
     within: 24h}
"""
ROW = '"occurred_at": "2026-11-20T09:00:00Z", "subject_type": "deal", "subject_id": "D-1"'
HEADER = "id,occurred_at,type,subject_type,subject_id"


def _alias_bomb() -> str:
    """Nine levels of nine aliases each: 387 million strings once expanded."""
    lines = ["version: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _merge_bomb() -> str:
    """The same with merge keys, which PyYAML would flatten into one huge list of pairs."""
    keys = ", ".join(f"k{i}: {i}" for i in range(9))
    lines = ["version: 1", f"a0: &a0 {{{keys}}}"]
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} {{<<: [{', '.join([f'*a{level - 1}'] * 9)}]}}")
    return "\n".join(lines) + "\n"


def _deep_block(levels: int) -> str:
    nested = "".join(f"{'  ' * i}k{i}:\n" for i in range(levels))
    return f"version: 1\n{nested}{'  ' * levels}x\n"


def _jsonl_row(event_id: str, event_type: str, extra: str = "") -> str:
    return f'{{"id": "{event_id}", "type": "{event_type}", {ROW}{extra}}}\n'


Content = str | bytes | Callable[[Path], None]


@dataclass
class Case:
    """Files to write (name -> text, bytes, or a function making the path), the arguments
    after `qmon --config qmon.yaml`, and what must come out."""

    files: dict[str, Content]
    args: list[str]
    exit_code: int
    message: str
    config: str = CONFIG
    env: dict[str, str] = field(default_factory=dict)


def _symlink(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _big(size: int, fill: bytes = b"x", prefix: bytes = b"") -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as handle:
            handle.write(prefix)
            chunk = fill * (1 << 20)
            for _ in range(size >> 20):
                handle.write(chunk)

    return write


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _secret_config(hubspot: str = "", salesforce: str = "") -> str:
    sources = "sources:\n"
    if hubspot:
        sources += f"  hubspot: {{access_token_file: {hubspot}, base_url: 'http://127.0.0.1:9'}}\n"
    if salesforce:
        sources += (
            "  salesforce:\n    instance_url: https://127.0.0.1:9\n"
            "    login_url: https://127.0.0.1:9\n"
            "    auth: {method: jwt, username: a@b.c, consumer_key: k, "
            f"private_key_file: {salesforce}}}\n"
        )
    return CONFIG + sources


#: Cases that could exhaust memory or hang: run as real processes, limited.
EXHAUSTION: dict[str, Case] = {
    "YAML alias bomb": Case(
        {}, ["promises", "validate"], 2, "qmon.yaml:7: the file expands to more than 100,000",
        config=_alias_bomb(),
    ),
    "YAML merge-key bomb": Case(
        {}, ["promises", "validate"], 2, "the file expands to more than 100,000 values",
        config=_merge_bomb(),
    ),
    "YAML flow nesting 5,000 deep": Case(
        {}, ["promises", "validate"], 2, "qmon.yaml:2: nested more than 64 levels deep",
        config="version: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n",
    ),
    "YAML flow mappings 3,000 deep": Case(
        {}, ["promises", "validate"], 2, "nested more than 64 levels deep",
        config="version: 1\nx: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    ),
    "YAML block nesting 200 deep": Case(
        {}, ["promises", "validate"], 2, "nested more than 64 levels deep",
        config=_deep_block(200),
    ),
    "50 MB config": Case(
        {"big.yaml": _big(50 << 20, b"#", b"version: 1\n")},
        ["--config", "big.yaml", "promises", "validate"], 2,
        "big.yaml: is larger than 1 MiB; a qmon config is a few kB",
    ),
    "/dev/zero as config": Case(
        {}, ["--config", "/dev/zero", "promises", "validate"], 2,
        "/dev/zero: is not a regular file",
    ),
    "/dev/urandom as config": Case(
        {}, ["--config", "/dev/urandom", "audit"], 2, "/dev/urandom: is not a regular file",
    ),
    "named pipe as config": Case(
        {"pipe.yaml": _fifo}, ["--config", "pipe.yaml", "audit"], 2,
        "pipe.yaml: is not a regular file",
    ),
    "/dev/zero as import file": Case(
        {"zero.jsonl": _symlink("/dev/zero")}, ["import", "zero.jsonl"], 2,
        "zero.jsonl: cannot read the file: is not a regular file",
    ),
    "/dev/urandom as import file": Case(
        {"random.csv": _symlink("/dev/urandom")}, ["import", "random.csv"], 2,
        "random.csv: cannot read the file: is not a regular file",
    ),
    "named pipe as import file": Case(
        {"pipe.csv": _fifo}, ["import", "pipe.csv"], 2,
        "pipe.csv: cannot read the file: is not a regular file",
    ),
    "a 6 MB CSV line (background reader)": Case(
        {"one-line.csv": _big(6 << 20, b"x", (HEADER + "\n").encode())},
        ["import", "one-line.csv"], 2, "one-line.csv:2: a line longer than 1 MiB",
    ),
    "a 3 MB JSON line of zeros": Case(
        {"zeros.jsonl": _big(3 << 20, b"\0")}, ["import", "zeros.jsonl"], 2,
        "zeros.jsonl:1: a line longer than 1 MiB",
    ),
    "JSON nested 200,000 deep in a row": Case(
        {"deep.jsonl": _jsonl_row("e-1", "a", ', "x": ' + "[" * 200_000 + "]" * 200_000)},
        ["import", "deep.jsonl"], 2, "deep.jsonl:1: not valid JSON: nested too deeply",
    ),
    "/dev/zero as access_token_file": Case(
        {}, ["sync"], 3,
        "hubspot: cannot read access_token_file /dev/zero: is not a regular file",
        config=_secret_config(hubspot="/dev/zero"),
    ),
    "a 2 MB access_token_file": Case(
        {"token": _big(2 << 20)}, ["sync"], 3,
        "cannot read access_token_file token: is larger than 64 KiB",
        config=_secret_config(hubspot="token"),
    ),
    "/dev/urandom as private_key_file": Case(
        {}, ["sources", "check"], 3,
        "cannot read private_key_file /dev/urandom: is not a regular file",
        config=_secret_config(salesforce="/dev/urandom"),
    ),
}

def _urls(hubspot: str = "https://api.hubapi.com", slack: str = "https://slack.com/api/",
          webhook: str = "https://hooks.example.com/x", login: str = "https://test.salesforce.com",
          instance: str = "https://acme.my.salesforce.com") -> str:  # fmt: skip
    """A config whose every outbound URL is given (line 7: hubspot; 9: salesforce's
    instance_url, 10: login_url; 13: slack; 14: webhook)."""
    return CONFIG + (
        "sources:\n"
        f"  hubspot: {{access_token: x, base_url: '{hubspot}'}}\n"
        f"  salesforce:\n    instance_url: '{instance}'\n    login_url: '{login}'\n"
        "    auth: {method: jwt, username: a@b.c, consumer_key: k, private_key: p}\n"
        "notify:\n"
        f"  slack: {{token: x, channel: '#q', base_url: '{slack}'}}\n"
        f"  webhook: {{url: '{webhook}'}}\n"
    )


def _url_case(line: int, message: str, **urls: str) -> Case:
    return Case({}, ["promises", "validate"], 2, f"qmon.yaml:{line}: {message}",
                config=_urls(**urls))  # fmt: skip


HTTPS = "must be an https URL like"
#: Outbound URLs: https, or http to this machine; nothing else.
URLS: dict[str, Case] = {
    "file: as HubSpot base_url": _url_case(
        7, f"base_url 'file:///etc/passwd' {HTTPS} https://api.hubapi.com", hubspot="file:///etc/passwd"
    ),
    "http: to HubSpot itself": _url_case(
        7, f"base_url 'http://api.hubapi.com' {HTTPS}", hubspot="http://api.hubapi.com"
    ),
    "http: to a host that only starts like loopback": _url_case(
        7, f"base_url 'http://127.0.0.1.evil.example/' {HTTPS}",
        hubspot="http://127.0.0.1.evil.example/",
    ),
    "no scheme": _url_case(
        7, "base_url 'api.hubapi.com' must be a URL like https://api.hubapi.com",
        hubspot="api.hubapi.com",
    ),
    "a port that is no number": _url_case(
        7, "base_url 'https://h:99x/' must be a URL like", hubspot="https://h:99x/"
    ),
    "gopher: as Slack base_url": _url_case(
        13, f"base_url 'gopher://slack.com/' {HTTPS} https://slack.com/api/",
        slack="gopher://slack.com/",
    ),
    "http: Slack off this machine": _url_case(
        13, f"base_url 'http://10.0.0.8/api/' {HTTPS} https://slack.com/api/ (http only to this "
        "machine: 127.0.0.1, ::1 or localhost)", slack="http://10.0.0.8/api/",
    ),
    "http: webhook, its token not shown": _url_case(
        14, f"the webhook url {HTTPS}", webhook="http://hooks.example.com/x?token=s3cr3t"
    ),
    "javascript: webhook": _url_case(14, "the webhook url must be", webhook="javascript:alert(1)"),
    "ftp: Salesforce login_url": _url_case(
        10, "login_url 'ftp://test.salesforce.com' must be an https URL", login="ftp://test.salesforce.com"
    ),
    "http: Salesforce instance_url": _url_case(
        9, "instance_url 'http://acme.my.salesforce.com' must be an https URL",
        instance="http://acme.my.salesforce.com",
    ),
    "a Salesforce instance_url with a path": _url_case(
        9, "instance_url 'https://acme.my.salesforce.com/x' must be the URL of a host",
        instance="https://acme.my.salesforce.com/x",
    ),
    "loopback over http, for tests": Case(
        {}, ["promises", "validate"], 0, "qmon.yaml: OK",
        config=_urls(hubspot="http://127.0.0.1:8080", slack="http://localhost:9/api/",
                     webhook="http://[::1]:9/hook", login="http://127.0.0.2:9",
                     instance="http://127.0.0.1:9"),  # fmt: skip
    ),
}

#: Cases that are only wrong: run in-process.
WRONG: dict[str, Case] = {
    **URLS,
    "${VAR} unquoted in a flow mapping": Case(
        {}, ["promises", "validate"], 2,
        "qmon.yaml:7: YAML syntax error: while parsing a flow mapping, expected ',' or '}', "
        "but got '{' (a value with ${...}, '{', ':' or ',' inside a {...} or [...] must be "
        "quoted: password: \"${SMTP_PASSWORD}\")",
        config=CONFIG + "notify:\n  email: {smtp: {host: h, password: ${SMTP_PASSWORD}},\n"
        "          from: a@b.c, to: a@b.c}\n",
        env={"SMTP_PASSWORD": "hunter2"},
    ),
    "a config that is not UTF-8": Case(
        {"latin.yaml": b"version: 1\n# caf\xe9\n"}, ["--config", "latin.yaml", "audit"], 2,
        "latin.yaml:2: is not UTF-8 text",
    ),
    "a config that is a folder": Case(
        {"conf.d": lambda path: path.mkdir()}, ["--config", "conf.d", "audit"], 2,
        "conf.d: is a folder, not a config file",
    ),
    "a repeated key in a JSON Lines row": Case(
        {"dup.jsonl": _jsonl_row("e-1", "quote.requested", ', "id": "e-2"')},
        ["import", "dup.jsonl"], 2,
        "dup.jsonl:1: key 'id' appears twice in one object; which should win?",
    ),
    "a repeated key in a nested object": Case(
        {"dup.jsonl": _jsonl_row("e-1", "a") + _jsonl_row("e-2", "a", ', "x": {"k": 1, "k": 2}')},
        ["import", "dup.jsonl"], 2, "dup.jsonl:2: key 'k' appears twice",
    ),
    "an empty CSV file": Case(
        {"empty.csv": ""}, ["import", "empty.csv"], 2,
        "empty.csv:1: the file is empty: a CSV file starts with its header row",
    ),
    "a CSV file of blank lines": Case(
        {"blank.csv": "\n\r\n\n"}, ["import", "blank.csv"], 2, "blank.csv:1: the file is empty",
    ),
    "an NPS score of 11": Case(
        {"s.jsonl": _jsonl_row("e-1", "survey.nps", ', "score": 11')}, ["import", "s.jsonl"], 2,
        "s.jsonl:1: field 'score' 11 is outside the survey.nps scale of 0 to 10",
    ),
    "a CSAT score of 0 in a CSV": Case(
        {"s.csv": f"{HEADER},score\ne-1,2026-11-20T09:00:00Z,survey.csat,deal,D-1,0\n"},
        ["import", "s.csv"], 2,
        "s.csv:2: field 'score' '0' is outside the survey.csat scale of 1 to 5",
    ),
    "a negative CES score": Case(
        {"s.jsonl": _jsonl_row("e-1", "survey.ces", ', "score": -3')}, ["import", "s.jsonl"], 2,
        "s.jsonl:1: field 'score' -3 is outside the survey.ces scale of 1 to 7",
    ),
    "Infinity as a JSON score": Case(
        {"s.jsonl": _jsonl_row("e-1", "survey.nps", ', "score": Infinity')},
        ["import", "s.jsonl"], 2, "s.jsonl:1: not valid JSON: Infinity is not a JSON value",
    ),
    "NaN as a JSON score": Case(
        {"s.jsonl": _jsonl_row("e-1", "survey.nps", ', "score": NaN')},
        ["import", "s.jsonl"], 2, "s.jsonl:1: not valid JSON: NaN is not a JSON value",
    ),
    "'Infinity' as a CSV score": Case(
        {"s.csv": f"{HEADER},score\ne-1,2026-11-20T09:00:00Z,survey.nps,deal,D-1,Infinity\n"},
        ["import", "s.csv"], 2,
        "s.csv:2: field 'score' must be a number from 0 to 10, not 'Infinity'",
    ),
    "'nan' as a CSV score": Case(
        {"s.csv": f"{HEADER},score\ne-1,2026-11-20T09:00:00Z,survey.csat,deal,D-1,nan\n"},
        ["import", "s.csv"], 2, "s.csv:2: field 'score' must be a number from 1 to 5, not 'nan'",
    ),
    "an event in year 1 (its UTC instant before year 1)": Case(
        {"far.jsonl": _jsonl_row("e-1", "a").replace("2026-11-20T09:00:00Z",
                                                     "0001-01-01T00:00:00+05:00")},
        ["import", "far.jsonl"], 2,
        "far.jsonl:1: occurred_at: '0001-01-01T00:00:00+05:00' is outside the instants qmon "
        "stores (1900-01-01 to 2999-12-31, UTC)",
    ),
    "a NUL in a CSV cell": Case(
        {"nul.csv": f"{HEADER},owner\ne-1,2026-11-20T09:00:00Z,a,deal,D-1,x\0y\n"},
        ["import", "nul.csv"], 2,
        "nul.csv:2: field 'owner' holds a NUL character (U+0000), which is not text",
    ),
    "within: 99999999999999999999d": Case(
        {}, ["promises", "validate"], 2,
        "qmon.yaml:5: duration '99999999999999999999d' is longer than qmon supports",
        config=CONFIG.replace("within: 24h", "within: 99999999999999999999d"),
    ),
    "an action dated 9999-12-31": Case(
        {}, ["actions", "add", "quote-24h", "x", "--kind", "corrective", "--date", "9999-12-31"],
        2, "--date: 9999-12-31 is outside the dates qmon stores",
    ),
    "a purge date in the future": Case(
        {}, ["purge", "--before", "2999-12-31", "--yes"], 2,
        "--before: 2999-12-31 is in the future",
    ),
    "a purge date in year 1": Case(
        {}, ["purge", "--before", "0001-01-01", "--yes"], 2,
        "--before: 0001-01-01 is outside the dates qmon stores",
    ),
    "explain --format csv": Case(
        {}, ["explain", "quote-24h", "D-1", "--format", "csv"], 2,
        "--format: explain writes a table or json, not csv",
    ),
    "explain of a subject without events": Case(
        {}, ["explain", "quote-24h", "D-404"], 2,
        "SUBJECT_ID: no events of a subject 'D-404' are stored",
    ),
    "a score that is no number is kept, not counted (as documented)": Case(
        {"s.csv": f"{HEADER},score\ne-1,2026-11-20T09:00:00Z,survey.nps,deal,D-1,n/a\n"},
        ["import", "s.csv"], 0, "read 1 rows: 1 inserted",
    ),
}


def _prepare(tmp_path: Path, case: Case) -> None:
    (tmp_path / "qmon.yaml").write_text(case.config)
    for name, content in case.files.items():
        path = tmp_path / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


#: Runs a command and writes the CPU seconds and peak resident kB of it (its own children
#: only: RUSAGE_CHILDREN of the test process would also hold every earlier test's processes).
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump([usage.ru_utime + usage.ru_stime, usage.ru_maxrss], out)
sys.exit(done.returncode)
"""


def run_limited(args: list[str], cwd: Path, env: dict[str, str] | None = None):
    """`qmon ARGS` as a real process under `MEMORY_LIMIT`.

    Returns:
        (exit code, output, CPU seconds, peak resident bytes) of it and its children. CPU
        time, unlike the wall clock, does not depend on what else the machine runs.
    """
    usage = cwd / ".usage.json"
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(usage), sys.executable, "-m", "qmon", *args],
        cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
        preexec_fn=_limit_memory, env={**os.environ, **(env or {})},
    )  # fmt: skip
    cpu, max_kb = json.loads(usage.read_text())
    usage.unlink()
    return done.returncode, done.stdout + done.stderr, cpu, max_kb << 10


def _args(case: Case) -> list[str]:
    return case.args if "--config" in case.args else ["--config", "qmon.yaml", *case.args]


@pytest.mark.parametrize("case", EXHAUSTION.values(), ids=EXHAUSTION.keys())
def test_exhaustion_is_refused_quickly_in_bounded_memory(tmp_path: Path, case: Case) -> None:
    _prepare(tmp_path, case)
    code, output, cpu, resident = run_limited(_args(case), tmp_path, case.env)
    assert not any(word in output for word in ("Traceback", "MemoryError", "RecursionError"))
    assert case.message in output, output
    assert code == case.exit_code, output
    assert cpu < CPU_AT_MOST
    assert resident < RESIDENT_AT_MOST


@pytest.mark.parametrize("case", WRONG.values(), ids=WRONG.keys())
def test_wrong_input_gets_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    _prepare(tmp_path, case)
    monkeypatch.chdir(tmp_path)
    result = qmon(*_args(case), env=case.env)
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    assert case.message in output, output
    assert result.exit_code == case.exit_code, output
    for secret in [*case.env.values(), "s3cr3t"]:
        assert secret not in output


# --- Store faults: one line, exit 3 (2 where the user named something wrong), no change ---

CSV_ROW = f"{HEADER}\ne-1,2026-11-20T09:00:00Z,quote.requested,deal,D-1\n"


def _good_store(tmp_path: Path) -> Path:
    """A real store with one event, made by `qmon import`."""
    store = tmp_path / "good.db"
    (tmp_path / "a.csv").write_text(CSV_ROW)
    result = qmon("--config", "qmon.yaml", "import", "a.csv",
                  env={"QMON_DATABASE_URL": f"sqlite:///{store}"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return store


def _junk(content: bytes) -> Callable[[Path], str]:
    def make(tmp_path: Path) -> str:
        (tmp_path / "junk.db").write_bytes(content)
        return f"sqlite:///{tmp_path / 'junk.db'}"

    return make


def _truncated(tmp_path: Path) -> str:
    store = _good_store(tmp_path)
    os.truncate(store, 6000)
    return f"sqlite:///{store}"


def _read_only(tmp_path: Path) -> str:
    return f"sqlite:///file:{_good_store(tmp_path)}?mode=ro&uri=true"


def _foreign_sqlite(tmp_path: Path) -> str:
    import sqlite3

    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT)")
    return f"sqlite:///{tmp_path / 'other.db'}"


@dataclass
class StoreCase:
    """A database made by `make(tmp_path)` (its URL), a command, and what must come out."""

    make: Callable[[Path], str]
    args: list[str]
    exit_code: int
    message: str


STORE_FAULTS: dict[str, StoreCase] = {
    "a text file as the store": StoreCase(
        _junk(b"hello, I am not a database\n"), ["audit"], 3,
        "file is not a database: the file is not a qmon store",
    ),
    "random bytes as the store": StoreCase(
        _junk(os.urandom(8192)), ["import", "a.csv"], 3, "file is not a database",
    ),
    "a truncated store": StoreCase(
        _truncated, ["audit"], 3, "database disk image is malformed: the store file is damaged",
    ),
    "a read-only store": StoreCase(
        _read_only, ["import", "b.csv"], 3,
        "the store failed: attempt to write a readonly database: the store is read-only",
    ),
    "another application's events table": StoreCase(
        _foreign_sqlite, ["audit"], 2, "holds an `events` table that is not qmon's",
    ),
    "qmon db upgrade of another application's database": StoreCase(
        _foreign_sqlite, ["db", "upgrade"], 2, "holds an `events` table that is not qmon's",
    ),
    "an in-memory store": StoreCase(
        lambda _: "sqlite://", ["import", "a.csv"], 2,
        "sqlite://: an in-memory SQLite store loses every row when qmon exits",
    ),
    "an in-memory store by name": StoreCase(
        lambda _: "sqlite:///:memory:", ["audit"], 2, "an in-memory SQLite store",
    ),
    "a URL whose port is no number": StoreCase(
        lambda _: "postgresql://qm:s3cr3t@db:fivefour/qmon", ["audit"], 2,
        "postgresql://qm:***@db:fivefour/qmon: not a database URL qmon can use",
    ),
    "an unknown driver": StoreCase(
        lambda _: "mongodb://db/qmon", ["audit"], 2, "not a database URL qmon can use",
    ),
    "a password in the URL's query": StoreCase(
        lambda _: "postgresql://qm@127.0.0.1:1/qmon?password=s3cr3t&sslpassword=s3cr3t",
        ["audit"], 3,
        "cannot open the store at postgresql://qm@127.0.0.1:1/qmon?password=***&sslpassword=***",
    ),
}


def _run_store_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: StoreCase) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qmon.yaml").write_text(CONFIG)
    (tmp_path / "a.csv").write_text(CSV_ROW)
    (tmp_path / "b.csv").write_text(CSV_ROW.replace("e-1", "e-2"))
    url = case.make(tmp_path)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix == ".db"}
    result = qmon(*["--config", "qmon.yaml", *case.args], env={"QMON_DATABASE_URL": url})
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output and "s3cr3t" not in output
    assert case.message in output, output
    assert result.exit_code == case.exit_code, output
    assert len(output.strip().splitlines()) == 1, output
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix == ".db"}
    assert after == files, "a store fault changed the store"
    return output


@pytest.mark.parametrize("case", STORE_FAULTS.values(), ids=STORE_FAULTS.keys())
def test_a_store_fault_is_one_line_and_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: StoreCase
) -> None:
    _run_store_case(tmp_path, monkeypatch, case)


def _pg_options(url: str, setting: str) -> str:
    """`url` (with `options=-csearch_path=...`) with one more server setting."""
    from urllib.parse import quote

    return url.replace("options=", f"options={quote(f'-c{setting} ')}", 1)


def test_a_read_only_postgresql_is_exit_3_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    read_only = _pg_options(pg_url, "default_transaction_read_only=on")
    empty = StoreCase(lambda _: read_only, ["audit"], 3, "read-only transaction: the database is")
    _run_store_case(tmp_path, monkeypatch, empty)
    monkeypatch.chdir(tmp_path)
    assert qmon("--config", "qmon.yaml", "import", "a.csv",
                env={"QMON_DATABASE_URL": pg_url}).exit_code == 0  # fmt: skip
    written = StoreCase(lambda _: read_only, ["import", "b.csv"], 3,
                        "the store failed: cannot execute")  # fmt: skip
    _run_store_case(tmp_path, monkeypatch, written)
    result = qmon("--config", "qmon.yaml", "audit", "--format", "json",
                  env={"QMON_DATABASE_URL": pg_url})  # fmt: skip
    assert '"e-2"' not in result.stdout


def test_another_applications_events_table_on_postgresql_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE events (id serial PRIMARY KEY, payload jsonb)"))
    for args in (["audit"], ["db", "upgrade"], ["import", "a.csv"]):
        case = StoreCase(lambda _: pg_url, args, 2, "holds an `events` table that is not qmon's")
        _run_store_case(tmp_path, monkeypatch, case)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == ["events"]
    engine.dispose()


# --- Extreme but valid options: a clear error or a correct answer ---

EXTREMES: dict[str, tuple[list[str], int, str]] = {
    "as of the last second of 9999": (
        ["audit", "--as-of", "9999-12-31T23:59:59Z"], 2,
        "--as-of: 9999-12-31T23:59:59Z is outside the instants every time zone can show",
    ),
    "as of the first second of year 1": (
        ["audit", "--as-of", "0001-01-01T00:00:00Z"], 2,
        "--as-of: 0001-01-01T00:00:00Z is outside the instants every time zone can show",
    ),
    "as of 9999-12-30": (["audit", "--as-of", "9999-12-30T23:59:59Z"], 0, "quote-24h"),
    "explain as of year 1": (
        ["explain", "quote-24h", "D-1", "--as-of", "0001-01-02T00:00:00Z"], 0,
        "No instances of this promise as of 0001-01-02T00:00:00Z",
    ),
    "audit from year 1 to 9999": (
        ["audit", "--from", "0001-01-01", "--to", "9999-12-31"], 0, "quote-24h",
    ),
    "week 0001-W01": (
        ["report", "weekly", "--week", "0001-W01"], 2,
        "--week: '0001-W01' is too close to the calendar's end: the report needs the 11 weeks",
    ),
    "week 0001-W12, the first with its whole trend": (
        ["report", "weekly", "--week", "0001-W12", "--as-of", "2026-12-01T00:00:00Z"], 0,
        "qmon audit --from 0001-03-19 --to 0001-03-26",
    ),
    "week 9999-W51, not started": (
        ["report", "weekly", "--week", "9999-W51"], 2, "--week: 9999-W51 has not started yet",
    ),
    "week 9999-W51 as of the last day": (
        ["report", "weekly", "--week", "9999-W51", "--as-of", "9999-12-30T23:59:59Z"], 0,
        "qmon audit --from 9999-12-20 --to 9999-12-27",
    ),
    "week 9999-W52, whose end is past the calendar": (
        ["report", "weekly", "--week", "9999-W52", "--as-of", "9999-12-30T23:59:59Z"], 2,
        "--week: '9999-W52' is too close to the calendar's end",
    ),
}


@pytest.mark.parametrize("args, exit_code, message", EXTREMES.values(), ids=EXTREMES.keys())
def test_extreme_options_get_an_answer_or_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], exit_code: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qmon.yaml").write_text(CONFIG)
    _good_store(tmp_path)
    result = qmon("--config", "qmon.yaml", *args,
                  env={"QMON_DATABASE_URL": f"sqlite:///{tmp_path / 'good.db'}"})  # fmt: skip
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert message in output, output
    assert result.exit_code == exit_code, output


# --- Passwords in URLs: the one helper every log line and store message goes through ---

MASKED = {
    "user part": ("postgresql://qm:s3cr3t@db/qmon", "postgresql://qm:***@db/qmon"),
    "query": ("postgresql://qm@db/qmon?password=s3cr3t", "postgresql://qm@db/qmon?password=***"),
    "sslpassword after another": (
        "postgresql://db/q?sslmode=require&sslpassword=s3cr3t&x=1",
        "postgresql://db/q?sslmode=require&sslpassword=***&x=1",
    ),
    "upper case, in a sentence": (
        "cannot reach postgresql://db/q?PASSWORD=s3cr3t (refused)",
        "cannot reach postgresql://db/q?PASSWORD=*** (refused)",
    ),
    "both at once": ("mysql://u:s3cr3t@h/d?password=s3cr3t", "mysql://u:***@h/d?password=***"),
}


@pytest.mark.parametrize("text, shown", MASKED.values(), ids=MASKED.keys())
def test_a_password_in_a_url_is_masked_in_logs(text: str, shown: str) -> None:
    import json
    import logging

    from qmon.ops.logs import JsonFormatter, TextFormatter

    record = logging.makeLogRecord({"msg": "store %s", "args": (text,), "levelname": "ERROR"})
    assert TextFormatter().format(record).endswith(f"store {shown}")
    assert json.loads(JsonFormatter().format(record))["message"] == f"store {shown}"
