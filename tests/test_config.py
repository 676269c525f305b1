"""The configuration file: located messages, all problems at once, and the runtime result."""

from __future__ import annotations

import textwrap
from pathlib import Path

import holidays
import pytest

from qmon.config import QmonConfig, load_config
from qmon.errors import ConfigError, Problem
from qmon.promises.calendar import WALL_CLOCK, BusinessCalendar
from qmon.promises.duration import parse_duration
from qmon.promises.promise import Role

REPO = Path(__file__).resolve().parent.parent
#: As the installed `holidays` package lists them (the list may grow between versions).
_NL_SUBDIVISIONS = ", ".join(sorted(holidays.country_holidays("NL").subdivisions))
AUDIT_CONFIG = REPO.parent / "shared" / "examples" / "audit-contract" / "qmon.yaml"

DURATIONS = "(write e.g. '24h', '1h 30m', '90m', '2d' or '45s'; d is 24h)"
DAYS = "days are mon, tue, wed, thu, fri, sat, sun"

PROMISE = """\
version: 1
promises:
  - id: quote-24h
    phase: sales
    start: quote.requested
    stop: quote.sent
    within: 24h
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "qmon.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> QmonConfig:
    return load_config(write(tmp_path, text), environ={} if environ is None else environ)


def problems(
    tmp_path: Path, text: str, environ: dict[str, str] | None = None
) -> list[tuple[int | None, str]]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={} if environ is None else environ)
    assert all(problem.file == path for problem in caught.value.problems)
    return [(problem.line, problem.message) for problem in caught.value.problems]


# --- One problem, its message and its line ----------------------------------------------------

CASES = {
    "unknown key with a hint": (
        PROMISE.replace("within:", "withn:"),
        [
            (3, "promise 'quote-24h': needs one of 'within', 'targets' or 'deadline'"),
            (7, "unknown key 'withn' (did you mean 'within'?)"),
        ],
    ),
    "unknown key without a hint": (
        PROMISE + "    colour: blue\n",
        [(8, "unknown key 'colour'")],
    ),
    "unknown top-level key": (
        "version: 1\npromise: []\n",
        [(2, "unknown key 'promise' (did you mean 'promises'?)")],
    ),
    "missing stop": (
        PROMISE.replace("    stop: quote.sent\n", ""),
        [(3, "promise 'quote-24h': missing required key 'stop'")],
    ),
    "missing id": (
        PROMISE.replace("  - id: quote-24h\n    phase", "  - phase"),
        [(3, "promise 1: missing required key 'id'")],
    ),
    "missing version": (
        "# comment\ntimezone: Europe/Amsterdam\n",
        [(2, "missing required key 'version'")],
    ),
    "unsupported version": (
        "version: 2\n",
        [(1, "unsupported version 2; this qmon reads files with 'version: 1'")],
    ),
    "version as text": (
        "version: '1'\n",
        [(1, "version must be the number 1, not the text '1'")],
    ),
    "unknown phase": (
        PROMISE.replace("phase: sales", "phase: sale"),
        [
            (
                4,
                "unknown phase 'sale' (did you mean 'sales'?); "
                "phases are: pre-sales, sales, after-sales",
            )
        ],
    ),
    "unknown phase among own phases": (
        PROMISE.replace("version: 1\n", "version: 1\nphases: [lead, deal]\n"),
        [(5, "unknown phase 'sales'; phases are: lead, deal")],
    ),
    "no calendars defined": (
        PROMISE + "    calendar: office-nl\n",
        [(8, "unknown calendar 'office-nl'; no calendars are defined")],
    ),
    "event type in two roles": (
        PROMISE.replace("stop: quote.sent", "stop: [quote.sent, quote.requested]"),
        [
            (
                6,
                "event type 'quote.requested' is both 'start' and 'stop'; "
                "a type plays one role in a promise",
            )
        ],
    ),
    "event type twice in one role": (
        PROMISE.replace("stop: quote.sent", "stop:\n      - quote.sent\n      - quote.sent"),
        [(8, "event type 'quote.sent' is listed twice in 'stop'")],
    ),
    "pause without resume": (
        PROMISE + "    pause: case.waiting\n",
        [(8, "'pause' without 'resume': the clock would stay paused")],
    ),
    "resume without pause": (
        PROMISE + "    resume: case.replied\n",
        [(8, "'resume' without 'pause': nothing pauses the clock")],
    ),
    "bad duration": (
        PROMISE.replace("within: 24h", "within: 1.5h"),
        [
            (
                7,
                f"not a duration: '1.5h' {DURATIONS}",
            )
        ],
    ),
    "duration without unit": (
        PROMISE.replace("within: 24h", "within: 24"),
        [
            (
                7,
                f"duration '24' has no unit {DURATIONS}",
            )
        ],
    ),
    "duration in digits that are not 0-9": (
        PROMISE.replace("within: 24h", "within: \u0663h"),
        [(7, f"not a duration: '\u0663h' {DURATIONS}")],
    ),
    "zero duration": (
        PROMISE.replace("within: 24h", "within: 0m"),
        [(7, "duration '0m' is zero; a promise needs time to be kept")],
    ),
    "objective like 95": (
        PROMISE + "    objective: 95\n",
        [(8, "objective 95 is more than 100% (did you mean 95%?)")],
    ),
    "objective as text without %": (
        PROMISE + "    objective: '95'\n",
        [(8, "objective '95' must be a percentage like '95%' or a number like 0.95")],
    ),
    "objective of zero": (
        PROMISE + "    objective: 0%\n",
        [(8, "objective 0% must be more than 0%")],
    ),
    "warn_at over 100%": (
        PROMISE + "    warn_at: 150%\n",
        [(8, "warn_at 150% is more than 100%")],
    ),
    "promise id with capitals and a space": (
        PROMISE.replace("id: quote-24h", "id: Quote 24h"),
        [
            (
                3,
                "promise id 'Quote 24h' must be lowercase letters, digits, '.', '_' and '-', "
                "starting with a letter or digit",
            )
        ],
    ),
    "empty stop list": (
        PROMISE.replace("stop: quote.sent", "stop: []"),
        [(6, "'stop' needs at least one event type")],
    ),
    "phase that is a list": (
        PROMISE.replace("phase: sales", "phase: [sales]"),
        [(4, "'phase' must be text, not a list")],
    ),
    "phase without a value": (
        PROMISE.replace("phase: sales", "phase:"),
        [(4, "'phase' has no value")],
    ),
    "promise that is not a mapping": (
        "version: 1\npromises:\n  - quote-24h\n",
        [(3, "item 1 of 'promises' must be a mapping, not text")],
    ),
    "no phases": (
        "version: 1\nphases: []\n",
        [(2, "phases must list at least one phase")],
    ),
    "duplicate phase": (
        "version: 1\nphases:\n  - sales\n  - service\n  - sales\n",
        [(5, "duplicate phase 'sales' (first at line 3)")],
    ),
    "unknown time zone": (
        "version: 1\ntimezone: Europe/Amsterdm\n",
        [(2, "unknown time zone 'Europe/Amsterdm' (use an IANA name like Europe/Amsterdam)")],
    ),
    "database that is not a URL": (
        "version: 1\ndatabase: qmon.db\n",
        [
            (
                2,
                "database must be a SQLAlchemy URL like sqlite:///qmon.db or "
                "postgresql+psycopg://user@host/qmon",
            )
        ],
    ),
    "unknown language": (
        "version: 1\nlanguage: fr\n",
        [(2, "'language' must be 'nl' or 'en'")],
    ),
    "notify that is a list": (
        "version: 1\nnotify: [slack]\n",
        [(2, "'notify' must be a mapping, not a list")],
    ),
    "top level that is a list": (
        "- version: 1\n",
        [(1, "the file must be a mapping, not a list")],
    ),
    "empty file": (
        "# nothing yet\n",
        [(1, "the file is empty; it needs at least 'version: 1'")],
    ),
    "YAML syntax error": (
        "version: 1\npromises: [\n  - id: a\n",
        [
            (
                3,
                "YAML syntax error: while parsing a flow node, "
                "expected the node content, but found '-'",
            )
        ],
    ),
    "duplicate key": (
        PROMISE.replace("    within: 24h\n", "    within: 24h\n    id: quote-48h\n"),
        [(8, "duplicate key 'id' (first at line 3)")],
    ),
    "duplicate top-level key": (
        "version: 1\ntimezone: UTC\nversion: 1\n",
        [(3, "duplicate key 'version' (first at line 1)")],
    ),
    "unsupported YAML tag": (
        "version: 1\ndatabase: !vault db-url\n",
        [(2, "could not determine a constructor for the tag '!vault'")],
    ),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_problem_messages_and_lines(tmp_path: Path, text: str, expected: list) -> None:
    assert problems(tmp_path, text) == expected


CALENDAR = """\
version: 1
calendars:
  office-nl:
    timezone: Europe/Amsterdam
    hours:
      mon-fri: ["09:00-12:30", "13:00-17:00"]
    holidays: [NL]
    closed: ["2026-12-24"]
