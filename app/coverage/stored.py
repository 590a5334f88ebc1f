"""A stored mandate as the checks' input: its plan file (as exported), per deliverable the
date of its last status change and whether its current status carries evidence, and the
organisation's records (as exported).

A fixed number of queries whatever the plan's size: the two exports', the indicators' latest
values, and two more.
"""

from datetime import UTC

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.coverage.model import PlanInput
from app.models import Deliverable, Indicator, IndicatorValue, Mandate, StatusChange
from app.schemas.plan_file import PlanFile
from app.services.indicators.service import values_by_code
from app.services.plan.exporter import export_plan
from app.services.records.exporter import export_records


def stored_input(session: Session, *, mandate: Mandate) -> PlanInput:
    plan = PlanFile.model_validate(export_plan(session, mandate_code=mandate.code))
    current_with_evidence = and_(StatusChange.valid_to.is_(None),
                                 StatusChange.evidence_url.is_not(None))
    rows = session.execute(
        select(Deliverable.code, func.max(StatusChange.effective_at).label("last_change"),
               func.max(case((current_with_evidence, 1), else_=0)).label("evidence"))
        .join(StatusChange, StatusChange.deliverable_id == Deliverable.id)
        .where(Deliverable.mandate_id == mandate.id)
        .group_by(Deliverable.code)
    ).all()
    # The day of the last change in UTC, as a plan file's as_of is a day in UTC.
    last_change = {row.code: row.last_change.astimezone(UTC).date() for row in rows}
    has_evidence = {row.code: bool(row.evidence) for row in rows}
    typed: dict[str, list[str]] = {}
    for code, period in session.execute(
            select(Indicator.code, IndicatorValue.period).distinct()
            .join(IndicatorValue, IndicatorValue.indicator_id == Indicator.id)
            .where(Indicator.mandate_id == mandate.id, Indicator.derived.is_not(None))
            .order_by(Indicator.code, IndicatorValue.period)):
        typed.setdefault(code, []).append(period)
    return PlanInput(plan=plan, last_change=last_change, has_evidence=has_evidence,
                     records=export_records(session), typed_values_of_derived=typed,
                     indicator_values=values_by_code(session, mandate=mandate))
