"""Writing engagement: the roll and the values of a period, in bulk, keeping their history.

A changed value supersedes the row in force (its ``superseded_at`` set) and adds one; an
unchanged value is left alone, so an import run twice records nothing the second time.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.models import EngagementRecord, Mandate, RollEntry
from app.services.records.values import CLEARED, Stored
from app.services.versioning import bump_data_version

CHUNK = 500
"""Ids per ``IN (...)``: well inside every driver's limit on bound parameters."""


@dataclass
class EngagementChange:
    """What an import asks for one member and period: on the roll, with these values (a
    kind absent from ``values`` is left as it is)."""

    member_id: int
    period: str
    values: Mapping[int, Stored] = field(default_factory=dict)
    """Kind id → the value wanted (:data:`CLEARED` for nothing)."""


@dataclass
class EngagementTally:
    added_to_roll: int = 0
    values_changed: int = 0
    values_unchanged: int = 0


def in_force_values(session: Session, *, periods: Iterable[str], member_ids: Iterable[int]
                    ) -> dict[tuple[int, int, str], tuple[int, Stored]]:
    """(member, kind, period) → (row id, value) of the rows in force."""
    found: dict[tuple[int, int, str], tuple[int, Stored]] = {}
    periods, members = sorted(set(periods)), sorted(set(member_ids))
    for start in range(0, len(members), CHUNK):
        rows = session.execute(
            select(EngagementRecord.id, EngagementRecord.member_id, EngagementRecord.kind_id,
                   EngagementRecord.period, EngagementRecord.amount, EngagementRecord.label)
            .where(EngagementRecord.superseded_at.is_(None),
                   EngagementRecord.period.in_(periods),
                   EngagementRecord.member_id.in_(members[start:start + CHUNK])))
        for row in rows:
            found[(row.member_id, row.kind_id, row.period)] = (
                row.id, Stored(amount=row.amount, label=row.label))
    return found


def on_roll(session: Session, *, periods: Iterable[str]) -> set[tuple[int, str]]:
    """(member, period) of the roll entries in force for these periods."""
    return {(row.member_id, row.period) for row in session.execute(
        select(RollEntry.member_id, RollEntry.period).where(
            RollEntry.superseded_at.is_(None), RollEntry.period.in_(sorted(set(periods)))))}


def apply_engagement(session: Session, changes: list[EngagementChange], *, actor: str,
                     now: datetime, note: str | None = None) -> EngagementTally:
    """Put each member on its period's roll and record the values that differ from those in
    force, in a few statements whatever the number of rows."""
    tally = EngagementTally()
    if not changes:
        return tally
    periods = {change.period for change in changes}
    rolled = on_roll(session, periods=periods)
    current = in_force_values(session, periods=periods,
                              member_ids=[change.member_id for change in changes])
    new_roll, superseded, added = [], [], []
    for change in changes:
        if (change.member_id, change.period) not in rolled:
            rolled.add((change.member_id, change.period))
            new_roll.append({"member_id": change.member_id, "period": change.period,
                             "recorded_by": actor, "recorded_at": now, "note": note})
        for kind_id, wanted in change.values.items():
            row_id, stored = current.get((change.member_id, kind_id, change.period),
                                         (None, CLEARED))
            if stored == wanted:
                tally.values_unchanged += 1
                continue
            if row_id is None and not wanted.present:
                continue  # nothing there, nothing wanted: no row for it
            if row_id is not None:
                superseded.append(row_id)
            added.append({"member_id": change.member_id, "kind_id": kind_id,
                          "period": change.period, "amount": wanted.amount,
                          "label": wanted.label, "recorded_by": actor, "recorded_at": now,
                          "note": note})
            tally.values_changed += 1
    for start in range(0, len(superseded), CHUNK):
        session.execute(update(EngagementRecord)
                        .where(EngagementRecord.id.in_(superseded[start:start + CHUNK]))
                        .values(superseded_at=now)
                        .execution_options(synchronize_session=False))
    if new_roll:
        session.execute(insert(RollEntry), new_roll)
    if added:
        session.execute(insert(EngagementRecord), added)
    tally.added_to_roll = len(new_roll)
    return tally


def bump_every_mandate(session: Session) -> None:
    """Records are organisation-wide: any mandate's derived indicators may read them, so a
    change to them is a change to every mandate's data (its progress ETag)."""
    for mandate_id in session.execute(select(Mandate.id).order_by(Mandate.id)).scalars():
        bump_data_version(session, mandate_id=mandate_id)
