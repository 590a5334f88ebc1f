"""The records as a records file: what is in force now, in the shape the importer reads, so
that an export imported again changes nothing."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Activity,
    ActivityKind,
    ActivityMember,
    EngagementKind,
    EngagementRecord,
    EngagementValue,
    Member,
    RollEntry,
)
from app.schemas.records_file import DEFAULT_ACTIVITY_KINDS, RecordsFile, validate_records
from app.services.records import values
from app.services.records.queries import activity_links


def records_data(session: Session, *, period: str | None = None) -> dict[str, Any]:
    """The records file's data (all periods, or one)."""
    kinds = list(session.execute(select(EngagementKind).order_by(
        EngagementKind.position, EngagementKind.id)).scalars())
    members = list(session.execute(select(Member).order_by(
        func.lower(Member.name), Member.id)).scalars())
    code_of = {member.id: member.code for member in members}
    kind_of = {kind.id: kind for kind in kinds}
    roll = select(RollEntry.member_id, RollEntry.period).where(
        RollEntry.superseded_at.is_(None))
    held = select(EngagementRecord.member_id, EngagementRecord.kind_id, EngagementRecord.period,
                  EngagementRecord.amount, EngagementRecord.label).where(
        EngagementRecord.superseded_at.is_(None))
    if period is not None:
        roll, held = roll.where(RollEntry.period == period), held.where(
            EngagementRecord.period == period)
    entries: dict[tuple[str, int], dict[str, Any]] = {}
    for row in session.execute(roll):
        entries[(row.period, row.member_id)] = {}
    for row in session.execute(held):
        kind = kind_of[row.kind_id]
        value = values.to_file(EngagementValue(kind.value), values.Stored(row.amount, row.label))
        if value is not None and (row.period, row.member_id) in entries:
            entries[(row.period, row.member_id)][kind.code] = value
    order = {member.id: i for i, member in enumerate(members)}
    engagement = [{"member": code_of[member_id], "period": p, "values": {
        kind.code: found[kind.code] for kind in kinds if kind.code in found}}
        for (p, member_id), found in sorted(entries.items(),
                                            key=lambda item: (item[0][0], order[item[0][1]]))]
    return {
        "engagement_kinds": [_kind(kind) for kind in kinds],
        "activity_kinds": [{"code": row.code, "title": row.title} for row in session.execute(
            select(ActivityKind).order_by(ActivityKind.code)).scalars()
            if row.code not in DEFAULT_ACTIVITY_KINDS],
        "members": [_member(member) for member in members],
        "engagement": engagement,
        "activities": _activities(session, code_of, period),
    }


def export_records(session: Session, *, period: str | None = None) -> RecordsFile:
    return validate_records(records_data(session, period=period))


def _kind(kind: EngagementKind) -> dict[str, Any]:
    found: dict[str, Any] = {"code": kind.code, "title": kind.title, "value": kind.value}
    if not kind.summed:
        found["summed"] = False
    found["sheet"] = kind.sheet
    return found


def _member(member: Member) -> dict[str, Any]:
    found: dict[str, Any] = {"code": member.code, "name": member.name}
    if member.full_name:
        found["full_name"] = member.full_name
    if member.new_in:
        found["new_in"] = member.new_in
    if member.honorary:
        found["honorary"] = True
    return found


def _activities(session: Session, code_of: dict[int | None, str], period: str | None
                ) -> list[dict[str, Any]]:
    query = (select(Activity, ActivityKind.code.label("kind"))
             .join(ActivityKind, ActivityKind.id == Activity.kind_id)
             .where(Activity.removed_at.is_(None))
             .order_by(Activity.start_date.is_(None), Activity.start_date, Activity.code))
    if period is not None:
        query = query.where(Activity.period == period)
    # The file leaves out what a link does not name.
    links = {activity_id: [{key: value for key, value in link.items() if value is not None}
                           for link in found]
             for activity_id, found in activity_links(session).items()}
    roles: dict[int, list[dict[str, str]]] = {}
    for row in session.execute(select(ActivityMember).order_by(ActivityMember.id)).scalars():
        roles.setdefault(row.activity_id, []).append(
            {"member": code_of[row.member_id], "role": row.role})
    found = []
    for activity, kind in session.execute(query):
        item: dict[str, Any] = {"code": activity.code, "kind": kind, "title": activity.title}
        if activity.start_date is not None:
            item["start_date"] = activity.start_date.isoformat()
        else:
            item["period"] = activity.period
        for name in ("end_date", "location", "mode", "note"):
            value = getattr(activity, name)
            if value is not None:
                item[name] = value.isoformat() if name == "end_date" else value
        for group in ("speakers", "participants"):
            total = getattr(activity, f"{group}_total")
            if total is not None:
                split = {"total": total}
                for part in ("women", "men"):
                    if (count := getattr(activity, f"{group}_{part}")) is not None:
                        split[part] = count
                item[group] = split
        if activity.id in links:
            item["links"] = links[activity.id]
        if activity.id in roles:
            item["members"] = roles[activity.id]
        found.append(item)
    return found
