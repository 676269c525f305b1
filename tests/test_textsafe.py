"""The helpers that keep CRM values from acting where they are shown (qmon/textsafe.py)."""

from __future__ import annotations

import pytest

from qmon.textsafe import csv_cell, safe_link, slack_escape, terminal_text

FFFD = "\ufffd"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://crm.example/deal/D-1", "https://crm.example/deal/D-1"),
        ("http://crm.example/x?a=1&b=2#top", "http://crm.example/x?a=1&b=2#top"),
        ("HTTPS://CRM.EXAMPLE/x", "HTTPS://CRM.EXAMPLE/x"),
        ("  https://crm.example/x\n", "https://crm.example/x"),
        ("https://crm.example/x|click me>", None),  # a space inside
        ("https://crm.example/a|b", "https://crm.example/a%7Cb"),
        ('https://crm.example/"><script>', "https://crm.example/%22%3E%3Cscript%3E"),
        ("https://user@crm.example/", "https://user@crm.example/"),
        ("https://crm.example:8443/x", "https://crm.example:8443/x"),
        ("https://bücher.example/straße", "https://bücher.example/straße"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("\x01javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("https://crm.example/\x00x", None),
        ("https://crm.example/\u202ex", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox(1)", None),
        ("file:///etc/passwd", None),
        ("ftp://crm.example/x", None),
        ("//crm.example/x", None),
        ("/deal/D-1", None),
        ("https:crm.example", None),
        ("https://", None),
        ("https://:443/x", None),
        ("https:///x", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_link(url, shown):
    assert safe_link(url) == shown


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain", "plain"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here> <@U123>", "&lt;!here&gt; &lt;@U123&gt;"),
        ("x|<https://evil.example|click>", "x|&lt;https://evil.example|click&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt;", "&amp;lt;"),
        ("", ""),
    ],
)
def test_slack_escape(text, escaped):
    assert slack_escape(text) == escaped


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("https://evil.example","x")', "'=HYPERLINK(\"https://evil.example\",\"x\")"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("anna", "anna"),
        ("a=b", "a=b"),
        ("'=1", "'=1"),
        ("", ""),
        (-3, -3),
        (-0.25, -0.25),
        (0, 0),
        (True, True),
        (None, None),
    ],
)
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


@pytest.mark.parametrize(
    ("value", "options", "shown"),
    [
        ("anna", {}, "anna"),
        ("\x1b[31mred\x1b[0m", {}, f"{FFFD}red{FFFD}"),
        ("\x1b]8;;https://evil.example\x07link\x1b]8;;\x07", {}, f"{FFFD}link{FFFD}"),
        ("\x1b]0;title\x1b\\x", {}, f"{FFFD}x"),
        ("a\x1bcb", {}, f"a{FFFD}b"),
        ("bell\x07", {}, f"bell{FFFD}"),
        ("back\x08\x08", {}, f"back{FFFD}{FFFD}"),
        ("cr\roverwrite", {}, f"cr{FFFD}overwrite"),
        ("del\x7f", {}, f"del{FFFD}"),
        ("c1\x9b31m", {}, f"c1{FFFD}31m"),
        ("\u202egnp.exe", {}, f"{FFFD}gnp.exe"),
        ("two\nlines", {}, f"two{FFFD}lines"),
        ("two\nlines", {"newlines": True}, "two\nlines"),
        ("tab\tx", {"newlines": True}, f"tab{FFFD}x"),
        ("[bold]x[/bold]", {}, "\\[bold]x\\[/bold]"),
        ("[link=https://evil.example]x[/link]", {}, "\\[link=https://evil.example]x\\[/link]"),
        ("[bold]x", {"markup": False}, "[bold]x"),
        ("Zoë ☕ 日本", {}, "Zoë ☕ 日本"),
        (42, {}, "42"),
    ],
)
def test_terminal_text(value, options, shown):
    assert terminal_text(value, **options) == shown


def test_terminal_text_prints_as_given_through_rich():
    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    console.print(terminal_text("[bold]<@U1>[/bold] \x1b[2J"))
    assert console.export_text() == f"[bold]<@U1>[/bold] {FFFD}\n"
