"""Progress rollups: mandate, action line, measure, burn-up series, and mandates compared.

Every answer carries a weak ETag built on the mandate's data version; a request that sends
it back in If-None-Match gets 304 without the rollup being computed again.
"""

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.api.deps import MandateDep, Reader, SessionDep, SettingsDep, api_router
from app.errors import FieldError, InvalidInput
from app.models import Mandate, Status
from app.schemas.api import (
    ActionLineProgressOut,
    CompareOut,
    MandateProgress,
    MeasureProgressOut,
    SeriesOut,
)
from app.schemas.text import CleanText
from app.services import progress as service
from app.services.attainment import Thresholds
from app.services.deliverables import DeliverableFilter
from app.services.lookup import get_mandate
from app.services.periods import END_OF_DAY, Interval, interval_ends, parse_instant
from app.services.versioning import entity_tag, matches

router = api_router(prefix="/api/v1", tags=["progress"])

CACHE_CONTROL = "no-cache"  # store, but ask again each time: a 304 costs almost nothing
NOT_MODIFIED = {304: {"description": "Not modified since the ETag sent in If-None-Match"}}
IfNoneMatch = Annotated[str | None, Header(description="An ETag from an earlier answer.")]


class ProgressParams:
    """The query parameters every progress endpoint takes."""

    def __init__(
        self,
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
    ) -> None:
        self.as_of = parse_instant(as_of, field="as_of") if as_of else None
        self.known_at = parse_instant(known_at, field="known_at") if known_at else None
        self.explain = explain
        self.thresholds = Thresholds()
        self.filters = {"statuses": tuple(status or ()), "action_line": action_line,
                        "measure": measure, "tag": tag, "owner": owner, "q": q}

    def query(self, mandate: Mandate) -> service.ProgressQuery:
        return service.ProgressQuery(
            where=DeliverableFilter(mandate_id=mandate.id or 0, **self.filters),
            as_of=self.as_of, known_at=self.known_at, explain=self.explain,
            thresholds=self.thresholds)


def progress_params(params: Annotated[ProgressParams, Depends()], settings: SettingsDep
                    ) -> ProgressParams:
    params.thresholds = Thresholds(on_track=settings.attainment_on_track,
                                   at_risk=settings.attainment_at_risk)
    return params


ParamsDep = Annotated[ProgressParams, Depends(progress_params)]


def _utc_text(moment: datetime) -> str:
    """UTC times as in the contract: 2020-12-31T23:59:59Z (an end of day loses its
    999999 microseconds in the text, not in the query)."""
    if moment.microsecond == END_OF_DAY.microsecond:
        moment = moment.replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _cached(request: Request, mandates: list[Mandate], if_none_match: str | None,
            build: Any, *resolved: str) -> Response:
    """Answer 304 when the client's ETag is current, else build the answer.

    The ETag covers the data versions, the query string and ``resolved``: whatever the
    answer depends on beyond them (a default end date that moves with today, say)."""
    etag = entity_tag(mandates[0], request.url.path, str(request.url.query), *resolved,
                      *(f"{m.id}.{m.data_version}" for m in mandates[1:]))
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    body = jsonable_encoder(build(), custom_encoder={datetime: _utc_text})
    return JSONResponse(body, headers=headers)


@router.get("/mandates/{mandate}/progress", response_model=MandateProgress,
            responses=NOT_MODIFIED)
def mandate_progress(mandate: MandateDep, session: SessionDep, _reader: Reader,
                     params: ParamsDep, request: Request,
                     if_none_match: IfNoneMatch = None) -> Response:
    """Counts, completion rate and weighted progress of the mandate, per action line and
    measure, and per tag (formulas in docs/rollups.md)."""
    return _cached(request, [mandate], if_none_match, lambda: service.mandate_progress(
        session, mandate=mandate, query=params.query(mandate)))


@router.get("/mandates/{mandate}/action-lines/{code}/progress",
            response_model=ActionLineProgressOut, responses=NOT_MODIFIED)
def action_line_progress(mandate: MandateDep, code: str, session: SessionDep,
                         _reader: Reader, params: ParamsDep, request: Request,
                         if_none_match: IfNoneMatch = None) -> Response:
    """One action line's figures and its measures'."""
    return _cached(request, [mandate], if_none_match, lambda: service.action_line_progress(
        session, mandate=mandate, code=code, query=params.query(mandate)))


@router.get("/mandates/{mandate}/measures/{code}/progress",
            response_model=MeasureProgressOut, responses=NOT_MODIFIED)
def measure_progress(mandate: MandateDep, code: str, session: SessionDep, _reader: Reader,
                     params: ParamsDep, request: Request,
                     if_none_match: IfNoneMatch = None) -> Response:
    """One measure's figures."""
    return _cached(request, [mandate], if_none_match, lambda: service.measure_progress(
        session, mandate=mandate, code=code, query=params.query(mandate)))


@router.get("/mandates/{mandate}/progress/series", response_model=SeriesOut,
            responses=NOT_MODIFIED)
def progress_series(
    mandate: MandateDep, session: SessionDep, _reader: Reader, params: ParamsDep,
    request: Request,
    start: Annotated[date | None, Query(alias="from", description="Default: the mandate's "
                                        "start.")] = None,
    end: Annotated[date | None, Query(alias="to", description="Default: the mandate's end, "
                                      "or today if sooner.")] = None,
    interval: Annotated[Interval, Query()] = Interval.month,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Burn-up chart points: totals at the end of each month, quarter or year."""
    first = start or mandate.start_date
    last = end or min(mandate.end_date, date.today())
    points = interval_ends(first, last, interval)
    return _cached(request, [mandate], if_none_match, lambda: service.series(
        session, mandate=mandate, points=points, query=params.query(mandate)),
        f"{first}..{last}")


def _mandates(session: Session, codes: str) -> list[Mandate]:
    wanted = [code.strip() for code in codes.split(",") if code.strip()]
    if not wanted:
        raise InvalidInput([FieldError("mandates", "name at least one mandate")])
    return [get_mandate(session, code=code) for code in dict.fromkeys(wanted)]


@router.get("/progress", response_model=CompareOut, responses=NOT_MODIFIED)
def compare_mandates(
    session: SessionDep, _reader: Reader, params: ParamsDep, request: Request,
    mandates: Annotated[CleanText, Query(description="Codes, comma-separated.",
                                   examples=["2018-2020,2021-2023"])],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Several mandates' totals and action lines side by side."""
    chosen = _mandates(session, mandates)
    return _cached(request, chosen, if_none_match, lambda: service.compare(
        session, mandates=chosen, query=params.query(chosen[0])))
