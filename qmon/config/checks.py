"""The config's checks across values, on the plain data (`load_config` runs them after the
spec): a phase or calendar that must exist, a day covered twice, overlapping windows, a type in
two roles, and what a promise's allowance needs. Each problem is located by its YAML path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qmon.config.model import DEFAULT_PHASES
from qmon.config.spec import WEEKDAYS, did_you_mean, parse_days, parse_window
from qmon.config.yamlsource import YamlPath
from qmon.promises.promise import Role

if TYPE_CHECKING:
    from qmon.config.loader import _Problems

ROLES = {"start": Role.START, "pause": Role.PAUSE, "resume": Role.RESUME, "stop": Role.STOP,
         "until": Role.UNTIL}  # fmt: skip
_ALLOWANCE_KEYS = ("within", "targets", "deadline")


def owner_prefix(path: YamlPath, data: Any) -> str:
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


def check(data: dict[str, Any], problems: _Problems) -> None:
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
    _check_writeback(data, calendar_names, problems)


def _check_writeback(
    data: dict[str, Any], calendars: list[str] | None, problems: _Problems
) -> None:
    """`writeback.<source>` names a configured HubSpot or Salesforce source, objects of its
    CRM, and for tasks a calendar that exists."""
    from qmon.writeback.crm import OBJECTS

    writeback = data.get("writeback")
    if not isinstance(writeback, dict):
        return
    sources = data.get("sources") if isinstance(data.get("sources"), dict) else {}
    for name, entry in writeback.items():
        path: YamlPath = ("writeback", name)
        source = sources.get(name)
        if not isinstance(source, dict):
            known = [str(s) for s in sources]
            listing = f"; sources are: {', '.join(known)}" if known else "; no sources are defined"
            problems.add(path, f"unknown source '{name}'{did_you_mean(str(name), known)}{listing}",
                         key=True)  # fmt: skip
            continue
        kind = source.get("kind", name)
        if not isinstance(entry, dict) or kind not in OBJECTS:
            continue
        objects = entry.get("objects")
        for n, obj in enumerate(objects if isinstance(objects, list) else [objects]):
            if isinstance(obj, str) and obj not in OBJECTS[kind]:
                where = path + ("objects", n) if isinstance(objects, list) else path + ("objects",)
                problems.add(where, f"{kind} has no object '{obj}' qmon writes to"
                             f"{did_you_mean(obj, OBJECTS[kind])}; objects are: "
                             f"{', '.join(OBJECTS[kind])}")  # fmt: skip
        tasks = entry.get("tasks")
        if isinstance(tasks, dict):
            _check_reference(tasks.get("calendar"), calendars, "calendar",
                             path + ("tasks", "calendar"), problems)  # fmt: skip


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
        problems.add(path, f"{owner_prefix(path, {'promises': {path[1]: promise}})}needs one of "
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
        if key not in ROLES:
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
