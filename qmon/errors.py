"""Errors people can act on: each problem says where it is (file and line) and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from qmon.exit_codes import ExitCode


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located as precisely as we know it."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class QmonError(Exception):
    """Base of qmon's own errors; `exit_code` tells the CLI how to end."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class InputError(QmonError):
    """One or more problems in user input (config, files, arguments); nothing was changed."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        self.summary = summary
        super().__init__(self.render())

    def render(self) -> str:
        lines = [str(p) for p in self.problems]
        if self.summary:
            lines.insert(0, self.summary)
        return "\n".join(lines)


class ConfigError(InputError):
    """The configuration file is invalid; every problem is listed at once."""


class StoreUnavailable(QmonError):
    """The event store could not be opened or reached."""

    exit_code = ExitCode.SOURCE_FAILED
