"""qmon's logging, configured once for every command by `qmon --log-format text|json`.

Log lines go to stderr: `text` is one line for people (`time logger LEVEL: message`), `json`
is one JSON object per line for a log shipper::

    {"time": "2026-11-20T09:00:00.123Z", "level": "ERROR", "logger": "qmon.agent",
     "message": "check failed", "exc": "Traceback ...", "job": "check"}

`time` is ISO 8601 in UTC; `exc` is there when an exception was logged; any `extra={...}`
fields of the call are added as they are.

By default only warnings and errors are logged; `--verbose` of `qmon run` and `qmon sync`
adds qmon's own INFO lines. Other libraries stay at WARNING even then: httpx, for one, logs
every request's full URL at INFO, and a webhook's URL is a secret. As a second guard, a
password in a URL (`scheme://user:password@host`, `?password=...`) is replaced by `***` in
every line (`qmon.urls.redact`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from qmon.urls import redact


class LogFormat(StrEnum):
    """`--log-format`: lines for people, or one JSON object per line."""

    text = "text"
    json = "json"


#: The attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, exc and the
    record's `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = redact(value) if isinstance(value, str) else value
        return json.dumps(line, default=lambda v: redact(str(v)), ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of each record (as the test runner's
    capture swaps it), never to a stream that has since been closed."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


_format = LogFormat.text


def configure(fmt: LogFormat | str = LogFormat.text) -> None:
    """Send log records to stderr in `fmt`, warnings and errors only until `verbose(True)`.
    Called again (as each command of a test session does), it replaces its own handler."""
    global _format
    _format = LogFormat(fmt)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if _format == LogFormat.json else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("qmon").setLevel(logging.NOTSET)


def verbose(on: bool) -> None:
    """qmon's own INFO lines too (`--verbose`), or only warnings and errors."""
    if not any(isinstance(h, _StderrHandler) for h in logging.getLogger().handlers):
        configure(_format)  # a command called without the root callback
    logging.getLogger("qmon").setLevel(logging.INFO if on else logging.NOTSET)
