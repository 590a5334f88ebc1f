"""Progress of a mandate, per action line and measure, aggregated in SQL.

One aggregate query (grouped by measure) and two small structure queries per request,
whatever the plan's size; action lines and the mandate are sums of their measures.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ActionLine, Deliverable, Mandate, Measure
from app.models.types import utcnow
from app.services.deliverables import DeliverableFilter, apply_filter
from app.services.rollup import Totals, rollup_columns, sum_totals, totals_from_row


def measure_totals(
    session: Session, *, mandate: Mandate, where: DeliverableFilter | None = None
) -> dict[int, Totals]:
    """Totals per measure id for the mandate's deliverables that match ``where``."""
    query = (
        select(Deliverable.measure_id, *rollup_columns(
            Deliverable.status, Deliverable.percent_complete, Deliverable.weight))
        .where(Deliverable.mandate_id == mandate.id)
        .group_by(Deliverable.measure_id)
    )
    if where is not None:
        query = apply_filter(query, where)
    return {row.measure_id: totals_from_row(row) for row in session.execute(query)}


def mandate_progress(
    session: Session, *, mandate: Mandate, where: DeliverableFilter | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    per_measure = measure_totals(session, mandate=mandate, where=where)
    lines = session.execute(
        select(ActionLine.id, ActionLine.code, ActionLine.title)
        .where(ActionLine.mandate_id == mandate.id)
        .order_by(ActionLine.position, ActionLine.code)
    ).all()
    measures = session.execute(
        select(Measure.id, Measure.action_line_id, Measure.code, Measure.title)
        .where(Measure.mandate_id == mandate.id)
        .order_by(Measure.position, Measure.code)
    ).all()
    measures_of: dict[int, list[Any]] = {}
    for measure in measures:
        measures_of.setdefault(measure.action_line_id, []).append(measure)

    line_nodes, line_totals = [], []
    for line in lines:
        nodes, totals = [], []
        for measure in measures_of.get(line.id, []):
            measure_total = per_measure.get(measure.id, Totals())
            totals.append(measure_total)
            nodes.append({"code": measure.code, "title": measure.title,
                          "totals": measure_total.as_dict()})
        line_total = sum_totals(totals)
        line_totals.append(line_total)
        line_nodes.append({"code": line.code, "title": line.title,
                           "totals": line_total.as_dict(), "measures": nodes})
    return {
        "mandate": {"code": mandate.code, "title": mandate.title},
        "as_of": now or utcnow(),
        "totals": sum_totals(line_totals).as_dict(),
        "action_lines": line_nodes,
    }
