"""`load_config`: read the file, validate it, cross-check it, build the runtime objects.

Every problem is collected before anything is raised, so that one run shows all there is to
fix, each as `file:line: message`. The cross-checks read the plain data rather than the
validated spec: a promise with a bad `within` still gets its unknown phase reported.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from qmon.config.model import DEFAULT_PHASES, QmonConfig
from qmon.config.spec import (
    WEEKDAYS,
    CalendarSpec,
    PromiseSpec,
    QmonSpec,
    did_you_mean,
    parse_days,
    parse_window,
)
from qmon.config.warnings import attribute_warnings
from qmon.config.yamlsource import YamlDocument, YamlPath, parse_yaml
from qmon.connectors.registry import KIND_NAMES, SourceConfig, source_kind
from qmon.errors import ConfigError, Problem
from qmon.promises.calendar import WALL_CLOCK, BusinessCalendar, WeeklyHours
from qmon.promises.conditions import Duration as ClockDuration
from qmon.promises.conditions import Target
from qmon.promises.promise import Promise, Role
from qmon.safeio import CONFIG_LIMIT, FileRefused, read_regular

DATABASE_ENV = "QMON_DATABASE_URL"

_ROLES = {"start": Role.START, "pause": Role.PAUSE, "resume": Role.RESUME, "stop": Role.STOP,
          "until": Role.UNTIL}  # fmt: skip
_ALLOWANCE_KEYS = ("within", "targets", "deadline")
_SQLITE_FILE = re.compile(r"(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?")
_EXPECTED = {
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
}


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> QmonConfig:
    """Load and validate a qmon configuration file.

    Args:
        path: the file; problems name it as given.
        environ: where `${VAR}` and `QMON_DATABASE_URL` come from; `os.environ` by default.

    Raises:
        ConfigError: with every problem in the file, sorted by line.
    """
    environ = os.environ if environ is None else environ
    file = os.fspath(path)
    document = parse_yaml(_read(file), file, environ)
    problems = _Problems(document)
    spec = _validate(document, problems)
    sources: dict[str, SourceConfig] = {}
    if isinstance(document.data, dict):
        _check(document.data, problems)
        sources = _check_sources(document.data, problems)
    found = problems.sorted()
    if found:
        summary = f"{file}: {len(found)} problems" if len(found) > 1 else None
        raise ConfigError(found, summary=summary)
    assert spec is not None
    config = _build(spec, Path(file), environ, sources)
    return replace(config, warnings=tuple(attribute_warnings(document, sources)))


def _read(file: str) -> str:
    """The file's text; a file that cannot be read is a ConfigError with that one problem."""
    line = None
    try:
        return read_regular(file, CONFIG_LIMIT).decode("utf-8-sig")
    except FileNotFoundError:
        message = (
            "does not exist; `qmon demo` writes an example config, "
            "or choose another file with --config or QMON_CONFIG"
        )
    except IsADirectoryError:
        message = "is a folder, not a config file"
    except FileRefused as exc:
        message = exc.strerror
        if exc.errno == errno.EFBIG:
            message += "; a qmon config is a few kB (is this the right file?)"
        elif exc.errno == errno.EISDIR:
            message = "is a folder, not a config file"
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        message = "is not UTF-8 text"
    except OSError as exc:
        message = f"cannot be read: {exc.strerror}"
    raise ConfigError([Problem(file, line, message)])


class _Problems:
    """Located problems, starting with the document's own; redacted and deduplicated."""

    def __init__(self, document: YamlDocument) -> None:
        self._document = document
        self._found = list(document.problems)

    def line(self, path: YamlPath, *, key: bool = False) -> int:
        return self._document.line(path, key=key) or 1

    def add(self, path: YamlPath, message: str, *, key: bool = False) -> None:
        """Add a problem at `path`'s value (or key) line.

        A value holding an unset `${VAR}` has that as its problem; others would be noise.
        """
        document = self._document
        if any(path[:n] in document.unresolved for n in range(len(path) + 1)):
            return
        self._found.append(
            Problem(document.file, self.line(path, key=key), document.redact(message))
        )

    def sorted(self) -> list[Problem]:
        return sorted(dict.fromkeys(self._found), key=lambda problem: problem.line or 0)


# --- Validation against the spec -------------------------------------------------------------