"""

CALENDAR_CASES = {
    "unknown calendar key": (
        CALENDAR.replace("holidays:", "holiday:"),
        [(7, "unknown key 'holiday' (did you mean 'holidays'?)")],
    ),
    "calendar without hours": (
        "version: 1\ncalendars:\n  office-nl:\n    holidays: [NL]\n",
        [(3, "calendar 'office-nl': missing required key 'hours'")],
    ),
    "unknown day": (
        CALENDAR.replace("mon-fri:", "mon-fri: []\n      thur:"),
        [
            (
                7,
                f"unknown day 'thur' (did you mean 'thu'?); {DAYS}",
            )
        ],
    ),
    "unknown day inside a range": (
        CALENDAR.replace("mon-fri:", "mon-fry:"),
        [
            (
                6,
                "unknown day 'fry' in 'mon-fry' (did you mean 'fri'?); "
                "days are mon, tue, wed, thu, fri, sat, sun",
            )
        ],
    ),
    "range wrapping round the week": (
        CALENDAR.replace("mon-fri:", "fri-tue:"),
        [(6, "day range 'fri-tue' wraps past sunday; write 'fri-sun,mon-tue'")],
    ),
    "day twice in one key": (
        CALENDAR.replace("mon-fri:", "mon-fri,wed:"),
        [(6, "'mon-fri,wed' names wed twice")],
    ),
    "day covered by two keys": (
        CALENDAR.replace("holidays:", "  wed,sat: 10:00-12:00\n    holidays:"),
        [(7, "day wed is covered twice: also by 'mon-fri' at line 6")],
    ),
    "days covered by two keys": (
        CALENDAR.replace("holidays:", "  tue-thu: 10:00-12:00\n    holidays:"),
        [(7, "days tue, wed, thu are covered twice: also by 'mon-fri' at line 6")],
    ),
    "window syntax": (
        CALENDAR.replace('"13:00-17:00"', '"1pm-5pm"'),
        [(6, "window '1pm-5pm' is not like '09:00-17:00' (HH:MM-HH:MM)")],
    ),
    "window ending before it starts": (
        CALENDAR.replace('"13:00-17:00"', '"22:00-02:00"'),
        [
            (
                6,
                "window '22:00-02:00' does not end after it starts; windows cannot cross "
                "midnight (split it at 24:00)",
            )
        ],
    ),
    "window past 24:00": (
        CALENDAR.replace('"13:00-17:00"', '"13:00-24:30"'),
        [(6, "window '13:00-24:30' has a time that does not exist (the end may be 24:00)")],
    ),
    "overlapping windows": (
        CALENDAR.replace(
            'mon-fri: ["09:00-12:30", "13:00-17:00"]',
            "mon-fri:\n        - 09:00-17:00\n        - 12:00-13:00\n        - 16:00-18:00",
        ),
        [
            (8, "windows '09:00-17:00' and '12:00-13:00' overlap"),
            (9, "windows '09:00-17:00' and '16:00-18:00' overlap"),
        ],
    ),
    "no open hours": (
        CALENDAR.replace('mon-fri: ["09:00-12:30", "13:00-17:00"]', "mon-fri: []"),
        [(5, "calendar 'office-nl' has no open hours")],
    ),
    "unknown holiday country": (
        CALENDAR.replace("[NL]", "[NL, XX]"),
        [
            (
                7,
                "unknown holiday country 'XX'; use a country code of the holidays package, "
                "e.g. NL or DE-BY",
            )
        ],
    ),
    "unknown subdivision": (
        CALENDAR.replace("[NL]", "[NL-West]"),
        [(7, f"unknown subdivision 'West' of NL; NL has {_NL_SUBDIVISIONS}")],
    ),
    "subdivision with a hint": (
        CALENDAR.replace("[NL]", "[NL-Nord]"),
        [(7, "unknown subdivision 'Nord' of NL (did you mean 'Noord'?)")],
    ),
    "closed date that is no date": (
        CALENDAR.replace('["2026-12-24"]', "[2026-13-01, 24-12-2026]"),
        [
            (8, "closed date '2026-13-01' is not a date like 2026-12-24 (YYYY-MM-DD)"),
            (8, "closed date '24-12-2026' is not a date like 2026-12-24 (YYYY-MM-DD)"),
        ],
    ),
    "unknown calendar time zone": (
        CALENDAR.replace("timezone: Europe/Amsterdam", "timezone: CET+1"),
        [(4, "unknown time zone 'CET+1' (use an IANA name like Europe/Amsterdam)")],
    ),
    "unknown calendar with a hint": (
        CALENDAR + PROMISE.replace("version: 1\n", "") + "    calendar: ofice-nl\n",
        [
            (
                15,
                "unknown calendar 'ofice-nl' (did you mean 'office-nl'?); calendars are: office-nl",
            )
        ],
    ),
}


@pytest.mark.parametrize("text, expected", CALENDAR_CASES.values(), ids=CALENDAR_CASES.keys())
def test_calendar_problem_messages_and_lines(tmp_path: Path, text: str, expected: list) -> None:
    assert problems(tmp_path, text) == expected


# --- Every problem at once --------------------------------------------------------------------

MANY_PROBLEMS = """\
version: 1
timezone: Europe/Amsterdam
calendars:
  office-nl:
    hours:
      mon-fri: 09:00-17:00
      fri-mon: 10:00-12:00
