"""A status change, from the route to SQL: find the deliverable, decide, write, and the
row updated to what was written.

One :func:`change_status` runs over either of two writers:

- :class:`InTransaction`: the request's session, on both databases; does everything.
- :class:`Autocommit`: PostgreSQL, a driver connection in autocommit (app.db). An append
  is one statement (:data:`statements.APPEND_AND_BUMP`), so it is all or nothing on its
  own; anything that needs more (an unknown code, a backdated change, a race lost) raises
  :class:`NeedsTransaction` before anything is written, and the caller runs the change
  again in a transaction, which gives the answer (docs/performance.md: why it exists).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.db import DriverConnection
from app.errors import NotFound, PlanpulseError, PreconditionFailed
from app.models import Status
from app.models.types import utcnow
from app.services.access.scopes import EVERYWHERE, Reach, require_covered
from app.services.changes.events import ADD_EVENT, Author, EventType, event_parameters
from app.services.plan.deliverables import (
    DeliverableRow,
    DeliverableState,
    etag,
    find_row,
    read_row,
    read_row_by_id,
)
from app.services.status import statements
from app.services.status.decision import (
    Decision,
    Outcome,
    State,
    StatusUpdate,
    current_state,
    decide,
)
from app.services.status.history import record_changes
from app.services.versioning import bump_data_version, claim_bump


class NeedsTransaction(Exception):
    """The autocommit writer cannot make this change; nothing has been written."""


class Writer(Protocol):
    """Where a decided change is written."""

    def find(self, *, mandate: str, code: str) -> DeliverableRow: ...

    def state_at(self, deliverable_id: int, moment: datetime) -> State: ...

    def append(self, row: DeliverableRow, decision: Decision) -> None: ...

    def backdate(self, row: DeliverableRow, decision: Decision, now: datetime,
                 event: dict[str, Any]) -> State: ...


@dataclass(frozen=True)
class WriteResult:
    row: DeliverableRow
    """The deliverable as it is after the change (its codes, tags, new version)."""
    changed: bool


def change_status(writer: Writer, *, mandate: str, code: str, change: StatusUpdate,
                  if_match: str | None, actor: str, role: str | None = None,
                  reach: Reach = EVERYWHERE, now: datetime | None = None) -> WriteResult:
    """Record a status change effective at ``change.effective_at`` (default now), with its
    event in the change log, by ``actor`` (a token's name) of ``role`` reaching ``reach``
    (403 for a deliverable outside it).

    Nothing is recorded when that is already the state in effect at that time. A backdated
    change rewrites the past; it becomes the current state only if nothing happened later.
    """
    now = now or utcnow()
    row = writer.find(mandate=mandate, code=code)
    require_covered(reach, mandate, what=f"Deliverable {code}", line=row.action_line,
                    measure=row.measure)
    deliverable = row.deliverable
    decision = decide(row, change, if_match=if_match, actor=actor, now=now,
                      state_at=lambda moment: writer.state_at(deliverable.id, moment))
    if decision.outcome is Outcome.unchanged:
        return WriteResult(row, changed=False)
    assert decision.entry is not None
    event = status_changed_event(row, decision.entry, author=Author(actor, role), now=now)
    if decision.outcome is Outcome.append:
        writer.append(row, replace(decision, parameters={**(decision.parameters or {}),
                                                         **event}))
        state = decision.wanted
    else:
        state = writer.backdate(row, decision, now, event)
    deliverable.status, deliverable.percent_complete = state
    deliverable.version += 1
    deliverable.updated_at = now
    return WriteResult(row, changed=True)


class InTransaction:
    """Writes in the session's transaction (committed or rolled back by its owner); the
    mandate's data version is bumped at its commit."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, *, mandate: str, code: str) -> DeliverableRow:
        return find_row(self.session, mandate=mandate, code=code)

    def state_at(self, deliverable_id: int, moment: datetime) -> State:
        found = self.session.connection().execute(
            statements.STATE_AT, {"of_deliverable": deliverable_id, "as_of": moment}).first()
        return (found[0], found[1]) if found else (Status.not_started.value, None)

    def append(self, row: DeliverableRow, decision: Decision) -> None:
        connection, parameters = self.session.connection(), decision.parameters or {}
        mandate_id = row.deliverable.mandate_id
        if connection.dialect.name == "postgresql":
            asked = claim_bump(self.session, mandate_id=mandate_id)
            written = connection.execute(
                statements.APPEND_AND_BUMP if asked else statements.APPEND_IF_UNCHANGED,
                parameters).rowcount == 1
        else:
            written = connection.execute(statements.SET_STATE_IF_UNCHANGED,
                                         parameters).rowcount == 1
            if written:
                if parameters["entry_id"] is not None:
                    connection.execute(statements.CLOSE_ENTRY, parameters)
                connection.execute(statements.ADD_ENTRY, parameters)
                connection.execute(ADD_EVENT, parameters)
        if not written:
            raise self.lost_race(row.deliverable)
        bump_data_version(self.session, mandate_id=mandate_id)

    def backdate(self, row: DeliverableRow, decision: Decision, now: datetime,
                 event: dict[str, Any]) -> State:
        deliverable = row.deliverable
        self.bump(deliverable, now)
        assert decision.entry is not None
        record_changes(self.session, entries=[decision.entry], scope=[deliverable.id])
        self.session.connection().execute(ADD_EVENT, event)
        status, percent = self.session.connection().execute(
            statements.CURRENT_STATE, {"target_id": deliverable.id}).one()
        return status, percent

    def bump(self, deliverable: DeliverableState, now: datetime, **columns: object) -> None:
        """A new version of the deliverable (with ``columns`` set), only if it is still at
        the version read; 412 with the winner's state otherwise. The data version too."""
        result = self.session.connection().execute(statements.BUMP_IF_UNCHANGED, {
            "target_id": deliverable.id, "expected_version": deliverable.version,
            "version": deliverable.version + 1, "updated_at": now, **columns})
        if result.rowcount != 1:
            raise self.lost_race(deliverable)
        bump_data_version(self.session, mandate_id=deliverable.mandate_id)

    def lost_race(self, deliverable: DeliverableState) -> PlanpulseError:
        """The 412 of a write that another writer beat between its read and its write (404
        if the other one deleted it)."""
        row = read_row_by_id(self.session.connection(), deliverable.id)
        if row is None:
            return NotFound(f"Deliverable {deliverable.code} was deleted just now.")
        current = row.deliverable
        return PreconditionFailed(
            f"Deliverable {current.code} was changed by someone else just now.",
            extra={"current": current_state(current), "etag": etag(current)})


class Autocommit:
    """PostgreSQL: the usual change as one statement in autocommit, its own transaction
    (READ COMMITTED reads nothing more in one); anything else: :class:`NeedsTransaction`."""

    def __init__(self, connection: DriverConnection) -> None:
        self.connection = connection

    def find(self, *, mandate: str, code: str) -> DeliverableRow:
        row = read_row(self.connection, mandate=mandate, code=code)
        if row is None:
            raise NeedsTransaction  # the transaction's path says which code is unknown
        return row

    def state_at(self, deliverable_id: int, moment: datetime) -> State:
        raise NeedsTransaction  # a backdated change: several statements

    def append(self, row: DeliverableRow, decision: Decision) -> None:
        from psycopg.types.json import Json  # the driver's own JSON: no SQLAlchemy types here

        parameters = decision.parameters or {}
        parameters = {**parameters, "event_data": Json(parameters["event_data"])}
        written = self.connection.execute(statements.APPEND_AND_BUMP, parameters)
        if written.rowcount != 1:
            raise NeedsTransaction  # another writer came first: its path answers 412

    def backdate(self, row: DeliverableRow, decision: Decision, now: datetime,
                 event: dict[str, Any]) -> State:
        raise NeedsTransaction


def status_changed_event(row: DeliverableRow, entry: dict[str, Any], *, author: Author,
                         now: datetime) -> dict[str, Any]:
    """The parameters of a status change's event: what changed, where, by whom."""
    deliverable = row.deliverable
    data = {"deliverable": deliverable.code, "action_line": row.action_line,
            "measure": row.measure, "from_status": entry["from_status"],
            "to_status": entry["to_status"], "percent_complete": entry["percent_complete"],
            "note": entry["note"], "evidence_url": entry["evidence_url"],
            "effective_at": entry["effective_at"].isoformat().replace("+00:00", "Z"),
            "version": deliverable.version + 1}
    return event_parameters(EventType.status_changed, mandate_id=deliverable.mandate_id,
                            author=author, data=data, at=now)
