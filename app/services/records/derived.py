"""Derived indicators: each value computed from the records by one SQL aggregation when it
is read, per period; nothing is stored that could drift from the records.

A period has a value when the records have something to count in it: a roll for the
engagement forms, activities for the activity forms (a count of 0 is then a value). With
``at``, the records as they stood then (what had been recorded by that instant).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from app.db import serial_plans
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


ENGAGEMENT_FORMS = ("count_members", "share_of_members", "sum_engagement")
NO_TEXT = cast(null(), String)
NO_NUMBER = cast(null(), BigInteger)
"""Typed NULLs: PostgreSQL matches a UNION's column types part by part."""


@dataclass
class Totals:
    """What every derived indicator of a view is computed from, read by one statement:
    per period the roll (and its new members), per (kind, period) the members with a value
    (new ones among them) and the sum, per (period, kind, mode) the activities and their
    women and men counted."""

    roll: dict[str, tuple[int, int]] = field(default_factory=dict)
    engagement: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)
    activities: dict[tuple[str, str, str | None], tuple[int, ...]] = field(
        default_factory=dict)


def _new_members(table: Any, with_new: bool) -> Any:
    """How many of the rows are of members new in the period: counted (a join to the
    members) only when an indicator asks for new members."""
    if not with_new:
        return NO_NUMBER.label("new")
    return func.count(case((Member.new_in == table.period, 1))).label("new")


def _roll_part(periods: Sequence[str], at: datetime | None, with_new: bool) -> Select[Any]:
    query = (select(literal("roll").label("source"), RollEntry.period.label("period"),
                    NO_TEXT.label("kind"), NO_TEXT.label("mode"), func.count().label("n"),
                    NO_NUMBER.label("amount"), _new_members(RollEntry, with_new),
                    *(NO_NUMBER.label(name) for name in SPLIT_COLUMNS))
             .where(RollEntry.period.in_(periods), _in_force(RollEntry, at))
             .group_by(RollEntry.period))
    return query.join(Member, Member.id == RollEntry.member_id) if with_new else query


def _engagement_part(kinds: Sequence[str], periods: Sequence[str], at: datetime | None,
                     with_new: bool) -> Select[Any]:
    present = or_(EngagementRecord.amount.is_not(None), EngagementRecord.label.is_not(None))
    query = (select(literal("engagement").label("source"),
                    EngagementRecord.period.label("period"),
                    EngagementKind.code.label("kind"), NO_TEXT.label("mode"),
                    func.count().label("n"),
                    func.sum(EngagementRecord.amount).label("amount"),
                    _new_members(EngagementRecord, with_new),
                    *(NO_NUMBER.label(name) for name in SPLIT_COLUMNS))
             .join(EngagementKind, EngagementKind.id == EngagementRecord.kind_id)
             .where(EngagementKind.code.in_(kinds), EngagementRecord.period.in_(periods),
                    _in_force(EngagementRecord, at), present)
             .group_by(EngagementRecord.period, EngagementKind.code))
    return query.join(Member, Member.id == EngagementRecord.member_id) if with_new else query


SPLIT_COLUMNS = ("speakers_women", "speakers_men", "participants_women", "participants_men")


def _activity_part(periods: Sequence[str], at: datetime | None) -> Select[Any]:
    def counted(group: str, part: str) -> Any:
        # Only the activities whose women and men are both counted make a share.
        women, men = getattr(Activity, f"{group}_women"), getattr(Activity, f"{group}_men")
        both = and_(women.is_not(None), men.is_not(None))
        return func.sum(case((both, getattr(Activity, f"{group}_{part}")))).label(
            f"{group}_{part}")

    return (select(literal("activity").label("source"), Activity.period.label("period"),
                   ActivityKind.code.label("kind"), Activity.mode.label("mode"),
                   func.count().label("n"), NO_NUMBER.label("amount"), NO_NUMBER.label("new"),
                   *(counted(*name.split("_")) for name in SPLIT_COLUMNS))
            .join(ActivityKind, ActivityKind.id == Activity.kind_id)
            .where(Activity.period.in_(periods), _in_force(Activity, at))
            .group_by(Activity.period, ActivityKind.code, Activity.mode))


