"""Durations as people write them in promises ("24h", "1h 30m", "2d"), as microseconds.

A fixed set of units keeps the format unambiguous: `d` is always 24 hours of the promise's
clock (on a business calendar that is 24 *open* hours, not a working day), and there are no
months or weeks whose length would depend on the date.
"""

from __future__ import annotations

import re

from qmon.textsafe import ascii_digits
from qmon.timeutil import US_PER_SECOND

_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"\s*([0-9]+)\s*([dhms])")
_EXAMPLES = "write e.g. '24h', '1h 30m', '90m', '2d' or '45s'; d is 24h"


def parse_duration(text: str) -> int:
    """Parse a duration like "1h 30m" into microseconds.

    Parts are a whole number and a unit (d, h, m, s), each unit at most once, optionally
    separated by spaces. The total must be more than zero.

    Raises:
        ValueError: with a message fit for the user that quotes `text`.
    """
    seen: set[str] = set()
    pos = seconds = 0
    stripped = text.strip()
    if ascii_digits(stripped):
        raise ValueError(f"duration {text!r} has no unit ({_EXAMPLES})")
    while pos < len(stripped):
        match = _PART.match(stripped, pos)
        if match is None:
            raise ValueError(f"not a duration: {text!r} ({_EXAMPLES})")
        amount, unit = match.groups()
        if unit in seen:
            raise ValueError(f"duration {text!r} gives '{unit}' twice")
        seen.add(unit)
        seconds += int(amount) * _UNIT_SECONDS[unit]
        pos = match.end()
    if not seen:
        raise ValueError(f"not a duration: {text!r} ({_EXAMPLES})")
    if seconds == 0:
        raise ValueError(f"duration {text!r} is zero; a promise needs time to be kept")
    return seconds * US_PER_SECOND


def format_duration(us: int) -> str:
    """A duration for people: `2d 3h 04m`, `1h 30m`, `45s`; `-1d 2h 00m` before zero (an
    allowance to a promised date that lay before the start)."""
    if us < 0:
        return "-" + format_duration(-us)
    seconds = us // 1_000_000
    days, rem = divmod(seconds, 86_400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
