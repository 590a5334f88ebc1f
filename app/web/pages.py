"""The HTML pages: the dashboard of a mandate and its deliverables.

Reads, like the API's: anyone while ``PLANPULSE_PUBLIC_READ`` is true, else a viewer token
(``Authorization: Bearer``). A browser asking for HTML gets its errors as an HTML page;
any other client gets problem+json, as from the API.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from app.api import responses
from app.api.deps import (
    CommitBeforeResponse,
    Reader,
    SessionDep,
    SettingsDep,
    api_router,
    reach_of,
)
from app.errors import PROBLEM_JSON
from app.models import Mandate
from app.models.types import utcnow
from app.schemas.text import CleanText
from app.services.access import scopes
from app.services.access.tokens import Caller
from app.services.lookup import get_mandate
from app.settings import Settings
from app.web import records, views
from app.web.templating import templates

JSON_TYPES = ("application/json", PROBLEM_JSON)


def _quality(request: Request) -> dict[str, float]:
    """Each media type the Accept header names, with its q."""
    named: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if media:
            named[media.lower()] = max(weight, named.get(media.lower(), 0.0))
    return named


def wants_html(request: Request) -> bool:
    """A browser (text/html named, and no JSON type preferred to it); any other client
    gets problem+json, as from the API."""
    named = _quality(request)
    html = named.get("text/html", 0.0)
    return html > 0 and html >= max(named.get(media, 0.0) for media in JSON_TYPES)


class PageRoute(CommitBeforeResponse):
    """A page's route: every error it answers (from the page, its dependencies or the
    framework) is an HTML page for browsers (app.errors.ERROR_PAGE)."""

    @staticmethod
    def error_page(request: Request, problem: Response) -> Response:
        if not wants_html(request) or problem.media_type != PROBLEM_JSON:
            return problem
        body = json.loads(bytes(problem.body))
        lines = [f"{error['path']}: {error['message']}" if error["path"] else error["message"]
                 for error in body.get("errors", [])]
        page = templates.TemplateResponse(
            request, "error.html", {"error": body, "lines": lines},
            status_code=problem.status_code, headers={"Cache-Control": "no-store"})
        for name in ("WWW-Authenticate", "Retry-After", "Allow", "Connection"):
            if name in problem.headers:
                page.headers[name] = problem.headers[name]
        return page


router = api_router(tags=["pages"], route_class=PageRoute)

ERROR_CONTENT = {"text/html": {"schema": {"type": "string"}},
                 PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
PAGE = {"response_class": HTMLResponse,
        "responses": {200: {"content": {"text/html": {}}, "description": "An HTML page"},
                      **{code: {"description": answer["description"] + "; an HTML page, or "
                                "problem+json when the client asks for JSON",
                                "content": ERROR_CONTENT}
                         for code, answer in responses.COMMON.items()}}}
Text = Annotated[CleanText | None, Query(max_length=views.TEXT_LIMIT)]


class PageParams:
    """The filters of every page; an empty field means "any", as a form sends it."""

    def __init__(
        self,
        status: Annotated[list[CleanText] | None, Query(
            description="Any of these statuses.", examples=[["not_achieved"]])] = None,
        tag: Text = None,
        owner: Text = None,
        as_of: Annotated[CleanText | None, Query(
            max_length=40, description="A date: the statuses as they stood at the end of "
            "that day (UTC).", examples=["2020-12-31"])] = None,
    ) -> None:
        self.fields: dict[str, Any] = {"status": status or [], "tag": tag, "owner": owner,
                                       "as_of": as_of}


def _page(request: Request, build: Callable[[], tuple[str, dict[str, Any]]]) -> Response:
    """Render the page ``build`` names; its errors are answered by :class:`PageRoute`."""
    name, context = build()
    return templates.TemplateResponse(request, name, context,
                                      headers={"Cache-Control": "no-cache"})


@router.get("/", **PAGE)
def show_home(request: Request, session: SessionDep, settings: SettingsDep, reader: Reader,
              params: Annotated[PageParams, Depends()]) -> Response:
    """The dashboard of the newest mandate (the bundled plan, out of the box)."""
    return _dashboard(request, session, settings, params, None, reader)


@router.get("/mandates/{mandate}", **PAGE)
def show_mandate_dashboard(mandate: str, request: Request, session: SessionDep,
                           settings: SettingsDep, reader: Reader,
                           params: Annotated[PageParams, Depends()]) -> Response:
    """A mandate's dashboard: progress, burn-up chart, action lines, indicators, activity."""
    return _dashboard(request, session, settings, params, mandate, reader)


