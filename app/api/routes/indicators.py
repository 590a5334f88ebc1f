"""Indicators: where each stands against its target; definitions (admin); values (editor)."""


from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.api import responses
from app.api.deps import (
    Admin,
    Editor,
    IfMatch,
    IfNoneMatch,
    MandateDep,
    Reader,
    SessionDep,
    SettingsDep,
    WholePagingDep,
    api_router,
)
from app.api.responses import NOT_MODIFIED
from app.conditional import conditional_get, view_tag
from app.errors import FieldError, InvalidInput
from app.models import Indicator, Mandate
from app.schemas.api import IndicatorOut, IndicatorValueOut, Page
from app.schemas.plan_file import IndicatorSpec
from app.schemas.requests import IndicatorValueIn
from app.services.access import audit, scopes
from app.services.access.tokens import Caller
from app.services.indicators import service
from app.services.lookup import get_by_code
from app.services.periods import parse_instant
from app.settings import Settings

router = api_router(prefix="/api/v1/mandates/{mandate}/indicators", tags=["indicators"])


def reading_from_query(
    as_of: Annotated[str | None, Query(description="Values as they stood then (a date or an "
                                       "ISO 8601 time): typed ones recorded by then, derived "
                                       "ones from the records as they were.")] = None,
    known_at: Annotated[str | None, Query(description="What had been recorded by then; for "
                                          "records, the same as as_of.")] = None,
    explain: Annotated[bool, Query(description="Derived values name the records counted "
                                   "and the denominator.")] = False,
) -> service.Reading:
    instants = [parse_instant(text, field=name) for name, text in
                (("as_of", as_of), ("known_at", known_at)) if text is not None]
    return service.Reading(at=min(instants) if instants else None, explain=explain)


ReadingDep = Annotated[service.Reading, Depends(reading_from_query)]


def _require_indicator(session: Session, caller: Caller, indicator: Indicator,
                       mandate: Mandate) -> None:
    """403 unless the caller's scopes cover where the indicator is linked (one of no line
    or measure belongs to the whole mandate)."""
    place = scopes.place_of_indicator(session, mandate=mandate.code,
                                      action_line_id=indicator.action_line_id,
                                      measure_id=indicator.measure_id)
    scopes.require_place(caller.reach, place, what=f"Indicator {indicator.code}")


def _require_definition(session: Session, caller: Caller, spec: IndicatorSpec,
                        mandate: Mandate) -> None:
    """403 unless the caller's scopes cover where the definition links the indicator (a
    link to an unknown code is the definition's 422)."""
    place = scopes.place_of_link(session, mandate=mandate.code,
                                 action_line=spec.action_line, measure=spec.measure)
    if place is not None:
        scopes.require_place(caller.reach, place, what=f"Indicator {spec.code}")


def _one(session: Session, mandate: Mandate, code: str, settings: Settings,
         reading: service.Reading = service.NOW) -> JSONResponse:
    indicator = get_by_code(session, Indicator, mandate=mandate, code=code)
    view = service.indicator_views(session, mandate=mandate, code=code,
                                   thresholds=settings.thresholds, reading=reading)[0]
    return JSONResponse(jsonable_encoder(view), headers={"ETag": service.etag(indicator)})


@router.get("", response_model=Page[IndicatorOut],
            responses=NOT_MODIFIED)
def list_indicators(mandate: MandateDep, session: SessionDep, settings: SettingsDep,
                    _reader: Reader, request: Request, paging: WholePagingDep,
                    reading: ReadingDep, if_none_match: IfNoneMatch = None) -> Response:
    """Every indicator with its latest values, targets, attainment, status and split; a
    derived indicator's values computed from the records as they are read."""

    def produce() -> Response:
        page = service.indicator_page(session, mandate=mandate,
                                      thresholds=settings.thresholds, page=paging,
                                      reading=reading)
        return JSONResponse(jsonable_encoder(page.as_dict()))

    return conditional_get(if_none_match,
                           view_tag(request, mandate.id, mandate.data_version), produce)


