"""Deliverables of a mandate: filtered pages, one with its ETag, its history."""

from typing import Annotated, Any

from fastapi import Query, Response

from app.api.deps import MandateDep, PagingDep, Reader, SessionDep, api_router
from app.errors import FieldError, InvalidInput
from app.models import Deliverable, Status
from app.schemas.api import DeliverablePublic, Page, StatusChangePublic
from app.schemas.text import CleanText
from app.services.access.tokens import Caller
from app.services.lookup import get_by_code
from app.services.plan import deliverables as service

ME = "@me"
router = api_router(prefix="/api/v1/mandates/{mandate}/deliverables", tags=["deliverables"])


@router.get("", response_model=Page[DeliverablePublic])
def list_deliverables(
    mandate: MandateDep,
    session: SessionDep,
    reader: Reader,
    paging: PagingDep,
    status: Annotated[list[Status] | None, Query(description="Any of these statuses.")] = None,
    action_line: Annotated[CleanText | None, Query(examples=["L2"])] = None,
    measure: Annotated[CleanText | None, Query(examples=["L2M10"])] = None,
    tag: Annotated[CleanText | None, Query(examples=["gender"])] = None,
    owner: Annotated[CleanText | None, Query(
        description="Owned by this name, themselves or through their measure; `@me`: by "
        "your token's name or the person it speaks for.")] = None,
    q: Annotated[CleanText | None, Query(description="Words in the code or title.",
                                   max_length=200)] = None,
) -> dict[str, Any]:
    """Deliverables in plan order, filtered; `count` is the total across pages."""
    where = service.DeliverableFilter(
        mandate_id=mandate.id or 0, statuses=tuple(status or ()), action_line=action_line,
        measure=measure, tag=tag, owner=owner_names(owner, reader), q=q)
    page = service.list_deliverables(session, where=where, page=paging)
    return {**page.as_dict(), "data": [service.to_public(row) for row in page.data]}


def owner_names(owner: str | None, reader: Caller | None) -> str | tuple[str, ...] | None:
    """The owner filter's names: ``@me`` stands for the caller's token name and the person
    it speaks for (422 without a token)."""
    if owner != ME:
        return owner
    if reader is None:
        raise InvalidInput([FieldError("owner", "@me needs a token: send one, or name the "
                                                "owner")])
    return tuple(name for name in (reader.name, reader.person) if name)


@router.get("/{code}", response_model=DeliverablePublic)
def get_deliverable(
    mandate: str, code: str, session: SessionDep, _reader: Reader,
    response: Response
) -> DeliverablePublic:
    """One deliverable; its `ETag` is what a write sends back in `If-Match`."""
    row = service.find_row(session, mandate=mandate, code=code)
    response.headers["ETag"] = service.etag(row.deliverable)
    return service.to_public(row)


@router.get("/{code}/history", response_model=Page[StatusChangePublic])
def get_deliverable_history(
    mandate: MandateDep, code: str, session: SessionDep, _reader: Reader, paging: PagingDep
) -> dict[str, Any]:
    """The deliverable's status changes, newest first."""
    deliverable = get_by_code(session, Deliverable, mandate=mandate, code=code)
    return service.history(session, deliverable_id=deliverable.id or 0, page=paging).as_dict()
