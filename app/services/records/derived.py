"""Derived indicators: each value computed from the records by one SQL aggregation when it
is read, per period; nothing is stored that could drift from the records.

A period has a value when the records have something to count in it: a roll for the
engagement forms, activities for the activity forms (a count of 0 is then a value). With
``at``, the records as they stood then (what had been recorded by that instant).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.models import Activity, ActivityKind, EngagementKind, EngagementRecord, Member, RollEntry
from app.schemas.derived import DerivedSpec, MembersOf

PERCENT = 100


@dataclass(frozen=True)
class DerivedValue:
    period: str
    value: float
    numerator: float
    denominator: float | None
    """The members on the roll (a share of members), the women and men counted (a women's
    share); None for counts and sums."""
    records: list[str] | None = None
    """With explain: the codes of the members or activities counted."""

    def explain(self) -> dict[str, Any]:
        return {"numerator": {"count": self.numerator, "records": self.records or []},
                "denominator": None if self.denominator is None
                else {"count": self.denominator}}


def _in_force(model: Any, at: datetime | None) -> ColumnElement[bool]:
    end = model.removed_at if model is Activity else model.superseded_at
    if at is None:
        return end.is_(None)
    return and_(model.recorded_at <= at, or_(end.is_(None), end > at))


def _roll(periods: Sequence[str], at: datetime | None) -> Select[Any]:
    return select(RollEntry.period, RollEntry.member_id).where(
        RollEntry.period.in_(periods), _in_force(RollEntry, at))


def _held(kind_code: str, periods: Sequence[str], at: datetime | None) -> Select[Any]:
    """The engagement rows of the kind holding a value in force."""
    return (select(EngagementRecord.period, EngagementRecord.member_id,
                   EngagementRecord.amount)
            .where(EngagementRecord.kind_id == select(EngagementKind.id).where(
                       EngagementKind.code == kind_code).scalar_subquery(),
                   EngagementRecord.period.in_(periods), _in_force(EngagementRecord, at),
                   or_(EngagementRecord.amount.is_not(None),
                       EngagementRecord.label.is_not(None))))


def _members_counted(of: MembersOf, periods: Sequence[str], at: datetime | None
                     ) -> Select[Any]:
    rows = (_held(of.engagement, periods, at) if of.engagement is not None
            else _roll(periods, at))
    if of.new:
        subquery = rows.subquery()
        return (select(subquery.c.period, subquery.c.member_id)
                .join(Member, Member.id == subquery.c.member_id)
                .where(Member.new_in == subquery.c.period))
    return rows


def _activities(spec: DerivedSpec, periods: Sequence[str], at: datetime | None
                ) -> Select[Any]:
    of = spec.of
    query = select(Activity.period, Activity.id, Activity.code).where(
        Activity.period.in_(periods), _in_force(Activity, at))
    if of.kind is not None:
        query = query.where(Activity.kind_id == select(ActivityKind.id).where(
            ActivityKind.code == of.kind).scalar_subquery())
    if getattr(of, "mode", None) is not None:
        query = query.where(Activity.mode == of.mode.value)
    return query


def derived_values(session: Session, spec: DerivedSpec, *, periods: Sequence[str],
                   at: datetime | None = None, explain: bool = False) -> list[DerivedValue]:
    """The indicator's value for each of ``periods`` that the records cover."""
    periods = sorted(set(periods))
    if spec.form in ("count_members", "share_of_members", "sum_engagement"):
        return _engagement_values(session, spec, periods, at, explain)
    return _activity_values(session, spec, periods, at, explain)


def _grouped(session: Session, rows: Select[Any], *measures: Any) -> dict[str, tuple[Any, ...]]:
    subquery = rows.subquery()
    columns = [measure(subquery) for measure in measures]
    return {row[0]: tuple(row[1:]) for row in session.execute(
        select(subquery.c.period, *columns).group_by(subquery.c.period))}


def _engagement_values(session: Session, spec: DerivedSpec, periods: list[str],
                       at: datetime | None, explain: bool) -> list[DerivedValue]:
    roll = _grouped(session, _roll(periods, at), lambda q: func.count())
    if spec.sum_engagement is not None:
        rows = _held(spec.sum_engagement.engagement, periods, at)
        found = _grouped(session, rows, lambda q: func.count(),
                         lambda q: func.coalesce(func.sum(q.c.amount), 0))
        numerators = {p: float(found.get(p, (0, 0))[1]) for p in roll}
    else:
        rows = _members_counted(spec.of, periods, at)
        found = _grouped(session, rows, lambda q: func.count())
        numerators = {p: float(found.get(p, (0,))[0]) for p in roll}
    codes = _member_codes(session, rows) if explain else {}
    result = []
    for period in sorted(roll):
        numerator = numerators[period]
        if spec.share_of_members is not None:
            denominator: float | None = float(roll[period][0])
            value = numerator * PERCENT / denominator if denominator else 0.0
        else:
            denominator, value = None, numerator
        result.append(DerivedValue(period, value, numerator, denominator,
                                   codes.get(period, []) if explain else None))
    return result


def _member_codes(session: Session, rows: Select[Any]) -> dict[str, list[str]]:
    subquery = rows.subquery()
    codes: dict[str, list[str]] = {}
    for period, code in session.execute(
            select(subquery.c.period, Member.code).join(Member, Member.id ==
                                                        subquery.c.member_id)
            .order_by(subquery.c.period, Member.code)):
        codes.setdefault(period, []).append(code)
    return codes


def _activity_values(session: Session, spec: DerivedSpec, periods: list[str],
                     at: datetime | None, explain: bool) -> list[DerivedValue]:
    covered = {row[0] for row in session.execute(
        select(Activity.period).where(Activity.period.in_(periods), _in_force(Activity, at))
        .group_by(Activity.period))}
    rows = _activities(spec, periods, at)
    if spec.women_share is not None:
        group = spec.women_share.of
        women, men = (getattr(Activity, f"{group}_women"), getattr(Activity, f"{group}_men"))
        rows = rows.add_columns(women.label("women"), men.label("men")).where(
            women.is_not(None), men.is_not(None))
        found = _grouped(session, rows, lambda q: func.coalesce(func.sum(q.c.women), 0),
                         lambda q: func.coalesce(func.sum(q.c.men), 0))
    else:
        found = _grouped(session, rows, lambda q: func.count())
    codes: dict[str, list[str]] = {}
    if explain:
        subquery = rows.subquery()
        for period, code in session.execute(select(subquery.c.period, subquery.c.code)
                                            .order_by(subquery.c.period, subquery.c.code)):
            codes.setdefault(period, []).append(code)
    result = []
    for period in sorted(covered):
        if spec.women_share is not None:
            if period not in found:
                continue  # no activity of the period has its women and men counted
            women_count, men_count = (float(v) for v in found[period])
            people = women_count + men_count
            result.append(DerivedValue(period, women_count * PERCENT / people if people
                                       else 0.0, women_count, people,
                                       codes.get(period, []) if explain else None))
        else:
            count = float(found.get(period, (0,))[0])
            result.append(DerivedValue(period, count, count, None,
                                       codes.get(period, []) if explain else None))
    return result
