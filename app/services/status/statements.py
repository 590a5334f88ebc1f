"""Every SQL statement of a write to one deliverable, built once and run in Core.

A status change that comes after every entry (the usual case) writes the deliverable's new
version and state, closes the entry in effect and adds the new one; each of its statements
takes the same parameters (:func:`app.services.status.decision.append_parameters`, with the
event's). On PostgreSQL the three, and the change's event, are one statement
(:data:`APPEND_AND_BUMP`); elsewhere they run one after the other in the same transaction.
"""

from sqlalchemy import Integer, bindparam, exists, insert, select, update

from app.models import DataVersionBump, Deliverable, StatusChange
from app.services.changes.events import EVENT_PARAMETERS, EVENTS
from app.services.status.history import ENTRY_COLUMNS, in_effect_at

_DELIVERABLES = Deliverable.__table__  # type: ignore[attr-defined]
_ENTRIES = StatusChange.__table__  # type: ignore[attr-defined]

BUMP_IF_UNCHANGED = update(_DELIVERABLES).where(
    _DELIVERABLES.c.id == bindparam("target_id"),
    _DELIVERABLES.c.version == bindparam("expected_version"))
"""A new version (and the columns named by the other parameters), only if nobody has
written since the version read: of racing writers exactly one matches; its row lock
queues the others."""

SET_STATE_IF_UNCHANGED = BUMP_IF_UNCHANGED.values(
    version=bindparam("new_version"), updated_at=bindparam("new_updated_at"),
    status=bindparam("new_status"), percent_complete=bindparam("new_percent"))
"""The deliverable's side of an appended change."""

CLOSE_ENTRY = update(_ENTRIES).where(_ENTRIES.c.id == bindparam("entry_id")).values(
    valid_to=bindparam("closed_at"), fork=bindparam("closed_fork"))
"""The entry in effect until now ends where the new one begins."""

ADD_ENTRY = insert(_ENTRIES).values(
    {name: bindparam(f"new_{name}", type_=_ENTRIES.c[name].type) for name in ENTRY_COLUMNS})
"""The new entry, its columns from the parameters ``new_<column>``."""

STATE_AT = select(_ENTRIES.c.to_status, _ENTRIES.c.percent_complete).where(
    _ENTRIES.c.deliverable_id == bindparam("of_deliverable"),
    in_effect_at(bindparam("as_of", type_=_ENTRIES.c.effective_at.type)))
"""The entry in effect at a past time: what a backdated change compares with."""

CURRENT_STATE = select(_DELIVERABLES.c.status, _DELIVERABLES.c.percent_complete).where(
    _DELIVERABLES.c.id == bindparam("target_id"))
"""A deliverable's current state, as the history's upkeep left it after a backdated change."""

# PostgreSQL: the three writes as one data-modifying WITH, all or nothing: if the
# deliverable is no longer at the expected version no row comes out of ``bumped``, and
# nothing else is written.
_BUMPED = SET_STATE_IF_UNCHANGED.returning(_DELIVERABLES.c.id).cte("bumped")
_CLOSED = CLOSE_ENTRY.where(exists(select(_BUMPED.c.id))).cte("closed")
_ADDED = insert(_ENTRIES).from_select(
    list(ENTRY_COLUMNS),
    select(*[bindparam(f"new_{name}", type_=_ENTRIES.c[name].type) for name in ENTRY_COLUMNS]
           ).select_from(_BUMPED))
_EVENT = insert(EVENTS).from_select(
    list(EVENT_PARAMETERS), select(*EVENT_PARAMETERS.values()).select_from(_BUMPED)
).cte("event")
"""The change's event in the change log (app/services/changes/events.py), only if written."""
APPEND_IF_UNCHANGED = (
    _ADDED.add_cte(_CLOSED, _EVENT, nest_here=True)
    .execution_options(preserve_rowcount=True)  # an INSERT's rowcount is kept only if asked
)
"""The appended change in one statement; its rowcount is 1 if it was written, else 0."""
_BUMP_ASKED = insert(DataVersionBump.__table__).from_select(  # type: ignore[attr-defined]
    ["mandate_id"], select(bindparam("bump_mandate", type_=Integer)).select_from(_BUMPED)
).cte("bump")
APPEND_AND_BUMP = (
    _ADDED.add_cte(_CLOSED, _EVENT, _BUMP_ASKED, nest_here=True)
    .execution_options(preserve_rowcount=True)
)
"""The same, asking for the mandate's data version bump too (the transaction's first write
to the mandate: :func:`app.services.versioning.claim_bump`)."""
