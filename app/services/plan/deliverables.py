"""Finding deliverables: filters shared by the list and the rollups, pages, history."""

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Mandate,
    Measure,
    Status,
    StatusChange,
)
from app.services.lookup import deliverable_not_found, get_mandate
from app.services.status.history import UNREAD

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class DeliverableFilter:
    """Which deliverables of a mandate to take; every field narrows the set."""

    mandate_id: int
    statuses: tuple[Status, ...] = ()
    action_line: str | None = None
    measure: str | None = None
    tag: str | None = None
    owner: str | None = None
    q: str | None = None


def apply_filter(query: SelectT, where: DeliverableFilter) -> SelectT:
    """Narrow a query over Deliverable; joins nothing, so aggregates stay simple."""
    if where.statuses:
        query = query.where(Deliverable.status.in_([s.value for s in where.statuses]))
    if where.measure is not None:
        query = query.where(Deliverable.measure_id.in_(
            select(Measure.id).where(Measure.mandate_id == where.mandate_id,
                                     Measure.code == where.measure)))
    if where.action_line is not None:
        query = query.where(Deliverable.measure_id.in_(
            select(Measure.id).join(ActionLine, ActionLine.id == Measure.action_line_id)
            .where(Measure.mandate_id == where.mandate_id, ActionLine.code == where.action_line)))
    if where.tag is not None:
        query = query.where(Deliverable.id.in_(
            select(DeliverableTag.deliverable_id).where(DeliverableTag.tag == where.tag.lower())))
    if where.owner is not None:
        query = query.where(Deliverable.owner == where.owner)
    if where.q:
        needle = where.q.lower()
        query = query.where(
            func.lower(Deliverable.title).contains(needle, autoescape=True)
            | func.lower(Deliverable.code).contains(needle, autoescape=True)
        )
    return query


@dataclass
class DeliverableRow:
    deliverable: "Deliverable | DeliverableState"
    action_line: str
    measure: str
    tags: list[str] = field(default_factory=list)
    in_effect: Any = UNREAD
    """The history entry in effect now, or None without history, when read along
    (:func:`find_row`)."""


def list_deliverables(
    session: Session, *, where: DeliverableFilter, limit: int, offset: int
) -> tuple[list[DeliverableRow], int]:
    """One page of deliverables in plan order, and how many match in all."""
    base = apply_filter(select(Deliverable.id).where(
        Deliverable.mandate_id == where.mandate_id), where)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    page = session.execute(
        apply_filter(
            select(Deliverable, Measure.code, ActionLine.code)
            .join(Measure, Measure.id == Deliverable.measure_id)
            .join(ActionLine, ActionLine.id == Measure.action_line_id)
            .where(Deliverable.mandate_id == where.mandate_id),
            where,
        )
        .order_by(ActionLine.position, Measure.position, Deliverable.position, Deliverable.code)
        .limit(limit).offset(offset)
    ).all()
    rows = [DeliverableRow(deliverable, line_code, measure_code)
            for deliverable, measure_code, line_code in page]
    attach_tags(session, rows)
    return rows, total


def to_public(row: DeliverableRow) -> dict[str, Any]:
    """A deliverable as the API shows it."""
    deliverable = row.deliverable
    return {
        "code": deliverable.code, "title": deliverable.title, "status": deliverable.status,
        "percent_complete": deliverable.percent_complete, "weight": deliverable.weight,
        "owner": deliverable.owner, "due_date": deliverable.due_date, "tags": row.tags,
        "action_line": row.action_line, "measure": row.measure,
        "version": deliverable.version, "updated_at": deliverable.updated_at,
    }


_IN_EFFECT = aliased(StatusChange, name="in_effect")


_ALONGSIDE = (Measure.code, ActionLine.code, DeliverableTag.tag, _IN_EFFECT.id,
              _IN_EFFECT.to_status, _IN_EFFECT.percent_complete, _IN_EFFECT.effective_at,
              _IN_EFFECT.recorded_at)
"""What :func:`_by_codes` reads after the deliverable, in this order (:func:`row_of`)."""


