"""Reading the records: members, a member's engagement over the periods, the engagement
table of a period with its totals (counted in SQL), and the activities."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.errors import NotFound
from app.models import (
    ActionLine,
    Activity,
    ActivityKind,
    ActivityLink,
    ActivityMember,
    EngagementKind,
    EngagementRecord,
    EngagementValue,
    Mandate,
    Measure,
    Member,
    RecordEdit,
    RollEntry,
)
from app.services.access.scopes import Place
from app.services.paging import Page, PageRequest, fetch_page
from app.services.records import values


def member_view(member: Member) -> dict[str, Any]:
    return {"code": member.code, "name": member.name, "full_name": member.full_name,
            "new_in": member.new_in, "honorary": member.honorary, "version": member.version}


def get_member(session: Session, code: str) -> Member:
    member = session.execute(select(Member).where(Member.code == code)).scalar_one_or_none()
    if member is None:
        raise NotFound(f"There is no member {code!r}.")
    return member


def member_page(session: Session, page: PageRequest, *, search: str | None = None,
                period: str | None = None) -> Page[dict[str, Any]]:
    """Members by name; ``search`` in the name or code; ``period``: those on its roll."""
    query = select(Member).order_by(func.lower(Member.name), Member.id)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(or_(func.lower(Member.name).like(pattern),
                                Member.code.like(pattern)))
    if period is not None:
        query = query.where(Member.id.in_(select(RollEntry.member_id).where(
            RollEntry.period == period, RollEntry.superseded_at.is_(None))))
    found = fetch_page(session, query, page, scalars=True)
    return Page([member_view(member) for member in found.data], found.count, found.limit,
                found.offset)


def _kinds(session: Session, sheet: str | None = None) -> list[EngagementKind]:
    query = select(EngagementKind).order_by(EngagementKind.position, EngagementKind.id)
    if sheet is not None:
        query = query.where(EngagementKind.sheet == sheet)
    return list(session.execute(query).scalars())


def kind_view(kind: EngagementKind) -> dict[str, Any]:
    return {"code": kind.code, "title": kind.title, "value": kind.value,
            "summed": kind.summed, "sheet": kind.sheet}


def member_detail(session: Session, member: Member) -> dict[str, Any]:
    """The member, its engagement by period (values in force) and its activities."""
    kinds = {kind.id: kind for kind in _kinds(session)}
    periods = {period: {} for period in session.execute(
        select(RollEntry.period).where(RollEntry.member_id == member.id,
                                       RollEntry.superseded_at.is_(None))
        .order_by(RollEntry.period)).scalars()}
    for row in session.execute(
            select(EngagementRecord.period, EngagementRecord.kind_id, EngagementRecord.amount,
                   EngagementRecord.label)
            .where(EngagementRecord.member_id == member.id,
                   EngagementRecord.superseded_at.is_(None))):
        kind = kinds[row.kind_id]
        value = values.to_file(EngagementValue(kind.value), values.Stored(row.amount, row.label))
        if value is not None and row.period in periods:
            periods[row.period][kind.code] = value
    activities = [
        {**activity_view(activity, kind), "role": role}
        for activity, kind, role in session.execute(
            select(Activity, ActivityKind.code, ActivityMember.role)
            .join(ActivityMember, ActivityMember.activity_id == Activity.id)
            .join(ActivityKind, ActivityKind.id == Activity.kind_id)
            .where(ActivityMember.member_id == member.id, Activity.removed_at.is_(None))
            .order_by(Activity.start_date.is_(None), Activity.start_date, Activity.code))]
    return {**member_view(member),
            "engagement": [{"period": period, "values": found}
                           for period, found in periods.items()],
            "activities": activities}


def engagement_table(session: Session, *, period: str, page: PageRequest,
                     sheet: str | None = None, search: str | None = None) -> dict[str, Any]:
    """The period's table: a page of its members with their values, and the totals of the
    whole roll (members with a value; sums of counts), each counted by the database."""
    kinds = _kinds(session, sheet)
    kind_ids = [kind.id for kind in kinds]
    roll = select(RollEntry.member_id).where(RollEntry.period == period,
                                             RollEntry.superseded_at.is_(None))
    rows_query: Select[Any] = (select(Member).where(Member.id.in_(roll))
                               .order_by(func.lower(Member.name), Member.id))
    if search:
        rows_query = rows_query.where(func.lower(Member.name).like(f"%{search.lower()}%"))
    found = fetch_page(session, rows_query, page, scalars=True)
    held = (EngagementRecord.superseded_at.is_(None), EngagementRecord.period == period,
            EngagementRecord.kind_id.in_(kind_ids))
    cells: dict[int, dict[str, Any]] = {member.id: {} for member in found.data}
    by_id = {kind.id: kind for kind in kinds}
    if cells:
        for row in session.execute(
                select(EngagementRecord.member_id, EngagementRecord.kind_id,
                       EngagementRecord.amount, EngagementRecord.label)
                .where(*held, EngagementRecord.member_id.in_(list(cells)))):
            kind = by_id[row.kind_id]
            value = values.to_file(EngagementValue(kind.value),
                                   values.Stored(row.amount, row.label))
            if value is not None:
                cells[row.member_id][kind.code] = value
    present = or_(EngagementRecord.amount.is_not(None), EngagementRecord.label.is_not(None))
    totals_rows = {row.kind_id: (row.members, row.total) for row in session.execute(
        select(EngagementRecord.kind_id,
               func.count(case((present, 1))).label("members"),
               func.sum(EngagementRecord.amount).label("total"))
        .where(*held, EngagementRecord.member_id.in_(roll))
        .group_by(EngagementRecord.kind_id))}
    totals = {}
    for kind in kinds:
        members, total = totals_rows.get(kind.id, (0, None))
        totals[kind.code] = {"members": members,
                             "sum": (total or 0) if kind.value == EngagementValue.count
                             else None}
    return {"period": period, "members": found.count,
            "kinds": [kind_view(kind) for kind in kinds],
            "rows": [{"member": member.code, "name": member.name,
                      "new": member.new_in == period, "values": cells[member.id]}
                     for member in found.data],
            "totals": totals, "count": found.count, "limit": found.limit,
            "offset": found.offset}


def activity_view(activity: Activity, kind: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "code": activity.code, "kind": kind, "title": activity.title,
        "period": activity.period, "start_date": activity.start_date,
        "end_date": activity.end_date, "location": activity.location, "mode": activity.mode,
        "note": activity.note, "version": activity.version}
    for group in ("speakers", "participants"):
        total = getattr(activity, f"{group}_total")
        view[group] = None if total is None else {
            "total": total, "women": getattr(activity, f"{group}_women"),
            "men": getattr(activity, f"{group}_men")}
    return view


@dataclass(frozen=True)
class ActivityFilter:
    kind: str | None = None
    mode: str | None = None
    start: date | None = None
    """From this date on (by start date)."""
    end: date | None = None
    member: str | None = None
    mandate: str | None = None
    action_line: str | None = None
    code: str | None = None


def activity_links(session: Session, ids: list[int] | None = None
                   ) -> dict[int, list[dict[str, Any]]]:
    """Activity id → its links, ``{mandate, action_line, measure}`` by code (None where the
    link names no line or measure), for these activities (None: all)."""
    query = (select(ActivityLink.activity_id, Mandate.code.label("mandate"),
                    ActionLine.code.label("action_line"), Measure.code.label("measure"))
             .join(Mandate, Mandate.id == ActivityLink.mandate_id)
             .outerjoin(ActionLine, ActionLine.id == ActivityLink.action_line_id)
             .outerjoin(Measure, Measure.id == ActivityLink.measure_id)
             .order_by(ActivityLink.id))
    if ids is not None:
        query = query.where(ActivityLink.activity_id.in_(ids))
    links: dict[int, list[dict[str, Any]]] = {}
    for row in session.execute(query):
        links.setdefault(row.activity_id, []).append(
            {"mandate": row.mandate, "action_line": row.action_line, "measure": row.measure})
    return links


def activity_page(session: Session, page: PageRequest, where: ActivityFilter = ActivityFilter()
                  ) -> Page[dict[str, Any]]:
    """Activities by start date (undated ones last), filtered, each with its links and
    members."""
    query = (select(Activity, ActivityKind.code.label("kind"))
             .join(ActivityKind, ActivityKind.id == Activity.kind_id)
             .where(Activity.removed_at.is_(None))
             .order_by(Activity.start_date.is_(None), Activity.start_date, Activity.code))
    if where.code:
        query = query.where(Activity.code == where.code)
    if where.kind:
        query = query.where(ActivityKind.code == where.kind)
    if where.mode:
        query = query.where(Activity.mode == where.mode)
    if where.start:
        query = query.where(Activity.start_date >= where.start)
    if where.end:
        query = query.where(Activity.start_date <= where.end)
    if where.member:
        query = query.where(Activity.id.in_(
            select(ActivityMember.activity_id).join(Member, Member.id ==
                                                    ActivityMember.member_id)
            .where(Member.code == where.member)))
    if where.mandate or where.action_line:
        linked = (select(ActivityLink.activity_id)
                  .join(Mandate, Mandate.id == ActivityLink.mandate_id)
                  .outerjoin(ActionLine, ActionLine.id == ActivityLink.action_line_id)
                  .outerjoin(Measure, Measure.id == ActivityLink.measure_id))
        if where.mandate:
            linked = linked.where(Mandate.code == where.mandate)
        if where.action_line:
            linked = linked.where(or_(ActionLine.code == where.action_line,
                                      Measure.action_line_id.in_(
                                          select(ActionLine.id).where(
                                              ActionLine.code == where.action_line))))
        query = query.where(Activity.id.in_(linked))
    found = fetch_page(session, query, page)
    ids = [row.Activity.id for row in found.data]
    links: dict[int, list[dict[str, Any]]] = {}
    taking_part: dict[int, list[dict[str, Any]]] = {}
    if ids:
        links = activity_links(session, ids)
        for row in session.execute(
                select(ActivityMember.activity_id, Member.code, Member.name,
                       ActivityMember.role)
                .join(Member, Member.id == ActivityMember.member_id)
                .where(ActivityMember.activity_id.in_(ids)).order_by(ActivityMember.id)):
            taking_part.setdefault(row.activity_id, []).append(
                {"member": row.code, "name": row.name, "role": row.role})
    return Page([{**activity_view(row.Activity, row.kind),
                  "links": links.get(row.Activity.id, []),
                  "members": taking_part.get(row.Activity.id, [])} for row in found.data],
                found.count, found.limit, found.offset)


def member_history(session: Session, member: Member) -> list[dict[str, Any]]:
    """Every engagement value ever recorded for the member, newest first: who recorded it,
    when and why, and whether (since when) it is superseded; a cleared value has none."""
    kinds = {kind.id: kind for kind in _kinds(session)}
    history = []
    for row in session.execute(
            select(EngagementRecord).where(EngagementRecord.member_id == member.id)
            .order_by(EngagementRecord.recorded_at.desc(), EngagementRecord.id.desc())
            ).scalars():
        kind = kinds[row.kind_id]
        history.append({
            "period": row.period, "kind": kind.code,
            "value": values.to_file(EngagementValue(kind.value),
                                    values.Stored(row.amount, row.label)),
            "note": row.note, "recorded_by": row.recorded_by, "recorded_at": row.recorded_at,
            "superseded_at": row.superseded_at})
    return history


def edits_of(session: Session, *, record: str, record_id: int) -> list[dict[str, Any]]:
    """The logged changes to a record's fields, newest first: who, when, what changed."""
    return [{"changes": row.changes, "note": row.note, "changed_by": row.changed_by,
             "recorded_at": row.recorded_at}
            for row in session.execute(
                select(RecordEdit).where(RecordEdit.record == record,
                                         RecordEdit.record_id == record_id)
                .order_by(RecordEdit.recorded_at.desc(), RecordEdit.id.desc())).scalars()]


def activity_places(session: Session, activity_id: int) -> list[Place]:
    """Where an activity is linked now: each link's mandate with its action line or
    measure (and that measure's line), for the scope check of a change to it."""
    line_of_measure = aliased(ActionLine)
    rows = session.execute(
        select(Mandate.code, ActionLine.code, Measure.code, line_of_measure.code)
        .select_from(ActivityLink)
        .join(Mandate, Mandate.id == ActivityLink.mandate_id)
        .outerjoin(ActionLine, ActionLine.id == ActivityLink.action_line_id)
        .outerjoin(Measure, Measure.id == ActivityLink.measure_id)
        .outerjoin(line_of_measure, line_of_measure.id == Measure.action_line_id)
        .where(ActivityLink.activity_id == activity_id))
    return [Place(mandate, line=line or measure_line, measure=measure)
            for mandate, line, measure, measure_line in rows]
