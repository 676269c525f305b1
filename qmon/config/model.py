"""The runtime configuration that the rest of qmon uses, after validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from qmon.connectors.registry import SourceConfig
from qmon.errors import Problem
from qmon.promises.calendar import BusinessCalendar
from qmon.promises.promise import Promise

if TYPE_CHECKING:
    from qmon.config.spec import NotifySpec, ScheduleSpec

DEFAULT_PHASES: tuple[str, ...] = ("pre-sales", "sales", "after-sales")
DEFAULT_DATABASE = "sqlite:///qmon.db"


@dataclass(frozen=True)
class QmonConfig:
    """A validated configuration.

    Attributes:
        path: the file it was read from.
        database_url: SQLAlchemy URL; a relative SQLite path is already made absolute against
            the config file's folder, and `QMON_DATABASE_URL` already applied.
        timezone: the zone for reporting (dates, ISO weeks, `--from`/`--to`).
        phases: the journey phases in order.
        calendars: name -> calendar.
        promises: in file order.
        extra: validated top-level sections that later parts of qmon read (notify...).
        sources: CRM sources by name, each validated with its kind's models and its mapping.
        warnings: likely mistakes that are not errors (an attribute no source maps).
    """

    path: Path
    database_url: str
    timezone: ZoneInfo
    phases: tuple[str, ...]
    calendars: dict[str, BusinessCalendar]
    promises: tuple[Promise, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    #: likely mistakes that are not errors, located (`qmon promises validate` shows them)
    warnings: tuple[Problem, ...] = ()

    @property
    def schedule(self) -> ScheduleSpec:
        """The `schedule:` section, or its defaults when the file has none: the one place
        the agent, staleness and the weekly report read their intervals and times from."""
        from qmon.config.spec import ScheduleSpec  # spec imports this module

        return self.extra.get("schedule") or ScheduleSpec()

    @property
    def language(self) -> str:
        """`language:` for alerts and reports: `nl` or `en` (the default)."""
        return self.extra.get("language") or "en"

    @property
    def notify(self) -> NotifySpec:
        """The `notify:` section; each channel (slack, email, webhook) None when not set."""
        from qmon.config.spec import NotifySpec  # spec imports this module

        return self.extra.get("notify") or NotifySpec()

    @property
    def kept_attributes(self) -> frozenset[str]:
        """The attributes `qmon import` keeps: those qmon reads, those a promise's `when`,
        targets or deadline read, and `imports.attributes`."""
        from qmon.events import USED_ATTRIBUTES

        imports = self.extra.get("imports")
        named = {name for p in self.promises for name in p.attributes}
        return USED_ATTRIBUTES | frozenset(imports.attributes if imports else ()) | named

    def promise(self, promise_id: str) -> Promise | None:
        return next((p for p in self.promises if p.id == promise_id), None)
