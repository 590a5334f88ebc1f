"""Import a validated plan file: an upsert by code, all in the caller's transaction.

Rows are written with a fixed number of bulk statements per kind, whatever the plan's
size. Items that the file no longer lists are reported and deleted only when asked to
(``prune``); a deleted deliverable's status history goes with it.

Statuses go through the history: a status that differs from the one in effect at the
file's ``as_of`` (or now, without it) is recorded as a change by ``import`` effective then,
so importing the same file twice records nothing the second time.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.models import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    Mandate,
    Measure,
)
from app.models.types import utcnow
from app.schemas.plan_file import PlanFile
from app.services.changes.events import Author, EventType, record_event
from app.services.indicators.service import indicator_columns, latest_values, value_columns
from app.services.lookup import find_by_code
from app.services.status import history
from app.services.status.history import states_as_of
from app.services.versioning import bump_data_version

IMPORT_ACTOR = "import"
IMPORT_AUTHOR = Author(IMPORT_ACTOR)
"""Who an import is by when the caller names nobody (the command line, the bundled plan)."""
IMPORT_NOTE = "imported from a plan file"
BULK_SCOPE = 5000
"""Above this many changed deliverables, history upkeep runs over the whole mandate."""


@dataclass
class KindReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    absent: list[str] = field(default_factory=list)
    deleted: int = 0


@dataclass
class ImportReport:
    mandate: str
    mandate_created: bool = False
    action_lines: KindReport = field(default_factory=KindReport)
    measures: KindReport = field(default_factory=KindReport)
    deliverables: KindReport = field(default_factory=KindReport)
    indicators: KindReport = field(default_factory=KindReport)
    status_changes: int = 0
    indicator_values: int = 0
    indicator_targets: int = 0
    absent_targets: list[tuple[str, str, int]] = field(default_factory=list)
    policy_change: dict[str, Any] | None = None
    pruned: bool = False

    def summary(self) -> dict[str, Any]:
        """What the import did, in counts: a plan.imported event's data."""
        kinds = {"action_lines": self.action_lines, "measures": self.measures,
                 "deliverables": self.deliverables, "indicators": self.indicators}
        return {"mandate_created": self.mandate_created, "pruned": self.pruned,
                "status_changes": self.status_changes,
                "indicator_values": self.indicator_values,
                **{name: {"created": kind.created, "updated": kind.updated,
                          "deleted": kind.deleted} for name, kind in kinds.items()}}

    @property
    def changed(self) -> bool:
        kinds = (self.action_lines, self.measures, self.deliverables, self.indicators)
        return (
            self.mandate_created
            or self.status_changes > 0
            or self.indicator_values > 0
            or self.indicator_targets > 0
            or (self.pruned and bool(self.absent_targets))
            or self.policy_change is not None
            or any(k.created or k.updated or k.deleted for k in kinds)
        )


def import_plan(
    session: Session, *, plan: PlanFile, prune: bool = False, now: datetime | None = None,
    author: Author = IMPORT_AUTHOR,
) -> ImportReport:
    """Upsert ``plan`` by codes, with a ``plan.imported`` event in the change log if it
    changed anything. The caller owns the transaction (commit or rollback)."""
    now = now or utcnow()
    effective_at = (
        datetime.combine(plan.as_of, time.min, tzinfo=UTC) if plan.as_of is not None else now
    )
    report = ImportReport(mandate=plan.mandate.code, pruned=prune)
    mandate = _upsert_mandate(session, plan, now, report)
    assert mandate.id is not None
    mandate_id = mandate.id

    line_ids = _upsert_action_lines(session, mandate_id, plan, report)
    measure_ids = _upsert_measures(session, mandate_id, plan, line_ids, report)
    _upsert_deliverables(session, mandate_id, plan, line_ids, measure_ids, now, effective_at,
                         report)
    _upsert_indicators(session, mandate_id, plan, line_ids, measure_ids, now, report)
    if prune:
        _prune(session, mandate_id, report)
    if report.changed and not report.mandate_created:
        session.execute(update(Mandate).where(Mandate.id == mandate_id).values(updated_at=now))
    if report.changed:
        bump_data_version(session, mandate_id=mandate_id)
        record_event(session, EventType.plan_imported, mandate_id=mandate_id, author=author,
                     at=now, data=report.summary())
    return report