@router.get("/{code}", response_model=IndicatorOut)
def get_indicator(mandate: MandateDep, code: str, session: SessionDep,
                  settings: SettingsDep, _reader: Reader, reading: ReadingDep) -> Response:
    """One indicator; its ETag is what a new value sends back in If-Match."""
    return _one(session, mandate, code, settings, reading)


@router.get("/{code}/history", response_model=list[IndicatorValueOut])
def get_indicator_history(mandate: MandateDep, code: str, session: SessionDep,
                          _reader: Reader) -> list[IndicatorValueOut]:
    """Every value recorded, newest first; superseded ones are marked."""
    indicator = get_by_code(session, Indicator, mandate=mandate, code=code)
    return service.value_history(session, indicator=indicator)


@router.post("/{code}/values", response_model=IndicatorOut, responses=responses.WRITE)
def record_indicator_value(mandate: MandateDep, code: str, body: IndicatorValueIn,
                           session: SessionDep, settings: SettingsDep, token: Editor,
                           if_match: IfMatch = None) -> Response:
    """Record a value for a period; it supersedes an earlier one for that period."""
    indicator = get_by_code(session, Indicator, mandate=mandate, code=code)
    _require_indicator(session, token, indicator, mandate)
    service.record_value(session, indicator=indicator, if_match=if_match,
                         period=body.period, value=body.value, parts=body.parts,
                         note=body.note, source=body.source, actor=token.name, form=body,
                         role=token.role)
    return _one(session, mandate, code, settings)


@router.post("", response_model=IndicatorOut, status_code=201,
             responses={**responses.problems(409), **responses.CREATED})
def create_indicator(mandate: MandateDep, spec: IndicatorSpec, session: SessionDep,
                     settings: SettingsDep, admin: Admin, request: Request) -> Response:
    """Define a new indicator (with targets, and values if any)."""
    _require_definition(session, admin, spec, mandate)
    service.save_indicator(session, mandate=mandate, spec=spec, actor=admin.name)
    audit.record(session, actor=admin.name, action="indicator.create",
                 target=f"{mandate.code}/{spec.code}")
    response = _one(session, mandate, spec.code, settings)
    response.status_code = 201
    response.headers["Location"] = request.app.url_path_for(
        "get_indicator", mandate=mandate.code, code=spec.code)
    return response


@router.put("/{code}", response_model=IndicatorOut, responses=responses.WRITE)
def replace_indicator(mandate: MandateDep, code: str, spec: IndicatorSpec,
                      session: SessionDep, settings: SettingsDep, admin: Admin,
                      if_match: IfMatch = None) -> Response:
    """Replace an indicator's definition and targets; recorded values are kept."""
    if spec.code != code:
        raise InvalidInput([FieldError("code", f"{spec.code!r} does not match the URL's "
                                               f"{code!r}")])
    indicator = get_by_code(session, Indicator, mandate=mandate, code=code)
    _require_indicator(session, admin, indicator, mandate)
    _require_definition(session, admin, spec, mandate)
    service.save_indicator(session, mandate=mandate, spec=spec, actor=admin.name,
                           replacing=True, if_match=if_match)
    audit.record(session, actor=admin.name, action="indicator.replace",
                 target=f"{mandate.code}/{code}")
    return _one(session, mandate, code, settings)


@router.delete("/{code}", status_code=204, responses=responses.WRITE)
def delete_indicator(mandate: MandateDep, code: str, session: SessionDep, admin: Admin,
                     if_match: IfMatch = None) -> Response:
    """Delete an indicator with its targets and values."""
    indicator = get_by_code(session, Indicator, mandate=mandate, code=code)
    _require_indicator(session, admin, indicator, mandate)
    service.delete_indicator(session, indicator=indicator, if_match=if_match)
    audit.record(session, actor=admin.name, action="indicator.delete",
                 target=f"{mandate.code}/{code}")
    return Response(status_code=204)