def _by_codes(*deliverable: Any) -> Select[Any]:
    """``deliverable`` (the entity or its columns), its measure's and line's codes, a tag
    per row and the entry in effect, by the mandate's code and its own."""
    return (
        select(*deliverable, *_ALONGSIDE)
        .join(Mandate, Mandate.id == Deliverable.mandate_id)
        .join(Measure, Measure.id == Deliverable.measure_id)
        .join(ActionLine, ActionLine.id == Measure.action_line_id)
        .outerjoin(DeliverableTag, DeliverableTag.deliverable_id == Deliverable.id)
        .outerjoin(_IN_EFFECT, and_(_IN_EFFECT.deliverable_id == Deliverable.id,
                                    _IN_EFFECT.valid_to.is_(None)))
        .where(Mandate.code == bindparam("mandate_code"), Deliverable.code == bindparam("code"))
        .order_by(DeliverableTag.tag)
    )


ROW_BY_CODES = _by_codes(Deliverable)
"""Built once: every write to a deliverable runs it."""


@dataclass
class DeliverableState:
    """A deliverable's row as plain values, for the paths that skip the ORM; it answers to
    the same attribute names as :class:`Deliverable`."""

    id: int
    mandate_id: int
    measure_id: int
    code: str
    title: str
    status: str
    percent_complete: float | None
    weight: float
    owner: str | None
    due_date: date | None
    position: int
    version: int
    updated_at: datetime


_DELIVERABLES = Deliverable.__table__  # type: ignore[attr-defined]
STATE_BY_CODES = _by_codes(*[_DELIVERABLES.c[f.name] for f in fields(DeliverableState)])
""":data:`ROW_BY_CODES` with the deliverable as columns, in :class:`DeliverableState`'s
order."""


def row_of(found: Sequence[Any], deliverable: Any) -> "DeliverableRow":
    """The :class:`DeliverableRow` of the rows of a ``_by_codes`` statement, the deliverable
    (entity or state) taken from their first columns."""
    tag_at = 2 - len(_ALONGSIDE)  # the tag's column, counted from the end
    measure_code, line_code, _tag, *entry = found[0][-len(_ALONGSIDE):]
    return DeliverableRow(deliverable, line_code, measure_code,
                          [row[tag_at] for row in found if row[tag_at] is not None],
                          in_effect=EntryInEffect(*entry) if entry[0] is not None else None)


@dataclass(frozen=True)
class EntryInEffect:
    """The history entry in effect now, as :func:`history.current_entry` reads it."""

    id: int
    to_status: str
    percent_complete: float | None
    effective_at: datetime
    recorded_at: datetime


def find_row(session: Session, *, mandate: str, code: str) -> DeliverableRow:
    """A deliverable by its mandate's code and its own, with what the API shows of it
    (its codes and tags) and the history entry in effect now, in one query; 404 naming
    whichever does not exist."""
    found = session.execute(ROW_BY_CODES, {"mandate_code": mandate, "code": code}).all()
    if not found:
        get_mandate(session, code=mandate)  # 404 if the mandate is what does not exist
        raise deliverable_not_found(mandate, code)
    return row_of(found, found[0][0])


_TAGS = DeliverableTag.__table__  # type: ignore[attr-defined]
TAGS = select(_TAGS.c.deliverable_id, _TAGS.c.tag).where(
    _TAGS.c.deliverable_id.in_(bindparam("of_deliverables", expanding=True))).order_by(_TAGS.c.tag)


def attach_tags(session: Session, rows: list[DeliverableRow]) -> None:
    by_id = {row.deliverable.id: row for row in rows}
    if not by_id:
        return
    for deliverable_id, tag in session.connection().execute(
        TAGS, {"of_deliverables": list(by_id)}):
        by_id[deliverable_id].tags.append(tag)


def history(
    session: Session, *, deliverable: Deliverable, limit: int, offset: int
) -> tuple[list[StatusChange], int]:
    """Status changes, newest first (by when they took effect, then when recorded)."""
    total = session.execute(
        select(func.count()).where(StatusChange.deliverable_id == deliverable.id)
    ).scalar_one()
    changes = session.execute(
        select(StatusChange).where(StatusChange.deliverable_id == deliverable.id)
        .order_by(StatusChange.effective_at.desc(), StatusChange.recorded_at.desc(),
                  StatusChange.id.desc())
        .limit(limit).offset(offset)
    ).scalars().all()
    return list(changes), total


def mandate_list(session: Session) -> list[Mandate]:
    return list(session.execute(select(Mandate).order_by(Mandate.start_date.desc(),
                                                         Mandate.code)).scalars())