def _upsert_mandate(
    session: Session, plan: PlanFile, now: datetime, report: ImportReport
) -> Mandate:
    spec = plan.mandate
    policy = plan.rollup_policy.model_dump()
    mandate = find_by_code(session, Mandate, code=spec.code)
    if mandate is None:
        mandate = Mandate(code=spec.code, title=spec.title, start_date=spec.start_date,
                          end_date=spec.end_date, created_at=now, updated_at=now, **policy)
        session.add(mandate)
        session.flush()
        report.mandate_created = True
        return mandate
    stored_policy = {key: getattr(mandate, key) for key in policy}
    if stored_policy != policy:
        report.policy_change = {"from": stored_policy, "to": policy}
    wanted = {"title": spec.title, "start_date": spec.start_date, "end_date": spec.end_date,
              **policy}
    if any(getattr(mandate, key) != value for key, value in wanted.items()):
        for key, value in wanted.items():
            setattr(mandate, key, value)
        mandate.updated_at = now
        session.flush()
    return mandate


def _sync(
    session: Session,
    table: Any,
    mandate_id: int,
    wanted: dict[str, dict[str, Any]],
    kind: KindReport,
) -> dict[str, int]:
    """Insert and update rows of ``table`` keyed by code; return code → id for all rows."""
    columns = [table.id, table.code, *(getattr(table, name) for name in _fields(wanted))]
    existing = {row.code: row for row in session.execute(
        select(*columns).where(table.mandate_id == mandate_id))}
    inserts, updates = [], []
    for code, values in wanted.items():
        row = existing.get(code)
        if row is None:
            inserts.append({"mandate_id": mandate_id, "code": code, **values})
        elif any(getattr(row, name) != value for name, value in values.items()):
            updates.append({"id": row.id, **values})
        else:
            kind.unchanged += 1
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        # ORM bulk UPDATE by primary key: each dict names its row by "id".
        session.execute(update(table), updates)
    kind.created += len(inserts)
    kind.updated += len(updates)
    kind.absent = sorted(set(existing) - set(wanted))
    rows = session.execute(select(table.code, table.id).where(table.mandate_id == mandate_id))
    return {code: row_id for code, row_id in rows}


def _fields(wanted: dict[str, dict[str, Any]]) -> list[str]:
    first = next(iter(wanted.values()), {})
    return list(first)


def _upsert_action_lines(
    session: Session, mandate_id: int, plan: PlanFile, report: ImportReport
) -> dict[str, int]:
    wanted = {line.code: {"title": line.title, "position": position}
              for position, line in enumerate(plan.action_lines)}
    return _sync(session, ActionLine, mandate_id, wanted, report.action_lines)


def _upsert_measures(
    session: Session, mandate_id: int, plan: PlanFile, line_ids: dict[str, int],
    report: ImportReport,
) -> dict[str, int]:
    wanted = {
        measure.code: {"title": measure.title, "position": position,
                       "action_line_id": line_ids[line.code], "owner": measure.owner}
        for line in plan.action_lines
        for position, measure in enumerate(line.measures)
    }
    return _sync(session, Measure, mandate_id, wanted, report.measures)


