"""Showing untrusted text without letting it act: one helper per place text is shown.

CRM values (subject ids, owners, accounts, record links) are written by whoever can edit a
CRM record, so they are data, never markup: a link is shown as a link only if it is http(s),
Slack gets `&`, `<` and `>` as entities, a spreadsheet gets no formula, a terminal gets no
control characters or rich markup. HTML is escaped by the templates' autoescape.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

_LINK_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
#: Printable ASCII that is not allowed raw in a URL (RFC 3986) and that Slack (`|`, `>`),
#: HTML attributes or terminals could read as syntax; percent-encoded in links.
_URL_QUOTED = str.maketrans({c: f"%{ord(c):02X}" for c in '"<>\\^`{|}'})


def safe_link(url: str | None) -> str | None:
    """The URL if it may be shown as a link, else None (then the value is shown unlinked).

    Only absolute `http` and `https` URLs with a host pass (the scheme in any case).
    Whitespace at the ends is trimmed; a control, format or space character left inside
    refuses the URL, because browsers drop some of them (`java\\tscript:`) and a reader
    cannot see them. Characters URLs may not hold raw (`"<>\\^`{|}`) are percent-encoded,
    so the link cannot end a Slack `<url|label>` or an HTML attribute early.
    """
    if not isinstance(url, str):
        return None
    candidate = url.strip(" \t\r\n\f\v")
    if any(unicodedata.category(c)[0] in "CZ" for c in candidate):  # Cc, Cf, Zs, Zl, Zp...
        return None
    scheme = _SCHEME.match(candidate)
    if scheme is None or scheme.group(1).lower() not in _LINK_SCHEMES:
        return None
    rest = candidate[scheme.end() :]
    host = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if not rest.startswith("//") or not host or host.startswith(":"):
        return None
    return candidate.translate(_URL_QUOTED)


def slack_escape(text: str) -> str:
    """Text for Slack mrkdwn (and the plain `text` of a message): `&`, `<` and `>` as the
    entities Slack documents, so that `<!channel>`, `<@U123>` or a `<url|label>` in the value
    are shown, not acted on. Apply it once, to each value, not to qmon's own markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: A cell starting with one of these is read as a formula by Excel, LibreOffice and Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = TypeVar("Cell")


def csv_cell(value: Cell) -> Cell | str:
    """A CSV cell a spreadsheet will not run: text starting with `=`, `+`, `-`, `@`, a tab
    or a carriage return gets a leading `'` (OWASP's CSV injection advice). Numbers, booleans
    and None are returned as they are, so a negative number stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


#: ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL or ESC \\`, and
#: two-character `ESC x`), each replaced as a whole.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -~]?)")
#: C0 controls, DEL, C1 controls and the bidirectional overrides that reorder what is shown.
_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_CONTROL_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}]")
REPLACEMENT = "\ufffd"


def terminal_text(value: object, *, markup: bool = True, newlines: bool = False) -> str:
    """Text for a terminal: ANSI escape sequences and control characters (C0, DEL, C1, bidi
    overrides) become U+FFFD, a newline too unless `newlines`. With `markup` (for rich's
    `console.print` and table cells, which read `[bold]` or `[link=...]` as markup) the
    result is also rich-escaped; pass `markup=False` for `typer.echo` or `markup=False`
    prints."""
    text = _ANSI.sub(REPLACEMENT, str(value))
    text = (_CONTROL_BUT_NEWLINE if newlines else _CONTROL).sub(REPLACEMENT, text)
    if not markup:
        return text
    from rich.markup import escape  # here: rich's import is not every command's to pay

    return escape(text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def stored_text_problem(value: str) -> str:
    """Why a CRM value cannot be stored as text, or "" when it can: a NUL character (which
    PostgreSQL's text cannot hold) or a lone surrogate (half of a UTF-16 pair, which is no
    character and cannot be written as UTF-8: a JSON escape like `\\ud800`)."""
    if "\x00" in value:
        return "holds a NUL character (U+0000), which is not text"
    if not value.isascii() and (found := _SURROGATE.search(value)):
        return f"holds a lone surrogate (U+{ord(found.group()):04X}), which is not text"
    return ""


def stored_text(value: str) -> str:
    """A CRM value as any store can hold it, the same on SQLite and PostgreSQL: NUL
    characters removed, lone surrogates replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        value = _SURROGATE.sub(REPLACEMENT, value)
    return value


def ascii_digits(text: str) -> bool:
    """Whether `text` is one or more of the digits 0-9: str.isdigit() is also true of "²" or
    "٣", which int() refuses or reads as a number no CRM or browser sends."""
    return text.isascii() and text.isdigit()
