"""Mandates: the list, one mandate's tree, its plan file and its progress."""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from app.api import responses
from app.api.deps import (
    Admin,
    MandateDep,
    PagingDep,
    Reader,
    SessionDep,
    SettingsDep,
    WholePagingDep,
    api_router,
    reach_of,
)
from app.api.files import raw_body, sent_format, wants_yaml
from app.errors import FieldError, InvalidInput
from app.schemas.api import (
    ActivityEntry,
    ImportResult,
    MandateSummary,
    MandateTree,
    Page,
)
from app.schemas.plan_file import PlanFile, parse_plan_text
from app.schemas.text import CleanText
from app.services.access import audit, scopes
from app.services.changes.events import Author
from app.services.periods import parse_instant
from app.services.plan.activity import activity
from app.services.plan.deliverables import mandate_page
from app.services.plan.exporter import dump_yaml, export_plan, to_json_ready
from app.services.plan.importer import ImportReport, import_plan

router = api_router(prefix="/api/v1/mandates", tags=["mandates"])

@router.get("", response_model=Page[MandateSummary])
def list_mandates(session: SessionDep, reader: Reader, settings: SettingsDep,
                  paging: WholePagingDep) -> dict[str, Any]:
    """Every mandate the caller may read, newest first."""
    only = scopes.visible_mandates(reach_of(reader), public_read=settings.public_read)
    return mandate_page(session, page=paging, only=only).as_dict()


@router.get("/{mandate}", response_model=MandateTree)
def get_mandate_tree(mandate: MandateDep, session: SessionDep, _reader: Reader) -> dict[str, Any]:
    """One mandate with its action lines, measures, deliverables and indicators."""
    plan = export_plan(session, mandate_code=mandate.code)
    return {
        **MandateSummary.model_validate(mandate).model_dump(),
        "action_lines": plan["action_lines"],
        "indicators": plan.get("indicators", []),
    }


@router.get("/{mandate}/activity", response_model=Page[ActivityEntry])
def get_mandate_activity(
    mandate: MandateDep,
    session: SessionDep,
    _reader: Reader,
    paging: PagingDep,
    since: Annotated[str | None, Query(description="Only changes recorded since (a date or "
                                       "an ISO 8601 time).")] = None,
    by: Annotated[CleanText | None, Query(description="Only changes by this token name.")
                  ] = None,
) -> dict[str, Any]:
    """Every change in the mandate, newest first: the "recent updates" feed."""
    start = parse_instant(since, field="since", day_start=True) if since else None
    return activity(session, mandate=mandate, since=start, by=by, page=paging).as_dict()


@router.get(
    "/{mandate}/plan",
    responses={200: {"content": {"application/json": {}, "application/yaml": {}},
                     "description": "The plan file; YAML with `Accept: application/yaml`."}},
)
def export_mandate_plan(
    mandate: MandateDep, session: SessionDep, _reader: Reader, request: Request
) -> Response:
    """The mandate as a plan file, ready to edit and import again."""
    plan = export_plan(session, mandate_code=mandate.code)
    if wants_yaml(request):
        return Response(dump_yaml(plan), media_type="application/yaml")
    return JSONResponse(to_json_ready(plan))


@router.put(
    "/{mandate}/plan",
    response_model=ImportResult,
    responses=responses.problems(415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": PlanFile.model_json_schema(
                    ref_template="#/components/schemas/{model}")},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    },
)
def import_mandate_plan(
    mandate: str, request: Request, body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep, admin: Admin, settings: SettingsDep,
    prune: Annotated[bool, Query(description="Delete what the file no longer lists.")] = False,
) -> dict[str, Any]:
    """Import a plan file (JSON or YAML): validated whole, then upserted by code, all or
    nothing. Creates the mandate when it does not exist yet. A scoped token needs a scope
    on the whole mandate."""
    scopes.require_write(admin.reach, mandate, what=f"The plan of mandate {mandate!r}",
                         public_read=settings.public_read)
    fmt = sent_format(request, what="plan")
    plan = parse_plan_text(body, fmt=fmt)
    if plan.mandate.code != mandate:
        raise InvalidInput([FieldError(
            "mandate.code", f"{plan.mandate.code!r} does not match the URL's {mandate!r}")])
    report = import_plan(session, plan=plan, prune=prune,
                         author=Author(admin.name, admin.role))
    result = import_result(report)
    if report.changed:
        audit.record(session, actor=admin.name, action="plan.import", target=mandate,
                     detail={key: result[key] for key in ("mandate_created", "pruned",
                                                          "status_changes", "policy_change")})
    return result


def import_result(report: ImportReport) -> dict[str, Any]:
    result = asdict(report)
    result["changed"] = report.changed
    return result