def _upsert_deliverables(
    session: Session,
    mandate_id: int,
    plan: PlanFile,
    line_ids: dict[str, int],
    measure_ids: dict[str, int],
    now: datetime,
    effective_at: datetime,
    report: ImportReport,
) -> None:
    kind = report.deliverables
    line_of_measure = {measure.code: line_ids[line.code]
                       for line in plan.action_lines for measure in line.measures}
    existing = {row.code: row for row in session.execute(
        select(Deliverable.id, Deliverable.code, Deliverable.title, Deliverable.weight,
               Deliverable.owner, Deliverable.due_date, Deliverable.quantity,
               Deliverable.position, Deliverable.measure_id, Deliverable.version)
        .where(Deliverable.mandate_id == mandate_id))}
    # The file's statuses stand at its as_of: compare them with the history at that time.
    state = states_as_of(mandate_id, effective_at if plan.as_of is not None else None)
    states = {row.id: (row.status, row.percent_complete)
              for row in session.execute(select(state.c.id, state.c.status,
                                                state.c.percent_complete))}
    existing_tags: dict[int, set[str]] = {}
    for deliverable_id, tag in session.execute(
        select(DeliverableTag.deliverable_id, DeliverableTag.tag)
        .join(Deliverable, Deliverable.id == DeliverableTag.deliverable_id)
        .where(Deliverable.mandate_id == mandate_id)
    ):
        existing_tags.setdefault(deliverable_id, set()).add(tag)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    had_history: list[int] = []
    wanted_tags: dict[str, set[str]] = {}
    positions: dict[str, int] = {}
    for measure, spec in plan.deliverables():
        positions[measure.code] = positions.get(measure.code, -1) + 1
        values = {
            "title": spec.title, "weight": spec.weight, "owner": spec.owner,
            "due_date": spec.due_date, "position": positions[measure.code],
            "measure_id": measure_ids[measure.code],
            "quantity": spec.quantity.model_dump(exclude_none=True) if spec.quantity else None,
        }
        wanted_state = (spec.status.value, spec.percent_complete)
        wanted_tags[spec.code] = set(spec.tags)
        copies = {"measure_id": values["measure_id"], "weight": spec.weight,
                  "action_line_id": line_of_measure[measure.code]}
        row = existing.get(spec.code)
        if row is None:
            inserts.append({"mandate_id": mandate_id, "code": spec.code, "version": 1,
                            "updated_at": now, "status": spec.status.value,
                            "percent_complete": spec.percent_complete, **values})
            changes.append({"code": spec.code, "from_status": None,
                            "to_status": spec.status.value,
                            "percent_complete": spec.percent_complete, **copies})
            continue
        status_differs = states[row.id] != wanted_state
        tags_differ = existing_tags.get(row.id, set()) != wanted_tags[spec.code]
        if (status_differs or tags_differ
                or any(getattr(row, name) != value for name, value in values.items())):
            updates.append({"id": row.id, "version": row.version + 1, "updated_at": now,
                            **values})
            if status_differs:
                changes.append({"code": spec.code, "from_status": states[row.id][0],
                                "to_status": spec.status.value,
                                "percent_complete": spec.percent_complete, **copies})
                had_history.append(row.id)
        else:
            kind.unchanged += 1
    if inserts:
        # Core, not the ORM's bulk insert: one statement for all rows, whichever are null.
        session.execute(insert(Deliverable.__table__), inserts)
    if updates:
        session.execute(update(Deliverable), updates)
    kind.created, kind.updated = len(inserts), len(updates)
    kind.absent = sorted(set(existing) - set(wanted_tags))

    ids = {code: row_id for code, row_id in session.execute(
        select(Deliverable.code, Deliverable.id).where(Deliverable.mandate_id == mandate_id))}
    _sync_tags(session, ids, existing_tags, wanted_tags)
    # New deliverables' first entries need no upkeep: only those that had history do.
    scope: Any = had_history
    if len(had_history) > BULK_SCOPE:
        scope = select(Deliverable.id).where(Deliverable.mandate_id == mandate_id)
    history.record_changes(session, scope=scope, entries=[
        history.new_entry(deliverable_id=ids[change.pop("code")], mandate_id=mandate_id,
                          **change, changed_by=IMPORT_ACTOR, note=IMPORT_NOTE,
                          effective_at=effective_at, recorded_at=now)
        for change in changes
    ])
    report.status_changes = len(changes)


