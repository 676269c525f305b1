"""The agent's sections of the file: where alerts and reports go, and when it acts."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from qmon.config.fields import WEEKDAYS, Duration, Strict, did_you_mean
from qmon.urls import outbound_url

_WEEKLY = re.compile(r"([a-z]{3})\s+([0-9]{1,2}):([0-9]{2})")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _weekly_time(value: str) -> tuple[int, int, int]:
    """`"mon 08:00"` as (weekday, hour, minute); Monday is 0."""
    match = _WEEKLY.fullmatch(value.strip().lower()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"weekly_report {value!r} is not like 'mon 08:00' (day HH:MM)")
    day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
    if day not in WEEKDAYS:
        raise ValueError(f"unknown day '{day}'{did_you_mean(day, WEEKDAYS)}")
    if hour > 23 or minute > 59:
        raise ValueError(f"weekly_report '{value}' has a time that does not exist")
    return WEEKDAYS.index(day), hour, minute


def _address(value: str) -> str:
    if not _EMAIL.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value.strip()


Address = Annotated[str, AfterValidator(_address)]


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be more than zero")
    return value


class SlackRoute(Strict):
    """`notify.slack.routes[]`: alerts of a phase and/or promise go to another channel."""

    phase: str | None = None
    promise: str | None = None
    channel: str

    @model_validator(mode="after")
    def _selects_something(self) -> SlackRoute:
        if self.phase is None and self.promise is None:
            raise ValueError("a route needs 'phase' or 'promise' (or both) besides 'channel'")
        return self


def _slack_base_url(value: str) -> str:
    outbound_url(value, "base_url", "https://slack.com/api/")
    return value.strip()


def _webhook_url(value: SecretStr) -> SecretStr:
    outbound_url(value.get_secret_value(), "the webhook url", "https://example.com/h", show=False)
    return value


class SlackSpec(Strict):
    """`notify.slack`: a bot token with chat:write, and where alerts go."""

    token: SecretStr | None = None
    token_file: str | None = None
    channel: str
    base_url: Annotated[str, AfterValidator(_slack_base_url)] = "https://slack.com/api/"
    routes: list[SlackRoute] = []
    quiet_hours: str | None = None  # a calendar name
    digest_over: Annotated[int, AfterValidator(_positive)] = 10

    @model_validator(mode="after")
    def _one_token(self) -> SlackSpec:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("slack needs exactly one of 'token' or 'token_file'")
        return self


class SmtpSpec(Strict):
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: str | None = None
    timeout: Duration = 30_000_000


class EmailSpec(Strict):
    """`notify.email`: the weekly report by SMTP."""

    smtp: SmtpSpec
    sender: Address = Field(alias="from")
    to: Annotated[list[Address], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


class WebhookSpec(Strict):
    """`notify.webhook`: a generic JSON webhook (e.g. Microsoft Teams); the URL is a secret."""

    url: Annotated[SecretStr, AfterValidator(_webhook_url)]


class NotifySpec(Strict):
    slack: SlackSpec | None = None
    email: EmailSpec | None = None
    webhook: WebhookSpec | None = None


class ScheduleSpec(Strict):
    """`schedule`: how often the agent syncs and checks, and when the weekly report goes."""

    sync: Duration = 15 * 60_000_000
    check: Duration = 5 * 60_000_000
    weekly_report: Annotated[tuple[int, int, int], BeforeValidator(_weekly_time)] = (0, 8, 0)


class ImportsSpec(Strict):
    """`imports`: what `qmon import` keeps of a file's columns besides the core ones.

    By default only the attributes qmon itself reads (`qmon.events.USED_ATTRIBUTES`); a
    column named here is kept too. Anything else (a note, a message body) is dropped as the
    file is read and never stored.
    """

    attributes: list[Annotated[str, StringConstraints(min_length=1)]] = []
