"""What a status change does, decided from what was read: no SQL, no clock, no session.

:func:`decide` checks the version the client read, when the change takes effect and what
it asks for, and says whether it changes nothing, comes after every entry (it becomes the
current state: *append*) or rewrites the past (*backdate*); with the history entry to write
and, for an append, the parameters of its statements.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from app import conditional
from app.errors import FieldError, InvalidInput
from app.models import Status
from app.services.plan.deliverables import DeliverableRow, DeliverableState, EntryInEffect, etag
from app.services.status.history import ENTRY_COLUMNS, fork_of, new_entry

State = tuple[str, float | None]
"""A deliverable's (status, percent_complete)."""


@dataclass(frozen=True)
class StatusUpdate:
    """What a client asks: a status (percent only with in_progress), why, and when."""

    status: Status
    percent_complete: float | None = None
    note: str | None = None
    evidence_url: str | None = None
    effective_at: datetime | None = None


class Outcome(StrEnum):
    unchanged = "unchanged"
    """The state in effect at that time already is the one asked for: nothing is written."""
    append = "append"
    """After every entry: closes the entry in effect and becomes the current state."""
    backdate = "backdate"
    """Before a later entry: rewrites the past; the current state moves only if nothing
    happened later."""


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    wanted: State
    entry: dict[str, Any] | None = None
    """The new history entry (:func:`history.new_entry`), unless unchanged."""
    parameters: dict[str, Any] | None = None
    """For an append: the parameters of its statements (app/services/status/statements.py)."""


def current_state(deliverable: DeliverableState) -> dict[str, Any]:
    """What a 412 shows of the deliverable, so that the client can reapply its change."""
    return {
        "code": deliverable.code, "status": deliverable.status,
        "percent_complete": deliverable.percent_complete, "version": deliverable.version,
        "owner": deliverable.owner,
        "due_date": deliverable.due_date.isoformat() if deliverable.due_date else None,
        "weight": deliverable.weight, "title": deliverable.title,
        "updated_at": deliverable.updated_at.isoformat().replace("+00:00", "Z"),
    }


def require_version(deliverable: DeliverableState, if_match: str | None) -> None:
    """428 or 412 unless ``if_match`` names the deliverable's current version."""
    conditional.require_match(if_match, etag(deliverable), name=f"Deliverable {deliverable.code}",
                              current_state=lambda: current_state(deliverable))


def state_of(entry: EntryInEffect | None) -> State:
    """The (status, percent) an entry in effect sets; not started without one."""
    if entry is None:
        return Status.not_started.value, None
    return entry.to_status, entry.percent_complete


def comes_last(current: EntryInEffect | None, effective_at: datetime, now: datetime) -> bool:
    """Whether a change comes after every entry (the usual case)."""
    return current is None or (effective_at, now) >= (current.effective_at, current.recorded_at)


def decide(row: DeliverableRow, change: StatusUpdate, *, if_match: str | None, actor: str,
           now: datetime, state_at: Callable[[datetime], State]) -> Decision:
    """The change's outcome. ``state_at(t)``, the deliverable's state at a past time ``t``,
    is asked for a backdated change only."""
    deliverable = row.deliverable
    require_version(deliverable, if_match)
    effective_at = change.effective_at or now
    if effective_at > now:
        raise InvalidInput([FieldError("effective_at", "is in the future; a change can be "
                                                      "backdated but not post-dated")])
    wanted = (change.status.value,
              change.percent_complete if change.status == Status.in_progress else None)
    last = comes_last(row.in_effect, effective_at, now)
    before = state_of(row.in_effect) if last else state_at(effective_at)
    if before == wanted:
        return Decision(Outcome.unchanged, wanted)
    entry = new_entry(
        deliverable_id=deliverable.id, mandate_id=deliverable.mandate_id,
        measure_id=deliverable.measure_id, weight=deliverable.weight,
        from_status=before[0], to_status=wanted[0], percent_complete=wanted[1],
        note=change.note, evidence_url=change.evidence_url, changed_by=actor,
        effective_at=effective_at, recorded_at=now)
    if not last:
        return Decision(Outcome.backdate, wanted, entry)
    return Decision(Outcome.append, wanted, entry,
                    append_parameters(deliverable, row.in_effect, entry, now))


def append_parameters(deliverable: DeliverableState, previous: EntryInEffect | None,
                      entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The parameters of an append's statements: the deliverable's new version and state,
    the previous entry's end (none without one), the new entry, the mandate to bump."""
    closing: dict[str, Any] = {"entry_id": None, "closed_at": None, "closed_fork": None}
    if previous is not None:
        closing = {"entry_id": previous.id, "closed_at": entry["effective_at"],
                   "closed_fork": fork_of(previous.effective_at, entry["effective_at"])}
    return {"target_id": deliverable.id, "expected_version": deliverable.version,
            "new_version": deliverable.version + 1, "new_updated_at": now,
            "new_status": entry["to_status"], "new_percent": entry["percent_complete"],
            "bump_mandate": deliverable.mandate_id, **closing,
            **{f"new_{name}": entry[name] for name in ENTRY_COLUMNS}}
