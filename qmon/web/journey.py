"""The Journey, Promises and Promise pages: compliance per phase and promise, over a period.

Every figure is read from the figures the check keeps (`qmon.figures`: `instance_facts`,
counted in SQL), never from an audit per request, and equals `qmon audit` for the same period
and as-of: the instant of the last check, which every page shows. The period (`?period=week|
month|quarter&at=DAY`, or `?period=custom&from=DAY&to=DAY`) is carried from page to page.
`?format=json` gives a page's figures; `?list=breaches|owner|channel|account&format=csv` a
list of the Promise page as CSV.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qmon.figures import facts, query
from qmon.figures.query import Period
from qmon.promises.compliance import Tally, objective_met
from qmon.reports.weekly.figures import trend
from qmon.textsafe import csv_cell
from qmon.timeutil import from_us
from qmon.web import render
from qmon.web.journey_words import add_words
from qmon.web.words import WORDS

add_words()

HISTORY = 5  # the period and the four before it
WEEKS = 12  # the promise page's weekly chart
BUDGET_WEEKS = 4
PAIN_POINTS = 2
LISTED = 50  # breaches shown on the page (all of them in the CSV)
BY = ("owner", "channel", "account")


class BadPeriod(ValueError):
    """The period asked for is not one; the message says why, in words."""


def _ctx(request: Request) -> Any:
    return request.app.state.qmon


CACHED = 128  # figures of this many (page, period) pairs are kept per process
_LOCK = threading.Lock()
COUNT_WAIT_S = 30  # how often a request waiting for another's count looks again


def _cached(ctx: Any, key: tuple[Any, ...], as_of: int, count: Any) -> Any:
    """`count()` once per figures instant: the figures change only when a check writes
    them, so every request until then reads the same (the health page caches likewise).
    Requests that ask for the same figures at once wait for the one counting them, rather
    than all counting (twenty clients on a new quarter would otherwise count it twenty
    times over)."""
    cache = ctx.cache.setdefault("figures", OrderedDict())
    counting = ctx.cache.setdefault("figures_counting", {})
    while True:
        with _LOCK:  # requests run in a thread pool
            entry = cache.get(key)
            if entry is not None and entry[0] == as_of:
                cache.move_to_end(key)
                return entry[1]
            busy = counting.get((key, as_of))
            if busy is None:
                busy = counting[(key, as_of)] = threading.Event()
                break
        busy.wait(COUNT_WAIT_S)
    try:
        found = count()
        with _LOCK:
            cache[key] = (as_of, found)
            while len(cache) > CACHED:
                cache.popitem(last=False)
        return found
    finally:
        with _LOCK:
            counting.pop((key, as_of), None)
        busy.set()


def parse_period(params: Any, as_of_us: int, tz: Any) -> Period:
    """The period a request asks for (default: the week of the figures' instant)."""
    kind = params.get("period") or "week"
    if kind not in query.KINDS:
        raise BadPeriod(f"period must be one of {', '.join(query.KINDS)}")

    def day(name: str, default: date | None = None) -> date:
        raw = params.get(name)
        if raw is None and default is not None:
            return default
        try:
            found = date.fromisoformat(str(raw))
        except (TypeError, ValueError):
            raise BadPeriod(f"{name} must be a date like 2026-11-23") from None
        if not 1900 <= found.year <= 2999:
            raise BadPeriod(f"{name} must be a date from 1900 to 2999")
        return found

    today = query.day_of(as_of_us, tz)
    if kind != "custom":
        return query.period_of(kind, day("at", today))
    first, last = day("from"), day("to")
    if last < first:
        raise BadPeriod("to must not be before from")
    if (last - first).days > 3 * 366:
        raise BadPeriod("a custom period is at most three years long")
    return query.period_of("custom", today, first, last)


@dataclass
class Row:
    """One promise or phase in a period: its tally, the periods before, its trend."""

    tallies: list[Tally]  # HISTORY periods, oldest first; the last is the period's

    @property
    def this(self) -> Tally:
        return self.tallies[-1]

    @property
    def trend(self) -> str | None:
        return trend(self.tallies[-1], self.tallies[-2])


def _asked(request: Request) -> tuple[Any, int, Period] | Response:
    """What every figures page starts from: the figures' instant and the period asked
    for; or the answer instead (no figures yet, a bad period)."""
    ctx = _ctx(request)
    as_of = facts.as_of(ctx.store)
    if as_of is None:
        return _no_figures(request)
    period = _period_or_error(request, as_of)
    if isinstance(period, Response):
        return period
    return ctx, as_of, period


def _no_figures(request: Request) -> Response:
    """Before the first check there is nothing to show yet (not an error: a notice)."""
    heading = "promises" if request.url.path.startswith("/promise") else "journey"
    return render.page(request, "figures_missing.html.j2", heading=heading)


def _period_or_error(request: Request, as_of: int) -> Period | Response:
    ctx = _ctx(request)
    try:
        return parse_period(request.query_params, as_of, ctx.config.timezone)
    except BadPeriod as exc:
        return render.error(request, 400, "bad_period", why=str(exc))


def _history(store: Any, ids: list[str], period: Period, tz: Any) -> dict[tuple[str, int], Tally]:
    periods = [period.shift(k - HISTORY + 1) for k in range(HISTORY)]
    bounds = [p.bounds(tz)[0] for p in periods] + [period.bounds(tz)[1]]
    return query.tallies(store, ids, bounds)


def _sum(tallies: list[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total


def journey_figures(ctx: Any, as_of: int, period: Period) -> dict[str, Any]:
    """The journey page's figures (also its JSON)."""
    config, tz = ctx.config, ctx.config.timezone
    promises = list(config.promises)
    counted = _history(ctx.store, [p.id for p in promises], period, tz)
    phases = []
    for phase in config.phases:
        members = [p for p in promises if p.phase == phase]
        row = Row([_sum([counted[(p.id, k)] for p in members]) for k in range(HISTORY)])
        hurting = sorted(((p, counted[(p.id, HISTORY - 1)].breached) for p in members
                          if counted[(p.id, HISTORY - 1)].breached),
                         key=lambda pair: -pair[1])[:PAIN_POINTS]  # fmt: skip
        objectives = [(p, objective_met(counted[(p.id, HISTORY - 1)], p.objective))
                      for p in members]  # fmt: skip
        phases.append({"phase": phase, "row": row, "promises": members, "pain": hurting,
                       "objectives": objectives})  # fmt: skip
    return {"phases": phases, "periods": [period.shift(k - HISTORY + 1)
                                          for k in range(HISTORY)]}  # fmt: skip


def _tally_json(tally: Tally) -> dict[str, Any]:
    return {"met": tally.met, "breached": tally.breached, "open": tally.open,
            "at_risk": tally.at_risk, "not_evaluated": tally.not_evaluated,
            "compliance": tally.compliance}  # fmt: skip


def journey(request: Request) -> Response:
    asked = _asked(request)
    if isinstance(asked, Response):
        return asked
    ctx, as_of, period = asked
    found = _cached(ctx, ("journey", period), as_of,
                    lambda: journey_figures(ctx, as_of, period))  # fmt: skip
    if request.query_params.get("format") == "json":
        return JSONResponse({
            "as_of": _iso(as_of), "period": _period_json(period),
            "phases": [{"phase": p["phase"], "compliance": _tally_json(p["row"].this),
                        "history": [_tally_json(t) for t in p["row"].tallies],
                        "trend": p["row"].trend,
                        "pain_points": [{"promise": pr.id, "breached": n} for pr, n in p["pain"]],
                        "objectives": [{"promise": pr.id, "objective": pr.objective, "met": ok}
                                       for pr, ok in p["objectives"]]}
                       for p in found["phases"]],
        })  # fmt: skip
    values = lambda: {**_common(ctx, as_of, period), **found}  # noqa: E731
    return _figures_page(request, ("journey", period), as_of, _word(request, "journey"),
                         "journey_main.html.j2", values)  # fmt: skip


def promises_page(request: Request) -> Response:
    asked = _asked(request)
    if isinstance(asked, Response):
        return asked
    ctx, as_of, period = asked
    phase = request.query_params.get("phase")
    chosen = [p for p in ctx.config.promises if phase in (None, "", p.phase)]
    counted = _cached(ctx, ("promises", period, phase), as_of, lambda: _history(
        ctx.store, [p.id for p in chosen], period, ctx.config.timezone))  # fmt: skip
    rows = [(p, Row([counted[(p.id, k)] for k in range(HISTORY)])) for p in chosen]
    if request.query_params.get("format") == "json":
        return JSONResponse({
            "as_of": _iso(as_of), "period": _period_json(period), "phase": phase,
            "promises": [{"promise": p.id, "phase": p.phase, "objective": p.objective,
                          "compliance": _tally_json(row.this), "trend": row.trend}
                         for p, row in rows],
        })  # fmt: skip
    values = lambda: {**_common(ctx, as_of, period), "rows": rows, "phase": phase}  # noqa: E731
    return _figures_page(request, ("promises", period, phase), as_of,
                         _word(request, "promises"), "promises_main.html.j2", values)  # fmt: skip


def promise_figures(ctx: Any, promise: Any, as_of: int, period: Period) -> dict[str, Any]:
    """The promise page's figures (also its JSON)."""
    store, tz = ctx.store, ctx.config.timezone
    bounds = period.bounds(tz)
    last_week = query.period_of("week", period.last)
    weeks = [last_week.shift(k - WEEKS + 1) for k in range(WEEKS)]
    edges = [w.bounds(tz)[0] for w in weeks] + [last_week.bounds(tz)[1]]
    weekly = query.tallies(store, [promise.id], edges)
    week_tallies = [weekly[(promise.id, k)] for k in range(WEEKS)]
    budget = _sum(week_tallies[-BUDGET_WEEKS:])
    budget_left = None
    if promise.objective is not None and promise.objective < 1 and budget.evaluated:
        budget_left = 1 - budget.breached / ((1 - promise.objective) * budget.evaluated)
    this = query.tallies(store, [promise.id], list(bounds))[(promise.id, 0)]
    targets = []
    per_target: dict[Any, Tally] = {}
    if promise.targets:
        per_target = dict(query.breakdown(store, promise.id, bounds, "target"))
    for n, target in enumerate(promise.targets):
        when = (" and ".join(m.describe() for m in target.when.matches) if target.when
                else None)  # fmt: skip
        label = target.within.describe() + (f" ({when})" if when else "")
        fulfil = query.fulfilment(store, promise.id, bounds, target=n)
        targets.append({"number": n + 1, "label": label, "tally": per_target.get(n, Tally()),
                        "fulfil": fulfil})  # fmt: skip
    return {
        "promise": promise, "this": this, "weeks": weeks, "week_tallies": week_tallies,
        "budget": budget, "budget_left": budget_left,
        "fulfil": query.fulfilment(store, promise.id, bounds), "targets": targets,
        "by": {by: query.breakdown(store, promise.id, bounds, by) for by in BY},
        "breaches": query.breaches(store, [promise], bounds, as_of),
    }  # fmt: skip


def promise(request: Request) -> Response:
    found_promise = _ctx(request).config.promise(request.path_params["promise_id"])
    if found_promise is None:
        return render.error(request, 404, "not_found")
    asked = _asked(request)
    if isinstance(asked, Response):
        return asked
    ctx, as_of, period = asked
    found = _cached(ctx, ("promise", found_promise.id, period), as_of,
                    lambda: promise_figures(ctx, found_promise, as_of, period))  # fmt: skip
    params = request.query_params
    if params.get("format") == "csv":
        return _promise_csv(ctx, found, params.get("list") or "breaches", period)
    if params.get("format") == "json":
        return JSONResponse(_promise_json(found, as_of, period))
    tz = ctx.config.timezone
    return _figures_page(
        request, ("promise", found_promise.id, period), as_of, found_promise.title,
        "promise_main.html.j2", lambda: {**_common(ctx, as_of, period), **found,
                                         "listed": found["breaches"][:LISTED],
                                         "chart": _chart(found),
                                         "local": lambda us: render.local_time(us, tz)},
    )  # fmt: skip


def _word(request: Request, key: str) -> str:
    return str(WORDS[render.language(request)][key])


def _figures_page(
    request: Request, key: tuple[Any, ...], as_of: int, title: str, template: str,
    values: Any,
) -> Response:  # fmt: skip
    """A figures page: its content rendered once per figures instant and language (it is
    the same for every user), in the page frame of this request (its user, its token)."""
    lang = render.language(request)
    html = _cached(_ctx(request), ("html", lang, *key), as_of,
                   lambda: render.fragment(request, template, **values()))  # fmt: skip
    return render.page(request, "figures.html.j2", title=title, main=html)


def _common(ctx: Any, as_of: int, period: Period) -> dict[str, Any]:
    tz = ctx.config.timezone
    kinds = [(k, query.period_of(k, period.last) if k != "custom" else period)
             for k in ("week", "month", "quarter")]  # fmt: skip
    return {"as_of": render.local_time(as_of, tz), "period": period, "tz": tz.key,
            "previous": period.shift(-1), "next": period.shift(1), "kinds": kinds,
            "percent": _percent, "q": lambda p: p.query(), "quote": quote}  # fmt: skip


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _period_json(period: Period) -> dict[str, Any]:
    return {"kind": period.kind, "from": period.first.isoformat(),
            "to": period.last.isoformat(), "label": period.label}  # fmt: skip


def _promise_json(found: dict[str, Any], as_of: int, period: Period) -> dict[str, Any]:
    fulfil = found["fulfil"]
    return {
        "as_of": _iso(as_of), "period": _period_json(period),
        "promise": found["promise"].id, "compliance": _tally_json(found["this"]),
        "weeks": [{"week": w.label, **_tally_json(t)}
                  for w, t in zip(found["weeks"], found["week_tallies"], strict=True)],
        "budget_left": found["budget_left"],
        "fulfil": {"count": fulfil.count, "median_us": fulfil.median_us,
                   "p90_us": fulfil.p90_us},
        "targets": [{"number": t["number"], "label": t["label"], **_tally_json(t["tally"]),
                     "fulfil_median_us": t["fulfil"].median_us,
                     "fulfil_p90_us": t["fulfil"].p90_us} for t in found["targets"]],
        "by": {by: [{"key": key, **_tally_json(t)} for key, t in rows]
               for by, rows in found["by"].items()},
        "breaches": [{"subject_type": b.subject_type, "subject_id": b.subject_id,
                      "cycle": b.cycle, "started": _iso(b.started_us),
                      "overdue_us": b.overdue_us} for b in found["breaches"]],
    }  # fmt: skip


def _promise_csv(ctx: Any, found: dict[str, Any], which: str, period: Period) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    tz = ctx.config.timezone
    if which == "breaches":
        writer.writerow(["subject_type", "subject_id", "cycle", "started", "stopped",
                         "clock_seconds", "allowed_seconds", "overdue_seconds", "owner",
                         "channel", "account"])  # fmt: skip
        for b in found["breaches"]:
            writer.writerow([csv_cell(v) for v in (
                b.subject_type, b.subject_id, b.cycle, render.local_time(b.started_us, tz),
                render.local_time(b.stopped_us, tz), b.elapsed_us // 1_000_000,
                b.allowed_us // 1_000_000, b.overdue_us // 1_000_000, b.owner, b.channel,
                b.account)])  # fmt: skip
    elif which in BY:
        writer.writerow([which, "met", "breached", "open", "at_risk", "not_evaluated",
                         "compliance"])  # fmt: skip
        for key, t in found["by"][which]:
            writer.writerow([csv_cell(v) for v in (key, t.met, t.breached, t.open, t.at_risk,
                             t.not_evaluated, "" if t.compliance is None
                             else f"{t.compliance:.4f}")])  # fmt: skip
    else:
        return Response("list must be breaches, owner, channel or account", status_code=400)
    name = f"qmon-{found['promise'].id}-{which}-{period.first.isoformat()}"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100]
    disposition = f'attachment; filename="{safe}.csv"'
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})  # fmt: skip


def _chart(found: dict[str, Any]) -> dict[str, Any]:
    """The weekly compliance line as SVG coordinates (no script, no inline style)."""
    width, height, pad = 600, 160, 24
    tallies = found["week_tallies"]
    step = (width - 2 * pad) / max(1, len(tallies) - 1)

    def y(value: float) -> float:
        return round(height - pad - value * (height - 2 * pad), 1)

    points = [(round(pad + k * step, 1), y(t.compliance), t.compliance)
              for k, t in enumerate(tallies) if t.compliance is not None]  # fmt: skip
    objective = found["promise"].objective
    return {"width": width, "height": height, "pad": pad, "points": points,
            "line": " ".join(f"{x},{yy}" for x, yy, _ in points),
            "objective_y": None if objective is None else y(objective),
            "labels": [(round(pad + k * step, 1), w.label[-3:])
                       for k, w in enumerate(found["weeks"])]}  # fmt: skip


def _iso(us: int | None) -> str | None:
    return None if us is None else from_us(us).isoformat().replace("+00:00", "Z")
