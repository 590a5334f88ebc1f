"""Progress rollups: mandate, action line, measure, burn-up series, and mandates compared.

Every answer carries a weak ETag built on the mandate's data version; a request that sends
it back in If-None-Match gets 304 without the rollup being computed again.

These routes are the dashboards' polling path, so they are written to cost little when
nothing has changed. A request identical to one answered before is answered by
:class:`AnswerAgain`, before routing: the mandates' versions as the database has them now
(app.version_watch), then the 304 or the cached body. Otherwise the route parses the
request, and only a cache miss opens a session to compute the answer (docs/performance.md).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.deps import (
    CommitBeforeResponse,
    IfNoneMatch,
    admit,
    api_router,
    current_token,
    reach_of,
)
from app.api.responses import NOT_MODIFIED
from app.conditional import none_match, not_modified, validators, view_tag
from app.db import reading, unit_of_work
from app.errors import FieldError, InvalidInput, NotFound, database_trouble
from app.models import Mandate, Role, Status
from app.models.types import utcnow
from app.schemas.api import (
    ActionLineProgressOut,
    CompareOut,
    MandateProgress,
    MeasureProgressOut,
    SeriesOut,
)
from app.schemas.text import CleanText
from app.services.access import scopes
from app.services.access.tokens import Caller
from app.services.indicators.attainment import Thresholds
from app.services.lookup import get_mandate
from app.services.periods import END_OF_DAY, Interval, interval_ends, parse_instant
from app.services.plan.deliverables import DeliverableFilter
from app.services.rollups import progress as service
from app.services.versioning import AnswerCache, CachedAnswer, MandateVersion

NOW = "\x1fplanpulse-now\x1f"
"""Stands for the answer's "as_of" when it is the time of the request: spliced in as served."""


async def reader(request: Request) -> Caller | None:
    """The Reader rule (app.api.deps) without a thread or a session when there is no token
    to look up."""
    settings = request.app.state.settings
    if "authorization" not in request.headers and settings.public_read:
        return None
    return await run_in_threadpool(_authenticated_reader, request)


reader.required_role = Role.viewer  # type: ignore[attr-defined]  # read by the access tests


def _authenticated_reader(request: Request) -> Caller | None:
    with unit_of_work(reading(request.app.state.engine)) as session:
        token = current_token(request, session)
    admit(request, token, Role.viewer)
    return token


Reader = Annotated[Caller | None, Depends(reader)]


@dataclass
class ProgressParams:
    """The query parameters every progress endpoint takes, parsed."""

    as_of: datetime | None = None
    known_at: datetime | None = None
    explain: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds)
    filters: dict[str, Any] = field(default_factory=dict)

    def query(self, mandate: Mandate) -> service.ProgressQuery:
        return service.ProgressQuery(
            where=DeliverableFilter(mandate_id=mandate.id or 0, **self.filters),
            as_of=self.as_of, known_at=self.known_at, explain=self.explain,
            thresholds=self.thresholds)


async def progress_params(
    request: Request,
    as_of: Annotated[str | None, Query(
        description="A date (end of that day, UTC) or an ISO 8601 time: the figures as "
        "they stood then, rebuilt from the status history.",
        examples=["2020-12-31"])] = None,
    known_at: Annotated[str | None, Query(
        description="Only history recorded by then: reproduces an old report exactly, "
        "whatever was corrected later.")] = None,
    explain: Annotated[bool, Query(
        description="Add the formula, policy, weights and the deliverables counted or "
        "left out to every node.")] = False,
    status: Annotated[list[Status] | None, Query()] = None,
    action_line: Annotated[CleanText | None, Query()] = None,
    measure: Annotated[CleanText | None, Query()] = None,
    tag: Annotated[CleanText | None, Query(examples=["gender"])] = None,
    owner: Annotated[CleanText | None, Query()] = None,
    q: Annotated[CleanText | None, Query(max_length=200)] = None,
) -> ProgressParams:
    return ProgressParams(
        as_of=parse_instant(as_of, field="as_of") if as_of else None,
        known_at=parse_instant(known_at, field="known_at") if known_at else None,
        explain=explain,
        thresholds=request.app.state.settings.thresholds,
        filters={"statuses": tuple(status or ()), "action_line": action_line,
                 "measure": measure, "tag": tag, "owner": owner, "q": q})


ParamsDep = Annotated[ProgressParams, Depends(progress_params)]


