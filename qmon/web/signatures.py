"""The signatures that authenticate the CRM cards' requests: HubSpot's v3, and qmon's own v1.

HubSpot (its "Validating requests" guide, v3): the `X-HubSpot-Signature-v3` header is
`base64(HMAC-SHA256(client secret, method + URI + body + timestamp))`, where the URI is the
full URL HubSpot called (`https://host/path?query`) with the URL-encoded characters of its
table decoded (`%3A` `:`, `%2F` `/`, `%3F` `?`, `%40` `@`, `%21` `!`, `%24` `$`, `%27` `'`,
`%28` `(`, `%29` `)`, `%2A` `*`, `%2C` `,`, `%3B` `;`; no other), and the timestamp is
`X-HubSpot-Request-Timestamp`, milliseconds since the epoch.

qmon's own (for the Salesforce card's Apex, which can sign but has no HubSpot):
`X-Qmon-Signature: v1=base64(HMAC-SHA256(secret, method "\\n" path?query "\\n" timestamp
"\\n" body))` with `X-Qmon-Timestamp` in milliseconds since the epoch; `path?query` exactly
as sent on the request line.

Either is refused when its timestamp is more than five minutes from this machine's clock
(either way), and signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from qmon.textsafe import ascii_digits

#: How far a request's timestamp may be from now, in milliseconds.
MAX_SKEW_MS = 5 * 60 * 1000

_HUBSPOT_DECODED = {
    "3A": ":", "2F": "/", "3F": "?", "40": "@", "21": "!", "24": "$", "27": "'", "28": "(",
    "29": ")", "2A": "*", "2C": ",", "3B": ";",
}  # fmt: skip
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class BadSignature(Exception):
    """The request is not signed, or not as it should be; the message says which."""


def hubspot_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the characters of its table decoded, nothing else."""
    return _ESCAPE.sub(lambda m: _HUBSPOT_DECODED.get(m.group(1).upper(), m.group(0)), uri)


def _mac(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of a request (`uri` as received; decoded here)."""
    source = method.encode() + hubspot_uri(uri).encode("utf-8") + body + timestamp.encode()
    return _mac(secret, source)


def qmon_signature(secret: str, method: str, target: str, body: bytes, timestamp: str) -> str:
    """qmon's v1 signature of a request: `target` is its path and query as sent."""
    source = f"{method}\n{target}\n{timestamp}\n".encode() + body
    return _mac(secret, source)


def check_timestamp(header: str | None, name: str, now_ms: int) -> str:
    """The timestamp header, if it is one and within five minutes of now."""
    if not header:
        raise BadSignature(f"missing {name} header")
    if not ascii_digits(header.strip()):
        raise BadSignature(f"{name} must be milliseconds since 1970")
    if abs(now_ms - int(header)) > MAX_SKEW_MS:
        raise BadSignature(f"{name} is more than 5 minutes from this server's clock")
    return header.strip()


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))


def verify_hubspot(
    secret: str, method: str, uri: str, body: bytes, headers: dict[str, str], now_ms: int
) -> None:
    """Raises BadSignature unless the request carries HubSpot's valid v3 signature."""
    signature = headers.get("x-hubspot-signature-v3")
    if not signature:
        raise BadSignature("missing X-HubSpot-Signature-v3 header")
    stamp = check_timestamp(
        headers.get("x-hubspot-request-timestamp"), "X-HubSpot-Request-Timestamp", now_ms
    )
    if not same(hubspot_signature(secret, method, uri, body, stamp), signature):
        raise BadSignature("the signature does not match the request")


def verify_qmon(
    secret: str, method: str, target: str, body: bytes, headers: dict[str, str], now_ms: int
) -> None:
    """Raises BadSignature unless the request carries a valid `X-Qmon-Signature: v1=...`."""
    header = headers.get("x-qmon-signature")
    if not header:
        raise BadSignature("missing X-Qmon-Signature header")
    stamp = check_timestamp(headers.get("x-qmon-timestamp"), "X-Qmon-Timestamp", now_ms)
    given = [v.strip()[3:] for v in header.split(",") if v.strip().startswith("v1=")]
    if not given:
        raise BadSignature("X-Qmon-Signature has no v1= signature")
    expected = qmon_signature(secret, method, target, body, stamp)
    # Every candidate is compared, so the time taken does not say which one matched.
    if not sum(same(expected, g) for g in given):
        raise BadSignature("the signature does not match the request")
