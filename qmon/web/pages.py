"""The dashboard's pages: a record's promises, one instance explained, qmon's health.

Journey, Promises and Promise are in `qmon.web.journey` (they read the check's figures).
"""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from qmon.reports.status import collect
from qmon.textsafe import csv_cell
from qmon.timeutil import now_us
from qmon.web import data, render

#: How long the health page's figures are reused (`qmon status` reads several tables).
HEALTH_TTL_S = 30
_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _ctx(request: Request) -> Any:
    return request.app.state.qmon


async def home(request: Request) -> Response:
    return RedirectResponse("/journey", status_code=303)




def healthz(request: Request) -> Response:
    """For load balancers and monitors: no sign-in, no data, only whether qmon can answer."""
    reachable = data.store_reachable(_ctx(request).store)
    return JSONResponse(
        {"ok": reachable, "store": reachable}, status_code=200 if reachable else 503
    )


def health(request: Request) -> Response:
    ctx = _ctx(request)
    cached = ctx.cache.get("health")
    if cached is None or time.monotonic() - cached[0] > HEALTH_TTL_S:
        cached = (time.monotonic(), collect(ctx.config, ctx.store, now_us()).as_json())
        ctx.cache["health"] = cached
    found = cached[1]
    stale = {s["promise"]: s["sources"] for s in found["stale_promises"]}
    return render.page(request, "health.html.j2", health=found, stale=stale,
                       missing=[p for p in found["not_evaluated"] if p not in stale])  # fmt: skip


def record(request: Request) -> Response:
    ctx = _ctx(request)
    subject_type = request.path_params["subject_type"]
    subject_id = request.path_params["subject_id"]
    as_of = now_us()
    found = data.record_instances(ctx.config, ctx.store, subject_type, subject_id, as_of)
    if request.query_params.get("format") == "csv":
        return _csv(found, ctx, subject_type, subject_id)
    link = data.record_link(ctx.config, ctx.store, subject_type, subject_id)
    tz = ctx.config.timezone
    return render.page(
        request, "record.html.j2", subject_type=subject_type, subject_id=subject_id,
        found=found, link=link, tz=tz.key, as_of=render.local_time(as_of, tz),
        local=lambda us: render.local_time(us, tz),
    )  # fmt: skip


def _csv(found: list[data.Found], ctx: Any, subject_type: str, subject_id: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(data.CSV_COLUMNS)
    for row in data.csv_rows(found, ctx.config.timezone):
        writer.writerow([csv_cell(cell) for cell in row])
    name = _FILE_NAME.sub("_", f"qmon-{subject_type}-{subject_id}")[:100]
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def record_json(request: Request) -> Response:
    """The card contract for a signed-in user (the dashboard's own API)."""
    ctx = _ctx(request)
    subject_type = request.path_params["subject_type"]
    subject_id = request.path_params["subject_id"]
    as_of = now_us()
    found = data.record_instances(ctx.config, ctx.store, subject_type, subject_id, as_of)
    link = data.record_link(ctx.config, ctx.store, subject_type, subject_id)
    base = ctx.settings.public_url or str(request.base_url).rstrip("/")
    return JSONResponse(
        data.card_document(ctx.config, base, subject_type, subject_id, found, link, as_of)
    )


def instance(request: Request) -> Response:
    ctx = _ctx(request)
    params = request.path_params
    promise = ctx.config.promise(params["promise_id"])
    if promise is None:
        return render.error(request, 404, "not_found_instance")
    as_of = now_us()
    explanation = data.find_instance(promise, ctx.store, params["subject_type"],
                                     params["subject_id"], params["cycle"], as_of)  # fmt: skip
    if explanation is None:
        return render.error(request, 404, "not_found_instance")
    inst = explanation.instance
    tz = getattr(promise.clock, "tz", None) or ctx.config.timezone
    total, pieces = 0, []
    for piece in explanation.pieces:
        total += piece.counted_us
        pieces.append((piece, total))
    target = promise.targets[inst.target] if inst.target is not None else None
    when = (
        " and ".join(m.describe() for m in target.when.matches) if target and target.when else None
    )
    return render.page(
        request, "instance.html.j2", promise=promise, inst=inst, pieces=pieces,
        target=target, when=when, alerts=data.instance_alerts(ctx.store, inst),
        link=data.record_link(ctx.config, ctx.store, inst.subject_type, inst.subject_id),
        tz=tz.key, as_of=render.local_time(as_of, tz),
        local=lambda us: render.local_time(us, tz),
    )  # fmt: skip


async def not_found(request: Request, exc: Exception) -> Response:
    return render.error(request, 404, "not_found")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return render.error(request, 405, "method")


async def server_error(request: Request, exc: Exception) -> Response:
    # The server closes the connection after an unhandled error; saying so keeps the client
    # from sending its next request on it (which would meet a reset).
    return render.error(request, 500, "server_error", headers={"Connection": "close"})