promises:
  - id: quote-24h
    phase: sale
    start: quote.requested
    stop: quote.sent
    within: 1.5h
    objective: 95
  - id: quote-24h
    phase: sales
    start: quote.requested
    stop: quote.sent
    withn: 2h
    calendar: office
"""


def test_every_problem_is_reported_at_once_sorted_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, MANY_PROBLEMS)

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert caught.value.summary == f"{path}: 8 problems"
    assert caught.value.problems == [
        Problem(path, 7, "day range 'fri-mon' wraps past sunday; write 'fri-sun,mon'"),
        Problem(
            path,
            10,
            "unknown phase 'sale' (did you mean 'sales'?); "
            "phases are: pre-sales, sales, after-sales",
        ),
        Problem(
            path,
            13,
            f"not a duration: '1.5h' {DURATIONS}",
        ),
        Problem(path, 14, "objective 95 is more than 100% (did you mean 95%?)"),
        Problem(path, 15, "promise 'quote-24h': needs one of 'within', 'targets' or 'deadline'"),
        Problem(path, 15, "duplicate promise id 'quote-24h' (first at line 9)"),
        Problem(path, 19, "unknown key 'withn' (did you mean 'within'?)"),
        Problem(
            path,
            20,
            "unknown calendar 'office' (did you mean 'office-nl'?); calendars are: office-nl",
        ),
    ]
    assert str(caught.value).splitlines()[:2] == [
        f"{path}: 8 problems",
        f"{path}:7: day range 'fri-mon' wraps past sunday; write 'fri-sun,mon'",
    ]


def test_a_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere.yaml")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert caught.value.problems == [
        Problem(
            path,
            None,
            "does not exist; `qmon demo` writes an example config, "
            "or choose another file with --config or QMON_CONFIG",
        )
    ]


# --- Environment variables --------------------------------------------------------------------

ENV_CONFIG = """\
version: 1
database: postgresql+psycopg://qmon:${DB_PASSWORD}@db/qmon
notify:
  slack:
    token: ${SLACK_TOKEN}
    channel: "#${CHANNEL}-alerts-$${PRICE}"