def derived_totals(session: Session, specs: Sequence[DerivedSpec], *,
                   periods: Sequence[str], at: datetime | None = None) -> Totals:
    """One statement (a UNION ALL of the aggregates the specs need), whatever their
    number."""
    periods = sorted(set(periods))
    kinds = sorted({spec.of.engagement for spec in specs if spec.form in ENGAGEMENT_FORMS
                    and getattr(spec.of, "engagement", None) is not None})
    with_new = any(getattr(spec.of, "new", False) for spec in specs)
    parts = []
    if any(spec.form in ENGAGEMENT_FORMS for spec in specs):
        parts.append(_roll_part(periods, at, with_new))
        if kinds:
            parts.append(_engagement_part(kinds, periods, at, with_new))
    if any(spec.form not in ENGAGEMENT_FORMS for spec in specs):
        parts.append(_activity_part(periods, at))
    totals = Totals()
    if not parts:
        return totals
    with serial_plans(session):
        rows = session.execute(union_all(*parts)).all()
    for row in rows:
        if row.source == "roll":
            totals.roll[row.period] = (row.n, row.new or 0)
        elif row.source == "engagement":
            totals.engagement[(row.kind, row.period)] = (row.n, int(row.amount or 0),
                                                         row.new or 0)
        else:
            totals.activities[(row.period, row.kind, row.mode)] = (
                row.n, *(int(getattr(row, name) or 0) for name in SPLIT_COLUMNS))
    return totals


def values_of(spec: DerivedSpec, totals: Totals) -> list[DerivedValue]:
    """The indicator's value for each period its records cover, from the totals."""
    if spec.form in ENGAGEMENT_FORMS:
        return [value for period in sorted(totals.roll)
                if (value := _engagement_value(spec, period, totals)) is not None]
    covered = sorted({period for period, _, _ in totals.activities})
    return [value for period in covered
            if (value := _activity_value(spec, period, totals)) is not None]


def _engagement_value(spec: DerivedSpec, period: str, totals: Totals) -> DerivedValue:
    on_roll, new_on_roll = totals.roll[period]
    kind = getattr(spec.of, "engagement", None)
    with_value, amount, new_with_value = (totals.engagement.get((kind, period), (0, 0, 0))
                                          if kind is not None else (on_roll, 0, new_on_roll))
    if spec.sum_engagement is not None:
        return DerivedValue(period, float(amount), float(amount), None)
    numerator = float(new_with_value if spec.of.new else with_value)
    if spec.share_of_members is not None:
        return DerivedValue(period, numerator * PERCENT / on_roll if on_roll else 0.0,
                            numerator, float(on_roll))
    return DerivedValue(period, numerator, numerator, None)


def _activity_value(spec: DerivedSpec, period: str, totals: Totals) -> DerivedValue | None:
    of = spec.of
    mode = getattr(of, "mode", None)
    rows = [counts for (p, kind, row_mode), counts in totals.activities.items()
            if p == period and (of.kind is None or kind == of.kind)
            and (mode is None or row_mode == mode.value)]
    if spec.women_share is None:
        count = float(sum(counts[0] for counts in rows))
        return DerivedValue(period, count, count, None)
    first = SPLIT_COLUMNS.index(f"{spec.women_share.of}_women") + 1
    women = float(sum(counts[first] for counts in rows))
    people = women + float(sum(counts[first + 1] for counts in rows))
    if not people:
        return None  # no activity of the period has its women and men counted
    return DerivedValue(period, women * PERCENT / people, women, people)


def derived_values(session: Session, spec: DerivedSpec, *, periods: Sequence[str],
                   at: datetime | None = None, explain: bool = False,
                   totals: Totals | None = None) -> list[DerivedValue]:
    """The indicator's value for each of ``periods`` that the records cover (from
    ``totals`` when the caller read them for several indicators at once); with
    ``explain``, the codes of what each counts."""
    periods = sorted(set(periods))
    if totals is None:
        totals = derived_totals(session, [spec], periods=periods, at=at)
    found = values_of(spec, totals)
    if not explain:
        return found
    codes = _counted_codes(session, spec, periods, at)
    return [replace(value, records=codes.get(value.period, [])) for value in found]


def _counted_codes(session: Session, spec: DerivedSpec, periods: list[str],
                   at: datetime | None) -> dict[str, list[str]]:
    """Period → the codes of the members or activities a value counts."""
    codes: dict[str, list[str]] = {}
    if spec.form in ENGAGEMENT_FORMS:
        of = spec.of if spec.sum_engagement is None else MembersOf(
            engagement=spec.of.engagement)
        subquery = _members_counted(of, periods, at).subquery()
        rows = session.execute(
            select(subquery.c.period, Member.code)
            .join(Member, Member.id == subquery.c.member_id)
            .order_by(subquery.c.period, Member.code))
    else:
        query = _activities(spec, periods, at)
        if spec.women_share is not None:
            group = spec.women_share.of
            query = query.where(getattr(Activity, f"{group}_women").is_not(None),
                                getattr(Activity, f"{group}_men").is_not(None))
        subquery = query.subquery()
        rows = session.execute(select(subquery.c.period, subquery.c.code)
                               .order_by(subquery.c.period, subquery.c.code))
    for period, code in rows:
        codes.setdefault(period, []).append(code)
    return codes
