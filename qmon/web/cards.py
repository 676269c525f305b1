"""The CRM card API: one JSON contract (version 1, docs/serve.md) for both CRMs' cards.

- `GET /api/crm/hubspot/card?objectId=...&objectTypeId=0-3` (a deal; `0-5` a ticket),
  signed by HubSpot (`X-HubSpot-Signature-v3`, the app's client secret).
- `GET /api/crm/salesforce/card?recordId=006...` (an Opportunity; `500...` a Case), signed
  by the card's Apex (`X-Qmon-Signature: v1=...`, `serve.salesforce_card`'s secret).

The signature is the authentication: these paths need no session, and a request without a
valid one gets 401 JSON saying what is wrong with it. A card whose secret is not configured
answers 404. The record is mapped to qmon's subject as the connectors map it (HubSpot deals
`deal`, tickets `case`; Salesforce by the id's key prefix); only that record's promises are
evaluated.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qmon.textsafe import ascii_digits
from qmon.timeutil import now_us
from qmon.web import data
from qmon.web.signatures import BadSignature, verify_hubspot, verify_qmon

#: HubSpot object type ids of qmon's subjects (qmon/connectors/hubspot/mapping.py TYPE_IDS
#: with attributes.SUBJECT_TYPES; a test keeps them equal).
HUBSPOT_SUBJECTS = {"0-3": "deal", "0-5": "case"}
#: Salesforce key prefixes of qmon's subjects (connectors/salesforce/mapping.py).
SALESFORCE_SUBJECTS = {"006": "deal", "500": "case"}
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id18(record_id: str) -> str:
    """The 18-character form of a Salesforce id (the API's, which the store holds)."""
    if len(record_id) == 18:
        return record_id
    suffix = ""
    for chunk in range(3):
        part = record_id[chunk * 5 : chunk * 5 + 5]
        bits = sum(1 << i for i, c in enumerate(part) if c.isupper())
        suffix += _CHECKSUM[bits]
    return record_id + suffix


def _now_ms() -> int:
    return int(time.time() * 1000)


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _base_url(request: Request) -> str:
    public = request.app.state.qmon.settings.public_url
    return public or str(request.base_url).rstrip("/")


def _target(request: Request) -> str:
    """The path and query as they were on the request line."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


async def _answer(request: Request, subject_type: str, subject_id: str) -> Response:
    ctx = request.app.state.qmon
    base = _base_url(request)

    def read() -> dict[str, Any]:
        as_of = now_us()
        found = data.record_instances(ctx.config, ctx.store, subject_type, subject_id, as_of)
        link = data.record_link(ctx.config, ctx.store, subject_type, subject_id)
        return data.card_document(ctx.config, base, subject_type, subject_id, found, link, as_of)

    return JSONResponse(await run_in_threadpool(read))


async def _verified(request: Request, check: Callable[[bytes], None]) -> Response | None:
    """None if `check` accepts the request's body, else the 401 answer."""
    body = await request.body()
    try:
        check(body)
    except BadSignature as exc:
        return _problem(401, str(exc))
    return None


async def hubspot_card(request: Request) -> Response:
    ctx = request.app.state.qmon
    secret = ctx.settings.hubspot_secret
    if secret is None:
        return _problem(404, "the HubSpot card is not configured (serve.hubspot_card)")
    # The URL HubSpot called: the public URL, when set (a proxy's host and scheme
    # are not the ones HubSpot signed), and the path and query as sent.
    public = ctx.settings.public_url
    base = public if public else f"{request.url.scheme}://{request.url.netloc}"
    uri = base.rstrip("/") + _target(request)
    headers = {k.lower(): v for k, v in request.headers.items()}

    def check(body: bytes) -> None:
        verify_hubspot(secret.get_secret_value(), request.method, uri, body, headers, _now_ms())

    refused = await _verified(request, check)
    if refused is not None:
        return refused
    object_id = request.query_params.get("objectId", "").strip()
    type_id = request.query_params.get("objectTypeId", "").strip()
    if type_id not in HUBSPOT_SUBJECTS:
        return _problem(400, "objectTypeId must be 0-3 (a deal) or 0-5 (a ticket)")
    if not ascii_digits(object_id):
        return _problem(400, "objectId must be a HubSpot record id (digits)")
    return await _answer(request, HUBSPOT_SUBJECTS[type_id], object_id)


async def salesforce_card(request: Request) -> Response:
    ctx = request.app.state.qmon
    secret = ctx.settings.salesforce_secret
    if secret is None:
        return _problem(404, "the Salesforce card is not configured (serve.salesforce_card)")
    target = _target(request)
    headers = {k.lower(): v for k, v in request.headers.items()}

    def check(body: bytes) -> None:
        verify_qmon(secret.get_secret_value(), request.method, target, body, headers, _now_ms())

    refused = await _verified(request, check)
    if refused is not None:
        return refused
    record_id = request.query_params.get("recordId", "").strip()
    if not _SALESFORCE_ID.fullmatch(record_id):
        return _problem(400, "recordId must be a Salesforce record id (15 or 18 characters)")
    subject_type = SALESFORCE_SUBJECTS.get(record_id[:3])
    if subject_type is None:
        return _problem(400, "recordId must be an Opportunity (006...) or a Case (500...)")
    return await _answer(request, subject_type, salesforce_id18(record_id))