"""


def test_environment_variables_are_substituted_in_values(tmp_path: Path) -> None:
    environ = {"DB_PASSWORD": "hunter2", "SLACK_TOKEN": "xoxb-1", "CHANNEL": "ops"}

    config = load(tmp_path, ENV_CONFIG, environ)

    assert config.database_url == "postgresql+psycopg://qmon:hunter2@db/qmon"
    slack = config.extra["notify"].slack
    assert slack.token.get_secret_value() == "xoxb-1"
    assert slack.channel == "#ops-alerts-${PRICE}"
    assert "xoxb-1" not in repr(config)


def test_an_unset_variable_is_named_and_nothing_else_is_shown(tmp_path: Path) -> None:
    environ = {"DB_PASSWORD": "hunter2", "CHANNEL": "ops"}

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, ENV_CONFIG, environ)

    assert [(p.line, p.message) for p in caught.value.problems] == [
        (5, "environment variable SLACK_TOKEN is not set")
    ]
    assert "hunter2" not in str(caught.value)
    assert "ops" not in str(caught.value)


def test_a_bad_value_from_the_environment_is_shown_as_written(tmp_path: Path) -> None:
    text = PROMISE.replace("version: 1\n", "version: 1\ntimezone: ${ZONE}\n").replace(
        "id: quote-24h", "id: ${PROMISE_ID}"
    )
    environ = {"ZONE": "Secret/Zone-s3cret", "PROMISE_ID": "Hidden S3cret"}

    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)

    assert [(p.line, p.message) for p in caught.value.problems] == [
        (2, "unknown time zone '${ZONE}' (use an IANA name like Europe/Amsterdam)"),
        (
            4,
            "promise id '${PROMISE_ID}' must be lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
        ),
    ]
    assert "s3cret" not in str(caught.value).lower()


def test_an_unset_variable_hides_further_problems_with_that_value(tmp_path: Path) -> None:
    assert problems(tmp_path, "version: 1\ntimezone: ${ZONE}\n") == [
        (2, "environment variable ZONE is not set")
    ]


def test_load_config_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QMON_TEST_ZONE", "Asia/Tokyo")

    config = load_config(write(tmp_path, "version: 1\ntimezone: ${QMON_TEST_ZONE}\n"))

    assert config.timezone.key == "Asia/Tokyo"


# --- Database URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, expected",
    [
        ("sqlite:///qmon.db", "sqlite:///{folder}/qmon.db"),
        ("sqlite:///data/../q.db?timeout=5", "sqlite:///{folder}/q.db?timeout=5"),
        ("sqlite+pysqlite:///q.db", "sqlite+pysqlite:///{folder}/q.db"),
        ("sqlite:////var/lib/qmon.db", "sqlite:////var/lib/qmon.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://qmon@db/qmon", "postgresql+psycopg://qmon@db/qmon"),
    ],
)
def test_database_url_is_resolved_against_the_config_folder(
    tmp_path: Path, written: str, expected: str
) -> None:
    config = load(tmp_path, f"version: 1\ndatabase: '{written}'\n")

    assert config.database_url == expected.format(folder=tmp_path)


def test_database_url_of_a_relative_config_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "qmon.yaml").write_text("version: 1\n")
    monkeypatch.chdir(tmp_path)

    config = load_config("config/qmon.yaml", environ={})

    assert config.path == Path("config/qmon.yaml")
    assert config.database_url == f"sqlite:///{tmp_path}/config/qmon.db"


def test_qmon_database_url_overrides_the_file(tmp_path: Path) -> None:
    environ = {"QMON_DATABASE_URL": "postgresql+psycopg://qmon@db/qmon"}

    config = load(tmp_path, "version: 1\ndatabase: sqlite:///qmon.db\n", environ)

    assert config.database_url == "postgresql+psycopg://qmon@db/qmon"


# --- The runtime configuration ----------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "version: 1\n")

    assert config.database_url == f"sqlite:///{tmp_path}/qmon.db"
    assert config.timezone.key == "Europe/Amsterdam"
    assert config.phases == ("pre-sales", "sales", "after-sales")
    assert config.calendars == {}
    assert config.promises == ()
    assert config.extra == {}


def test_empty_sections_count_as_absent(tmp_path: Path) -> None:
    config = load(tmp_path, "version: 1\ncalendars:\npromises:\nnotify:\n")

    assert (config.calendars, config.promises, config.extra) == ({}, (), {})


def test_a_promise_on_the_wall_clock(tmp_path: Path) -> None:
    text = """\
    version: 1
    promises:
      - id: first-reply
        title: First reply within a day
        phase: after-sales
        start: case.opened
        stop: [case.first_response, case.closed]
        pause: case.waiting_on_customer
        resume: [case.customer_replied]
        within: 1d 2h 30m 15s
        objective: 0.9
        warn_at: 75%
      - id: quote-24h
        phase: sales
        start: quote.requested
        stop: quote.sent
        within: 24h
    """
    first, second = load(tmp_path, text).promises

    assert first.id == "first-reply"
    assert first.title == "First reply within a day"
    assert first.phase == "after-sales"
    assert first.roles == {
        "case.opened": Role.START,
        "case.first_response": Role.STOP,
        "case.closed": Role.STOP,
        "case.waiting_on_customer": Role.PAUSE,
        "case.customer_replied": Role.RESUME,
    }
    assert first.within_us == (26 * 3600 + 30 * 60 + 15) * 1_000_000
    assert first.clock is WALL_CLOCK
    assert first.calendar_name is None
    assert (first.objective, first.warn_at) == (0.9, 0.75)
    assert second.title == "quote-24h"
    assert (second.objective, second.warn_at) == (None, None)


def test_sections_for_later_parts_of_qmon_are_kept(tmp_path: Path) -> None:
    text = """\
    version: 1
    language: en
    notify:
      email: {smtp: {host: smtp.acme.nl}, from: qmon@acme.nl, to: ops@example.com}
    schedule: {sync: 15m, weekly_report: "tue 07:30"}
    """
    extra = load(tmp_path, text).extra
    assert extra["language"] == "en"
    email = extra["notify"].email
    assert (email.smtp.host, email.smtp.port, email.sender, email.to) == (
        "smtp.acme.nl", 587, "qmon@acme.nl", ["ops@example.com"]
    )
    schedule = extra["schedule"]
    assert (schedule.sync, schedule.check, schedule.weekly_report) == (
        15 * 60_000_000, 5 * 60_000_000, (1, 7, 30)
    )


def test_agent_settings_are_checked_with_located_messages(tmp_path: Path) -> None:
    text = """\
    version: 1
    notify:
      slack:
        token: xoxb-secret-value
        token_file: /run/secrets/slack
        chanel: "#q"
        routes:
          - {channel: "#x"}
      email: {smtp: {host: h, security: tls}, from: not-an-address, to: [a@b.nl]}
    schedule: {weekly_report: "mnd 08:00"}
    """
    found = problems(tmp_path, text)
    assert found == [
        (3, "missing required key 'channel'"),
        (6, "unknown key 'chanel' (did you mean 'channel'?)"),
        (8, "a route needs 'phase' or 'promise' (or both) besides 'channel'"),
        (9, "'security' must be 'starttls', 'ssl' or 'none'"),
        (9, "'not-an-address' is not an e-mail address"),
        (10, "unknown day 'mnd' (did you mean 'mon'?)"),
    ]
    assert not any("xoxb-secret-value" in message for _, message in found)


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = """\
    version: 1
    promises:
      - &quote
        id: quote-24h
        phase: sales
        start: quote.requested
        stop: quote.sent
        within: 24h
      - <<: *quote
        id: quote-48h
        within: 48h
        colour: red
    """
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)

    assert [(p.line, p.message) for p in caught.value.problems] == [(12, "unknown key 'colour'")]
    config = load(tmp_path, text.replace("        colour: red\n", ""))
    assert [(p.id, p.phase, p.within_us) for p in config.promises] == [
        ("quote-24h", "sales", 24 * 3600 * 1_000_000),
        ("quote-48h", "sales", 48 * 3600 * 1_000_000),
    ]


# --- Whole configurations (these need BusinessCalendar) ---------------------------------------


def test_the_audit_contract_config_loads() -> None:
    if not AUDIT_CONFIG.exists():
        pytest.skip(f"the shared audit contract is not beside the project ({AUDIT_CONFIG})")
    config = load_config(AUDIT_CONFIG, environ={})

    assert set(config.calendars) == {"office-nl", "support-us"}
    assert all(isinstance(c, BusinessCalendar) for c in config.calendars.values())
    assert [p.id for p in config.promises] == [
        "quote-24h",
        "first-reply-4bh",
        "resolve-16bh",
        "demo-followup-us",
        "callback-90m",
    ]
    reply = config.promise("first-reply-4bh")
    assert reply is not None
    assert reply.clock is config.calendars["office-nl"]
    assert reply.calendar_name == "office-nl"
    assert reply.types(Role.STOP) == ("case.closed", "case.first_response")
    assert config.promise("callback-90m").within_us == 90 * 60 * 1_000_000


def test_the_example_config_loads() -> None:
    config = load_config(REPO / "config" / "qmon.yaml", environ={})

    assert config.database_url == f"sqlite:///{REPO}/config/qmon.db"
    assert set(config.calendars) == {"office-nl"}
    assert {p.phase for p in config.promises} == set(config.phases)
    assert config.extra == {"language": "nl"}


# --- Durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("24h", 86_400),
        ("1h 30m", 5_400),
        ("1h30m", 5_400),
        ("90m", 5_400),
        ("2d", 172_800),
        ("45s", 45),
        ("1d 2h", 93_600),
        (" 3h ", 10_800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds * 1_000_000


@pytest.mark.parametrize(
    "text, message",
    [
        ("", f"not a duration: '' {DURATIONS}"),
        (
            "24",
            f"duration '24' has no unit {DURATIONS}",
        ),
        (
            "1.5h",
            f"not a duration: '1.5h' {DURATIONS}",
        ),
        ("2w", f"not a duration: '2w' {DURATIONS}"),
        (
            "-1h",
            f"not a duration: '-1h' {DURATIONS}",
        ),
        ("1h 2h", "duration '1h 2h' gives 'h' twice"),
        ("0h 0m", "duration '0h 0m' is zero; a promise needs time to be kept"),
    ],
)
def test_parse_duration_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


# --- CRM sources: kinds and mappings (each kind's own settings are tested with its connector)


def test_a_source_needs_a_known_kind(tmp_path: Path) -> None:
    text = """\
        version: 1
        sources:
          crm-nl:
            access_token: x
          other:
            kind: hubspto
        mappings:
          hubspot:
            rename: {}
        """
    assert problems(tmp_path, text) == [
        (3, "source 'crm-nl' needs 'kind: ...' (salesforce, hubspot)"),
        (
            6,
            "unknown source kind 'hubspto' (did you mean 'hubspot'?); "
            "kinds are salesforce, hubspot",
        ),
        (8, "mapping for unknown source 'hubspot'"),
    ]


def test_no_sources_is_fine(tmp_path: Path) -> None:
    assert load(tmp_path, "version: 1\nsources:\n").sources == {}


def test_slack_routes_and_quiet_hours_name_what_exists(tmp_path: Path) -> None:
    text = PROMISE + """\
calendars:
  office-nl: {hours: {mon-fri: ["09:00-17:00"]}}
notify:
  slack:
    token: ${SLACK_TOKEN}
    channel: "#kwaliteit"
    quiet_hours: ofice-nl
    routes:
      - {phase: after-sale, channel: "#support"}
      - {promise: quote-48h, channel: "#sales"}
"""
    found = problems(tmp_path, text, {"SLACK_TOKEN": "xoxb-1"})
    assert [message for _, message in found] == [
        "unknown calendar 'ofice-nl' (did you mean 'office-nl'?); calendars are: office-nl",
        "unknown phase 'after-sale' (did you mean 'after-sales'?); phases are: pre-sales, "
        "sales, after-sales",
        "unknown promise 'quote-48h' (did you mean 'quote-24h'?); promises are: quote-24h",
    ]
