"""Finding deliverables: filters shared by the list and the rollups, one deliverable with
what the API shows of it, pages, history."""

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from app.conditional import strong_tag
from app.db import Runner
from app.models import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Mandate,
    Measure,
    Status,
    StatusChange,
)
from app.schemas.api import DeliverablePublic, QuantityOut
from app.services.lookup import get_mandate, not_found
from app.services.paging import Page, PageRequest, fetch_page

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True)
class DeliverableFilter:
    """Which deliverables of a mandate to take; every field narrows the set."""

    mandate_id: int
    statuses: tuple[Status, ...] = ()
    action_line: str | None = None
    measure: str | None = None
    tag: str | None = None
    owner: str | tuple[str, ...] | None = None
    """An owner's name, or several names for one person (a token's name and the person it
    speaks for)."""
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
        # What a person is responsible for: their own deliverables and their measures'.
        names = (where.owner,) if isinstance(where.owner, str) else where.owner
        query = query.where(
            Deliverable.owner.in_(names)
            | Deliverable.measure_id.in_(
                select(Measure.id).where(Measure.mandate_id == where.mandate_id,
                                         Measure.owner.in_(names))))
    if where.q:
        needle = where.q.lower()
        query = query.where(
            func.lower(Deliverable.title).contains(needle, autoescape=True)
            | func.lower(Deliverable.code).contains(needle, autoescape=True)
        )
    return query


@dataclass
class DeliverableState:
    """A deliverable's row as plain values: what reads show and writes check and update."""

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
    quantity: dict[str, Any] | None


@dataclass(frozen=True)
class EntryInEffect:
    """The history entry in effect now: what a status change closes and compares with."""

    id: int
    to_status: str
    percent_complete: float | None
    effective_at: datetime
    recorded_at: datetime


@dataclass
class DeliverableRow:
    """A deliverable with its measure's and action line's codes, its tags and (when read
    by :func:`find_row`) the history entry in effect now, None without history."""

    deliverable: DeliverableState
    action_line: str
    measure: str
    tags: list[str] = field(default_factory=list)
    in_effect: EntryInEffect | None = None


def etag(deliverable: DeliverableState) -> str:
    """The deliverable's entity tag, ``"<id>.<version>"``: changes with every write to it."""
    return strong_tag(deliverable.id, deliverable.version)


def to_public(row: DeliverableRow) -> DeliverablePublic:
    """A deliverable as the API shows it."""
    deliverable = row.deliverable
    return DeliverablePublic(
        code=deliverable.code, title=deliverable.title, status=Status(deliverable.status),
        percent_complete=deliverable.percent_complete, weight=deliverable.weight,
        owner=deliverable.owner, due_date=deliverable.due_date, tags=row.tags,
        quantity=QuantityOut.model_validate(deliverable.quantity) if deliverable.quantity
        else None,
        action_line=row.action_line, measure=row.measure, version=deliverable.version,
        updated_at=deliverable.updated_at)


_DELIVERABLES = Deliverable.__table__  # type: ignore[attr-defined]
STATE_COLUMNS = tuple(_DELIVERABLES.c[f.name] for f in fields(DeliverableState))
"""The columns of :class:`DeliverableState`, in its order."""
_IN_EFFECT = aliased(StatusChange, name="in_effect")
_ALONGSIDE = (Measure.code, ActionLine.code, DeliverableTag.tag, _IN_EFFECT.id,
              _IN_EFFECT.to_status, _IN_EFFECT.percent_complete, _IN_EFFECT.effective_at,
              _IN_EFFECT.recorded_at)
"""What :data:`BY_CODES` reads after the deliverable's state, in this order."""


def _with_alongside(*conditions: Any) -> Select[Any]:
    return (
        select(*STATE_COLUMNS, *_ALONGSIDE)
        .join(Measure, Measure.id == Deliverable.measure_id)
        .join(ActionLine, ActionLine.id == Measure.action_line_id)
        .outerjoin(DeliverableTag, DeliverableTag.deliverable_id == Deliverable.id)
        .outerjoin(_IN_EFFECT, and_(_IN_EFFECT.deliverable_id == Deliverable.id,
                                    _IN_EFFECT.valid_to.is_(None)))
        .where(*conditions)
        .order_by(DeliverableTag.tag)
    )


BY_CODES = _with_alongside(
    Mandate.code == bindparam("mandate_code"), Deliverable.code == bindparam("code"),
).join(Mandate, Mandate.id == Deliverable.mandate_id)
"""A deliverable by its mandate's code and its own: one row per tag. Built once: every
read and write of one deliverable runs it."""
BY_ID = _with_alongside(Deliverable.id == bindparam("target_id"))
"""The same by the deliverable's id (a write that lost a race reads the winner's state)."""


