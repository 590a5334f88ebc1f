"""Writes to deliverables: status changes (one or a batch) and field edits.

Every write sends back the ETag it read in ``If-Match``: without it 428, stale 412.
"""

from typing import Annotated, Any

from fastapi import Header, Request, Response

from app.api import responses
from app.api.deps import EditorAccess, IfMatch, api_router
from app.schemas.api import BatchResult, DeliverablePublic
from app.schemas.requests import BatchStatusIn, DeliverablePatch, StatusChangeIn
from app.services.access import idempotency
from app.services.access.scopes import require_covered
from app.services.access.tokens import Caller
from app.services.plan.deliverables import DeliverableRow, etag, find_row, to_public
from app.services.status.batch import BatchChange, apply_batch
from app.services.status.decision import StatusUpdate
from app.services.status.edits import edit_fields
from app.services.status.pipeline import InTransaction, Writer, change_status

router = api_router(prefix="/api/v1/mandates/{mandate}", tags=["deliverables"])

IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="Any unique string; a retry with the same key "
           "returns the first answer instead of writing twice."),
]
WRITE_RESPONSES = responses.WRITE
Answer = tuple[int, dict[str, str], bytes]
"""An answer as the idempotency records keep it: status, headers, body."""


def _answer(row: DeliverableRow) -> Answer:
    return 200, {"ETag": etag(row.deliverable), "content-type": "application/json"}, (
        to_public(row).model_dump_json().encode())


def _respond(answer: Answer) -> Response:
    status_code, headers, body = answer
    return Response(body, status_code=status_code, headers=headers,
                    media_type="application/json")


@router.post("/deliverables/{code}/status", response_model=DeliverablePublic,
             responses=WRITE_RESPONSES)
async def change_deliverable_status(
    mandate: str, code: str, change: StatusChangeIn, request: Request, access: EditorAccess,
    if_match: IfMatch = None, idempotency_key: IdempotencyKey = None,
) -> Response:
    """Change a deliverable's status; recorded in its history with your token's name."""
    update = StatusUpdate(**change.model_dump())

    def work(writer: Writer, caller: Caller) -> Answer:
        result = change_status(writer, mandate=mandate, code=code, change=update,
                               if_match=if_match, actor=caller.name, role=caller.role,
                               reach=caller.reach)
        return _answer(result.row)

    if idempotency_key is None:
        return _respond(await access.change(work))
    request_hash = idempotency.fingerprint("POST", request.url.path, change.model_dump())

    def once(writer: InTransaction, caller: Caller) -> Answer:
        # The key's record goes in the same transaction as the change it answers.
        return idempotency.run_once(writer.session, actor=caller.name, key=idempotency_key,
                                    request_hash=request_hash,
                                    produce=lambda: work(writer, caller))

    return _respond(await access.run(once))


@router.patch("/deliverables/{code}", response_model=DeliverablePublic,
              responses=WRITE_RESPONSES)
async def edit_deliverable(
    mandate: str, code: str, patch: DeliverablePatch, access: EditorAccess,
    if_match: IfMatch = None,
) -> Response:
    """Change owner, due_date, tags or weight (editor) or title (admin); recorded."""

    def work(writer: InTransaction, caller: Caller) -> Answer:
        row = find_row(writer.session, mandate=mandate, code=code)
        require_covered(caller.reach, mandate, what=f"Deliverable {code}",
                        line=row.action_line, measure=row.measure)
        edit_fields(writer.session, row=row, if_match=if_match, fields=patch.changes(),
                    role=caller.role, actor=caller.name, note=patch.note)
        return _answer(row)

    return _respond(await access.run(work))


@router.post("/deliverables:batch-status", response_model=BatchResult,
             responses=responses.problems(409))
async def change_deliverable_statuses(mandate: str, batch: BatchStatusIn, access: EditorAccess
                       ) -> dict[str, Any]:
    """Apply several status changes, all or none; the answer reports each item."""
    changes = [BatchChange(item.code, item.if_match,
                           StatusUpdate(**item.model_dump(exclude={"code", "if_match"})))
               for item in batch.changes]
    return {"results": await access.run(lambda writer, caller: apply_batch(
        writer, mandate=mandate, changes=changes, actor=caller.name, role=caller.role,
        reach=caller.reach))}