def _sync_tags(
    session: Session,
    ids: dict[str, int],
    existing: dict[int, set[str]],
    wanted: dict[str, set[str]],
) -> None:
    added, removed = [], []
    for code, tags in wanted.items():
        deliverable_id = ids[code]
        current = existing.get(deliverable_id, set())
        added += [{"deliverable_id": deliverable_id, "tag": tag} for tag in sorted(tags - current)]
        removed += [{"d_id": deliverable_id, "t": tag} for tag in sorted(current - tags)]
    if added:
        session.execute(insert(DeliverableTag), added)
    if removed:
        # The ORM has no executemany DELETE; the Core connection runs it.
        session.connection().execute(
            delete(DeliverableTag).where(
                DeliverableTag.deliverable_id == bindparam("d_id"),
                DeliverableTag.tag == bindparam("t"),
            ),
            removed,
        )


def _upsert_indicators(
    session: Session,
    mandate_id: int,
    plan: PlanFile,
    line_ids: dict[str, int],
    measure_ids: dict[str, int],
    now: datetime,
    report: ImportReport,
) -> None:
    wanted = {
        spec.code: {**indicator_columns(spec, line_ids=line_ids, measure_ids=measure_ids),
                    "position": position}
        for position, spec in enumerate(plan.indicators)
    }
    ids = _sync(session, Indicator, mandate_id, wanted, report.indicators)
    if not plan.indicators:
        return
    scope = [ids[spec.code] for spec in plan.indicators]
    targets = {(row.indicator_id, row.period): row for row in session.execute(
        select(IndicatorTarget.id, IndicatorTarget.indicator_id, IndicatorTarget.period,
               IndicatorTarget.value).where(IndicatorTarget.indicator_id.in_(scope)))}
    latest = {(value.indicator_id, value.period): value
              for value in latest_values(session, scope)}
    new_targets, changed_targets, new_values = [], [], []
    wanted_targets: set[tuple[int, str]] = set()
    touched: set[int] = set()
    for spec in plan.indicators:
        indicator_id = ids[spec.code]
        for target in spec.targets:
            wanted_targets.add((indicator_id, target.period))
            row = targets.get((indicator_id, target.period))
            if row is None:
                new_targets.append({"indicator_id": indicator_id, "period": target.period,
                                    "value": target.value})
                touched.add(indicator_id)
            elif row.value != target.value:
                changed_targets.append({"id": row.id, "value": target.value})
                touched.add(indicator_id)
        for value in spec.values:
            stored = latest.get((indicator_id, value.period))
            columns = value_columns(value)
            if stored is None or any(getattr(stored, name) != item
                                     for name, item in columns.items()):
                new_values.append({"indicator_id": indicator_id, **columns,
                                   "recorded_by": IMPORT_ACTOR, "recorded_at": now})
                touched.add(indicator_id)
    if new_targets:
        session.execute(insert(IndicatorTarget), new_targets)
    if changed_targets:
        session.execute(update(IndicatorTarget), changed_targets)
    if new_values:
        session.execute(insert(IndicatorValue), new_values)
    if touched:
        session.execute(update(Indicator).where(Indicator.id.in_(sorted(touched)))
                        .values(version=Indicator.version + 1)
                        .execution_options(synchronize_session=False))
    report.indicator_values = len(new_values)
    report.indicator_targets = len(new_targets) + len(changed_targets)
    code_of = {indicator_id: code for code, indicator_id in ids.items()}
    report.absent_targets = sorted(
        (code_of[indicator_id], period, row.id)
        for (indicator_id, period), row in targets.items()
        if (indicator_id, period) not in wanted_targets
    )


def _prune(session: Session, mandate_id: int, report: ImportReport) -> None:
    """Delete what the file no longer lists, children before parents."""
    for kind, table in (
        (report.indicators, Indicator),
        (report.deliverables, Deliverable),
        (report.measures, Measure),
        (report.action_lines, ActionLine),
    ):
        if kind.absent:
            result = session.execute(
                delete(table).where(table.mandate_id == mandate_id, table.code.in_(kind.absent))
                .execution_options(synchronize_session=False)
            )
            kind.deleted = result.rowcount
    if report.absent_targets:
        session.execute(delete(IndicatorTarget).where(
            IndicatorTarget.id.in_([row_id for _, _, row_id in report.absent_targets])))