def _utc(moment: datetime) -> datetime:
    """Aware UTC, whichever way it was read (the driver answers in the session's zone)."""
    return moment.astimezone(UTC)


def row_of(found: Sequence[Any]) -> DeliverableRow:
    """The :class:`DeliverableRow` of the rows of :data:`BY_CODES` or :data:`BY_ID`."""
    first = found[0]
    state = DeliverableState(*first[:len(STATE_COLUMNS)])
    state.updated_at = _utc(state.updated_at)
    measure_code, line_code, _tag, entry_id, *entry = first[len(STATE_COLUMNS):]
    tag_at = len(STATE_COLUMNS) + 2
    in_effect = None
    if entry_id is not None:
        to_status, percent, effective_at, recorded_at = entry
        in_effect = EntryInEffect(entry_id, to_status, percent, _utc(effective_at),
                                  _utc(recorded_at))
    return DeliverableRow(state, line_code, measure_code,
                          [row[tag_at] for row in found if row[tag_at] is not None], in_effect)


def read_row(runner: Runner, *, mandate: str, code: str) -> DeliverableRow | None:
    """A deliverable with its codes, tags and entry in effect, in one query; None when
    the mandate or the deliverable does not exist."""
    found = runner.execute(BY_CODES, {"mandate_code": mandate, "code": code}).fetchall()
    return row_of(found) if found else None


def find_row(session: Session, *, mandate: str, code: str) -> DeliverableRow:
    """:func:`read_row`, or 404 naming whichever does not exist."""
    row = read_row(session.connection(), mandate=mandate, code=code)
    if row is None:
        get_mandate(session, code=mandate)  # 404 if the mandate is what does not exist
        raise not_found(Deliverable, code, mandate=mandate)
    return row


def read_row_by_id(runner: Runner, deliverable_id: int) -> DeliverableRow | None:
    found = runner.execute(BY_ID, {"target_id": deliverable_id}).fetchall()
    return row_of(found) if found else None


def list_deliverables(session: Session, *, where: DeliverableFilter, page: PageRequest
                      ) -> Page[DeliverableRow]:
    """One page of deliverables in plan order, and how many match in all."""
    found = fetch_page(session, apply_filter(
        select(*STATE_COLUMNS, Measure.code, ActionLine.code)
        .join(Measure, Measure.id == Deliverable.measure_id)
        .join(ActionLine, ActionLine.id == Measure.action_line_id)
        .where(Deliverable.mandate_id == where.mandate_id), where)
        .order_by(ActionLine.position, Measure.position, Deliverable.position, Deliverable.code),
        page)
    width = len(STATE_COLUMNS)
    rows = [DeliverableRow(DeliverableState(*row[:width]), row[width + 1], row[width])
            for row in found.data]
    attach_tags(session, rows)
    return Page(rows, found.count, found.limit, found.offset)


_TAGS = DeliverableTag.__table__  # type: ignore[attr-defined]
TAGS = select(_TAGS.c.deliverable_id, _TAGS.c.tag).where(
    _TAGS.c.deliverable_id.in_(bindparam("of_deliverables", expanding=True))).order_by(_TAGS.c.tag)


def attach_tags(session: Session, rows: list[DeliverableRow]) -> None:
    """Read the tags of ``rows`` (in one query) into them."""
    by_id = {row.deliverable.id: row for row in rows}
    for row in rows:
        row.tags = []
    if not by_id:
        return
    for deliverable_id, tag in session.connection().execute(
            TAGS, {"of_deliverables": list(by_id)}):
        by_id[deliverable_id].tags.append(tag)


def history(session: Session, *, deliverable_id: int, page: PageRequest
            ) -> Page[StatusChange]:
    """Status changes, newest first (by when they took effect, then when recorded)."""
    return fetch_page(session, select(StatusChange)
                      .where(StatusChange.deliverable_id == deliverable_id)
                      .order_by(StatusChange.effective_at.desc(),
                                StatusChange.recorded_at.desc(), StatusChange.id.desc()),
                      page, scalars=True)


NEWEST_FIRST = select(Mandate).order_by(Mandate.start_date.desc(), Mandate.code)


def mandate_list(session: Session) -> list[Mandate]:
    return list(session.execute(NEWEST_FIRST).scalars())


def mandate_page(session: Session, *, page: PageRequest,
                 only: frozenset[str] | None = None) -> Page[Mandate]:
    """A page of the mandates, newest first; ``only`` these codes when given (the mandates
    a scoped caller may read)."""
    query = NEWEST_FIRST if only is None else NEWEST_FIRST.where(Mandate.code.in_(only))
    return fetch_page(session, query, page, scalars=True)