def _validate(document: YamlDocument, problems: _Problems) -> QmonSpec | None:
    if document.data is None:
        if not document.problems:
            problems.add((), "the file is empty; it needs at least 'version: 1'")
        return None
    try:
        return QmonSpec.model_validate(document.data)
    except ValidationError as exc:
        for error in exc.errors():
            path, message, at_key = _translate(error, document.data)
            problems.add(path, message, key=at_key)
        return None


def _translate(
    error: ErrorDetails, data: Any, root: type[BaseModel] = QmonSpec, prefix: YamlPath = ()
) -> tuple[YamlPath, str, bool]:
    """A pydantic error as (path, message, whether the key's line is the place).

    `root` is the model that was validated and `prefix` where its value sits in the file.
    """
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = did_you_mean(key, _keys_at(loc[:-1], root))
        return prefix + loc, f"unknown key '{key}'{hint}", True
    if kind == "missing":
        owner = _owner(loc[:-1], data) if not prefix else ""
        return prefix + loc[:-1], f"{owner}missing required key '{loc[-1]}'", True
    if loc and loc[-1] == "[key]":  # a mapping key that is invalid, such as a day
        return prefix + loc[:-1], _reason(error, loc[:-1]), True
    if not loc and prefix:  # a check of the whole entry: point at the entry's key
        return prefix, _reason(error, prefix), True
    return prefix + loc, _reason(error, loc or prefix), False


def _reason(error: ErrorDetails, loc: YamlPath) -> str:
    kind, value = error["type"], error["input"]
    if kind in ("value_error", "assertion_error"):
        return str(error.get("ctx", {}).get("error", error["msg"]))
    name = _name(loc)
    if value is None:
        return f"{name} has no value"
    if kind == "literal_error":
        return f"{name} must be {error.get('ctx', {}).get('expected')}"
    if kind in _EXPECTED:
        return f"{name} must be {_EXPECTED[kind]}, not {_kind_of(value)}"
    return f"{name}: {error['msg']}"