def _utc_text(moment: datetime) -> str:
    """UTC times as in the contract: 2020-12-31T23:59:59Z (an end of day loses its
    999999 microseconds in the text, not in the query)."""
    if moment.microsecond == END_OF_DAY.microsecond:
        moment = moment.replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _cache(request: Request) -> AnswerCache:
    return _cache_of(request.app)


def _cache_of(app: Any) -> AnswerCache:
    cache: AnswerCache | None = getattr(app.state, "answer_cache", None)
    if cache is None:
        settings = app.state.settings
        cache = app.state.answer_cache = AnswerCache(
            max_entries=settings.rollup_cache_entries,
            max_bytes=settings.rollup_cache_mb * 1024 * 1024)
    return cache


Build = Callable[[Session, list[Mandate]], BaseModel]
"""What computes an answer: its response model (typed), dumped as sent."""


async def _answer(request: Request, codes: list[str], params: ProgressParams,
                  if_none_match: str | None, build: Build,
                  resolve: Callable[[MandateVersion], tuple[str, ...]] = lambda _m: ()
                  ) -> Response:
    """304 when the client's ETag is current; else the answer for the current data
    versions, from the cache or computed once.

    The ETag covers the data versions, the query string and what ``resolve`` names:
    whatever the answer depends on beyond them (a default end date that moves with today,
    say)."""
    versions = await request.app.state.version_watch.versions(codes)
    etag = _etag(request, versions, resolve(versions[0]))
    if none_match(if_none_match, etag):
        return not_modified(etag)
    cache = _cache(request)
    answer = cache.get(_request_key(request))
    if answer is None or answer.versions != tuple(versions):
        answer = await run_in_threadpool(_compute, request, codes, params, build, resolve)
        cache.put(_request_key(request), answer)
    return _serve(answer)


def _request_key(request: Request) -> tuple[str, bytes, date]:
    """What names a request's answer, with the versions it was computed from: the path,
    the query string as sent, and the day (a default end date moves with today). Read
    from the ASGI scope: building ``request.url`` costs more than the rest of a 304."""
    return request.scope["path"], request.scope["query_string"], date.today()


def _serve(answer: CachedAnswer) -> Response:
    now = json.dumps(_utc_text(utcnow())).encode()
    return Response(answer.body(now), media_type="application/json",
                    headers=validators(answer.etag))


def _json_value(value: object) -> str:
    """The one type a dumped progress model holds that ``json.dumps`` cannot write: its
    times, in the contract's text. The rest is written in C, where FastAPI's
    ``jsonable_encoder`` walked every node in Python (10 times slower for the 100k plan)."""
    if isinstance(value, datetime):
        return _utc_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _etag(request: Request, versions: list[MandateVersion], resolved: tuple[str, ...]) -> str:
    first = versions[0]
    return view_tag(request, first.id, first.data_version, *resolved,
                    *(f"{v.id}.{v.data_version}" for v in versions[1:]))


def _compute(request: Request, codes: list[str], params: ProgressParams, build: Build,
             resolve: Callable[[MandateVersion], tuple[str, ...]]) -> CachedAnswer:
    """Compute the answer in one read transaction, and name it by the versions that
    transaction saw (the client gets the ETag of what it is sent)."""
    with unit_of_work(reading(request.app.state.engine)) as session:
        mandates = [get_mandate(session, code=code) for code in codes]
        body = build(session, mandates).model_dump(exclude_unset=True)
    versions = [MandateVersion(m.id or 0, m.code, m.data_version, m.created_at, m.start_date,
                               m.end_date) for m in mandates]
    if params.as_of is None:
        body["as_of"] = NOW
    text = json.dumps(body, default=_json_value, ensure_ascii=False, allow_nan=False,
                      indent=None, separators=(",", ":"))
    head, found, tail = text.encode().partition(json.dumps(NOW).encode())
    return CachedAnswer(_etag(request, versions, resolve(versions[0])), tuple(versions), head,
                        tail if found else None)


async def _answer_again(scope: Scope) -> Response | None:
    """The answer to a request identical to one answered before, when it needs no token
    and its mandates are still at the versions that answer was computed from: its 304 or
    its body, without routing or parsing the request again (it was routed, parsed and
    validated when first answered). None otherwise: the app answers."""
    app = scope["app"]
    if scope["method"] != "GET" or not app.state.settings.public_read:
        return None
    if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return None
        if name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    answer = _cache_of(app).get((scope["path"], scope["query_string"], date.today()))
    if answer is None:
        return None
    try:
        versions = await app.state.version_watch.versions(answer.codes)
    except Exception as error:
        if isinstance(error, NotFound) or database_trouble(error) is not None:
            return None  # the app answers: its 404, or its 503 if the database is still away
        raise
    if tuple(versions) != answer.versions:
        return None
    if none_match(if_none_match, answer.etag):
        return not_modified(answer.etag)
    return _serve(answer)


