"""Events of the change log (the transactional outbox): one row per change, inserted by the
same transaction as the change, so that a rolled-back change leaves none and a committed
one is never lost. The change stream and the webhook deliveries read them."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Integer, String, bindparam, insert
from sqlalchemy.orm import Session

from app.models import ChangeEvent
from app.models.types import UTCDateTime, utcnow


class EventType(StrEnum):
    status_changed = "deliverable.status_changed"
    value_recorded = "indicator.value_recorded"
    plan_imported = "plan.imported"
    records_changed = "records.changed"


@dataclass(frozen=True)
class Author:
    """Who made a change: a token's name and role, or the command line (no role)."""

    name: str
    role: str | None = None


EVENTS = ChangeEvent.__table__  # type: ignore[attr-defined]
EVENT_PARAMETERS = {
    "type": bindparam("event_type", type_=String()),
    "mandate_id": bindparam("event_mandate", type_=Integer()),
    "occurred_at": bindparam("event_at", type_=UTCDateTime()),
    "author_name": bindparam("event_author", type_=String()),
    "author_role": bindparam("event_role", type_=String()),
    "data": bindparam("event_data", type_=JSON()),
}
"""The event's columns from the parameters :func:`event_parameters` gives, so that a
statement can insert the event beside the change it reports (app/services/status)."""

ADD_EVENT = insert(EVENTS).values(EVENT_PARAMETERS)


def event_parameters(type_: EventType, *, mandate_id: int | None, author: Author,
                     data: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    return {"event_type": type_.value, "event_mandate": mandate_id,
            "event_at": at or utcnow(), "event_author": author.name,
            "event_role": author.role, "event_data": data}


def record_event(session: Session, type_: EventType, *, mandate_id: int | None,
                 author: Author, data: dict[str, Any], at: datetime | None = None) -> None:
    """Add an event to the session's transaction: it commits, or rolls back, with it."""
    session.connection().execute(ADD_EVENT, event_parameters(
        type_, mandate_id=mandate_id, author=author, data=data, at=at))


def records_changed(session: Session, *, what: str, author: Author, summary: dict[str, Any],
                    at: datetime | None = None) -> None:
    """The organisation's records changed (every mandate's derived figures may move)."""
    record_event(session, EventType.records_changed, mandate_id=None, author=author,
                 data={"what": what, **summary}, at=at)
