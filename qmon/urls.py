"""The one rule for every URL qmon sends a token or a secret to.

A `base_url`, a webhook or a Salesforce `login_url` / `instance_url` is where qmon sends its
bearer tokens, passwords and alert contents. Each must be `https`, so that nothing travels in
the clear and a certificate names the host; plain `http` is allowed only to this machine
(127.0.0.0/8, ::1, `localhost`), where tests run their fake servers. `file:`, `ftp:`,
`javascript:` and every other scheme are refused when the config is validated.

`redact` is the one way a URL that may hold a password is shown: in errors, in output and
(through `qmon.ops.logs`) in every log line.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})

#: `scheme://user:password@`: the password part.
_USER_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*):[^@/?#\s]+@")
#: `?password=...`, `&sslpassword=...` (libpq takes both in a URL's query), or the same
#: words in a `key=value` connection string.
_PARAM_PASSWORD = re.compile(r"(?i)(?P<head>\b(?:ssl)?password=)[^&#\s'\"]+")


def redact(text: str) -> str:
    """`text` with every password in a URL, user part or query, replaced by `***`."""
    text = _USER_PASSWORD.sub(r"\g<head>:***@", text)
    return _PARAM_PASSWORD.sub(r"\g<head>***", text)


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, without brackets) is this machine."""
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def outbound_url(value: str, name: str, example: str, *, show: bool = True) -> SplitResult:
    """`value` split, if it is a URL qmon may send secrets to; else a ValueError in words.

    Args:
        value: the URL as written.
        name: the setting, for the message (`base_url`).
        example: a good value, for the message.
        show: quote `value` in the message; False for a URL that is a secret itself.
    """
    text = value.strip()
    shown = f"{name} '{text}'" if show else name
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"{shown} must not contain spaces or control characters")
    not_url = f"{shown} must be a URL like {example}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ValueError(not_url) from None
    if parts.scheme in ("https", "http") and not parts.netloc or not parts.scheme:
        raise ValueError(not_url)
    host = parts.hostname or ""
    local = parts.scheme == "http" and is_loopback(host)
    if not host or not (parts.scheme == "https" or local):
        raise ValueError(
            f"{shown} must be an https URL like {example} "
            "(http only to this machine: 127.0.0.1, ::1 or localhost)"
        )
    return parts


__all__ = ["LOOPBACK_NAMES", "is_loopback", "outbound_url", "redact"]