class AnswerAgain:
    """ASGI middleware, outside routing (only CORS wraps it): the dashboards' polling (a
    progress GET asked before, nothing changed since) is answered before routing, so that
    it costs little more than the version read (docs/performance.md)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            response = await _answer_again(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


router = api_router(prefix="/api/v1", tags=["progress"], route_class=CommitBeforeResponse)


@router.get("/mandates/{mandate}/progress", response_model=MandateProgress,
            responses=NOT_MODIFIED)
async def get_mandate_progress(mandate: str, _reader: Reader, params: ParamsDep, request: Request,
                               if_none_match: IfNoneMatch = None) -> Response:
    """Counts, completion rate and weighted progress of the mandate, per action line and
    measure, and per tag (formulas in docs/rollups.md)."""
    return await _answer(request, [mandate], params, if_none_match,
                         lambda session, found: service.mandate_progress(
                             session, mandate=found[0], query=params.query(found[0])))


@router.get("/mandates/{mandate}/action-lines/{code}/progress",
            response_model=ActionLineProgressOut, responses=NOT_MODIFIED)
async def get_action_line_progress(mandate: str, code: str, _reader: Reader, params: ParamsDep,
                                   request: Request, if_none_match: IfNoneMatch = None
                                   ) -> Response:
    """One action line's figures and its measures'."""
    return await _answer(request, [mandate], params, if_none_match,
                         lambda session, found: service.action_line_progress(
                             session, mandate=found[0], code=code,
                             query=params.query(found[0])))


@router.get("/mandates/{mandate}/measures/{code}/progress",
            response_model=MeasureProgressOut, responses=NOT_MODIFIED)
async def get_measure_progress(mandate: str, code: str, _reader: Reader, params: ParamsDep,
                               request: Request, if_none_match: IfNoneMatch = None) -> Response:
    """One measure's figures."""
    return await _answer(request, [mandate], params, if_none_match,
                         lambda session, found: service.measure_progress(
                             session, mandate=found[0], code=code,
                             query=params.query(found[0])))


@router.get("/mandates/{mandate}/progress/series", response_model=SeriesOut,
            responses=NOT_MODIFIED)
async def get_progress_series(
    mandate: str, _reader: Reader, params: ParamsDep, request: Request,
    start: Annotated[date | None, Query(alias="from", description="Default: the mandate's "
                                        "start.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Default: the mandate's end, "
                                      "or today if sooner.")] = None,
    interval: Annotated[Interval, Query()] = Interval.month,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Burn-up chart points: totals at the end of each month, quarter or year."""

    def span(version: MandateVersion) -> tuple[date, date]:
        return start or version.start_date, end or min(version.end_date, date.today())

    def build(session: Session, found: list[Mandate]) -> SeriesOut:
        first, last = span(MandateVersion(found[0].id or 0, found[0].code, 0,
                                          found[0].created_at, found[0].start_date,
                                          found[0].end_date))
        return service.series(session, mandate=found[0],
                              points=interval_ends(first, last, interval),
                              query=params.query(found[0]))

    def resolve(version: MandateVersion) -> tuple[str, ...]:
        first, last = span(version)
        return (f"{first}..{last}",)

    return await _answer(request, [mandate], params, if_none_match, build, resolve)


def _codes(codes: str) -> list[str]:
    wanted = [code.strip() for code in codes.split(",") if code.strip()]
    if not wanted:
        raise InvalidInput([FieldError("mandates", "name at least one mandate")])
    return list(dict.fromkeys(wanted))


@router.get("/progress", response_model=CompareOut, responses=NOT_MODIFIED)
async def compare_mandates(
    _reader: Reader, params: ParamsDep, request: Request,
    mandates: Annotated[CleanText, Query(description="Codes, comma-separated.",
                                         examples=["2018-2020,2021-2023"])],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Several mandates' totals and action lines side by side."""
    codes = _codes(mandates)
    scopes.require_visible(reach_of(_reader), codes,
                           public_read=request.app.state.settings.public_read)
    return await _answer(request, codes, params, if_none_match,
                         lambda session, found: service.compare(
                             session, mandates=found, query=params.query(found[0])))
