"""The status history: what was in effect when, and the current state derived from it.

A deliverable's entries are ordered by (effective_at, recorded_at, id). Each entry's
``valid_to`` is the effective_at of the entry after it, so the entry in effect at a time
T is the one with effective_at ≤ T < valid_to (valid_to null: still in effect). A
deliverable's ``status`` and ``percent_complete`` columns are a copy of the entry in effect
now, kept in step by :func:`record_changes`; a backdated change rewrites the past, and
becomes the current state only if nothing later has happened since.

Finding every entry in effect at T among millions is a stabbing query over intervals; a
B-tree on either end would read half the history. So each entry also stores its *fork*,
its node in a relational interval tree (Kriegel, Pötke and Seidl, VLDB 2000) over whole
UTC days: the day in [day(effective_at), day(valid_to)] with the most trailing zero bits,
or :data:`OPEN_FORK` while it is still in effect. An interval that contains T has its fork
on the path from the tree's root to day(T); for a node left of T the entries there began
before T and are in effect iff they end after T, for a node right of T they end after T
and are in effect iff they began by T. So :func:`in_effect_branches` reads exactly the
entries in effect, by 18 index range scans at most, whatever the history's size.

Entries carry copies of their deliverable's mandate (which never changes), measure, weight
and action line, kept in step by the database (migrations 0005 and 0007's triggers), so
that a rollup as of T reads the history alone, grouped by measure or action line without
a join. The plan's structure, weights and tags are today's: only statuses travel in time.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from app.models import Deliverable, Status, StatusChange
from app.models.plan import OPEN_FORK

EPOCH = date(1970, 1, 1)
DAY_KEY_MIN = 1
DAY_KEY_MAX = OPEN_FORK - 2
"""Day keys are clamped to 1970-01-02 .. 2149-06-04 (the clamping keeps them monotone)."""
TREE_LEVELS = 17
"""Levels of the interval tree: day keys have 16 bits; the root is OPEN_FORK itself."""


def day_key(moment: datetime) -> int:
    """Whole UTC days since 1970-01-01, clamped (the migration's SQL computes the same)."""
    days = (moment.astimezone(UTC).date() - EPOCH).days
    return min(max(days, DAY_KEY_MIN), DAY_KEY_MAX)


def fork_of(effective_at: datetime, valid_to: datetime | None) -> int:
    """An entry's node in the interval tree."""
    if valid_to is None:
        return OPEN_FORK
    return fork_of_days(day_key(effective_at), day_key(valid_to))


def fork_of_days(low: int, high: int) -> int:
    """The day in [low, high] with the most trailing zero bits."""
    for bits in range(TREE_LEVELS - 2, 0, -1):
        node = (high >> bits) << bits
        if node >= low:
            return node
    return high


def fork_path(key: int) -> tuple[list[int], list[int]]:
    """The nodes on the path from the root to day ``key``, left and right of it."""
    left, right = [], []
    for bits in range(TREE_LEVELS - 1, -1, -1):
        node = ((key >> (bits + 1)) << (bits + 1)) | (1 << bits)
        if node < key:
            left.append(node)
        elif node > key:
            right.append(node)
    return left, right


def in_effect_branches(mandate_id: int, as_of: datetime) -> list[list[ColumnElement[bool]]]:
    """Conditions on StatusChange whose union is exactly the mandate's entries in effect at
    ``as_of``, each one a range scan of a covering index."""
    key = day_key(as_of)
    left, right = fork_path(key)
    mandate = StatusChange.mandate_id == mandate_id
    branches = [[mandate, StatusChange.fork == key, in_effect_at(as_of)]]
    if left:
        branches.append([mandate, StatusChange.fork.in_(left), StatusChange.valid_to > as_of])
    if right:
        branches.append([mandate, StatusChange.fork.in_(right),
                         StatusChange.effective_at <= as_of])
    return branches


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
        assert as_of is not None
        entry = union_all(*(
            select(StatusChange.deliverable_id, StatusChange.to_status,
                   StatusChange.percent_complete).where(*branch)
            for branch in in_effect_branches(mandate_id, as_of))).subquery()
    else:
        # Intervals reflect everything recorded; limiting what was known needs the latest
        # entry among those recorded by then.
        visible = [StatusChange.mandate_id == mandate_id, StatusChange.recorded_at <= known_at]
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


ENTRY_COLUMNS = ("deliverable_id", "mandate_id", "measure_id", "weight", "action_line_id",
                 "from_status", "to_status", "percent_complete", "note", "evidence_url",
                 "changed_by", "effective_at", "recorded_at", "valid_to", "fork")
"""What a new entry's row holds (:func:`new_entry`), in this order."""


def new_entry(*, deliverable_id: int, mandate_id: int, measure_id: int, weight: float,
              from_status: str | None, to_status: str, percent_complete: float | None,
              changed_by: str, effective_at: datetime, recorded_at: datetime,
              note: str | None = None, evidence_url: str | None = None,
              action_line_id: int | None = None) -> dict[str, Any]:
    """The row of a new history entry, the one way every writer builds it: in effect from
    ``effective_at`` until a later entry closes it. The action line left None is filled
    by the database from the measure (migration 0007's trigger)."""
    return {"deliverable_id": deliverable_id, "mandate_id": mandate_id,
            "measure_id": measure_id, "weight": weight, "action_line_id": action_line_id,
            "from_status": from_status, "to_status": to_status,
            "percent_complete": percent_complete, "note": note, "evidence_url": evidence_url,
            "changed_by": changed_by, "effective_at": effective_at, "recorded_at": recorded_at,
            "valid_to": None, "fork": OPEN_FORK}


def record_changes(session: Session, *, entries: Sequence[dict[str, Any]],
                   scope: Select[Any] | Sequence[int]) -> None:
    """Append history entries (rows of :func:`new_entry`), then bring intervals and current
    states up to date for the deliverables in ``scope`` (a list of ids, or a select of ids).

    A deliverable's first entry is in effect from then on and needs no upkeep: ``scope``
    need only name the deliverables that had history before."""
    if entries:
        session.execute(insert(StatusChange.__table__), list(entries))
    if not isinstance(scope, Select) and not scope:
        return
    ids: Any = scope if isinstance(scope, Select) else list(scope)
    ordered = select(
        StatusChange.id,
        func.lead(StatusChange.effective_at).over(
            partition_by=StatusChange.deliverable_id,
            order_by=(StatusChange.effective_at, StatusChange.recorded_at, StatusChange.id),
        ).label("next_at"),
    ).where(StatusChange.deliverable_id.in_(ids)).subquery("ordered")
    moved = session.execute(
        update(StatusChange)
        .where(StatusChange.id == ordered.c.id,
               StatusChange.valid_to.is_distinct_from(ordered.c.next_at))
        .values(valid_to=ordered.c.next_at)
        .returning(StatusChange.id, StatusChange.effective_at, StatusChange.valid_to)
        .execution_options(synchronize_session=False)
    ).all()
    if moved:
        table = StatusChange.__table__
        session.connection().execute(
            update(table).where(table.c.id == bindparam("entry_id"))  # type: ignore[attr-defined]
            .values(fork=bindparam("entry_fork")),
            [{"entry_id": row.id, "entry_fork": fork_of(row.effective_at, row.valid_to)}
             for row in moved],
        )
    session.execute(
        update(Deliverable)
        .where(Deliverable.id == StatusChange.deliverable_id, StatusChange.valid_to.is_(None),
               Deliverable.id.in_(ids),
               or_(Deliverable.status != StatusChange.to_status,
                   Deliverable.percent_complete.is_distinct_from(
                       StatusChange.percent_complete)))
        .values(status=StatusChange.to_status, percent_complete=StatusChange.percent_complete)
        .execution_options(synchronize_session=False)
    )
