"""The report on a mandate, as the annual report has it: Markdown, CSV, xlsx or HTML."""

from typing import Annotated

from fastapi import Query, Request, Response

from app.api.deps import IfNoneMatch, MandateDep, Reader, SessionDep, SettingsDep, api_router
from app.conditional import conditional_get, view_tag
from app.reports.build import build_report
from app.reports.formats import MEDIA_TYPES, Part, ReportFormat, file_name
from app.reports.render import render
from app.services.periods import parse_instant

router = api_router(prefix="/api/v1/mandates/{mandate}", tags=["reports"])

REPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The report in the format asked for",
          "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()}},
    304: {"description": "Not modified since the ETag sent in If-None-Match"},
}
DOWNLOADS = {ReportFormat.csv, ReportFormat.xlsx}


@router.get("/report", response_class=Response, responses=REPORT_RESPONSES)
def get_mandate_report(
    mandate: MandateDep, session: SessionDep, settings: SettingsDep, _reader: Reader,
    request: Request,
    fmt: Annotated[ReportFormat, Query(alias="format", description="md, csv, xlsx or html."
                                       )] = ReportFormat.md,
    part: Annotated[Part | None, Query(description="Only this part. Default: all of them "
                                       "(CSV, which holds one table: implementation).")
                    ] = None,
    as_of: Annotated[str | None, Query(
        max_length=40, description="A date (end of that day, UTC) or an ISO 8601 time: the "
        "statuses as they stood then.", examples=["2020-12-31"])] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The annual report's "Implementation of the Action Plan" table with its status
    symbols, the progress per action line and the indicators (docs/dashboard.md)."""
    moment = parse_instant(as_of, field="as_of") if as_of else None
    name = file_name(mandate.code, fmt, part)
    disposition = "attachment" if fmt in DOWNLOADS else "inline"

    def produce() -> Response:
        report = build_report(session, mandate=mandate, as_of=moment,
                              thresholds=settings.thresholds)
        return Response(render(report, fmt, part), media_type=MEDIA_TYPES[fmt])

    return conditional_get(if_none_match, view_tag(request, mandate.id, mandate.data_version),
                           produce,
                           {"Content-Disposition": f'{disposition}; filename="{name}"'})

