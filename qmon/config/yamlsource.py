"""YAML text as plain Python data plus the line of every key and value.

`yaml.safe_load` forgets where things were written and silently keeps the last of two equal
keys. Reading through PyYAML's node tree instead keeps a line for every path, so that each
problem found later (by pydantic or a cross-check) can be reported as `file:line`, and lets us
report duplicate keys instead of hiding one of them.

`${VAR}` in string values is replaced from the environment here, at the one place where the
text as written is still known: messages elsewhere show the `${VAR}` text, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from qmon.errors import Problem

YamlPath = tuple[str | int, ...]
"""Where a value sits: mapping keys and list indices from the top, e.g. ("promises", 0, "id")."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: More values than any config needs, however many promises: beyond it, aliases are being
#: used to blow the file up ("billion laughs"), and reading on would exhaust memory.
MAX_VALUES = 100_000
#: Deeper than any config is written; deeper still, the parser would run out of stack.
MAX_DEPTH = 64
#: Said with every syntax error that a `${VAR}` or `{...}` in a flow mapping can cause.
_QUOTE_HINT = (
    " (a value with ${...}, '{', ':' or ',' inside a {...} or [...] must be quoted: "
    'password: "${SMTP_PASSWORD}")'
)
_VARIABLE = re.compile(r"\$(\$\{)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|(\$\{)")


@dataclass(frozen=True, slots=True)
class Lines:
    """The 1-based line of a key and of its value (equal for list items and flow style)."""

    key: int
    value: int


@dataclass
class YamlDocument:
    """A parsed YAML file.

    Attributes:
        file: the file name used in problems.
        data: the plain data (dicts with string keys, lists, scalars); None if unreadable.
        lines: path -> lines of its key and value; `()` is the top-level node.
        problems: syntax errors, duplicate keys and unset environment variables.
        unresolved: paths whose value could not be read as meant (an unset `${VAR}`, an
            unknown tag); other problems about them would only be noise.
        written: value after substitution -> the text as written, for `redact`.
    """

    file: str
    data: Any = None
    lines: dict[YamlPath, Lines] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unresolved: set[YamlPath] = field(default_factory=set)
    written: dict[str, str] = field(default_factory=dict, repr=False)

    def line(self, path: YamlPath, *, key: bool = False) -> int | None:
        """The line of `path`'s key (or value), else of its nearest ancestor that has one.

        Values that were normalised after reading (a single string standing for a list) have
        no line of their own; their ancestor's line is where the user wrote them.
        """
        while path not in self.lines and path:
            path = path[:-1]
        lines = self.lines.get(path)
        if lines is None:
            return None
        return lines.key if key else lines.value

    def redact(self, message: str) -> str:
        """`message` with every quoted value that came from the environment shown as written.

        Messages quote the values they mention; a value holding a substituted variable is put
        back to its `${VAR}` text, so that a secret never reaches a terminal or a log.
        """
        for value, written in self.written.items():
            for quoted in {repr(value), f"'{value}'"}:
                message = message.replace(quoted, repr(written))
        return message


def parse_yaml(text: str, file: str, environ: Mapping[str, str]) -> YamlDocument:
    """Parse one YAML document, keeping lines, reporting duplicates and substituting `${VAR}`.

    Args:
        text: the file's contents.
        file: the name to put in problems.
        environ: where `${VAR}` values come from (normally `os.environ`).

    Returns:
        The document; on a syntax error `data` is None and the error is its only problem.
    """
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return YamlDocument(file, problems=[_syntax_problem(file, exc)])
    except RecursionError:  # the composer recurses once per level of nesting
        line = loader.get_mark().line + 1
        message = f"nested more than {MAX_DEPTH} levels deep"
        return YamlDocument(file, problems=[Problem(file, line, message)])
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        message = f"YAML cannot contain character #x{exc.character:04x} ({exc.reason})"
        return YamlDocument(file, problems=[Problem(file, line, message)])
    document = YamlDocument(file)
    if root is not None:
        top = root.start_mark.line + 1
        document.lines[()] = Lines(top, top)
        try:
            document.data = _Walker(document, loader, environ).value(root, ())
        except _TooLarge as exc:
            document.data = None
            line = document.line(exc.path[:1], key=True)
            document.problems.append(Problem(file, line, exc.message))
    return document


