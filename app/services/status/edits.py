"""Changes to a deliverable's other fields: owner, due date, tags, weight, title.

Guarded by If-Match like a status change, and recorded as an edit (who, when, what from and
to) in the activity feed.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from app.errors import Forbidden
from app.models import DeliverableEdit, DeliverableTag, Role
from app.models.types import utcnow
from app.services.plan.deliverables import DeliverableRow, attach_tags
from app.services.status.decision import require_version
from app.services.status.pipeline import InTransaction

ADMIN_FIELDS = frozenset({"title"})
"""What only an admin may change."""


def edit_fields(session: Session, *, row: DeliverableRow, if_match: str | None,
                fields: dict[str, Any], role: Role, actor: str, note: str | None = None,
                now: datetime | None = None) -> bool:
    """Change owner, due_date, tags, weight (editor) or title (admin); ``row`` is updated
    to what was written. False when nothing differs (nothing is recorded)."""
    now = now or utcnow()
    deliverable = row.deliverable
    require_version(deliverable, if_match)
    if ADMIN_FIELDS & fields.keys() and role.rank < Role.admin.rank:
        raise Forbidden("Changing a deliverable's title needs the admin role.")
    before: dict[str, Any] = {
        "owner": deliverable.owner, "due_date": deliverable.due_date,
        "weight": deliverable.weight, "title": deliverable.title, "tags": sorted(row.tags),
    }
    changes = {
        name: {"from": _plain(before[name]), "to": _plain(value)}
        for name, value in fields.items() if before[name] != value
    }
    if not changes:
        return False
    columns = {name: fields[name] for name in changes if name != "tags"}
    InTransaction(session).bump(deliverable, now, **columns)
    if "tags" in changes:
        session.execute(delete(DeliverableTag).where(
            DeliverableTag.deliverable_id == deliverable.id))
        if fields["tags"]:
            session.execute(insert(DeliverableTag), [
                {"deliverable_id": deliverable.id, "tag": tag} for tag in fields["tags"]])
        attach_tags(session, [row])
    session.add(DeliverableEdit(deliverable_id=deliverable.id, changes=changes, note=note,
                                changed_by=actor, recorded_at=now))
    session.flush()
    for name, value in columns.items():
        setattr(deliverable, name, value)
    deliverable.version += 1
    deliverable.updated_at = now
    return True


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
