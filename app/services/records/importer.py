"""Importing a records file: validated against what is stored, then upserted by code, all
or nothing. Nothing is deleted: engagement changes supersede what was in force, and edits
to members, kinds and activities are logged with who made them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.errors import FieldError, InvalidInput
from app.models import (
    ActionLine,
    Activity,
    ActivityKind,
    ActivityLink,
    ActivityMember,
    EngagementKind,
    EngagementValue,
    Mandate,
    Measure,
    Member,
    RecordEdit,
)
from app.models.types import utcnow
from app.schemas.records_file import DEFAULT_ACTIVITY_KINDS, ActivitySpec, RecordsFile
from app.services.changes.events import Author, records_changed
from app.services.records import sheet, values
from app.services.records.engagement import (
    EngagementChange,
    EngagementTally,
    apply_engagement,
    bump_every_mandate,
)


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class RecordsReport:
    """What an import did, for the CLI's and the API's summary."""

    kinds: Tally = field(default_factory=Tally)
    members: Tally = field(default_factory=Tally)
    activities: Tally = field(default_factory=Tally)
    engagement: EngagementTally = field(default_factory=EngagementTally)
    members_added: list[str] = field(default_factory=list)
    """Members the import put on the roll that were not known before (by name)."""

    @property
    def changed(self) -> bool:
        return bool(self.kinds.created or self.kinds.updated or self.members.created
                    or self.members.updated or self.activities.created
                    or self.activities.updated or self.engagement.values_changed
                    or self.engagement.added_to_roll)

    def as_dict(self) -> dict[str, Any]:
        return {"kinds": vars(self.kinds), "members": vars(self.members),
                "activities": vars(self.activities), "engagement": vars(self.engagement),
                "members_added": self.members_added}


class _Known:
    """Codes → ids of what is stored, with what the file adds."""

    def __init__(self, session: Session) -> None:
        self.kinds = {row.code: (row.id, EngagementValue(row.value)) for row in
                      session.execute(select(EngagementKind.id, EngagementKind.code,
                                             EngagementKind.value))}
        self.members = {row.code: row.id for row in session.execute(
            select(Member.code, Member.id))}
        self.activity_kinds = {row.code: row.id for row in session.execute(
            select(ActivityKind.code, ActivityKind.id))}
        self.mandates = {row.code: row.id for row in session.execute(
            select(Mandate.code, Mandate.id))}
        self.lines = {(row.mandate_id, row.code): row.id for row in session.execute(
            select(ActionLine.id, ActionLine.code, ActionLine.mandate_id))}
        self.measures = {(row.mandate_id, row.code): row.id for row in session.execute(
            select(Measure.id, Measure.code, Measure.mandate_id))}


def records_problems(session: Session, records: RecordsFile, known: _Known | None = None
                     ) -> list[FieldError]:
    """Every reference the file makes that neither it nor the database holds, and every
    value that does not fit its kind."""
    known = known or _Known(session)
    kinds = {code: kind for code, (_, kind) in known.kinds.items()}
    kinds |= {spec.code: spec.value for spec in records.engagement_kinds}
    members = set(known.members) | {spec.code for spec in records.members}
    activity_kinds = (set(known.activity_kinds) | set(DEFAULT_ACTIVITY_KINDS)
                      | {spec.code for spec in records.activity_kinds})
    errors: list[FieldError] = []
    for i, entry in enumerate(records.engagement):
        if entry.member not in members:
            errors.append(FieldError(f"engagement[{i}].member",
                                     f"no member {entry.member!r}: list it under members"))
        for code, value in entry.values.items():
            path = f"engagement[{i}].values.{code}"
            if code not in kinds:
                errors.append(FieldError(path, f"no engagement kind {code!r}: declare it "
                                               "under engagement_kinds"))
                continue
            try:
                values.from_file(kinds[code], value)
            except ValueError as error:
                errors.append(FieldError(path, str(error)))
    for i, activity in enumerate(records.activities):
        if activity.kind not in activity_kinds:
            errors.append(FieldError(f"activities[{i}].kind",
                                     f"no activity kind {activity.kind!r}: declare it under "
                                     "activity_kinds"))
        for j, taking_part in enumerate(activity.members):
            if taking_part.member not in members:
                errors.append(FieldError(f"activities[{i}].members[{j}].member",
                                         f"no member {taking_part.member!r}"))
        for j, link in enumerate(activity.links):
            errors += _link_problems(known, link.mandate, link.action_line, link.measure,
                                     f"activities[{i}].links[{j}]")
    return errors


def _link_problems(known: _Known, mandate: str, line: str | None, measure: str | None,
                   path: str) -> list[FieldError]:
    mandate_id = known.mandates.get(mandate)
    if mandate_id is None:
        return [FieldError(f"{path}.mandate", f"no mandate {mandate!r}")]
    if line is not None and (mandate_id, line) not in known.lines:
        return [FieldError(f"{path}.action_line", f"mandate {mandate!r} has no action line "
                                                  f"{line!r}")]
    if measure is not None and (mandate_id, measure) not in known.measures:
        return [FieldError(f"{path}.measure", f"mandate {mandate!r} has no measure "
                                              f"{measure!r}")]
    return []


def import_records(session: Session, *, records: RecordsFile, actor: str,
                   note: str | None = None, now: datetime | None = None,
                   role: str | None = None, what: str = "records") -> RecordsReport:
    """Check the file against the database (InvalidInput listing every problem, nothing
    written), then upsert it."""
    known = _Known(session)
    errors = records_problems(session, records, known)
    if errors:
        raise InvalidInput(errors, detail=f"{len(errors)} problem(s) in the records")
    now = now or utcnow()
    report = RecordsReport()
    _upsert_kinds(session, records, known, report, actor, now)
    _upsert_members(session, records, known, report, actor, now)
    report.engagement = apply_engagement(
        session, engagement_changes(records, known.members, known.kinds), actor=actor,
        now=now, note=note)
    _upsert_activities(session, records, known, report, actor, now)
    if report.changed:
        bump_every_mandate(session)
        records_changed(session, what=what, author=Author(actor, role), summary=report.as_dict(),
                        at=now)
    return report


def engagement_changes(records: RecordsFile, member_ids: Mapping[str, int],
                       kinds: Mapping[str, tuple[int, EngagementValue]]
                       ) -> list[EngagementChange]:
    """A file's engagement entries as changes: an entry is the member's whole engagement
    for its period, so every kind it leaves out is cleared."""
    changes = []
    for entry in records.engagement:
        wanted = {kind_id: values.CLEARED for kind_id, _ in kinds.values()}
        for code, value in entry.values.items():
            kind_id, kind = kinds[code]
            wanted[kind_id] = values.from_file(kind, value)
        changes.append(EngagementChange(member_ids[entry.member], entry.period, wanted))
    return changes


def _log(session: Session, record: str, record_id: int, changes: dict[str, Any], actor: str,
         now: datetime) -> None:
    session.execute(insert(RecordEdit).values(record=record, record_id=record_id,
                                              changes=changes, changed_by=actor,
                                              recorded_at=now))


def _differences(row: Any, wanted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {"from": _plain(getattr(row, name)), "to": _plain(value)}
            for name, value in wanted.items() if getattr(row, name) != value}


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _upsert_kinds(session: Session, records: RecordsFile, known: _Known,
                  report: RecordsReport, actor: str, now: datetime) -> None:
    stored = {row.code: row for row in session.execute(select(EngagementKind)).scalars()}
    position = len(stored)
    for spec in records.engagement_kinds:
        wanted = {"title": spec.title, "value": spec.value.value, "summed": spec.summed,
                  "sheet": spec.sheet}
        row = stored.get(spec.code)
        if row is None:
            kind = EngagementKind(code=spec.code, position=position, **wanted)
            position += 1
            session.add(kind)
            session.flush()
            known.kinds[spec.code] = (kind.id or 0, spec.value)
            report.kinds.created += 1
        elif changes := _differences(row, wanted):
            session.execute(update(EngagementKind).where(EngagementKind.id == row.id)
                            .values(**wanted).execution_options(synchronize_session=False))
            _log(session, "engagement_kind", row.id or 0, changes, actor, now)
            known.kinds[spec.code] = (row.id or 0, spec.value)
            report.kinds.updated += 1
        else:
            report.kinds.unchanged += 1
    for spec in records.activity_kinds:
        if spec.code not in known.activity_kinds:
            known.activity_kinds[spec.code] = _add_activity_kind(session, spec.code, spec.title)


def _add_activity_kind(session: Session, code: str, title: str) -> int:
    kind = ActivityKind(code=code, title=title)
    session.add(kind)
    session.flush()
    return kind.id or 0


def _upsert_members(session: Session, records: RecordsFile, known: _Known,
                    report: RecordsReport, actor: str, now: datetime) -> None:
    stored = {row.code: row for row in session.execute(select(Member)).scalars()}
    for spec in records.members:
        wanted = {"name": spec.name, "full_name": spec.full_name, "new_in": spec.new_in,
                  "honorary": spec.honorary}
        row = stored.get(spec.code)
        if row is None:
            member = Member(code=spec.code, created_at=now, **wanted)
            session.add(member)
            session.flush()
            known.members[spec.code] = member.id or 0
            report.members.created += 1
        elif changes := _differences(row, wanted):
            session.execute(update(Member).where(Member.id == row.id)
                            .values(version=Member.version + 1, **wanted)
                            .execution_options(synchronize_session=False))
            _log(session, "member", row.id or 0, changes, actor, now)
            report.members.updated += 1
        else:
            report.members.unchanged += 1


def _activity_columns(spec: ActivitySpec, kind_id: int) -> dict[str, Any]:
    columns: dict[str, Any] = {
        "kind_id": kind_id, "title": spec.title, "period": spec.counted_in,
        "start_date": spec.start_date, "end_date": spec.end_date, "location": spec.location,
        "mode": spec.mode.value if spec.mode else None, "note": spec.note}
    for group in ("speakers", "participants"):
        split = getattr(spec, group)
        for part in ("total", "women", "men"):
            columns[f"{group}_{part}"] = getattr(split, part) if split else None
    return columns


def _upsert_activities(session: Session, records: RecordsFile, known: _Known,
                       report: RecordsReport, actor: str, now: datetime) -> None:
    if not records.activities:
        return
    stored = {row.code: row for row in session.execute(select(Activity)).scalars()}
    links_of, members_of = _stored_links(session)
    for spec in records.activities:
        if spec.kind not in known.activity_kinds:
            known.activity_kinds[spec.kind] = _add_activity_kind(
                session, spec.kind, DEFAULT_ACTIVITY_KINDS[spec.kind])
        columns = _activity_columns(spec, known.activity_kinds[spec.kind])
        links = sorted(_link_ids(known, spec), key=_sort_key)
        taking_part = sorted((known.members[m.member], m.role.value) for m in spec.members)
        row = stored.get(spec.code)
        if row is None:
            activity = Activity(code=spec.code, recorded_by=actor, recorded_at=now, **columns)
            session.add(activity)
            session.flush()
            activity_id = activity.id or 0
            report.activities.created += 1
        else:
            activity_id = row.id or 0
            changes = _differences(row, columns)
            if links != links_of.get(activity_id, []):
                changes["links"] = {"from": links_of.get(activity_id, []), "to": links}
            if taking_part != members_of.get(activity_id, []):
                changes["members"] = {"from": members_of.get(activity_id, []),
                                      "to": taking_part}
            if not changes and row.removed_at is None:
                report.activities.unchanged += 1
                continue
            session.execute(update(Activity).where(Activity.id == activity_id)
                            .values(version=Activity.version + 1, removed_at=None, **columns)
                            .execution_options(synchronize_session=False))
            _log(session, "activity", activity_id, changes, actor, now)
            session.execute(delete(ActivityLink).where(ActivityLink.activity_id == activity_id))
            session.execute(delete(ActivityMember).where(
                ActivityMember.activity_id == activity_id))
            report.activities.updated += 1
        if links:
            session.execute(insert(ActivityLink), [
                {"activity_id": activity_id, "mandate_id": m, "action_line_id": a,
                 "measure_id": s} for m, a, s in links])
        if taking_part:
            session.execute(insert(ActivityMember), [
                {"activity_id": activity_id, "member_id": member_id, "role": role}
                for member_id, role in taking_part])


def _link_ids(known: _Known, spec: ActivitySpec) -> set[tuple[int, int | None, int | None]]:
    ids = set()
    for link in spec.links:
        mandate_id = known.mandates[link.mandate]
        ids.add((mandate_id,
                 known.lines[(mandate_id, link.action_line)] if link.action_line else None,
                 known.measures[(mandate_id, link.measure)] if link.measure else None))
    return ids


def _stored_links(session: Session) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    links: dict[int, list[Any]] = {}
    for row in session.execute(select(ActivityLink.activity_id, ActivityLink.mandate_id,
                                      ActivityLink.action_line_id, ActivityLink.measure_id)):
        links.setdefault(row.activity_id, []).append(
            (row.mandate_id, row.action_line_id, row.measure_id))
    members: dict[int, list[Any]] = {}
    for row in session.execute(select(ActivityMember.activity_id, ActivityMember.member_id,
                                      ActivityMember.role)):
        members.setdefault(row.activity_id, []).append((row.member_id, row.role))
    return ({k: sorted(v, key=_sort_key) for k, v in links.items()},
            {k: sorted(v) for k, v in members.items()})


def _sort_key(link: tuple[int, int | None, int | None]) -> tuple[int, int, int]:
    return (link[0], link[1] or 0, link[2] or 0)


def import_sheet(session: Session, *, content: bytes, period: str, actor: str,
                 filename: str = "", note: str | None = None, now: datetime | None = None,
                 role: str | None = None) -> RecordsReport:
    """An engagement sheet for ``period``: every member it lists goes on the period's roll
    (the unknown ones are added, and named in the report) with the values of the sheet's
    columns; columns it does not have are left as they are."""
    read = sheet.read_sheet(session, content, period=period, filename=filename)
    now = now or utcnow()
    report = RecordsReport()
    ids: dict[int, int] = {}
    taken = set(session.execute(select(Member.code)).scalars())
    for placeholder, (code, name, new) in enumerate(read.new_members, start=1):
        unique, n = code, 2
        while unique in taken:
            unique, n = f"{code}-{n}", n + 1
        taken.add(unique)
        member = Member(code=unique, name=name, new_in=period if new else None, created_at=now)
        session.add(member)
        session.flush()
        ids[-placeholder] = member.id or 0
        report.members_added.append(name)
        report.members.created += 1
    for change in read.changes:
        change.member_id = ids.get(change.member_id, change.member_id)
    report.members.unchanged = len({c.member_id for c in read.changes}) - report.members.created
    report.engagement = apply_engagement(session, read.changes, actor=actor, now=now,
                                         note=note)
    if report.changed:
        bump_every_mandate(session)
        records_changed(session, what="engagement sheet", author=Author(actor, role),
                        summary={"period": period, **report.as_dict()}, at=now)
    return report
