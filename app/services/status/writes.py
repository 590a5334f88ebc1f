"""Changes to one deliverable: its status (with history) and its other fields.

Every write names the version it was based on. The row is updated only where its version
is still that one (``UPDATE … WHERE version = :expected``), so of several writers racing
from the same version exactly one wins and the others are told the current state; the
history entry goes in the same transaction as the update.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, bindparam, delete, exists, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import FieldError, Forbidden, InvalidInput, PreconditionFailed
from app.models import (
    DataVersionBump,
    Deliverable,
    DeliverableEdit,
    DeliverableTag,
    Role,
    Status,
    StatusChange,
)
from app.models.types import utcnow
from app.services.status import history
from app.services.versioning import bump_data_version, claim_bump


@dataclass(frozen=True)
class StatusUpdate:
    status: Status
    percent_complete: float | None = None
    note: str | None = None
    evidence_url: str | None = None
    effective_at: datetime | None = None


@dataclass(frozen=True)
class WriteResult:
    deliverable: Deliverable
    changed: bool


def etag(deliverable: Deliverable) -> str:
    """The deliverable's entity tag: changes with every write to it."""
    return f'"{deliverable.id}.{deliverable.version}"'


def check_version(deliverable: Deliverable, if_match: str) -> None:
    """412 unless ``if_match`` names the deliverable's current version."""
    offered = {tag.strip() for tag in if_match.split(",")}
    if etag(deliverable) not in offered:
        raise PreconditionFailed(
            f"Deliverable {deliverable.code} has changed since you read it: it is at "
            f"{etag(deliverable)}. Read it again and reapply your change.",
            extra={"current": current_state(deliverable), "etag": etag(deliverable)},
        )


def current_state(deliverable: Deliverable) -> dict[str, Any]:
    return {
        "code": deliverable.code, "status": deliverable.status,
        "percent_complete": deliverable.percent_complete, "version": deliverable.version,
        "owner": deliverable.owner,
        "due_date": deliverable.due_date.isoformat() if deliverable.due_date else None,
        "weight": deliverable.weight, "title": deliverable.title,
        "updated_at": deliverable.updated_at.isoformat().replace("+00:00", "Z"),
    }


def change_status(
    session: Session, *, deliverable: Deliverable, if_match: str, change: StatusUpdate,
    actor: str, now: datetime | None = None, in_effect: Any = history.UNREAD,
) -> WriteResult:
    """Record a status change effective at ``change.effective_at`` (default now).

    Nothing is recorded when that is already the state in effect at that time. A backdated
    change rewrites the past; it becomes the current state only if nothing happened later.
    ``in_effect``: the deliverable's entry in effect now, when read along with it (one
    query less); the version check covers it as it covers the deliverable.
    """
    now = now or utcnow()
    effective_at, wanted = requested_state(deliverable, if_match, change, now)
    current = (history.current_entry(session, deliverable_id=deliverable.id or 0)
               if in_effect is history.UNREAD else in_effect)
    last = comes_last(current, effective_at, now)
    before = (state_of(current) if last else
              history.state_at(session, deliverable_id=deliverable.id or 0, as_of=effective_at))
    if before == wanted:
        return WriteResult(deliverable, changed=False)
    entry = new_entry(deliverable, before, wanted, change, actor=actor,
                      effective_at=effective_at, now=now)
    if last:
        _bump_and_append(session, deliverable, now, entry=entry, previous=current)
    else:
        _bump(session, deliverable, now)
        history.record_changes(session, entries=[entry], scope=[deliverable.id or 0])
        session.refresh(deliverable, ["status", "percent_complete"])
    bump_data_version(session, mandate_id=deliverable.mandate_id)
    return WriteResult(deliverable, changed=True)


# The steps of a status change, shared with the direct path (app/services/status/direct.py).

def requested_state(deliverable: Any, if_match: str, change: StatusUpdate, now: datetime
                    ) -> tuple[datetime, tuple[str, float | None]]:
    """When the change takes effect and the (status, percent) it asks for; 412 for a stale
    ``if_match``, 422 for a change dated in the future."""
    check_version(deliverable, if_match)
    effective_at = change.effective_at or now
    if effective_at > now:
        raise InvalidInput([FieldError("effective_at", "is in the future; a change can be "
                                                      "backdated but not post-dated")])
    percent = change.percent_complete if change.status == Status.in_progress else None
    return effective_at, (change.status.value, percent)