def _name(loc: YamlPath) -> str:
    if not loc:
        return "the file"
    if isinstance(loc[-1], int):
        return f"item {loc[-1] + 1} of '{loc[-2]}'" if len(loc) > 1 else f"item {loc[-1] + 1}"
    return f"'{loc[-1]}'"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    for kind, name in (
        (dict, "a mapping"),
        (list, "a list"),
        (str, "text"),
        (int | float, "a number"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _owner(path: YamlPath, data: Any) -> str:
    """Which promise or calendar a message is about, as a prefix ("promise 'quote-24h': ")."""
    if len(path) != 2 or path[0] not in ("promises", "calendars"):
        return ""
    if path[0] == "calendars":
        return f"calendar '{path[1]}': "
    entry = data["promises"][path[1]]
    promise_id = entry.get("id") if isinstance(entry, dict) else None
    return (
        f"promise '{promise_id}': " if isinstance(promise_id, str) else f"promise {path[1] + 1}: "
    )


def _keys_at(path: YamlPath, root: type[BaseModel] = QmonSpec) -> list[str]:
    """The keys allowed in the mapping at `path`, found by following the spec's annotations."""
    annotation: Any = root
    for part in path:
        annotation = _unwrap(annotation)
        if get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        elif _is_model(annotation) and str(part) in annotation.model_fields:
            annotation = annotation.model_fields[str(part)].annotation
        else:
            return []
    annotation = _unwrap(annotation)
    return list(annotation.model_fields) if _is_model(annotation) else []


def _unwrap(annotation: Any) -> Any:
    """The type inside `Annotated[...]` and `X | None`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not NoneType)
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return (
        get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    )


# --- Checks across values, on the plain data ---------------------------------------------------


def _check(data: dict[str, Any], problems: _Problems) -> None:
    phases = _check_phases(data.get("phases", list(DEFAULT_PHASES)), problems)
    calendars = data.get("calendars") or {}
    calendar_names = list(calendars) if isinstance(calendars, dict) else None
    for name, calendar in calendars.items() if isinstance(calendars, dict) else ():
        if isinstance(calendar, dict) and isinstance(calendar.get("hours"), dict):
            _check_hours(name, calendar["hours"], ("calendars", name, "hours"), problems)
    promises = data.get("promises")
    if isinstance(promises, list):
        _check_promises(promises, phases, calendar_names, problems)
    _check_slack(data, phases, calendar_names, problems)


def _check_slack(
    data: dict[str, Any], phases: list[str] | None, calendars: list[str] | None, problems: _Problems
) -> None:
    """Slack routes name phases and promises that exist; quiet hours name a calendar."""
    notify = data.get("notify")
    slack = notify.get("slack") if isinstance(notify, dict) else None
    if not isinstance(slack, dict):
        return
    path: YamlPath = ("notify", "slack")
    _check_reference(slack.get("quiet_hours"), calendars, "calendar", path + ("quiet_hours",),
                     problems)  # fmt: skip
    promises = data.get("promises")
    ids = (
        [p.get("id") for p in promises if isinstance(p, dict)]
        if isinstance(promises, list)
        else None
    )
    routes = slack.get("routes")
    for n, route in enumerate(routes if isinstance(routes, list) else ()):
        if isinstance(route, dict):
            where = path + ("routes", n)
            _check_reference(route.get("phase"), phases, "phase", where + ("phase",), problems)
            _check_reference(route.get("promise"), ids, "promise", where + ("promise",), problems)


def _check_phases(phases: Any, problems: _Problems) -> list[str] | None:
    """Reports repeated phases; returns the phases that promises may name (None: unknown)."""
    if not isinstance(phases, list):
        return None
    first_line: dict[str, int] = {}
    for index, phase in enumerate(phases):
        if not isinstance(phase, str):
            continue
        if phase in first_line:
            message = f"duplicate phase '{phase}' (first at line {first_line[phase]})"
            problems.add(("phases", index), message)
        else:
            first_line[phase] = problems.line(("phases", index))
    return list(first_line)


def _check_hours(name: str, hours: dict[str, Any], path: YamlPath, problems: _Problems) -> None:
    """Each day under one key only, windows of a day apart, and some open time at all."""
    covered_by: dict[int, str] = {}
    for key, windows in hours.items():
        try:
            days = parse_days(key)
        except ValueError:
            days = ()  # the spec reports it
        earlier: dict[str, list[str]] = {}
        for day in days:
            if day in covered_by:
                earlier.setdefault(covered_by[day], []).append(WEEKDAYS[day])
            else:
                covered_by[day] = key
        for first, twice in earlier.items():
            noun, verb = ("day", "is") if len(twice) == 1 else ("days", "are")
            line = problems.line(path + (first,), key=True)
            message = (
                f"{noun} {', '.join(twice)} {verb} covered twice: also by '{first}' at line {line}"
            )
            problems.add(path + (key,), message, key=True)
        _check_overlaps(windows, path + (key,), problems)
    if not any(hours.values()):
        problems.add(path, f"calendar '{name}' has no open hours", key=True)


def _check_overlaps(windows: Any, path: YamlPath, problems: _Problems) -> None:
    texts = [windows] if isinstance(windows, str) else windows if isinstance(windows, list) else []
    parsed: list[tuple[int, int, int, str]] = []
    for index, text in enumerate(texts):
        try:
            parsed.append((*parse_window(text), index, text))
        except ValueError:
            pass  # the spec reports it
    latest: tuple[int, int, int, str] | None = None  # the window reaching furthest so far
    for window in sorted(parsed):
        if latest is not None and window[0] < latest[1]:
            message = f"windows '{latest[3]}' and '{window[3]}' overlap"
            problems.add(path + (max(latest[2], window[2]),), message)
        if latest is None or window[1] > latest[1]:
            latest = window


def _check_promises(
    promises: list[Any],
    phases: list[str] | None,
    calendars: list[str] | None,
    problems: _Problems,
) -> None:
    first_line: dict[str, int] = {}
    for index, promise in enumerate(promises):
        if not isinstance(promise, dict):
            continue
        path: YamlPath = ("promises", index)
        _check_allowance(promise, path, problems)
        promise_id = promise.get("id")
        if isinstance(promise_id, str):
            if promise_id in first_line:
                message = (
                    f"duplicate promise id '{promise_id}' (first at line {first_line[promise_id]})"
                )
                problems.add(path + ("id",), message)
            else:
                first_line[promise_id] = problems.line(path + ("id",))
        _check_reference(promise.get("phase"), phases, "phase", path + ("phase",), problems)
        _check_reference(
            promise.get("calendar"), calendars, "calendar", path + ("calendar",), problems
        )
        _check_roles(promise, path, problems)


def _check_allowance(promise: dict[str, Any], path: YamlPath, problems: _Problems) -> None:
    """Exactly one of within/targets/deadline; business days need a calendar; the default
    target (without `when`) comes last."""
    given = [key for key in _ALLOWANCE_KEYS if promise.get(key) is not None]
    if not given:
        problems.add(path, f"{_owner(path, {'promises': {path[1]: promise}})}needs one of "
                     "'within', 'targets' or 'deadline'", key=True)  # fmt: skip
    for key in given[1:]:
        problems.add(path + (key,), f"'{key}' and '{given[0]}' both given; a promise has "
                     "exactly one of 'within', 'targets' and 'deadline'", key=True)  # fmt: skip
    withins: list[tuple[YamlPath, Any]] = [(path + ("within",), promise.get("within"))]
    targets = promise.get("targets")
    for n, target in enumerate(targets if isinstance(targets, list) else ()):
        if not isinstance(target, dict):
            continue
        withins.append((path + ("targets", n, "within"), target.get("within")))
        if target.get("when") is None and n != len(targets) - 1:
            problems.add(path + ("targets", n), f"target {n + 1} has no 'when', so it is the "
                         "default, and the default must be the last target", key=False)  # fmt: skip
    if promise.get("calendar") is None:
        for where, value in withins:
            if isinstance(value, str) and "business" in value.lower():
                problems.add(where, f"'{value}' counts business days, which needs a "
                             "'calendar' on the promise")  # fmt: skip


def _check_reference(
    value: Any, known: list[str] | None, what: str, path: YamlPath, problems: _Problems
) -> None:
    if not isinstance(value, str) or known is None or value in known:
        return
    listing = f"; {what}s are: {', '.join(known)}" if known else f"; no {what}s are defined"
    problems.add(path, f"unknown {what} '{value}'{did_you_mean(value, known)}{listing}")


def _check_roles(promise: dict[str, Any], path: YamlPath, problems: _Problems) -> None:
    """One role per event type, and `pause` and `resume` only together."""
    role_of: dict[str, str] = {}
    for key, value in promise.items():
        if key not in _ROLES:
            continue
        types = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for index, event_type in enumerate(types):
            if not isinstance(event_type, str):
                continue
            if event_type not in role_of:
                role_of[event_type] = key
                continue
            earlier = role_of[event_type]
            message = (
                f"event type '{event_type}' is listed twice in '{key}'"
                if earlier == key
                else f"event type '{event_type}' is both '{earlier}' and '{key}'; "
                "a type plays one role in a promise"
            )
            problems.add(path + (key, index), message)
    has_pause, has_resume = promise.get("pause") is not None, promise.get("resume") is not None
    if has_pause and not has_resume:
        problems.add(
            path + ("pause",), "'pause' without 'resume': the clock would stay paused", key=True
        )
    if has_resume and not has_pause:
        problems.add(
            path + ("resume",), "'resume' without 'pause': nothing pauses the clock", key=True
        )


# --- CRM sources and their mappings ----------------------------------------------------------


def _check_sources(data: dict[str, Any], problems: _Problems) -> dict[str, SourceConfig]:
    """Validate `sources` and `mappings` with the models of each source's kind.

    A source's kind is its `kind:` key, or its name when that is a kind (`salesforce:`), so
    a single org needs no `kind`, and two HubSpot portals are `hubspot-nl: {kind: hubspot}`.
    """
    sources = data.get("sources") or {}
    mappings = data.get("mappings") or {}
    if not isinstance(sources, dict) or not isinstance(mappings, dict):
        return {}  # the spec already said it must be a mapping
    found: dict[str, SourceConfig] = {}
    for name, entry in sources.items():
        path: YamlPath = ("sources", name)
        if not isinstance(entry, dict):
            problems.add(path, f"source '{name}' must be a mapping of settings")
            continue
        kind = entry.get("kind", name)
        if kind not in KIND_NAMES:
            where, key = (path + ("kind",), False) if "kind" in entry else (path, True)
            known = ", ".join(KIND_NAMES)
            message = (
                f"unknown source kind '{kind}'{did_you_mean(str(kind), KIND_NAMES)}; "
                f"kinds are {known}"
                if "kind" in entry
                else f"source '{name}' needs 'kind: ...' ({known}){did_you_mean(name, KIND_NAMES)}"
            )
            problems.add(where, message, key=key)
            continue
        described = source_kind(kind)
        settings = {k: v for k, v in entry.items() if k != "kind"}
        spec = _validate_entry(described.source_spec, settings, path, problems)
        mapping_data = mappings.get(name)
        mapping = _validate_entry(
            described.mapping_spec, mapping_data or {}, ("mappings", name), problems
        )
        if spec is not None and mapping is not None:
            found[name] = SourceConfig(name, kind, spec, mapping)
    for name in mappings:
        if name not in sources:
            problems.add(
                ("mappings", name),
                f"mapping for unknown source '{name}'{did_you_mean(str(name), sources)}",
                key=True,
            )
    return found


def _validate_entry(
    model: type[BaseModel], value: Any, path: YamlPath, problems: _Problems
) -> BaseModel | None:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        for error in exc.errors():
            where, message, at_key = _translate(error, value, model, path)
            problems.add(where, message, key=at_key)
        return None


# --- Building the runtime configuration --------------------------------------------------------


def _build(
    spec: QmonSpec, path: Path, environ: Mapping[str, str], sources: dict[str, SourceConfig]
) -> QmonConfig:
    calendars = {
        name: _calendar(name, calendar, spec.timezone) for name, calendar in spec.calendars.items()
    }
    return QmonConfig(
        path=path,
        database_url=_database_url(spec.database, path, environ),
        timezone=ZoneInfo(spec.timezone),
        phases=tuple(spec.phases),
        calendars=calendars,
        promises=tuple(
            _promise(promise, calendars, ZoneInfo(spec.timezone)) for promise in spec.promises
        ),
        extra=spec.extra(),
        sources=sources,
    )


def _calendar(name: str, spec: CalendarSpec, default_timezone: str) -> BusinessCalendar:
    hours: WeeklyHours = {day: [] for day in range(len(WEEKDAYS))}
    for key, windows in spec.hours.items():
        for day in parse_days(key):
            hours[day] = sorted(windows)
    return BusinessCalendar(
        name,
        ZoneInfo(spec.timezone or default_timezone),
        hours,
        holidays=tuple(dict.fromkeys(spec.holidays)),
        closed=frozenset(spec.closed),
    )


def _promise(
    spec: PromiseSpec, calendars: dict[str, BusinessCalendar], timezone: ZoneInfo
) -> Promise:
    roles = {
        event_type: role for key, role in _ROLES.items() for event_type in getattr(spec, key) or ()
    }
    if not spec.repeat:  # without repeat, `until` types are simply further stop types
        roles = {t: Role.STOP if r == Role.UNTIL else r for t, r in roles.items()}
    calendar = calendars[spec.calendar] if spec.calendar else None
    allowance = spec.deadline.allowance() if spec.deadline is not None else spec.within
    plain = isinstance(allowance, ClockDuration) and not spec.targets
    return Promise(
        id=spec.id,
        title=spec.title or spec.id,
        phase=spec.phase,
        roles=roles,
        within_us=allowance.us if plain else None,  # type: ignore[union-attr]
        clock=calendar or WALL_CLOCK,
        calendar_name=spec.calendar,
        objective=spec.objective,
        warn_at=spec.warn_at,
        allowance=allowance,
        targets=tuple(Target(t.when, t.within) for t in spec.targets or ()),
        when=spec.when,
        retarget=spec.retarget,
        repeat=spec.repeat,
        timezone=calendar.tz if calendar else timezone,
    )


def _database_url(url: str, config_path: Path, environ: Mapping[str, str]) -> str:
    """`QMON_DATABASE_URL` if set, else `url` with a relative SQLite file made absolute.

    A relative SQLite path in the file means "next to the config", wherever qmon is run from;
    the environment override is used as given.
    """
    if environ.get(DATABASE_ENV):
        return environ[DATABASE_ENV]
    match = _SQLITE_FILE.fullmatch(url)
    if match is None:
        return url
    prefix, database, query = match.groups()
    if database in ("", ":memory:") or database.startswith("file:") or os.path.isabs(database):
        return url
    absolute = os.path.normpath(config_path.absolute().parent / database)
    return f"{prefix}{absolute}{query or ''}"
