"""Progress rollups per mandate, action line, measure and tag, aggregated in SQL.

A request costs a fixed number of queries whatever the plan's size: one aggregate grouped
by measure, one grouped by tag (mandate level), two small structure queries, and one
listing of deliverables when an explanation is asked for. Action lines and the mandate
are sums of their measures' sums.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Float, Select, String, func, literal, select, union_all
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Mandate,
    Measure,
    Status,
    StatusChange,
)
from app.models.types import utcnow
from app.schemas.api import (
    ActionLineProgressOut,
    CompareOut,
    IndicatorSummary,
    MandateProgress,
    MeasureProgressOut,
    SeriesOut,
)
from app.services.indicators.attainment import DEFAULT_THRESHOLDS, Thresholds
from app.services.indicators.service import indicator_views
from app.services.plan.deliverables import DeliverableFilter, apply_filter
from app.services.rollups.rules import (
    COMPLETION_RATE_FORMULA,
    PROGRESS_FORMULA,
    SCORE_RULE,
    STATUSES,
    Policy,
    Totals,
    sum_totals,
    totals_from_row,
)
from app.services.status.history import in_effect_branches, states_as_of


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


Group = Literal["mandate", "line", "measure", "tag"]
"""What a rollup query groups by: nothing, action line, measure or tag."""


def _others(query: ProgressQuery) -> DeliverableFilter | None:
    """The filters other than status, or None when there are none."""
    others = replace(query.where, statuses=())
    return None if others == DeliverableFilter(mandate_id=query.where.mandate_id) else others


def _statuses(query: ProgressQuery) -> list[str]:
    return [s.value for s in query.where.statuses]


def _scoped_states(query: ProgressQuery) -> tuple[Any, Any]:
    """The deliverable states in scope (a subquery), and the conditions that narrow them."""
    state = states_as_of(query.where.mandate_id, query.as_of, query.known_at)
    conditions = []
    if query.where.statuses:
        conditions.append(state.c.status.in_(_statuses(query)))
    others = _others(query)
    if others is not None:
        ids = apply_filter(select(Deliverable.id).where(
            Deliverable.mandate_id == query.where.mandate_id), others)
        conditions.append(state.c.id.in_(ids))
    return state, conditions


def _grouped(statement: Select[Any], group: Group, *, deliverable_id: Any, measure_id: Any,
             line_id: Any = None) -> tuple[Select[Any], Any]:
    """Add the grouping (and the join it needs) to a rollup statement; return it with the
    key column, None for the whole mandate. ``line_id``: the action line's column when the
    rows carry it (history entries do), which spares the join to measure."""
    if group == "measure":
        return statement.add_columns(measure_id.label("key")).group_by(measure_id), True
    if group == "line" and line_id is not None:
        return statement.add_columns(line_id.label("key")).group_by(line_id), True
    if group == "line":
        return (statement.add_columns(Measure.action_line_id.label("key"))
                .join(Measure, Measure.id == measure_id).group_by(Measure.action_line_id), True)
    if group == "tag":
        return (statement.add_columns(DeliverableTag.tag.label("key"))
                .join(DeliverableTag, DeliverableTag.deliverable_id == deliverable_id)
                .group_by(DeliverableTag.tag), True)
    return statement, False


def rollup(session: Session, *, mandate: Mandate, query: ProgressQuery, group: Group
           ) -> dict[Any, Totals]:
    """Totals per group key (a measure or action line id, a tag; None for the mandate)
    over the deliverables in scope, as they stand now or stood at ``query.as_of``.

    Now: one aggregate over the deliverables (the covering index ix_deliverable_rollup).
    At a past time: one aggregate over the history entries in effect then (found by
    :func:`app.services.status.history.in_effect_branches`, which read nothing else), plus the
    deliverables that had no entry yet, which count as not_started. With ``known_at``,
    over the states rebuilt from what had been recorded by then."""
    if query.as_of is not None and query.known_at is None:
        return _rollup_in_time(session, mandate=mandate, query=query, group=group)
    policy = policy_of(mandate)
    if query.known_at is None:
        d = Deliverable
        statement = apply_filter(
            select(*policy.columns(d.status, d.percent_complete, d.weight))
            .where(d.mandate_id == mandate.id), query.where)
        statement, keyed = _grouped(statement, group, deliverable_id=d.id,
                                    measure_id=d.measure_id)
    else:
        state, conditions = _scoped_states(query)
        statement = select(*policy.columns(state.c.status, state.c.percent_complete,
                                           state.c.weight)).where(*conditions)
        statement, keyed = _grouped(statement, group, deliverable_id=state.c.id,
                                    measure_id=state.c.measure_id)
    return {row.key if keyed else None: totals_from_row(row, policy)
            for row in session.execute(statement)}


def _rollup_in_time(session: Session, *, mandate: Mandate, query: ProgressQuery,
                    group: Group) -> dict[Any, Totals]:
    """:func:`rollup` at a past time: per key and status, the entries in effect then (a
    count, Σ weight and Σ weight·score each, three additions a row); then every deliverable
    in scope, of which those without an entry in effect count as not_started."""
    assert query.as_of is not None and mandate.id is not None
    policy = policy_of(mandate)
    others = _others(query)
    in_scope = (None if others is None else apply_filter(
        select(Deliverable.id).where(Deliverable.mandate_id == mandate.id), others))
    e = StatusChange
    parts: list[Select[Any]] = []
    for branch in in_effect_branches(mandate.id, query.as_of):
        if in_scope is not None:
            branch = [*branch, e.deliverable_id.in_(in_scope)]
        statement, _keyed = _grouped(
            select(literal(0).label("part"), e.to_status.label("status"),
                   func.count().label("n"),
                   func.coalesce(func.sum(e.weight), literal(0.0, Float)).label("w"),
                   func.coalesce(func.sum(e.weight * policy.score_sql(
                       e.to_status, e.percent_complete)), literal(0.0, Float)).label("ws"))
            .where(*branch).group_by(e.to_status),
            group, deliverable_id=e.deliverable_id, measure_id=e.measure_id,
            line_id=e.action_line_id)
        parts.append(statement)
    d = Deliverable
    base = select(literal(1).label("part"), literal(None, String).label("status"),
                  func.count().label("n"),
                  func.coalesce(func.sum(d.weight), literal(0.0, Float)).label("w"),
                  literal(0.0, Float).label("ws")).where(d.mandate_id == mandate.id)
    if others is not None:
        base = apply_filter(base, others)
    base, keyed = _grouped(base, group, deliverable_id=d.id, measure_id=d.measure_id)
    wanted = set(_statuses(query)) or {s.value for s in STATUSES}
    totals: dict[Any, Totals] = {}
    unmatched: dict[Any, list[float]] = {}
    for row in session.execute(union_all(*parts, base)):
        key = row.key if keyed else None
        found = totals.get(key)
        if found is None:
            found = totals[key] = Totals()
            unmatched[key] = [0, 0.0]
        left = unmatched[key]
        if row.part == 1:
            left[0] += row.n
            left[1] += row.w
            continue
        left[0] -= row.n
        left[1] -= row.w
        if row.status in wanted:
            _add(found, policy, Status(row.status), row.n, row.w, row.ws)
    if Status.not_started.value in wanted:
        for key, (count, weight) in unmatched.items():
            if count:
                _add(totals[key], policy, Status.not_started, int(count), weight, 0.0)
    return {key: found for key, found in totals.items() if found.deliverables}


def _add(totals: Totals, policy: Policy, status: Status, count: int, weight: float,
         weighted_score: float) -> None:
    totals.by_status[status] += count
    if status not in policy.excluded:
        totals.counted += count
        totals.weight_sum += weight
        totals.weighted_score += weighted_score


def measure_totals(session: Session, *, mandate: Mandate, query: ProgressQuery
                   ) -> dict[int, Totals]:
    """Totals per measure id over the deliverables in scope."""
    return rollup(session, mandate=mandate, query=query, group="measure")


def line_totals(session: Session, *, mandate: Mandate, query: ProgressQuery
                ) -> dict[int, Totals]:
    """Totals per action line id over the deliverables in scope: one aggregate."""
    return rollup(session, mandate=mandate, query=query, group="line")


def tag_totals(session: Session, *, mandate: Mandate, query: ProgressQuery
               ) -> dict[str, Totals]:
    found = rollup(session, mandate=mandate, query=query, group="tag")
    return {tag: found[tag] for tag in sorted(found)}


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


def _lines(session: Session, mandate: Mandate, code: str | None = None) -> list[Any]:
    statement = (select(ActionLine.id, ActionLine.code, ActionLine.title)
                 .where(ActionLine.mandate_id == mandate.id)
                 .order_by(ActionLine.position, ActionLine.code))
    if code is not None:
        statement = statement.where(ActionLine.code == code)
    return list(session.execute(statement))


def _structure(session: Session, mandate: Mandate, code: str | None = None
               ) -> tuple[list[Any], dict[int, list[Any]]]:
    """The action lines (or the one named ``code``) and their measures, in order."""
    lines = _lines(session, mandate, code)
    statement = (select(Measure.id, Measure.action_line_id, Measure.code, Measure.title,
                        Measure.owner)
                 .where(Measure.mandate_id == mandate.id).order_by(Measure.position, Measure.code))
    if code is not None:
        statement = statement.where(Measure.action_line_id.in_([line.id for line in lines]))
    measures_of: dict[int, list[Any]] = {}
    for measure in session.execute(statement):
        measures_of.setdefault(measure.action_line_id, []).append(measure)
    return lines, measures_of


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
        nodes.append({**_node(measure.code, measure.title, measure_total, policy, query,
                              items.get(measure.id, [])), "owner": measure.owner})
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
                         ) -> list[IndicatorSummary]:
    """Each indicator in a line: where it stands (current values; not time-travelled)."""
    return [
        IndicatorSummary(code=view.code, title=view.title, action_line=view.action_line,
                         measure=view.measure, period=view.headline.period,
                         actual=view.headline.actual, target=view.headline.target,
                         attainment=view.headline.attainment, status=view.headline.status,
                         women_share=view.headline.women_share)
        for view in indicator_views(session, mandate=mandate, thresholds=query.thresholds)
    ]


def mandate_progress(session: Session, *, mandate: Mandate, query: ProgressQuery
                     ) -> MandateProgress:
    """The mandate's figures, per action line and measure, per tag, and its indicators."""
    policy = policy_of(mandate)
    indicators = _indicator_summaries(session, mandate, query)
    per_measure = measure_totals(session, mandate=mandate, query=query)
    items = _explained_items(session, mandate=mandate, query=query) if query.explain else {}
    lines, measures_of = _structure(session, mandate)
    line_nodes, line_totals = [], []
    for line in lines:
        node, total = _line_node(line, measures_of.get(line.id, []), per_measure, policy,
                                 query, items)
        node["indicators"] = [i for i in indicators if i.action_line == line.code]
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
    return MandateProgress.model_validate(result)


