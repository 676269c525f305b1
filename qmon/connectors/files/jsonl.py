"""The JSON Lines reader: each line one JSON object, refused in words when it is not."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from qmon.connectors.files.lines import Lines, Numbered, Progress, has_bad_bytes
from qmon.connectors.files.rows import may_be_long, row_event, size_fit, text_problem
from qmon.errors import Problem
from qmon.events import CORE_FIELDS, Event

_INTEGER_OK = frozenset({"id", "subject_id"})  # CRMs number their records
_INTEGER_SLOTS = tuple(CORE_FIELDS.index(name) for name in sorted(_INTEGER_OK))
_ABSENT = ("",) * len(CORE_FIELDS)  # what a JSON object's missing core fields read
#: What may follow a JSON value on its line.
_LINE_ENDS = frozenset({"", "\n", "\r\n"})


def read_jsonl(
    lines: Lines, source: str, tz: ZoneInfo | None, progress: Progress,
    keep: frozenset[str] | None,
) -> Iterator[Numbered]:  # fmt: skip
    file = lines.file
    decoder = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_no_repeats)
    decode, scan = decoder.decode, decoder.scan_once
    for line, text in enumerate(lines.iterator, 1):
        if line >= progress.due:
            progress.passed(line)
        if not text.isascii() and has_bad_bytes(text):
            yield lines.bad_bytes(line, (text,))
            continue
        if text.isspace():
            continue
        # scan_once() is decode() without its two regular expressions for the whitespace
        # around the value, a good part of its cost. A line that is anything but one value
        # and its line end goes to decode() after all, which reads it or says what is wrong.
        try:
            obj, end = scan(text, 0)
            whole = text[end:] in _LINE_ENDS
        except (StopIteration, ValueError):
            whole = False
        except RecursionError:
            yield line, Problem(file, line, "not valid JSON: nested too deeply")
            continue
        if not whole:
            try:
                obj = decode(text)
            except ValueError:
                yield line, Problem(file, line, _json_problem(decode, text))
                continue
        if type(obj) is dict:
            item = _json_event(obj, source, tz, keep)
            if "\\u" in text and type(item) is not str:  # only an escape gives NUL or U+D800
                item = text_problem(item) or item
            if type(item) is not str and may_be_long(text):
                item = size_fit(item)
        else:
            item = f"expected a JSON object, got {_json_type(obj)}"
        yield line, (Problem(file, line, item) if type(item) is str else item)


def _json_problem(decode: Callable[[str], Any], text: str) -> str:
    """Why a line is not JSON, with a column that ignores the line's end."""
    try:
        decode(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except _RepeatedKey as exc:
        return f"key {exc.args[0]!r} appears twice in one object; which should win?"
    except ValueError as exc:  # NaN or Infinity
        return f"not valid JSON: {exc}"
    return "not valid JSON"  # unreachable: the line failed once already


class _RepeatedKey(ValueError):
    """A JSON object names a key twice (`json` would silently keep the last)."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict, or `_RepeatedKey` if a key appears twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return obj


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: the store could not write them back out."""
    raise ValueError(f"{name} is not a JSON value")


def _json_event(
    obj: dict[str, Any], source: str, tz: ZoneInfo | None, keep: frozenset[str] | None = None
) -> Event | str:
    """A JSON object as an event, or what is wrong with it.

    The core fields are popped off `obj`, which is the decoder's and nobody else's, so that
    what is left are the attributes, in the file's order, without a loop in Python.
    """
    values = list(map(obj.pop, CORE_FIELDS, _ABSENT))
    for i in _INTEGER_SLOTS:
        if type(values[i]) is int:
            values[i] = str(values[i])
    try:
        fields = tuple(map(str.strip, values))
    except TypeError:  # a null, as good as absent, or a number, boolean, array or object
        values = ["" if value is None else value for value in values]
        if any(type(value) is not str for value in values):
            return _type_problem(values)
        fields = tuple(map(str.strip, values))
    if keep is not None and not keep.issuperset(obj):
        obj = {name: value for name, value in obj.items() if name in keep}
    if None in obj.values():
        obj = {name: value for name, value in obj.items() if value is not None}
    return row_event(fields, obj, source, tz)


def _type_problem(values: list[Any]) -> str:
    """Which core field of a JSON object is neither text nor absent."""
    for name, value in zip(CORE_FIELDS, values, strict=True):
        if value is not None and type(value) is not str:
            kind = "a string or an integer" if name in _INTEGER_OK else "a string"
            return f"field {name!r} must be {kind}, not {_json_type(value)}"
    raise AssertionError("called for a row whose fields are all text")


def _json_type(value: Any) -> str:
    """A Python value's JSON type, as the user would name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
