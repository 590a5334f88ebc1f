"""Progress rollups per mandate, action line, measure and tag, aggregated in SQL.

A request costs a fixed number of queries whatever the plan's size: one aggregate grouped
by measure, one grouped by tag (mandate level), two small structure queries, and one
listing of deliverables when an explanation is asked for. Action lines and the mandate
are sums of their measures' sums.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import ActionLine, Deliverable, DeliverableTag, Mandate, Measure, Status
from app.models.types import utcnow
from app.services.attainment import DEFAULT_THRESHOLDS, Thresholds
from app.services.deliverables import DeliverableFilter, apply_filter
from app.services.history import states_as_of
from app.services.indicators import indicator_views
from app.services.rollup import (
    COMPLETION_RATE_FORMULA,
    PROGRESS_FORMULA,
    SCORE_RULE,
    Policy,
    Totals,
    sum_totals,
    totals_from_row,
)


@dataclass(frozen=True)
class ProgressQuery:
    """What a progress request asks for: which deliverables, at what time, explained or not."""

    where: DeliverableFilter
    as_of: datetime | None = None
    known_at: datetime | None = None
    explain: bool = False
    thresholds: Thresholds = DEFAULT_THRESHOLDS


def policy_of(mandate: Mandate) -> Policy:
    return Policy(in_progress_credit=mandate.in_progress_credit,
                  not_achieved_counts=mandate.not_achieved_counts)


def _scoped_states(query: ProgressQuery) -> tuple[Any, Any]:
    """The deliverable states in scope, and the condition that narrows them."""
    state = states_as_of(query.where.mandate_id, query.as_of, query.known_at)
    conditions = []
    if query.where.statuses:
        conditions.append(state.c.status.in_([s.value for s in query.where.statuses]))
    others = replace(query.where, statuses=())
    if others != DeliverableFilter(mandate_id=query.where.mandate_id):
        ids = apply_filter(select(Deliverable.id).where(
            Deliverable.mandate_id == query.where.mandate_id), others)
        conditions.append(state.c.id.in_(ids))
    return state, conditions


def measure_totals(session: Session, *, mandate: Mandate, query: ProgressQuery
                   ) -> dict[int, Totals]:
    """Totals per measure id over the deliverables in scope."""
    state, conditions = _scoped_states(query)
    policy = policy_of(mandate)
    rows = session.execute(
        select(state.c.measure_id,
               *policy.columns(state.c.status, state.c.percent_complete, state.c.weight))
        .where(*conditions).group_by(state.c.measure_id)
    )
    return {row.measure_id: totals_from_row(row) for row in rows}


def tag_totals(session: Session, *, mandate: Mandate, query: ProgressQuery
               ) -> dict[str, Totals]:
    state, conditions = _scoped_states(query)
    policy = policy_of(mandate)
    rows = session.execute(
        select(DeliverableTag.tag,
               *policy.columns(state.c.status, state.c.percent_complete, state.c.weight))
        .join(state, state.c.id == DeliverableTag.deliverable_id)
        .where(*conditions).group_by(DeliverableTag.tag).order_by(DeliverableTag.tag)
    )
    return {row.tag: totals_from_row(row) for row in rows}


def _explained_items(session: Session, *, mandate: Mandate, query: ProgressQuery
                     ) -> dict[int, list[dict[str, Any]]]:
    """Per measure id, each deliverable in scope with its status, weight and score."""
    state, conditions = _scoped_states(query)
    policy = policy_of(mandate)
    rows = session.execute(
        select(Deliverable.code, state.c.measure_id, state.c.status, state.c.percent_complete,
               state.c.weight)
        .join(Deliverable, Deliverable.id == state.c.id).where(*conditions)
        .order_by(Deliverable.position, Deliverable.code)
    )
    items: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        score = policy.score(row.status, row.percent_complete)
        item = {"code": row.code, "status": row.status, "weight": row.weight,
                "percent_complete": row.percent_complete, "score": score,
                "counted": score is not None}
        reason = policy.exclusion_reason(row.status)
        if reason:
            item["left_out_because"] = reason
        items.setdefault(row.measure_id, []).append(item)
    return items


def _explain(policy: Policy, totals: Totals, items: list[dict[str, Any]]) -> dict[str, Any]:
    counted = [item for item in items if item["counted"]]
    return {
        "policy": policy.as_dict(),
        "score": SCORE_RULE,
        "completion_rate": {"formula": COMPLETION_RATE_FORMULA,
                            "completed": totals.by_status[Status.completed],
                            "counted": totals.counted},
        "progress": {"formula": PROGRESS_FORMULA,
                     "weighted_score": round(totals.weighted_score, 6),
                     "weight_sum": round(totals.weight_sum, 6)},
        "counted": [{key: item[key] for key in ("code", "status", "weight", "score")}
                    for item in counted],
        "left_out": [{"code": item["code"], "status": item["status"],
                      "reason": item["left_out_because"]}
                     for item in items if not item["counted"]],
    }


def _structure(session: Session, mandate: Mandate) -> tuple[list[Any], dict[int, list[Any]]]:
    lines = session.execute(
        select(ActionLine.id, ActionLine.code, ActionLine.title)
        .where(ActionLine.mandate_id == mandate.id)
        .order_by(ActionLine.position, ActionLine.code)
    ).all()
    measures_of: dict[int, list[Any]] = {}
    for measure in session.execute(
        select(Measure.id, Measure.action_line_id, Measure.code, Measure.title)
        .where(Measure.mandate_id == mandate.id).order_by(Measure.position, Measure.code)
    ):
        measures_of.setdefault(measure.action_line_id, []).append(measure)
    return list(lines), measures_of


def _node(code: str, title: str, totals: Totals, policy: Policy, query: ProgressQuery,
          items: list[dict[str, Any]] | None) -> dict[str, Any]:
    node: dict[str, Any] = {"code": code, "title": title, "totals": totals.as_dict()}
    if query.explain and items is not None:
        node["explain"] = _explain(policy, totals, items)
    return node


def _line_node(line: Any, measures: list[Any], per_measure: dict[int, Totals],
               policy: Policy, query: ProgressQuery,
               items: dict[int, list[dict[str, Any]]]) -> tuple[dict[str, Any], Totals]:
    nodes, totals = [], []
    for measure in measures:
        measure_total = per_measure.get(measure.id, Totals())
        totals.append(measure_total)
        nodes.append(_node(measure.code, measure.title, measure_total, policy, query,
                           items.get(measure.id, [])))
    line_total = sum_totals(totals)
    node = _node(line.code, line.title, line_total, policy, query,
                 [item for measure in measures for item in items.get(measure.id, [])])
    node["measures"] = nodes
    return node, line_total


def _header(mandate: Mandate, query: ProgressQuery) -> dict[str, Any]:
    header: dict[str, Any] = {"mandate": {"code": mandate.code, "title": mandate.title},
                              "as_of": query.as_of or utcnow()}
    if query.known_at is not None:
        header["known_at"] = query.known_at
    return header


def _indicator_summaries(session: Session, mandate: Mandate, query: ProgressQuery
                         ) -> list[dict[str, Any]]:
    """Each indicator in a line: where it stands (current values; not time-travelled)."""
    return [
        {"code": view["code"], "title": view["title"], "action_line": view["action_line"],
         "measure": view["measure"], **{key: view["headline"][key] for key in (
             "period", "actual", "target", "attainment", "status", "women_share")}}
        for view in indicator_views(session, mandate=mandate, thresholds=query.thresholds)
    ]


def mandate_progress(session: Session, *, mandate: Mandate, query: ProgressQuery
                     ) -> dict[str, Any]:
    policy = policy_of(mandate)
    indicators = _indicator_summaries(session, mandate, query)
    per_measure = measure_totals(session, mandate=mandate, query=query)
    items = _explained_items(session, mandate=mandate, query=query) if query.explain else {}
    lines, measures_of = _structure(session, mandate)
    line_nodes, line_totals = [], []
    for line in lines:
        node, total = _line_node(line, measures_of.get(line.id, []), per_measure, policy,
                                 query, items)
        node["indicators"] = [i for i in indicators if i["action_line"] == line.code]
        line_nodes.append(node)
        line_totals.append(total)
    totals = sum_totals(line_totals)
    result = {**_header(mandate, query), "policy": policy.as_dict(),
              "totals": totals.as_dict(), "action_lines": line_nodes,
              "by_tag": {tag: total.as_dict() for tag, total in
                         tag_totals(session, mandate=mandate, query=query).items()},
              "indicators": indicators}
    if query.explain:
        result["explain"] = _explain(policy, totals,
                                     [item for group in items.values() for item in group])
    return result


def action_line_progress(session: Session, *, mandate: Mandate, code: str,
                         query: ProgressQuery) -> dict[str, Any]:
    lines, measures_of = _structure(session, mandate)
    line = next((line for line in lines if line.code == code), None)
    if line is None:
        raise NotFound(f"Mandate {mandate.code!r} has no action line {code!r}.")
    scoped = replace(query, where=replace(query.where, action_line=code))
    # A filter naming another action line leaves nothing in this one.
    conflict = query.where.action_line not in (None, code)
    per_measure = {} if conflict else measure_totals(session, mandate=mandate, query=scoped)
    items = (_explained_items(session, mandate=mandate, query=scoped)
             if query.explain and not conflict else {})
    node, _total = _line_node(line, measures_of.get(line.id, []), per_measure,
                              policy_of(mandate), query, items)
    node["indicators"] = [i for i in _indicator_summaries(session, mandate, query)
                          if i["action_line"] == code]
    return {**_header(mandate, query), "policy": policy_of(mandate).as_dict(),
            "action_line": node}


def measure_progress(session: Session, *, mandate: Mandate, code: str, query: ProgressQuery
                     ) -> dict[str, Any]:
    measure = session.execute(
        select(Measure.id, Measure.code, Measure.title, ActionLine.code.label("line"))
        .join(ActionLine, ActionLine.id == Measure.action_line_id)
        .where(Measure.mandate_id == mandate.id, Measure.code == code)
    ).first()
    if measure is None:
        raise NotFound(f"Mandate {mandate.code!r} has no measure {code!r}.")
    scoped = replace(query, where=replace(query.where, measure=code))
    # A filter naming another measure, or another action line, leaves nothing in this one.
    conflict = (query.where.measure not in (None, code)
                or query.where.action_line not in (None, measure.line))
    totals = (Totals() if conflict else
              measure_totals(session, mandate=mandate, query=scoped).get(measure.id, Totals()))
    items = (([] if conflict else
              _explained_items(session, mandate=mandate, query=scoped).get(measure.id, []))
             if query.explain else None)
    node = _node(measure.code, measure.title, totals, policy_of(mandate), query, items)
    return {**_header(mandate, query), "policy": policy_of(mandate).as_dict(),
            "action_line": measure.line, "measure": node}


def mandate_totals(session: Session, *, mandate: Mandate, query: ProgressQuery) -> Totals:
    """The mandate's totals alone: one aggregate row."""
    state, conditions = _scoped_states(query)
    row = session.execute(
        select(*policy_of(mandate).columns(state.c.status, state.c.percent_complete,
                                           state.c.weight)).where(*conditions)
    ).one()
    return totals_from_row(row)


def series(session: Session, *, mandate: Mandate, points: list[datetime],
           query: ProgressQuery) -> dict[str, Any]:
    """Burn-up points: the mandate's totals at the end of each interval (one query each)."""
    return {
        **_header(mandate, query),
        "policy": policy_of(mandate).as_dict(),
        "points": [
            {"at": point, **mandate_totals(session, mandate=mandate,
                                           query=replace(query, as_of=point)).as_dict()}
            for point in points
        ],
    }


def compare(session: Session, *, mandates: list[Mandate], query: ProgressQuery
            ) -> dict[str, Any]:
    """Several mandates' totals and action lines side by side."""
    compared = []
    for mandate in mandates:
        scoped = replace(query, where=replace(query.where, mandate_id=mandate.id or 0))
        full = mandate_progress(session, mandate=mandate, query=scoped)
        compared.append({
            "mandate": full["mandate"], "policy": full["policy"], "totals": full["totals"],
            "action_lines": [{key: line[key] for key in ("code", "title", "totals")}
                             for line in full["action_lines"]],
        })
    return {"as_of": query.as_of or utcnow(), "mandates": compared}