def comes_last(current: Any, effective_at: datetime, now: datetime) -> bool:
    """Whether a change comes after every entry (the usual case): it becomes the current
    state, and only the entry in effect now is closed."""
    return current is None or (effective_at, now) >= (current.effective_at, current.recorded_at)


def state_of(entry: Any) -> tuple[str, float | None]:
    """The (status, percent) an entry in effect sets; not started without one."""
    if entry is None:
        return Status.not_started.value, None
    return entry.to_status, entry.percent_complete


def new_entry(deliverable: Any, before: tuple[str, float | None],
              wanted: tuple[str, float | None], change: StatusUpdate, *, actor: str,
              effective_at: datetime, now: datetime) -> dict[str, Any]:
    """The history entry of a change from ``before`` to ``wanted``."""
    return {
        "deliverable_id": deliverable.id, "mandate_id": deliverable.mandate_id,
        "measure_id": deliverable.measure_id, "weight": deliverable.weight,
        "from_status": before[0], "to_status": wanted[0], "percent_complete": wanted[1],
        "note": change.note, "evidence_url": change.evidence_url, "changed_by": actor,
        "effective_at": effective_at, "recorded_at": now,
    }


EDITOR_FIELDS = frozenset({"owner", "due_date", "tags", "weight"})
ADMIN_FIELDS = frozenset({"title"})


def edit_fields(
    session: Session, *, deliverable: Deliverable, if_match: str, fields: dict[str, Any],
    role: Role, actor: str, note: str | None = None, now: datetime | None = None,
) -> WriteResult:
    """Change owner, due_date, tags, weight (editor) or title (admin), recorded as an edit."""
    now = now or utcnow()
    check_version(deliverable, if_match)
    if ADMIN_FIELDS & fields.keys() and role.rank < Role.admin.rank:
        raise Forbidden("Changing a deliverable's title needs the admin role.")
    current_tags = sorted(session.execute(
        select(DeliverableTag.tag).where(DeliverableTag.deliverable_id == deliverable.id)
    ).scalars())
    before: dict[str, Any] = {
        "owner": deliverable.owner, "due_date": deliverable.due_date,
        "weight": deliverable.weight, "title": deliverable.title, "tags": current_tags,
    }
    changes = {
        name: {"from": _plain(before[name]), "to": _plain(value)}
        for name, value in fields.items() if before[name] != value
    }
    if not changes:
        return WriteResult(deliverable, changed=False)
    columns = {name: fields[name] for name in changes if name != "tags"}
    _bump(session, deliverable, now, **columns)
    if "tags" in changes:
        session.execute(delete(DeliverableTag).where(
            DeliverableTag.deliverable_id == deliverable.id))
        if fields["tags"]:
            session.execute(insert(DeliverableTag), [
                {"deliverable_id": deliverable.id, "tag": tag} for tag in fields["tags"]])
    session.add(DeliverableEdit(deliverable_id=deliverable.id or 0, changes=changes, note=note,
                                changed_by=actor, recorded_at=now))
    session.flush()
    bump_data_version(session, mandate_id=deliverable.mandate_id)
    return WriteResult(deliverable, changed=True)


_DELIVERABLES = Deliverable.__table__  # type: ignore[attr-defined]
IF_UNCHANGED = update(_DELIVERABLES).where(
    _DELIVERABLES.c.id == bindparam("target_id"),
    _DELIVERABLES.c.version == bindparam("expected_version"))
"""Built once and run in Core; the columns to set are the parameters named after them."""


def _bump(session: Session, deliverable: Deliverable, now: datetime, **values: Any) -> None:
    """Apply ``values`` and a new version, only if nobody else has written since
    ``deliverable`` was read; the row lock taken here queues concurrent writers."""
    expected = deliverable.version
    result = session.connection().execute(IF_UNCHANGED, {
        "target_id": deliverable.id, "expected_version": expected,
        "version": expected + 1, "updated_at": now, **values})
    if result.rowcount != 1:
        _changed_meanwhile(session, deliverable)
    _written(deliverable, {"version": expected + 1, "updated_at": now, **values})


