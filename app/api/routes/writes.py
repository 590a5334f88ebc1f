"""Writes to deliverables: status changes (one or a batch) and field edits.

Every write sends back the ETag it read in ``If-Match``: without it 428, stale 412.
"""

from typing import Annotated, Any

from fastapi import Header, Request, Response
from sqlalchemy.orm import Session

from app.api import responses
from app.api.deps import EditorAccess, api_router
from app.db import DriverConnection
from app.errors import PlanpulseError, PreconditionRequired
from app.models import ApiToken, Role
from app.schemas.api import BatchResult, DeliverablePublic
from app.schemas.requests import BatchStatusIn, DeliverablePatch, StatusChangeIn
from app.services.access import idempotency
from app.services.lookup import get_deliverable, get_mandate
from app.services.plan.deliverables import DeliverableRow, attach_tags, find_row, to_public
from app.services.status import direct as direct_status
from app.services.status import writes

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


def _state(row: DeliverableRow) -> tuple[int, dict[str, str], bytes]:
    public = DeliverablePublic.model_validate(to_public(row))
    return 200, {"ETag": writes.etag(row.deliverable), "content-type": "application/json"}, (
        public.model_dump_json().encode())


def _respond(answer: tuple[int, dict[str, str], bytes]) -> Response:
    status_code, headers, body = answer
    return Response(body, status_code=status_code, headers=headers,
                    media_type="application/json")


@router.post("/deliverables/{code}/status", response_model=DeliverablePublic,
             responses=WRITE_RESPONSES)
async def post_status(
    mandate: str, code: str, change: StatusChangeIn, request: Request, access: EditorAccess,
    if_match: IfMatch = None, idempotency_key: IdempotencyKey = None,
) -> Response:
    """Change a deliverable's status; recorded in its history with your token's name."""
    update = writes.StatusUpdate(**change.model_dump())
    request_hash = (idempotency.fingerprint("POST", request.url.path, change.model_dump())
                    if idempotency_key is not None else "")

    def work(session: Session, token: ApiToken) -> tuple[int, dict[str, str], bytes]:
        def produce() -> tuple[int, dict[str, str], bytes]:
            row = find_row(session, mandate=mandate, code=code)
            writes.change_status(session, deliverable=row.deliverable,
                                 if_match=require_if_match(if_match), change=update,
                                 actor=token.name, in_effect=row.in_effect)
            return _state(row)

        return idempotency.run_once(session, actor=token.name, key=idempotency_key,
                                    request_hash=request_hash, produce=produce)

    def direct(connection: DriverConnection, caller: Any) -> tuple[int, dict[str, str], bytes]:
        row = direct_status.change_status(
            connection, mandate=mandate, code=code, if_match=require_if_match(if_match),
            change=update, actor=caller.name)
        return direct_status.FULL_PATH if row is direct_status.FULL_PATH else _state(row)

    # An Idempotency-Key's record goes in the same transaction as the change: no shortcut.
    return _respond(await access.run(work, direct if idempotency_key is None else None))


@router.patch("/deliverables/{code}", response_model=DeliverablePublic,
              responses=WRITE_RESPONSES)
async def patch_deliverable(
    mandate: str, code: str, patch: DeliverablePatch, access: EditorAccess,
    if_match: IfMatch = None,
) -> Response:
    """Change owner, due_date, tags or weight (editor) or title (admin); recorded."""

    def work(session: Session, token: ApiToken) -> tuple[int, dict[str, str], bytes]:
        row = find_row(session, mandate=mandate, code=code)
        writes.edit_fields(session, deliverable=row.deliverable,
                           if_match=require_if_match(if_match), fields=patch.changes(),
                           role=Role(token.role), actor=token.name, note=patch.note)
        if "tags" in patch.changes():
            row.tags = []
            attach_tags(session, [row])
        return _state(row)

    return _respond(await access.run(work))


class BatchFailed(PlanpulseError):
    status_code = 409
    title = "Batch not applied"


@router.post("/deliverables:batch-status", response_model=BatchResult,
             responses=responses.problems(409))
async def batch_status(mandate: str, batch: BatchStatusIn, access: EditorAccess
                       ) -> dict[str, Any]:
    """Apply several status changes, all or none; the answer reports each item."""
    return await access.run(lambda session, token: _apply_batch(session, token, mandate, batch))


def _apply_batch(session: Session, token: ApiToken, mandate_code: str, batch: BatchStatusIn
                 ) -> dict[str, Any]:
    mandate = get_mandate(session, code=mandate_code)
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


