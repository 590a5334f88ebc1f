"""The audit log of admin actions."""

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.models.types import utcnow


def record(session: Session, *, actor: str, action: str, target: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    plain = json.loads(json.dumps(detail or {}, default=str))  # dates and the like as text
    session.add(AuditEvent(actor=actor, action=action, target=target, detail=plain,
                           recorded_at=utcnow()))
    session.flush()


def events(session: Session, *, limit: int, offset: int) -> tuple[list[AuditEvent], int]:
    total = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    rows = session.execute(
        select(AuditEvent).order_by(AuditEvent.recorded_at.desc(), AuditEvent.id.desc())
        .limit(limit).offset(offset)
    ).scalars().all()
    return list(rows), total