def _visible(mandates: list[Mandate], reader: Caller | None, settings: Settings
             ) -> list[Mandate]:
    """The mandates the reader may see (the mandate switcher leaves out the others)."""
    only = scopes.visible_mandates(reach_of(reader), public_read=settings.public_read)
    return mandates if only is None else [item for item in mandates if item.code in only]


def _dashboard(request: Request, session: Session, settings: Settings, params: PageParams,
               code: str | None, reader: Caller | None) -> Response:
    """The dashboard of the mandate ``code``, or of the newest one the reader may see."""

    def visible(mandates: list[Mandate]) -> list[Mandate]:
        return _visible(mandates, reader, settings)

    def build() -> tuple[str, dict[str, Any]]:
        filters = views.PageFilters.parse(**params.fields)
        if code is None:
            mandates = visible(views.default_mandate(session)[1])
            if not mandates:
                return "empty.html", {"mandates": mandates}
            mandate = mandates[0]
        else:
            mandate = get_mandate(session, code=code)
        context = views.dashboard(session, mandate=mandate, filters=filters,
                                  thresholds=settings.thresholds, now=utcnow())
        return "dashboard.html", {**context, "mandates": visible(context["mandates"])}

    return _page(request, build)


@router.get("/mandates/{mandate}/deliverables", **PAGE)
def show_deliverables(mandate: str, request: Request, session: SessionDep,
                      settings: SettingsDep, reader: Reader,
                      params: Annotated[PageParams, Depends()],
                      action_line: Text = None, measure: Text = None,
                      q: Annotated[CleanText | None, Query(
                          max_length=views.TEXT_LIMIT,
                          description="Words in the code or title.")] = None) -> Response:
    """A mandate's deliverables (of an action line or measure), with status, owner, due
    date and last change."""

    def build() -> tuple[str, dict[str, Any]]:
        filters = views.PageFilters.parse(**params.fields, action_line=action_line,
                                          measure=measure, q=q)
        found = get_mandate(session, code=mandate)
        context = views.deliverables_page(session, mandate=found, filters=filters,
                                          thresholds=settings.thresholds)
        return "deliverables.html", {**context,
                                     "mandates": _visible(context["mandates"], reader, settings)}

    return _page(request, build)


# The records: members, a member, the calendar ----------------------------------------------

Period = Annotated[CleanText | None, Query(max_length=40, description="A period with a roll; "
                                           "the newest by default.", examples=["2020"])]


@router.get("/members", **PAGE)
def show_members(request: Request, session: SessionDep, _reader: Reader,
                 period: Period = None,
                 sheet: Annotated[CleanText | None, Query(
                     max_length=40, description="engagement (table 4.1), website (4.2) or "
                     "annex.", examples=["website"])] = None,
                 q: Annotated[CleanText | None, Query(
                     max_length=views.TEXT_LIMIT, description="Words in the name.")] = None,
                 kind: Annotated[CleanText | None, Query(
                     max_length=40, description="An engagement kind to highlight.")] = None,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    """The members of a period with their engagement, as the report's tables print it."""
    return _page(request, lambda: ("members.html", records.members_page(
        session, records.MembersQuery(period=period or None, sheet=sheet or None,
                                      q=(q or "").strip() or None, kind=kind or None,
                                      offset=offset))))


@router.get("/members/{code}", **PAGE)
def show_member(code: str, request: Request, session: SessionDep,
                _reader: Reader) -> Response:
    """A member: its engagement over the periods and its activities."""
    return _page(request, lambda: ("member.html", records.member_page(session, code)))


@router.get("/events", **PAGE)
def show_events(request: Request, session: SessionDep, _reader: Reader,
                kind: Annotated[CleanText | None, Query(
                    max_length=40, description="An activity kind; event unless told, "
                    "empty for any.", examples=["statement"])] = records.DEFAULT_KIND,
                mode: Annotated[CleanText | None, Query(
                    max_length=40, description="online, in_person or hybrid.")] = None,
                action_line: Text = None,
                month: Annotated[CleanText | None, Query(
                    max_length=40, description="YYYY-MM: those starting that month.",
                    examples=["2020-03"])] = None,
                member: Text = None) -> Response:
    """The calendar of activities by month, with the counts by mode."""
    return _page(request, lambda: ("events.html", records.events_page(
        session, records.EventsQuery(kind=kind or "", mode=mode or None,
                                     action_line=action_line or None, month=month or None,
                                     member=member or None))))
