"""The audit log of admin actions."""

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.models.types import utcnow
from app.services.paging import Page, PageRequest, fetch_page


def record(session: Session, *, actor: str, action: str, target: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    plain = json.loads(json.dumps(detail or {}, default=str))  # dates and the like as text
    session.add(AuditEvent(actor=actor, action=action, target=target, detail=plain,
                           recorded_at=utcnow()))
    session.flush()


def events(session: Session, *, page: PageRequest) -> Page[AuditEvent]:
    """Admin actions, newest first, one page."""
    return fetch_page(session, select(AuditEvent).order_by(
        AuditEvent.recorded_at.desc(), AuditEvent.id.desc()), page, scalars=True)