class _TooLarge(Exception):
    """The document expands to more values than `MAX_VALUES`: stop reading it.

    `path` is where the walk had got to: its top-level key is where the aliases are used.
    """

    def __init__(self, path: YamlPath) -> None:
        super().__init__()
        self.path = path
        self.message = (
            f"the file expands to more than {MAX_VALUES:,} values through its aliases "
            "(*name); write the values out instead"
        )


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    context = exc.context or ""
    if context and exc.context_mark is not None and exc.context_mark.line + 1 != line:
        context += f" (from line {exc.context_mark.line + 1})"
    parts = [context, exc.problem]
    message = "YAML syntax error: " + ", ".join(p for p in parts if p)
    if "flow" in context and (exc.problem or "").startswith("expected ',' or"):
        message += _QUOTE_HINT  # what `{password: ${SMTP_PASSWORD}}` gets
    return Problem(file, line, message)


class _Walker:
    """Turns a node tree into plain data, filling the document's lines and problems."""

    def __init__(
        self, document: YamlDocument, loader: yaml.SafeLoader, environ: Mapping[str, str]
    ) -> None:
        self._doc = document
        self._loader = loader
        self._environ = environ
        self._open: set[int] = set()  # nodes being walked, to stop at an alias to an ancestor
        self._values = 0  # values walked, aliases counted each time they are used
        self._merged: dict[int, int] = {}  # mapping node -> its pairs once merges are done

    def value(self, node: Node, path: YamlPath) -> Any:
        self._values += 1
        if self._values > MAX_VALUES:
            raise _TooLarge(path)
        if len(path) > MAX_DEPTH:
            self._problem(node, f"nested more than {MAX_DEPTH} levels deep")
            self._doc.unresolved.add(path)
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self._problem(node, "an alias refers to a node that contains it")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self._child(item, path + (i,), item) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path)
        finally:
            self._open.discard(id(node))

    def _child(self, node: Node, path: YamlPath, key_node: Node) -> Any:
        self._doc.lines[path] = Lines(key_node.start_mark.line + 1, node.start_mark.line + 1)
        return self.value(node, path)

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, "a key must be plain text, not a list or mapping")
            elif key_node.tag != _MERGE_TAG:
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in first_line:
                    self._problem(
                        key_node, f"duplicate key '{key}' (first at line {first_line[key]})"
                    )
                else:
                    first_line[key] = line
        if self._merged_size(node) > MAX_VALUES:  # flattening would build it all first
            raise _TooLarge(path)
        try:
            self._loader.flatten_mapping(node)  # resolves `<<: *anchor`, own keys last
        except yaml.MarkedYAMLError as exc:
            self._doc.problems.append(_syntax_problem(self._doc.file, exc))
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                key = key_node.value
                result[key] = self._child(value_node, path + (key,), key_node)
        return result

    def _merged_size(self, node: MappingNode) -> int:
        """How many pairs `node` will hold once `flatten_mapping` has merged `<<:` into it."""
        known = self._merged.get(id(node))
        if known is not None:
            return known
        self._merged[id(node)] = MAX_VALUES + 1  # a merge that loops counts as too large
        size = 0
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                size += 1
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, MappingNode):
                    size += self._merged_size(source)
            if size > MAX_VALUES:
                break
        self._merged[id(node)] = size
        return size

    def _scalar(self, node: ScalarNode, path: YamlPath) -> Any:
        try:
            value = self._loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:  # e.g. an unknown tag such as `!secret`
            self._problem(node, str(exc.problem))
            self._doc.unresolved.add(path)
            return node.value
        except ValueError:  # looks like a date but is none, e.g. 2026-13-01: keep the text
            return node.value
        if isinstance(value, str) and "$" in value:
            return self._substitute(value, node, path)
        return value

    def _substitute(self, text: str, node: ScalarNode, path: YamlPath) -> str:
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            escaped, name, malformed = match.groups()
            if escaped:
                return escaped
            if malformed:
                self._problem(
                    node,
                    "'${' must start a variable like ${SLACK_TOKEN} (write $${ for a literal '${')",
                )
                return malformed
            if name not in self._environ:
                missing.append(name)
                return match.group(0)
            return self._environ[name]

        value = _VARIABLE.sub(replace, text)
        for name in missing:
            self._problem(node, f"environment variable {name} is not set")
        if missing:
            self._doc.unresolved.add(path)
        elif value != text and value:
            self._doc.written[value] = text
        return value

    def _problem(self, node: Node, message: str) -> None:
        self._doc.problems.append(Problem(self._doc.file, node.start_mark.line + 1, message))
