"""`--help` as plain text, with the examples kept as they are written.

qmon's help is click's plain text, not typer's rich rendering: that one imports rich's
markdown, syntax and traceback modules, about 80 ms of every `qmon --help` (issue 14 asks
for 0.15 s in all). Click rewraps each paragraph of a docstring to the terminal's width; a
paragraph whose lines are all indented (an example command, a YAML snippet) is marked with
click's `\\b` so that it is printed line for line.
"""

from __future__ import annotations

import inspect

import typer

#: Click prints a paragraph that starts with this line without rewrapping it.
NO_REWRAP = "\b"


def keep_blocks(doc: str | None) -> str | None:
    """The docstring with each indented paragraph marked as not to be rewrapped."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    for i, paragraph in enumerate(paragraphs):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        if lines and all(line[0] in " \t" for line in lines):
            paragraphs[i] = f"{NO_REWRAP}\n{paragraph}"
    return "\n\n".join(paragraphs)


def keep_all_blocks(app: typer.Typer) -> None:
    """`keep_blocks` on the docstring of every command and group callback under `app`."""
    callbacks = [info.callback for info in app.registered_commands if info.help is None]
    if app.registered_callback is not None and app.registered_callback.help is None:
        callbacks.append(app.registered_callback.callback)
    for callback in callbacks:
        if callback is not None:
            callback.__doc__ = keep_blocks(callback.__doc__)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            keep_all_blocks(group.typer_instance)