def action_line_progress(session: Session, *, mandate: Mandate, code: str,
                         query: ProgressQuery) -> ActionLineProgressOut:
    """One action line's figures and its measures'."""
    lines, measures_of = _structure(session, mandate, code)
    line = lines[0] if lines else None
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
                          if i.action_line == code]
    return ActionLineProgressOut.model_validate(
        {**_header(mandate, query), "policy": policy_of(mandate).as_dict(), "action_line": node})


def measure_progress(session: Session, *, mandate: Mandate, code: str, query: ProgressQuery
                     ) -> MeasureProgressOut:
    """One measure's figures."""
    measure = session.execute(
        select(Measure.id, Measure.code, Measure.title, Measure.owner,
               ActionLine.code.label("line"))
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
    node = {**_node(measure.code, measure.title, totals, policy_of(mandate), query, items),
            "owner": measure.owner}
    return MeasureProgressOut.model_validate(
        {**_header(mandate, query), "policy": policy_of(mandate).as_dict(),
         "action_line": measure.line, "measure": node})


def mandate_totals(session: Session, *, mandate: Mandate, query: ProgressQuery) -> Totals:
    """The mandate's totals alone: one aggregate row."""
    return rollup(session, mandate=mandate, query=query, group="mandate").get(None, Totals())


def series(session: Session, *, mandate: Mandate, points: list[datetime],
           query: ProgressQuery) -> SeriesOut:
    """Burn-up points: the mandate's totals at the end of each interval (one query each)."""
    return SeriesOut.model_validate({
        **_header(mandate, query),
        "policy": policy_of(mandate).as_dict(),
        "points": [
            {"at": point, **mandate_totals(session, mandate=mandate,
                                           query=replace(query, as_of=point)).as_dict()}
            for point in points
        ],
    })


def compare(session: Session, *, mandates: list[Mandate], query: ProgressQuery
            ) -> CompareOut:
    """Several mandates' totals and action lines side by side: one aggregate each."""
    compared = []
    for mandate in mandates:
        scoped = replace(query, where=replace(query.where, mandate_id=mandate.id or 0))
        per_line = line_totals(session, mandate=mandate, query=scoped)
        lines = _lines(session, mandate)
        line_totals_in_order = [per_line.get(line.id, Totals()) for line in lines]
        compared.append({
            "mandate": {"code": mandate.code, "title": mandate.title},
            "policy": policy_of(mandate).as_dict(),
            "totals": sum_totals(line_totals_in_order).as_dict(),
            "action_lines": [{"code": line.code, "title": line.title, "totals": total.as_dict()}
                             for line, total in zip(lines, line_totals_in_order, strict=True)],
        })
    return CompareOut.model_validate({"as_of": query.as_of or utcnow(), "mandates": compared})
