"""Pages from the Jinja2 templates in qmon/web/templates, in the request's language.

Every template is autoescaped: CRM values (subject ids, owners, titles, links) are data and
never markup. A record link is shown as a link only if `safe_link` lets it (http or https).
Errors under `/api/` are JSON (`{"error": "..."}`); elsewhere they are a page.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from qmon.promises.duration import format_duration
from qmon.textsafe import safe_link
from qmon.timeutil import from_us
from qmon.web import paths
from qmon.web.sessions import csrf_token
from qmon.web.words import WORDS, choose_language

_ENV = Environment(
    loader=PackageLoader("qmon.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # the templates are the package's: no stat() of the file per page
)
_ENV.globals.update(
    record_path=paths.record_path,
    instance_path=paths.instance_path,
    duration=format_duration,
    safe_link=safe_link,
)

#: The navigation, in order: (path, word).
NAV = (("/journey", "journey"), ("/promises", "promises"), ("/actions", "actions"),
       ("/health", "health"))  # fmt: skip


def language(request: Request) -> str:
    default = request.app.state.qmon.settings.language
    return choose_language(request.headers.get("accept-language"), default)


def local_time(us: int | None, tz: ZoneInfo) -> str:
    """An instant as the dashboard shows it: `2026-11-20 09:00:00 CET`."""
    if us is None:
        return ""
    return from_us(us).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def page(
    request: Request, template: str, *, status: int = 200, headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:  # fmt: skip
    """A template rendered for this request: its language, its user, its CSRF token."""
    lang = language(request)
    words = WORDS[lang]

    def t(key: str, **fields: Any) -> str:
        text = words[key]
        return text.format(**fields) if fields else text

    user = request.scope.get("user")
    html = _ENV.get_template(template).render(
        lang=lang,
        t=t,
        user=user,
        nav=NAV,
        here=request.url.path,
        csrf_token=lambda: csrf_token(request.session),
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def fragment(request: Request, template: str, **values: Any) -> Markup:
    """A template's HTML in this request's language, to be put into a page (`page`) as
    is: for content that is the same for every user, and so may be cached."""
    lang = language(request)
    words = WORDS[lang]

    def t(key: str, **fields: Any) -> str:
        text = words[key]
        return text.format(**fields) if fields else text

    return Markup(_ENV.get_template(template).render(lang=lang, t=t, **values))


def error(
    request: Request, status: int, key: str, *, headers: dict[str, str] | None = None,
    **fields: Any,
) -> Response:  # fmt: skip
    """An error answer: JSON for the API, a page elsewhere; the words by `key`."""
    if request.url.path.startswith("/api/"):
        return JSONResponse(
            {"error": WORDS["en"][key].format(**fields)}, status_code=status, headers=headers
        )
    return page(
        request, "error.html.j2", status=status, headers=headers, code=status,
        message=WORDS[language(request)][key].format(**fields),
    )  # fmt: skip
