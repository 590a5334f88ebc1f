"""Records: members, their engagement per period, activities; the records file and the
engagement sheet, read by anyone who may read, imported by admins."""

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.api import responses
from app.api.deps import (
    Admin,
    Editor,
    IfMatch,
    PagingDep,
    Reader,
    SessionDep,
    SettingsDep,
    api_router,
)
from app.api.files import raw_body, sent_format, wants_yaml
from app.errors import UnsupportedMediaType
from app.models.enums import ActivityMode
from app.schemas.fields import PERIOD_PATTERN
from app.schemas.records_file import ActivitySpec, RecordsFile, parse_records_text
from app.schemas.requests import EngagementIn
from app.schemas.text import CleanText
from app.services.access import audit, scopes
from app.services.access.scopes import Reach
from app.services.paging import PageRequest
from app.services.plan.exporter import dump_yaml
from app.services.records import edits, queries, sheet
from app.services.records.exporter import records_data
from app.services.records.importer import RecordsReport, import_records, import_sheet

router = api_router(prefix="/api/v1", tags=["records"])

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PeriodPath = Annotated[str, Path(pattern=PERIOD_PATTERN.pattern, examples=["2020"])]
PeriodQuery = Annotated[str, Query(pattern=PERIOD_PATTERN.pattern, examples=["2020"])]
SheetQuery = Annotated[CleanText | None, Query(
    description="One sheet's kinds only (engagement, website, ...).")]
SearchQuery = Annotated[CleanText | None, Query(description="Part of a member's name.")]
ROW_LIMIT = 500


def _member_answer(session: SessionDep, code: str) -> JSONResponse:
    member = queries.get_member(session, code)
    return JSONResponse(jsonable_encoder(queries.member_detail(session, member)),
                        headers={"ETag": edits.etag(member)})


@router.get("/members")
def list_members(session: SessionDep, _reader: Reader, paging: PagingDep,
                 q: SearchQuery = None,
                 period: Annotated[str | None, Query(pattern=PERIOD_PATTERN.pattern,
                                                     description="Only those on its roll.")
                                   ] = None) -> dict[str, Any]:
    """The members, by name."""
    return queries.member_page(session, paging, search=q, period=period).as_dict()


@router.get("/members/{code}")
def get_member(code: str, session: SessionDep, _reader: Reader) -> Response:
    """One member, its engagement by period and its activities; its ETag is what a write to
    its engagement sends back in If-Match."""
    return _member_answer(session, code)


@router.get("/members/{code}/history")
def get_member_history(code: str, session: SessionDep, _reader: Reader) -> list[Any]:
    """Every engagement value recorded for the member, newest first: who, when, why, and
    when it was superseded."""
    member = queries.get_member(session, code)
    return jsonable_encoder(queries.member_history(session, member))


@router.put("/members/{code}/engagement/{period}", responses=responses.WRITE)
def record_member_engagement(code: str, period: PeriodPath, body: EngagementIn,
                            session: SessionDep, editor: Editor,
                            if_match: IfMatch = None) -> Response:
    """Replace the member's engagement for the period (a kind left out is cleared); the
    values it replaces stay in the history."""
    scopes.require_everywhere(editor.reach, what="Members' engagement values")
    member = queries.get_member(session, code)
    edits.write_engagement(session, member=member, period=period, wanted=dict(body.values),
                           note=body.note, if_match=if_match, actor=editor.name,
                           role=editor.role)
    return _member_answer(session, code)