def _bump_and_append(session: Session, deliverable: Deliverable, now: datetime, *,
                     entry: dict[str, Any], previous: Any) -> None:
    """:func:`_bump` with the entry's status, then :func:`history.append_entry`: on
    PostgreSQL as one statement (one round trip instead of three), elsewhere as those."""
    state = {"status": entry["to_status"], "percent_complete": entry["percent_complete"]}
    if session.connection().dialect.name != "postgresql":
        _bump(session, deliverable, now, **state)
        history.append_entry(session, entry=entry, previous=previous)
        return
    bump = claim_bump(session, mandate_id=deliverable.mandate_id)
    result = session.connection().execute(APPEND_AND_BUMP if bump else APPEND_IF_UNCHANGED,
                                          append_parameters(deliverable, now, entry, previous))
    if result.rowcount != 1:  # the UPDATE found another version: nothing was written
        _changed_meanwhile(session, deliverable)
    _written(deliverable, {"version": deliverable.version + 1, "updated_at": now, **state})


def append_parameters(deliverable: Any, now: datetime, entry: dict[str, Any], previous: Any
                      ) -> dict[str, Any]:
    """The parameters of :data:`APPEND_AND_BUMP` (and :data:`APPEND_IF_UNCHANGED`)."""
    expected = deliverable.version
    closing = history.closing(previous, entry)
    return {
        "bump_mandate": deliverable.mandate_id,
        "target_id": deliverable.id, "expected_version": expected,
        "new_version": expected + 1, "new_updated_at": now,
        "new_status": entry["to_status"], "new_percent": entry["percent_complete"],
        "entry_id": closing.get("entry_id"), "closed_at": closing.get("closed_at"),
        "closed_fork": closing.get("closed_fork"),
        **{f"new_{name}": value for name, value in history.entry_row(entry).items()}}


def _changed_meanwhile(session: Session, deliverable: Deliverable) -> None:
    session.refresh(deliverable)
    raise PreconditionFailed(
        f"Deliverable {deliverable.code} was changed by someone else just now.",
        extra={"current": current_state(deliverable), "etag": etag(deliverable)},
    )


def _written(deliverable: Deliverable, values: dict[str, Any]) -> None:
    """What was written, into the object, without reading the row back."""
    for name, value in values.items():
        set_committed_value(deliverable, name, value)


_ENTRIES = StatusChange.__table__  # type: ignore[attr-defined]
_BUMPED = (
    update(_DELIVERABLES)
    .where(_DELIVERABLES.c.id == bindparam("target_id"),
           _DELIVERABLES.c.version == bindparam("expected_version"))
    .values(version=bindparam("new_version"), updated_at=bindparam("new_updated_at"),
            status=bindparam("new_status"), percent_complete=bindparam("new_percent"))
    .returning(_DELIVERABLES.c.id)
    .cte("bumped")
)
_CLOSED = history.CLOSE_ENTRY.where(exists(select(_BUMPED.c.id))).cte("closed")
_ADDED = insert(_ENTRIES).from_select(
    list(history.ENTRY_ROW_COLUMNS),
    select(*[bindparam(f"new_{name}", type_=_ENTRIES.c[name].type)
             for name in history.ENTRY_ROW_COLUMNS]).select_from(_BUMPED))
APPEND_IF_UNCHANGED = (
    _ADDED.add_cte(_CLOSED, nest_here=True)
    .execution_options(preserve_rowcount=True)  # an INSERT's rowcount is kept only if asked
)
"""PostgreSQL: the deliverable's new version and state, the previous entry closed and the
new one added, in one statement, all or nothing: if the deliverable is no longer at the
expected version, no row comes out of ``bumped`` and nothing else is written."""
_BUMP_ASKED = insert(DataVersionBump.__table__).from_select(  # type: ignore[attr-defined]
    ["mandate_id"], select(bindparam("bump_mandate", type_=Integer)).select_from(_BUMPED)
).cte("bump")
APPEND_AND_BUMP = (
    _ADDED.add_cte(_CLOSED, _BUMP_ASKED, nest_here=True)
    .execution_options(preserve_rowcount=True)
)
"""The same, asking for the mandate's data version bump too (the first write of the
transaction to the mandate: :func:`versioning.claim_bump`)."""


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
