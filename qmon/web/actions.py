"""The Actions page: the Quality Manager's log of improvement actions and the CRM's tasks.

What `qmon actions list` and `qmon actions tasks` show, on one page, each list downloadable
as CSV (`?format=csv`, `?format=csv&list=tasks`), and a form that logs an action as `qmon
actions add` does (`qmon.reports.actions.add`). The form is checked as the command checks
its arguments; every problem is shown beside its field in the reader's language and nothing
is stored until all are right. A logged action redirects (303) back to the page, so a
reload does not log it twice.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qmon.reports.actions import EFFECT_WEEKS, KINDS, Action, add, list_actions, out_of_range
from qmon.textsafe import ascii_digits, csv_cell, stored_text_problem
from qmon.timeutil import day_problem, from_us, now_us
from qmon.web import render
from qmon.web.sessions import csrf_ok
from qmon.writeback.report import TaskRow, task_rows

log = logging.getLogger("qmon.web.actions")

#: Longer than this a description is not "what was done, in a sentence".
MAX_DESCRIPTION = 1000

ACTION_COLUMNS = ("id", "promise", "kind", "description", "date", "compliance_before",
                  "compliance_after")  # fmt: skip
TASK_COLUMNS = ("promise", "subject_type", "subject_id", "source", "created", "owner", "task_id",
                "completed", "last_error")  # fmt: skip


@dataclass
class Form:
    """What the form holds: as submitted (to show again), and what is wrong, per field."""

    promise: str = ""
    kind: str = ""
    description: str = ""
    day: str = ""
    problems: dict[str, str] = field(default_factory=dict)


def _ctx(request: Request) -> Any:
    return request.app.state.qmon


def _today(request: Request) -> date:
    return datetime.now(_ctx(request).config.timezone).date()


def _tasks(ctx: Any) -> list[TaskRow]:
    kinds = {name: source.kind for name, source in ctx.config.sources.items()}
    return task_rows(ctx.store, kinds)


def actions_page(request: Request) -> Response:
    """GET /actions: the log with each corrective action's effect, the form, the tasks."""
    ctx = _ctx(request)
    if request.query_params.get("format") == "csv":
        if request.query_params.get("list") == "tasks":
            return _csv("qmon-tasks", TASK_COLUMNS, _task_rows(_tasks(ctx), ctx))
        return _csv("qmon-actions", ACTION_COLUMNS,
                    _action_rows(list_actions(ctx.config, ctx.store, now_us())))  # fmt: skip
    logged = request.query_params.get("logged", "")
    form = Form(day=_today(request).isoformat())
    return _page(request, form, logged=int(logged) if ascii_digits(logged) else None)


def _page(request: Request, form: Form, *, status: int = 200, logged: int | None = None
          ) -> Response:  # fmt: skip
    ctx = _ctx(request)
    config = ctx.config
    lang = render.language(request)
    tz = config.timezone
    return render.page(
        request, "actions.html.j2", status=status, form=form, kinds=KINDS,
        promises=config.promises, actions=list_actions(config, ctx.store, now_us()),
        skipped=out_of_range(ctx.store), tasks=_tasks(ctx), logged=logged,
        weeks=EFFECT_WEEKS, tz=tz.key, max_description=MAX_DESCRIPTION,
        share=lambda value: _percent(value, lang),
        local=lambda us: render.local_time(us, tz),
    )  # fmt: skip


async def log_action(request: Request) -> Response:
    """POST /actions: log one action, or show the page again with what is wrong."""
    async with request.form(max_files=0, max_fields=10, max_part_size=16 * 1024) as data:
        fields = {k: data.get(k) for k in ("csrf_token", "promise", "kind", "description", "date")}
    if not csrf_ok(request.session, fields["csrf_token"]):
        return render.error(request, 403, "csrf")
    ctx = _ctx(request)

    def text(name: str) -> str:
        value = fields[name]
        return value.strip() if isinstance(value, str) else ""

    form = Form(text("promise"), text("kind"), text("description"), text("date"))
    when = _check(form, [p.id for p in ctx.config.promises])
    if form.problems:
        return await run_in_threadpool(_page, request, form, status=400)
    assert when is not None
    number = await run_in_threadpool(
        add, ctx.store, form.promise, form.kind, form.description, when, now_us()
    )
    user = request.scope.get("user")
    log.info("action %d logged by %s: %s on %s from %s", number, user.name if user else "-",
             form.kind, form.promise, when)  # fmt: skip
    return RedirectResponse(f"/actions?logged={number}", status_code=303)


def _check(form: Form, promise_ids: list[str]) -> date | None:
    """The action's day if the form is right; each problem is put in `form.problems` by
    field as a key of the words (`qmon.web.words`), with its values."""
    problems = form.problems
    if form.promise not in promise_ids:
        problems["promise"] = "action_no_promise"
    if form.kind not in KINDS:
        problems["kind"] = "action_no_kind"
    if not form.description:
        problems["description"] = "action_no_description"
    elif len(form.description) > MAX_DESCRIPTION:
        problems["description"] = "action_too_long"
    elif stored_text_problem(form.description):
        problems["description"] = "action_bad_text"
    when = None
    try:
        when = date.fromisoformat(form.day)
    except ValueError:
        problems["date"] = "action_no_date"
    else:
        if day_problem(when):
            problems["date"] = "action_date_range"
    return None if problems else when


def _percent(value: float | None, language: str) -> str:
    if value is None:
        return "–"
    shown = f"{value * 100:.1f}"
    return f"{shown.replace('.', ',')}%" if language == "nl" else f"{shown}%"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _action_rows(actions: list[Action]) -> list[list[Any]]:
    """The actions as `qmon actions list --format json` gives them, one row each."""
    return [[a.id, a.promise_id, a.kind, a.description, a.day.isoformat(), _round(a.before),
             _round(a.after)] for a in actions]  # fmt: skip


def _task_rows(rows: list[TaskRow], ctx: Any) -> list[list[Any]]:
    """The tasks as `qmon actions tasks --format json` gives them, one row each."""
    tz = ctx.config.timezone

    def when(us: int | None) -> str | None:
        return None if us is None else from_us(us).astimezone(tz).isoformat()

    return [[r.promise_id, r.subject_type, r.subject_id, r.source, when(r.created_us), r.owner,
             r.task_id, when(r.completed_us), r.last_error] for r in rows]  # fmt: skip


def _csv(name: str, columns: tuple[str, ...], rows: list[list[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
