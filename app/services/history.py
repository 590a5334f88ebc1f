"""The status history: what was in effect when, and the current state derived from it.

A deliverable's entries are ordered by (effective_at, recorded_at, id). Each entry's
``valid_to`` is the effective_at of the entry after it, so the entry in effect at a time
T is the one with effective_at ≤ T < valid_to (valid_to null: still in effect). A
deliverable's ``status`` and ``percent_complete`` columns are a copy of the entry in effect
now, kept in step by :func:`record_changes`; a backdated change rewrites the past, and
becomes the current state only if nothing later has happened since.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased

from app.models import Deliverable, Status, StatusChange


def in_effect_at(as_of: datetime) -> ColumnElement[bool]:
    """True for the entry that was in effect at ``as_of``, using the maintained intervals."""
    return and_(StatusChange.effective_at <= as_of,
                or_(StatusChange.valid_to.is_(None), StatusChange.valid_to > as_of))


def states_as_of(mandate_id: int, as_of: datetime | None, known_at: datetime | None = None
                 ) -> Any:
    """A subquery of (id, measure_id, status, percent_complete, weight) for every deliverable
    of the mandate as it stood at ``as_of``, from what had been recorded by ``known_at``.

    With neither, the current state. A deliverable with no entry in effect yet counts as
    not_started. Structure, weights and tags are today's: only statuses travel in time.
    """
    d = Deliverable
    if as_of is None and known_at is None:
        return select(d.id, d.measure_id, d.status, d.percent_complete, d.weight).where(
            d.mandate_id == mandate_id).subquery("state")
    if known_at is None:
        entry = select(StatusChange.deliverable_id, StatusChange.to_status,
                       StatusChange.percent_complete).where(in_effect_at(as_of)).subquery()  # type: ignore[arg-type]
    else:
        # Intervals reflect everything recorded; limiting what was known needs the latest
        # entry among those recorded by then.
        visible = [StatusChange.recorded_at <= known_at]
        if as_of is not None:
            visible.append(StatusChange.effective_at <= as_of)
        ranked = select(
            StatusChange.deliverable_id, StatusChange.to_status, StatusChange.percent_complete,
            func.row_number().over(
                partition_by=StatusChange.deliverable_id,
                order_by=(StatusChange.effective_at.desc(), StatusChange.recorded_at.desc(),
                          StatusChange.id.desc()),
            ).label("rank"),
        ).where(*visible).subquery()
        entry = select(ranked.c.deliverable_id, ranked.c.to_status,
                       ranked.c.percent_complete).where(ranked.c.rank == 1).subquery()
    return (
        select(d.id, d.measure_id,
               func.coalesce(entry.c.to_status, literal(Status.not_started.value)).label(
                   "status"),
               entry.c.percent_complete.label("percent_complete"), d.weight)
        .outerjoin(entry, entry.c.deliverable_id == d.id)
        .where(d.mandate_id == mandate_id)
        .subquery("state")
    )


def state_at(session: Session, *, deliverable_id: int, as_of: datetime
             ) -> tuple[str, float | None]:
    """(status, percent_complete) of one deliverable at ``as_of``."""
    row = session.execute(
        select(StatusChange.to_status, StatusChange.percent_complete)
        .where(StatusChange.deliverable_id == deliverable_id, in_effect_at(as_of))
    ).first()
    return (row[0], row[1]) if row else (Status.not_started.value, None)


def record_changes(session: Session, *, entries: list[dict[str, Any]],
                   scope: Select[Any] | list[int]) -> None:
    """Append history entries, then bring intervals and current states up to date for
    the deliverables in ``scope`` (a list of ids, or a select of ids)."""
    if not entries:
        return
    session.execute(insert(StatusChange), entries)
    ids_in_scope = scope if isinstance(scope, Select) else select(Deliverable.id).where(
        Deliverable.id.in_(scope))
    later = aliased(StatusChange)
    session.execute(
        update(StatusChange)
        .where(StatusChange.deliverable_id.in_(ids_in_scope))
        .values(valid_to=select(func.min(later.effective_at)).where(
            later.deliverable_id == StatusChange.deliverable_id,
            tuple_(later.effective_at, later.recorded_at, later.id)
            > tuple_(StatusChange.effective_at, StatusChange.recorded_at, StatusChange.id),
        ).scalar_subquery())
        .execution_options(synchronize_session=False)
    )
    current = select(StatusChange).where(
        StatusChange.deliverable_id == Deliverable.id, StatusChange.valid_to.is_(None)
    ).correlate(Deliverable)
    session.execute(
        update(Deliverable)
        .where(Deliverable.id.in_(ids_in_scope))
        .values(
            status=current.with_only_columns(StatusChange.to_status).scalar_subquery(),
            percent_complete=current.with_only_columns(
                StatusChange.percent_complete).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
