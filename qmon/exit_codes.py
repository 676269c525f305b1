"""Exit codes that scripts can rely on: every qmon command ends with one of these."""

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of the `qmon` command.

    OK: the command did what was asked.
    OBJECTIVE_MISSED: only with `qmon audit --fail-on-miss`: a promise missed its objective.
    BAD_INPUT: the configuration, a command-line argument or an input file is invalid;
        nothing was changed.
    SOURCE_FAILED: a store, source or channel could not be reached, a source hit its API
        limit, or another agent already acts on the store.
    """

    OK = 0
    OBJECTIVE_MISSED = 1
    BAD_INPUT = 2
    SOURCE_FAILED = 3
