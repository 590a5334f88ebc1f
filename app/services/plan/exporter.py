"""Write a stored mandate back as a plan file, in the shape the importer reads.

The output is deterministic (positions, then codes), so export → import into an empty
database → export gives identical text.
"""

from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    ActionLine,
    Aggregation,
    Deliverable,
    DeliverableTag,
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    Mandate,
    Measure,
)
from app.services.indicators.service import declared_parts, latest_values
from app.services.lookup import get_mandate


def export_plan(session: Session, *, mandate_code: str) -> dict[str, Any]:
    mandate = get_mandate(session, code=mandate_code)
    lines = session.execute(
        select(ActionLine).where(ActionLine.mandate_id == mandate.id)
        .order_by(ActionLine.position, ActionLine.code)
    ).scalars().all()
    measures = session.execute(
        select(Measure).where(Measure.mandate_id == mandate.id)
        .order_by(Measure.position, Measure.code)
    ).scalars().all()
    deliverables = session.execute(
        select(Deliverable).where(Deliverable.mandate_id == mandate.id)
        .order_by(Deliverable.position, Deliverable.code)
    ).scalars().all()
    tags: dict[int, list[str]] = {}
    for deliverable_id, tag in session.execute(
        select(DeliverableTag.deliverable_id, DeliverableTag.tag)
        .join(Deliverable, Deliverable.id == DeliverableTag.deliverable_id)
        .where(Deliverable.mandate_id == mandate.id)
        .order_by(DeliverableTag.tag)
    ):
        tags.setdefault(deliverable_id, []).append(tag)

    deliverables_of: dict[int, list[dict[str, Any]]] = {}
    for deliverable in deliverables:
        deliverables_of.setdefault(deliverable.measure_id, []).append(
            _deliverable(deliverable, tags.get(deliverable.id or 0, []))
        )
    measures_of: dict[int, list[dict[str, Any]]] = {}
    for measure in measures:
        # Like a deliverable's, the owner is written only when set.
        measures_of.setdefault(measure.action_line_id, []).append({
            "code": measure.code,
            "title": measure.title,
            **({"owner": measure.owner} if measure.owner is not None else {}),
            "deliverables": deliverables_of.get(measure.id or 0, []),
        })
    plan: dict[str, Any] = {
        "mandate": {
            "code": mandate.code,
            "title": mandate.title,
            "start_date": mandate.start_date,
            "end_date": mandate.end_date,
        },
        **_policy(mandate),
        "action_lines": [
            {"code": line.code, "title": line.title, "measures": measures_of.get(line.id or 0, [])}
            for line in lines
        ],
    }
    indicators = _indicators(session, mandate, lines, measures)
    if indicators:
        plan["indicators"] = indicators
    return plan


def _policy(mandate: Mandate) -> dict[str, Any]:
    """The rollup policy, written only where it differs from the defaults."""
    policy = {"in_progress_credit": _number(mandate.in_progress_credit),
              "not_achieved_counts": mandate.not_achieved_counts}
    if policy == {"in_progress_credit": 0.5, "not_achieved_counts": True}:
        return {}
    return {"rollup_policy": policy}


def _deliverable(deliverable: Deliverable, tags: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "code": deliverable.code,
        "title": deliverable.title,
        "status": str(deliverable.status),
    }
    optional = {
        "percent_complete": _number(deliverable.percent_complete),
        "weight": None if deliverable.weight == 1 else _number(deliverable.weight),
        "owner": deliverable.owner,
        "due_date": deliverable.due_date,
        "tags": tags or None,
        "quantity": ({key: _number(item) if isinstance(item, float) else item
                      for key, item in deliverable.quantity.items()}
                     if deliverable.quantity else None),
    }
    item.update({key: value for key, value in optional.items() if value is not None})
    return item


