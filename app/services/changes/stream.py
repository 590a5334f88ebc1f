"""The change stream of a mandate: its events (and the organisation-wide ones) after a
given id, as server-sent events.

Event ids come from a sequence: on PostgreSQL a transaction that took a lower id may commit
after one that took a higher id, and a rolled-back one leaves a hole. A reader that saw 7
but not 6 holds 7 back until 6 shows up or the hole is older than :data:`HOLE_WAIT`, so a
slow commit is not skipped; a hole that old is a rolled-back change.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.models import ChangeEvent, Mandate
from app.models.types import utcnow

HOLE_WAIT = timedelta(seconds=10)
BATCH = 200


@dataclass(frozen=True)
class StreamEvent:
    id: int
    type: str
    payload: dict[str, Any]


def latest_id(session: Session) -> int:
    """The newest event's id (0 without any): where a stream without Last-Event-ID starts."""
    return session.execute(select(func.coalesce(func.max(ChangeEvent.id), 0))).scalar_one()


def payload(event: ChangeEvent, mandate_code: str | None) -> dict[str, Any]:
    """An event as the stream and the webhooks send it."""
    return {"id": str(event.id), "type": event.type,
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "mandate": mandate_code,
            "author": {"name": event.author_name, "role": event.author_role},
            "data": event.data}


def events_after(session: Session, *, mandate_id: int, after: int, limit: int = BATCH
                 ) -> list[StreamEvent]:
    """The mandate's events and the organisation-wide ones with an id above ``after``."""
    rows = session.execute(
        select(ChangeEvent, Mandate.code).outerjoin(Mandate, Mandate.id == ChangeEvent.mandate_id)
        .where(ChangeEvent.id > after,
               or_(ChangeEvent.mandate_id == mandate_id, ChangeEvent.mandate_id.is_(None)))
        .order_by(ChangeEvent.id).limit(limit)).all()
    return [StreamEvent(event.id or 0, event.type, payload(event, code)) for event, code in rows]


def ids_between(session: Session, low: int, high: int) -> list[int]:
    """Every event id in (low, high), of any mandate: what fills a hole."""
    return list(session.execute(select(ChangeEvent.id).where(
        ChangeEvent.id > low, ChangeEvent.id < high).order_by(ChangeEvent.id)).scalars())


@dataclass
class Cursor:
    """Where a reader stands: the last id sent, and since when it has waited on a hole."""

    last: int
    hole_since: datetime | None = None

    def take(self, session: Session, *, mandate_id: int, now: datetime | None = None
             ) -> list[StreamEvent]:
        """The events to send now, in order; what follows a young hole waits."""
        now = now or utcnow()
        found = events_after(session, mandate_id=mandate_id, after=self.last)
        if not found:
            return []
        present = set(ids_between(session, self.last, found[-1].id + 1))
        hole = next((i for i in range(self.last + 1, found[-1].id) if i not in present), None)
        ready = found
        if hole is None:
            self.hole_since = None
        else:
            self.hole_since = self.hole_since or now
            if now - self.hole_since < HOLE_WAIT:
                ready = [event for event in found if event.id < hole]
            else:
                self.hole_since = None  # a change rolled back long ago: skip its id
        if ready:
            self.last = ready[-1].id
        return ready


def sse(events: Sequence[StreamEvent]) -> str:
    """Events in the text/event-stream format: id, event type, one data line of JSON."""
    return "".join(f"id: {event.id}\nevent: {event.type}\n"
                   f"data: {json.dumps(event.payload, separators=(',', ':'))}\n\n"
                   for event in events)
