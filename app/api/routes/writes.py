"""Writes to deliverables: status changes (one or a batch) and field edits.

Every write sends back the ETag it read in ``If-Match``: without it 428, stale 412.
"""

from typing import Annotated, Any

from fastapi import Header, Request, Response
from sqlalchemy.orm import Session

from app.api import responses
from app.api.deps import Editor, MandateDep, SessionDep, api_router
from app.errors import PlanpulseError, PreconditionRequired
from app.models import Mandate, Role
from app.schemas.api import BatchResult, DeliverablePublic
from app.schemas.requests import BatchStatusIn, DeliverablePatch, StatusChangeIn
from app.services import deliverable_writes as writes
from app.services import idempotency
from app.services.deliverables import deliverable_row, to_public
from app.services.lookup import get_deliverable

router = api_router(prefix="/api/v1/mandates/{mandate}", tags=["deliverables"])

IfMatch = Annotated[str | None, Header(description="The ETag from your last read.")]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="Any unique string; a retry with the same key "
           "returns the first answer instead of writing twice."),
]
WRITE_RESPONSES = responses.WRITE


def require_if_match(if_match: str | None) -> str:
    if not if_match:
        raise PreconditionRequired(
            "Send If-Match with the deliverable's ETag, as read from GET, so that no "
            "change is lost.")
    return if_match


def _state(session: Session, mandate: Mandate, code: str) -> tuple[int, dict[str, str], bytes]:
    deliverable = get_deliverable(session, mandate=mandate, code=code)
    public = DeliverablePublic.model_validate(
        to_public(deliverable_row(session, deliverable=deliverable)))
    return 200, {"ETag": writes.etag(deliverable), "content-type": "application/json"}, (
        public.model_dump_json().encode())


def _respond(answer: tuple[int, dict[str, str], bytes]) -> Response:
    status_code, headers, body = answer
    return Response(body, status_code=status_code, headers=headers,
                    media_type="application/json")


@router.post("/deliverables/{code}/status", response_model=DeliverablePublic,
             responses=WRITE_RESPONSES)
def post_status(
    mandate: MandateDep, code: str, change: StatusChangeIn, request: Request,
    session: SessionDep, token: Editor, if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Change a deliverable's status; recorded in its history with your token's name."""

    def produce() -> tuple[int, dict[str, str], bytes]:
        deliverable = get_deliverable(session, mandate=mandate, code=code)
        writes.change_status(
            session, deliverable=deliverable, if_match=require_if_match(if_match),
            change=writes.StatusUpdate(**change.model_dump()), actor=token.name)
        return _state(session, mandate, code)

    request_hash = idempotency.fingerprint("POST", request.url.path, change.model_dump())
    return _respond(idempotency.run_once(session, actor=token.name, key=idempotency_key,
                                         request_hash=request_hash, produce=produce))


@router.patch("/deliverables/{code}", response_model=DeliverablePublic,
              responses=WRITE_RESPONSES)
def patch_deliverable(
    mandate: MandateDep, code: str, patch: DeliverablePatch, session: SessionDep,
    token: Editor, if_match: IfMatch = None,
) -> Response:
    """Change owner, due_date, tags or weight (editor) or title (admin); recorded."""
    deliverable = get_deliverable(session, mandate=mandate, code=code)
    writes.edit_fields(session, deliverable=deliverable, if_match=require_if_match(if_match),
                       fields=patch.changes(), role=Role(token.role), actor=token.name,
                       note=patch.note)
    return _respond(_state(session, mandate, code))


class BatchFailed(PlanpulseError):
    status_code = 409
    title = "Batch not applied"


@router.post("/deliverables:batch-status", response_model=BatchResult,
             responses=responses.problems(409))
def batch_status(
    mandate: MandateDep, batch: BatchStatusIn, session: SessionDep, token: Editor
) -> dict[str, Any]:
    """Apply several status changes, all or none; the answer reports each item."""
    results: list[dict[str, Any]] = []
    failed = False
    for item in batch.changes:
        try:
            deliverable = get_deliverable(session, mandate=mandate, code=item.code)
            outcome = writes.change_status(
                session, deliverable=deliverable, if_match=item.if_match,
                change=writes.StatusUpdate(**item.model_dump(exclude={"code", "if_match"})),
                actor=token.name)
            results.append({"code": item.code, "outcome": "applied" if outcome.changed
                            else "unchanged", "status": 200, "etag": writes.etag(deliverable)})
        except PlanpulseError as error:
            failed = True
            results.append({"code": item.code, "outcome": "failed", "status": error.status_code,
                            "detail": error.detail, **_current(error)})
    if failed:
        for result in results:
            if result["outcome"] != "failed":
                result.update(outcome="not_applied", etag=None)
        raise BatchFailed("At least one change failed, so none was applied.",
                          extra={"results": results})
    return {"results": results}


def _current(error: PlanpulseError) -> dict[str, Any]:
    return {"current": error.extra["current"]} if "current" in error.extra else {}