@router.get(
    "/engagement",
    responses={200: {"content": {"application/json": {}, CSV_TYPE: {}, XLSX_TYPE: {}},
                     "description": "The table; with format=csv or xlsx, the sheet."}},
)
def get_engagement(session: SessionDep, _reader: Reader, period: PeriodQuery,
                   sheet_name: Annotated[CleanText | None, Query(
                       alias="sheet", description="One sheet's kinds only.")] = None,
                   q: SearchQuery = None,
                   limit: Annotated[int, Query(ge=1, le=ROW_LIMIT)] = ROW_LIMIT,
                   offset: Annotated[int, Query(ge=0)] = 0,
                   format: Annotated[str, Query(pattern="^(json|csv|xlsx)$")] = "json"
                   ) -> Response:
    """The period's engagement: a page of members with their values, and the totals of
    the whole roll; as the sheet it was imported from with format=csv or xlsx."""
    if format == "csv":
        tables = sheet.sheet_tables(session, period=period, sheet=sheet_name or "engagement")
        text = sheet.write_csv(tables[0]) if tables else "MEMBER\n"
        return Response(text, media_type=f"{CSV_TYPE}; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="engagement-{period}.csv"'})
    if format == "xlsx":
        return Response(sheet.write_xlsx(sheet.sheet_tables(session, period=period,
                                                            sheet=sheet_name)),
                        media_type=XLSX_TYPE, headers={
                            "Content-Disposition":
                                f'attachment; filename="engagement-{period}.xlsx"'})
    return JSONResponse(jsonable_encoder(queries.engagement_table(
        session, period=period, page=PageRequest(limit, offset), sheet=sheet_name,
        search=q)))


@router.put(
    "/engagement",
    responses=responses.problems(415),
    openapi_extra={"requestBody": {"required": True, "content": {
        CSV_TYPE: {"schema": {"type": "string"}},
        XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
)
def import_engagement_sheet(request: Request, period: PeriodQuery,
                            body: Annotated[bytes, Depends(raw_body)], session: SessionDep,
                            admin: Admin) -> dict[str, Any]:
    """Import an engagement sheet (CSV or XLSX, the shape of the report's table 4.1) for
    the period: checked whole against its totals rows, all or nothing."""
    scopes.require_everywhere(admin.reach, what="Engagement sheets")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in (CSV_TYPE, XLSX_TYPE):
        raise UnsupportedMediaType(f"Send the sheet as {CSV_TYPE} or {XLSX_TYPE}, not "
                                   f"{content_type or 'nothing'}.")
    report = import_sheet(session, content=body, period=period, actor=admin.name,
                          filename=".xlsx" if content_type == XLSX_TYPE else ".csv",
                          role=admin.role)
    return _recorded(session, report, admin.name, "records.sheet_import", period)


@router.get("/activities")
def list_activities(
    session: SessionDep, _reader: Reader, paging: PagingDep,
    kind: Annotated[CleanText | None, Query(examples=["event"])] = None,
    mode: ActivityMode | None = None,
    start: Annotated[date | None, Query(alias="from", description="Starting on or after.")
                     ] = None,
    end: Annotated[date | None, Query(alias="to", description="Starting on or before.")
                   ] = None,
    member: Annotated[CleanText | None, Query(description="A member's code.")] = None,
    mandate: Annotated[CleanText | None, Query(description="Linked to this mandate.")] = None,
    action_line: Annotated[CleanText | None, Query(description="Linked to this action line "
                                                   "or one of its measures.")] = None,
) -> dict[str, Any]:
    """The activities by start date, each with its links and members."""
    where = queries.ActivityFilter(kind=kind, mode=mode.value if mode else None, start=start,
                                   end=end, member=member, mandate=mandate,
                                   action_line=action_line)
    return jsonable_encoder(queries.activity_page(session, paging, where).as_dict())


def _activity_answer(session: SessionDep, code: str) -> JSONResponse:
    activity = edits.get_activity(session, code)
    found = queries.activity_page(session, PageRequest(1), queries.ActivityFilter(
        code=code)).data
    return JSONResponse(jsonable_encoder(found[0]),
                        headers={"ETag": edits.activity_etag(activity)})


@router.get("/activities/{code}")
def get_activity(code: str, session: SessionDep, _reader: Reader) -> Response:
    """One activity with its links and members; its ETag is what a replacement sends back
    in If-Match."""
    return _activity_answer(session, code)


@router.get("/activities/{code}/history")
def get_activity_history(code: str, session: SessionDep, _reader: Reader) -> list[Any]:
    """Every logged change to the activity, newest first: who, when, what changed."""
    activity = edits.get_activity(session, code)
    return jsonable_encoder(queries.edits_of(session, record="activity",
                                             record_id=activity.id or 0))


@router.put("/activities/{code}", responses=responses.WRITE)
def replace_activity(code: str, body: ActivitySpec, session: SessionDep, editor: Editor,
                     settings: SettingsDep, if_match: IfMatch = None) -> Response:
    """Replace an activity (its fields, links and members); the change is logged. A scoped
    token needs every link, before and after, within its scopes."""
    activity = edits.get_activity(session, code)
    _require_activity(session, editor.reach, activity.id or 0, body, settings.public_read)
    edits.replace_activity(session, activity=activity, spec=body, if_match=if_match,
                           actor=editor.name, role=editor.role)
    return _activity_answer(session, code)


def _require_activity(session: Session, reach: Reach, activity_id: int, spec: ActivitySpec,
                      public_read: bool) -> None:
    """The scope check of an activity's replacement: each mandate, line or measure it is
    linked to, now and as replaced, must be within ``reach``; one linked to none belongs
    to no mandate."""
    if reach.everywhere:
        return
    places = queries.activity_places(session, activity_id)
    for link in spec.links:
        place = scopes.place_of_link(session, mandate=link.mandate,
                                     action_line=link.action_line, measure=link.measure)
        if place is None:
            # An unknown code: the replacement's own 422, once the mandate may be read.
            scopes.require_visible(reach, link.mandate, public_read=public_read)
        else:
            places.append(place)
    if not places and not spec.links:
        scopes.require_everywhere(reach, what="Activities linked to no mandate")
    for place in places:
        scopes.require_write(reach, place.mandate, what=f"Activity {spec.code}",
                             line=place.line, measure=place.measure, public_read=public_read)


@router.get(
    "/records",
    responses={200: {"content": {"application/json": {}, "application/yaml": {}},
                     "description": "The records file; YAML with Accept: application/yaml."}},
)
def export_records_file(session: SessionDep, _reader: Reader, request: Request,
                        period: Annotated[str | None, Query(pattern=PERIOD_PATTERN.pattern)
                                          ] = None) -> Response:
    """Every record in force, as a records file ready to edit and import again."""
    data = records_data(session, period=period)
    if wants_yaml(request):
        return Response(dump_yaml(data), media_type="application/yaml")
    return JSONResponse(jsonable_encoder(data))


@router.put(
    "/records",
    responses=responses.problems(415),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": RecordsFile.model_json_schema(
            ref_template="#/components/schemas/{model}")},
        "application/yaml": {"schema": {"type": "string"}}}}},
)
def import_records_file(request: Request, body: Annotated[bytes, Depends(raw_body)],
                        session: SessionDep, admin: Admin) -> dict[str, Any]:
    """Import a records file (JSON or YAML): validated whole against what is stored, then
    upserted by code, all or nothing."""
    scopes.require_everywhere(admin.reach, what="Records files")
    fmt = sent_format(request, what="records")
    report = import_records(session, records=parse_records_text(body, fmt=fmt),
                            actor=admin.name, role=admin.role)
    return _recorded(session, report, admin.name, "records.import", None)


def _recorded(session: SessionDep, report: RecordsReport, actor: str, action: str,
              target: str | None) -> dict[str, Any]:
    result = {**report.as_dict(), "changed": report.changed}
    if report.changed:
        audit.record(session, actor=actor, action=action, target=target, detail=result)
    return result
