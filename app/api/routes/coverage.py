"""Plan coverage: the report ``planpulse check`` prints, for a stored mandate."""

from datetime import date
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import MandateDep, Reader, SessionDep, api_router
from app.coverage.config import ConfigError, layer_from_options, merge
from app.coverage.engine import run
from app.coverage.model import Report, ThresholdsWhen
from app.coverage.stored import stored_input
from app.errors import FieldError, InvalidInput

router = api_router(prefix="/api/v1/mandates/{mandate}", tags=["coverage"])

PARAMETERS = ("as_of", "rule", "stale_after_days", "theme", "threshold", "thresholds_when")
SETTING_PARAMETERS = {"rules": "rule", "rule": "rule", "themes": "theme", "theme": "theme",
                      "thresholds": "threshold", "threshold": "threshold",
                      "stale-after-days": "stale_after_days"}
"""A configuration key → the query parameter it came from."""


def _parameter(key: str) -> str:
    if key == "thresholds.when":
        return "thresholds_when"
    return SETTING_PARAMETERS.get(key.split(".", 1)[0], key)


def _naming(key: str, message: str) -> str:
    """The message, naming the setting where the parameter's name does not (rule=ID:...)."""
    _section, _dot, name = key.partition(".")
    return f"{name}: {message}" if name and repr(name) not in message else message


@router.get("/coverage", response_model=Report)
def get_coverage(
    mandate: MandateDep, session: SessionDep, _reader: Reader, request: Request,
    as_of: Annotated[date | None, Query(
        description="The date overdue, staleness and ended periods are judged at. "
        "Default: today.")] = None,
    rule: Annotated[list[str] | None, Query(
        description="ID:SEVERITY or FAMILY:SEVERITY (error, warning, off); repeatable.",
        examples=[["deliverable.evidence-missing:error"]])] = None,
    stale_after_days: Annotated[int | None, Query(
        description="Days without a status change after which an open deliverable is "
        "stale (default 90).")] = None,
    theme: Annotated[list[str] | None, Query(
        description="TAG:SHARE, the minimum share (0..1) of action lines with a "
        "deliverable so tagged; repeatable.", examples=[["gender:0.5"]])] = None,
    threshold: Annotated[list[str] | None, Query(
        description="NAME:MINIMUM (0..1), NAME one of mandate-progress, "
        "mandate-completion-rate, action-line-progress, action-line-completion-rate; "
        "repeatable.", examples=[["mandate-progress:0.8"]])] = None,
    thresholds_when: Annotated[ThresholdsWhen | None, Query(
        description="always, or closed: thresholds only once the mandate has ended.")
    ] = None,
) -> JSONResponse:
    """The coverage checks on the mandate, configured by the query as `planpulse check`
    is by its options (docs/ci.md); the JSON that `planpulse check --format json` prints."""
    unknown = sorted(set(request.query_params) - set(PARAMETERS))
    if unknown:
        raise InvalidInput([FieldError(name, f"unknown parameter; known: {', '.join(PARAMETERS)}")
                            for name in unknown])
    try:
        layer = layer_from_options(
            "query", rules=rule or [], themes=theme or [], thresholds=threshold or [],
            stale_after_days=stale_after_days,
            thresholds_when=thresholds_when.value if thresholds_when else None)
    except ConfigError as error:
        raise InvalidInput([FieldError(_parameter(key), _naming(key, message))
                            for key, message in error.problems]) from None
    report = run(stored_input(session, mandate=mandate), merge([layer]), as_of or date.today())
    return JSONResponse(report.model_dump(mode="json"))
