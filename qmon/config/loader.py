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

from qmon.config.checks import ROLES, check, owner_prefix
from qmon.config.model import QmonConfig
from qmon.config.spec import (
    WEEKDAYS,
    CalendarSpec,
    PromiseSpec,
    QmonSpec,
    did_you_mean,
    parse_days,
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
        check(document.data, problems)
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
        owner = owner_prefix(loc[:-1], data) if not prefix else ""
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
        event_type: role for key, role in ROLES.items() for event_type in getattr(spec, key) or ()
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
