"""The feed of every change in a mandate: status changes and field edits, newest first."""

from datetime import datetime

from sqlalchemy import JSON, literal, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from app.models import Deliverable, DeliverableEdit, Mandate, StatusChange
from app.schemas.api import ActivityEntry
from app.services.paging import Page, PageRequest, fetch_page


def activity(
    session: Session, *, mandate: Mandate, since: datetime | None, by: str | None,
    page: PageRequest,
) -> Page[ActivityEntry]:
    """Status changes and field edits, newest first, one page."""
    statuses = (
        select(
            literal("status").label("kind"), Deliverable.code.label("deliverable"),
            StatusChange.changed_by.label("changed_by"),
            StatusChange.recorded_at.label("recorded_at"),
            StatusChange.effective_at.label("effective_at"),
            StatusChange.from_status.label("from_status"),
            StatusChange.to_status.label("to_status"),
            StatusChange.percent_complete.label("percent_complete"),
            StatusChange.note.label("note"), StatusChange.evidence_url.label("evidence_url"),
            type_coerce(null(), JSON).label("changes"), StatusChange.id.label("entry_id"),
        )
        .join(Deliverable, Deliverable.id == StatusChange.deliverable_id)
        .where(Deliverable.mandate_id == mandate.id)
    )
    edits = (
        select(
            literal("edit").label("kind"), Deliverable.code.label("deliverable"),
            DeliverableEdit.changed_by, DeliverableEdit.recorded_at,
            DeliverableEdit.recorded_at.label("effective_at"),
            null().label("from_status"), null().label("to_status"),
            null().label("percent_complete"), DeliverableEdit.note,
            null().label("evidence_url"), DeliverableEdit.changes.label("changes"),
            DeliverableEdit.id.label("entry_id"),
        )
        .join(Deliverable, Deliverable.id == DeliverableEdit.deliverable_id)
        .where(Deliverable.mandate_id == mandate.id)
    )
    if since is not None:
        statuses = statuses.where(StatusChange.recorded_at >= since)
        edits = edits.where(DeliverableEdit.recorded_at >= since)
    if by is not None:
        statuses = statuses.where(StatusChange.changed_by == by)
        edits = edits.where(DeliverableEdit.changed_by == by)
    feed = union_all(statuses, edits).subquery()
    found = fetch_page(session, select(feed).order_by(
        feed.c.recorded_at.desc(), feed.c.kind, feed.c.entry_id.desc()), page)
    entries = [ActivityEntry.model_validate(row._mapping) for row in found.data]
    return Page(entries, found.count, found.limit, found.offset)