def _indicators(
    session: Session, mandate: Mandate, lines: list[ActionLine], measures: list[Measure]
) -> list[dict[str, Any]]:
    indicators = session.execute(
        select(Indicator).where(Indicator.mandate_id == mandate.id)
        .order_by(Indicator.position, Indicator.code)
    ).scalars().all()
    if not indicators:
        return []
    ids = [indicator.id for indicator in indicators if indicator.id is not None]
    targets: dict[int, list[dict[str, Any]]] = {}
    for target in session.execute(
        select(IndicatorTarget).where(IndicatorTarget.indicator_id.in_(ids))
        .order_by(IndicatorTarget.period)
    ).scalars():
        targets.setdefault(target.indicator_id, []).append(
            {"period": target.period, "value": _number(target.value)})
    values: dict[int, list[dict[str, Any]]] = {}
    splits = {indicator.id: indicator.split for indicator in indicators}
    for value in latest_values(session, ids):
        parts = declared_parts(value, splits[value.indicator_id])
        entry = {"period": value.period, "value": _number(value.value),
                 "parts": _numbers(parts) if parts else None,
                 **figure_form(value, split=splits[value.indicator_id]),
                 "note": value.note, "source": value.source}
        values.setdefault(value.indicator_id, []).append(
            {key: item for key, item in entry.items() if item is not None})
    line_codes = {line.id: line.code for line in lines}
    measure_codes = {measure.id: measure.code for measure in measures}

    exported = []
    for indicator in indicators:
        item: dict[str, Any] = {
            "code": indicator.code,
            "title": indicator.title,
            "unit": str(indicator.unit),
            "currency": indicator.currency,
            "direction": str(indicator.direction),
            "tolerance": _number(indicator.tolerance),
            "aggregation": (None if indicator.aggregation == Aggregation.last
                            else str(indicator.aggregation)),
            "split": str(indicator.split) if indicator.split else None,
        }
        item = {key: value for key, value in item.items() if value is not None}
        if indicator.measure_id is not None:
            item["measure"] = measure_codes[indicator.measure_id]
        elif indicator.action_line_id is not None:
            item["action_line"] = line_codes[indicator.action_line_id]
        if indicator.tags:
            item["tags"] = indicator.tags
        if indicator.baseline_period is not None:
            item["baseline"] = {"period": indicator.baseline_period,
                                "value": _number(indicator.baseline_value)}
        if indicator.derived is not None:
            item["derived"] = indicator.derived
        if indicator.reported:
            item["reported"] = [_reported(entry) for entry in indicator.reported]
        for key, entries in (("targets", targets), ("values", values)):
            if entries.get(indicator.id or 0) and not (key == "values" and indicator.derived):
                item[key] = entries[indicator.id or 0]
        exported.append(item)
    return exported


def figure_form(value: IndicatorValue, *, split: str | None) -> dict[str, Any]:
    """A value's form fields as the plan file writes them (whole numbers without a point)."""
    shares = value.shares if split else None
    return {
        "qualifier": value.qualifier,
        "shares": _numbers(shares) if shares else None,
        "components": [{key: _number(item) if key != "name" else item
                        for key, item in component.items()}
                       for component in value.components] if value.components else None,
        "out_of": _number(value.out_of),
        "change": ({"percent": _number(value.change["percent"]),
                    "since": value.change["since"]} if value.change else None),
        "quote": value.quote,
    }


def _reported(entry: dict[str, Any]) -> dict[str, Any]:
    value = IndicatorValue(indicator_id=0, recorded_by="", **entry)
    exported = {"period": value.period, "value": _number(value.value),
                "parts": _numbers(value.parts) if value.parts else None,
                **figure_form(value, split="given"), "note": value.note,
                "source": value.source}
    return {key: item for key, item in exported.items() if item is not None}


def _numbers(values: dict[str, float]) -> dict[str, float | int | None]:
    return {key: _number(item) for key, item in values.items()}


def _number(value: float | None) -> float | int | None:
    """Whole numbers are written without a decimal point (weight: 2, not 2.0)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def to_json_ready(plan: dict[str, Any]) -> dict[str, Any]:
    """Dates as ISO strings, for JSON."""
    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value
    return convert(plan)


def dump_yaml(plan: dict[str, Any]) -> str:
    return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)
