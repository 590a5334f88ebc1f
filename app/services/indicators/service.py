"""Indicators of a mandate: their definition, targets, values, and where they stand.

A value is never overwritten: a newer value for the same period supersedes the older one,
which stays in the indicator's history.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.conditional import require_match, strong_tag
from app.errors import Conflict, FieldError, InvalidInput, PreconditionFailed
from app.models import (
    ActionLine,
    Aggregation,
    Direction,
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    Mandate,
    Measure,
)
from app.models.types import utcnow
from app.schemas.api import (
    Headline,
    IndicatorOut,
    IndicatorValueOut,
    PeriodValuePublic,
    ReportedOut,
)
from app.schemas.derived import DerivedSpec
from app.schemas.figures import FigureForm, share_of_total, stored_form, women_share
from app.schemas.plan_file import (
    IndicatorSpec,
    ValueSpec,
    indicator_period_problems,
    value_problems,
)
from app.services.changes.events import Author, EventType, record_event
from app.services.indicators import attainment
from app.services.lookup import find_by_code, not_found
from app.services.paging import Page, PageRequest, fetch_page
from app.services.records.derived import derived_totals, derived_values
from app.services.versioning import bump_data_version

MANDATE_PERIOD = "mandate"
DERIVED_SOURCE = "records"
"""What a derived value says it was recorded by, and its source."""


@dataclass(frozen=True)
class Reading:
    """How indicators are read: as the records and values stood ``at`` (None: now), with
    derived values explained."""

    at: datetime | None = None
    explain: bool = False


NOW = Reading()


def mandate_years(mandate: Mandate) -> list[str]:
    """The yearly periods of a mandate: ``2018``, ``2019``, ``2020``."""
    return [str(year) for year in range(mandate.start_date.year, mandate.end_date.year + 1)]


def indicator_columns(spec: IndicatorSpec, *, line_ids: dict[str, int],
                      measure_ids: dict[str, int]) -> dict[str, Any]:
    """An indicator's stored columns from its plan-file definition (targets and values
    aside); used by the importer and by the indicator endpoints alike."""
    return {
        "title": spec.title, "unit": spec.unit.value, "currency": spec.currency,
        "direction": spec.direction.value, "tolerance": spec.tolerance,
        "aggregation": spec.aggregation.value,
        "split": spec.split.value if spec.split else None,
        "action_line_id": line_ids[spec.action_line] if spec.action_line else None,
        "measure_id": measure_ids[spec.measure] if spec.measure else None,
        "baseline_period": spec.baseline.period if spec.baseline else None,
        "baseline_value": spec.baseline.value if spec.baseline else None,
        "tags": sorted(set(spec.tags)) or None,
        "derived": spec.derived.stored() if spec.derived else None,
        "reported": [reported_entry(figure) for figure in spec.reported] or None,
    }


def value_columns(spec: ValueSpec) -> dict[str, Any]:
    """A value's stored columns from its plan-file entry (indicator and who/when aside)."""
    return {"period": spec.period, "value": spec.value, "parts": spec.parts,
            "note": spec.note, "source": spec.source, **stored_form(spec)}


def reported_entry(spec: ValueSpec) -> dict[str, Any]:
    """A reported figure as stored on its indicator: what was given, JSON-ready."""
    return {key: item for key, item in value_columns(spec).items() if item is not None}


def etag(indicator: Indicator) -> str:
    """The indicator's entity tag, ``"i<id>.<version>"``: what a write sends back."""
    return strong_tag(f"i{indicator.id}", indicator.version)


def require_version(indicator: Indicator, if_match: str | None) -> None:
    """428 or 412 unless ``if_match`` names the indicator's current version."""
    require_match(if_match, etag(indicator), name=f"Indicator {indicator.code}")


def latest_values(session: Session, indicator_ids: list[int], *, at: datetime | None = None
                  ) -> list[IndicatorValue]:
    """The value in force for each (indicator, period): the most recently recorded one (by
    ``at``, if given)."""
    if not indicator_ids:
        return []
    newest = select(func.max(IndicatorValue.id).label("id")).where(
        IndicatorValue.indicator_id.in_(indicator_ids))
    if at is not None:
        newest = newest.where(IndicatorValue.recorded_at <= at)
    newest = newest.group_by(IndicatorValue.indicator_id, IndicatorValue.period).subquery()
    return list(session.execute(
        select(IndicatorValue).join(newest, newest.c.id == IndicatorValue.id)
        .order_by(IndicatorValue.indicator_id, IndicatorValue.period)
    ).scalars())


def headline(indicator: Indicator, targets: dict[str, float], values: list[IndicatorValue],
             thresholds: attainment.Thresholds) -> Headline:
    """Where the indicator stands: the latest period that has both a value and a target,
    else the whole-mandate target against the combined values, else the latest value."""
    by_period = {value.period: value for value in values}
    periods = sorted(by_period)
    targeted = [p for p in periods if p in targets]
    latest: IndicatorValue | None
    if targeted:
        period: str | None = targeted[-1]
        latest = by_period[targeted[-1]]
        actual, target = latest.value, targets[targeted[-1]]
    elif MANDATE_PERIOD in targets:
        period, target = MANDATE_PERIOD, targets[MANDATE_PERIOD]
        yearly = [by_period[p].value for p in periods if p != MANDATE_PERIOD]
        actual = (by_period[MANDATE_PERIOD].value if MANDATE_PERIOD in by_period
                  else attainment.combine(Aggregation(indicator.aggregation), yearly))
        latest = by_period[periods[-1]] if periods else None
    else:
        latest = by_period[periods[-1]] if periods else None
        period = latest.period if latest else (max(targets) if targets else None)
        actual = latest.value if latest else None
        target = targets.get(period) if period else None
    ratio, status = attainment.status(
        Direction(indicator.direction), actual=actual, target=target,
        baseline=indicator.baseline_value, tolerance=indicator.tolerance, thresholds=thresholds)
    women = (women_share(declared_parts(latest, indicator.split),
                         declared_shares(latest, indicator.split))
             if latest is not None else None)
    return Headline(period=period, actual=actual, target=target, attainment=ratio,
                    status=status, women_share=women, parity_gap=attainment.parity_gap(women))


def _indicators(mandate: Mandate, code: str | None = None) -> Select[Any]:
    query = select(Indicator).where(Indicator.mandate_id == mandate.id)
    if code is not None:
        query = query.where(Indicator.code == code)
    return query.order_by(Indicator.position, Indicator.code)


def indicator_views(session: Session, *, mandate: Mandate, thresholds: attainment.Thresholds,
                    code: str | None = None, reading: Reading = NOW) -> list[IndicatorOut]:
    """Every indicator (or one) with its targets, values in force and headline."""
    indicators = list(session.execute(_indicators(mandate, code)).scalars())
    return _views(session, mandate, indicators, thresholds, reading)


def indicator_page(session: Session, *, mandate: Mandate, thresholds: attainment.Thresholds,
                   page: PageRequest, reading: Reading = NOW) -> Page[IndicatorOut]:
    """A page of the indicators, paged in SQL, each with its targets, values and headline."""
    found = fetch_page(session, _indicators(mandate), page, scalars=True)
    return Page(_views(session, mandate, found.data, thresholds, reading), found.count,
                found.limit, found.offset)


def _derived(session: Session, mandate: Mandate, indicators: list[Indicator],
             reading: Reading) -> dict[int, tuple[list[IndicatorValue], dict[str, Any]]]:
    """The derived indicators' values, computed now from the records (one statement for
    them all), as values recorded by ``records`` (so that attainment and headlines treat
    them like any other), with their explanations by period."""
    specs = {indicator.id or 0: DerivedSpec.model_validate(indicator.derived)
             for indicator in indicators if indicator.derived is not None}
    if not specs:
        return {}
    periods = mandate_years(mandate)
    totals = derived_totals(session, list(specs.values()), periods=periods, at=reading.at)
    at = reading.at or utcnow()
    found = {}
    for indicator_id, spec in specs.items():
        computed = derived_values(session, spec, periods=periods, at=reading.at,
                                  explain=reading.explain, totals=totals)
        found[indicator_id] = (
            [IndicatorValue(indicator_id=indicator_id, period=item.period, value=item.value,
                            source=DERIVED_SOURCE, recorded_by=DERIVED_SOURCE, recorded_at=at)
             for item in computed],
            {item.period: item.explain() for item in computed})
    return found


def values_by_code(session: Session, *, mandate: Mandate, reading: Reading = NOW
                   ) -> dict[str, dict[str, float]]:
    """Each indicator's values in force, period → value, derived ones computed from the
    records: what the check compares with a deliverable's quantity or a reported figure."""
    indicators = list(session.execute(_indicators(mandate)).scalars())
    values: dict[int, dict[str, float]] = {}
    typed = [indicator.id or 0 for indicator in indicators if indicator.derived is None]
    for value in latest_values(session, typed, at=reading.at):
        values.setdefault(value.indicator_id, {})[value.period] = value.value
    for indicator_id, (derived, _explained) in _derived(
            session, mandate, indicators, reading).items():
        values[indicator_id] = {value.period: value.value for value in derived}
    return {indicator.code: values.get(indicator.id or 0, {}) for indicator in indicators}


def _views(session: Session, mandate: Mandate, indicators: list[Indicator],
           thresholds: attainment.Thresholds, reading: Reading = NOW) -> list[IndicatorOut]:
    ids = [indicator.id or 0 for indicator in indicators]
    targets: dict[int, dict[str, float]] = {}
    for target in session.execute(select(IndicatorTarget).where(
            IndicatorTarget.indicator_id.in_(ids)).order_by(IndicatorTarget.period)).scalars():
        targets.setdefault(target.indicator_id, {})[target.period] = target.value
    values: dict[int, list[IndicatorValue]] = {}
    explained: dict[int, dict[str, dict[str, Any]]] = {}
    typed = [indicator.id or 0 for indicator in indicators if indicator.derived is None]
    for value in latest_values(session, typed, at=reading.at):
        values.setdefault(value.indicator_id, []).append(value)
    for indicator_id, (derived, explanations) in _derived(
            session, mandate, indicators, reading).items():
        values[indicator_id], explained[indicator_id] = derived, explanations
    lines = {row.id: row.code for row in session.execute(
        select(ActionLine.id, ActionLine.code).where(ActionLine.mandate_id == mandate.id))}
    measures = {row.id: (row.code, row.action_line_id) for row in session.execute(
        select(Measure.id, Measure.code, Measure.action_line_id).where(
            Measure.mandate_id == mandate.id))}
    views = []
    for indicator in indicators:
        own_targets = targets.get(indicator.id or 0, {})
        own_values = values.get(indicator.id or 0, [])
        measure = measures.get(indicator.measure_id or 0)
        line_id = indicator.action_line_id or (measure[1] if measure else None)
        views.append(IndicatorOut(
            code=indicator.code, title=indicator.title, unit=indicator.unit,
            currency=indicator.currency, direction=indicator.direction,
            tolerance=indicator.tolerance, aggregation=indicator.aggregation,
            split=indicator.split,
            action_line=lines.get(line_id) if line_id else None,
            measure=measure[0] if measure else None,
            tags=indicator.tags or [],
            baseline=(PeriodValuePublic(period=indicator.baseline_period,
                                        value=indicator.baseline_value)
                      if indicator.baseline_period is not None else None),
            targets=[PeriodValuePublic(period=p, value=v) for p, v in own_targets.items()],
            values=[_value_view(value, indicator.split,
                                explain=explained.get(indicator.id or 0, {}).get(value.period)
                                if reading.explain else None) for value in own_values],
            headline=headline(indicator, own_targets, own_values, thresholds),
            derived=indicator.derived,
            reported=reported_views(indicator),
            version=indicator.version,
        ))
    return views


def declared_parts(value: IndicatorValue, split: str | None) -> dict[str, float] | None:
    """A value's parts as they count now: none once the indicator no longer declares a
    split (they stay stored, in its history)."""
    return value.parts if split else None


def declared_shares(value: IndicatorValue, split: str | None) -> dict[str, float] | None:
    """A value's printed split shares as they count now (as ``declared_parts``)."""
    return value.shares if split else None


def _figure(value: IndicatorValue, split: str | None) -> dict[str, Any]:
    """A value's figure and form as the API shows them (FigureOut's fields)."""
    parts, shares = declared_parts(value, split), declared_shares(value, split)
    return {"period": value.period, "value": value.value, "parts": parts, "shares": shares,
            "women_share": women_share(parts, shares), "qualifier": value.qualifier,
            "components": value.components, "out_of": value.out_of,
            "share_of_total": share_of_total(value.value, value.out_of),
            "change": value.change, "quote": value.quote, "note": value.note,
            "source": value.source}


def _value_view(value: IndicatorValue, split: str | None, superseded: bool | None = None,
                explain: dict[str, Any] | None = None) -> IndicatorValueOut:
    return IndicatorValueOut(**_figure(value, split), recorded_by=value.recorded_by,
                             recorded_at=value.recorded_at, superseded=superseded,
                             explain=explain)


def reported_views(indicator: Indicator) -> list[ReportedOut]:
    """A derived indicator's reported figures, as the API shows them (a derived indicator
    has no split: its printed shares show as given)."""
    return [ReportedOut(**_figure(IndicatorValue(indicator_id=indicator.id or 0,
                                                 recorded_by="", **entry), "given"))
            for entry in indicator.reported or []]


def value_history(session: Session, *, indicator: Indicator) -> list[IndicatorValueOut]:
    """Every value ever recorded, newest first, superseded ones marked."""
    rows = list(session.execute(
        select(IndicatorValue).where(IndicatorValue.indicator_id == indicator.id)
        .order_by(IndicatorValue.recorded_at.desc(), IndicatorValue.id.desc())).scalars())
    seen: set[str] = set()
    history = []
    for row in rows:
        history.append(_value_view(row, indicator.split, superseded=row.period in seen))
        seen.add(row.period)
    return history


def record_value(
    session: Session, *, indicator: Indicator, if_match: str | None, period: str, value: float,
    parts: dict[str, float] | None, note: str | None, source: str | None, actor: str,
    form: FigureForm | None = None, now: datetime | None = None, role: str | None = None,
) -> None:
    """Record a value for a period, in the form it was stated, with its event in the
    change log; it supersedes any earlier one for that period."""
    require_version(indicator, if_match)
    if indicator.derived is not None:
        raise Conflict(f"Indicator {indicator.code} is derived from the records: its values "
                       "are computed when read, and can't be typed (docs/records.md).")
    form = form or FigureForm()
    entry = {"period": period, "value": value, "parts": parts, **stored_form(form)}
    problems = value_problems({"split": indicator.split, "unit": indicator.unit,
                               "values": [entry]})
    if problems:
        raise InvalidInput([FieldError(problem.path.removeprefix("values[0]."),
                                       problem.message) for problem in problems])
    _bump(session, indicator)
    now = now or utcnow()
    session.execute(insert(IndicatorValue).values(
        indicator_id=indicator.id, **entry, note=note, source=source, recorded_by=actor,
        recorded_at=now))
    bump_data_version(session, mandate_id=indicator.mandate_id)
    record_event(session, EventType.value_recorded, mandate_id=indicator.mandate_id,
                 author=Author(actor, role), at=now,
                 data={"indicator": indicator.code, **{key: item for key, item in entry.items()
                                                       if item is not None},
                       "note": note, "version": indicator.version})


def _bump(session: Session, indicator: Indicator) -> None:
    result = session.execute(
        update(Indicator).where(Indicator.id == indicator.id,
                                Indicator.version == indicator.version)
        .values(version=indicator.version + 1).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.refresh(indicator)
        raise PreconditionFailed(f"Indicator {indicator.code} was changed by someone else "
                                 "just now.", extra={"etag": etag(indicator)})
    session.refresh(indicator)


def _links(session: Session, mandate: Mandate, spec: IndicatorSpec
           ) -> tuple[dict[str, int], dict[str, int]]:
    lines = {row.code: row.id for row in session.execute(
        select(ActionLine.code, ActionLine.id).where(ActionLine.mandate_id == mandate.id))}
    measures = {row.code: row.id for row in session.execute(
        select(Measure.code, Measure.id).where(Measure.mandate_id == mandate.id))}
    errors = []
    if spec.action_line and spec.action_line not in lines:
        errors.append(FieldError("action_line", f"no action line {spec.action_line!r}"))
    if spec.measure and spec.measure not in measures:
        errors.append(FieldError("measure", f"no measure {spec.measure!r}"))
    if errors:
        raise InvalidInput(errors)
    return lines, measures


def save_indicator(session: Session, *, mandate: Mandate, spec: IndicatorSpec, actor: str,
                   replacing: bool = False, if_match: str | None = None) -> Indicator:
    """Create the indicator (409 if it exists), or with ``replacing`` replace its definition
    and targets, guarded by ``if_match`` (values are kept, and values given in ``spec`` are
    recorded like any other)."""
    lines, measures = _links(session, mandate, spec)
    definition = spec.model_dump(mode="json")
    problems = indicator_period_problems(definition) + value_problems(definition)
    if problems:
        raise InvalidInput(problems)
    columns = indicator_columns(spec, line_ids=lines, measure_ids=measures)
    existing = find_by_code(session, Indicator, code=spec.code, mandate=mandate)
    if existing is None:
        if replacing:
            raise not_found(Indicator, spec.code, mandate=mandate.code)
        position = session.execute(select(func.count()).where(
            Indicator.mandate_id == mandate.id)).scalar_one()
        indicator = Indicator(mandate_id=mandate.id or 0, code=spec.code, position=position,
                              **columns)
        session.add(indicator)
        session.flush()
    else:
        if not replacing:
            raise Conflict(f"Indicator {spec.code!r} exists; replace it with PUT and If-Match "
                           "with its ETag.")
        require_version(existing, if_match)
        indicator = existing
        _bump(session, indicator)
        session.execute(update(Indicator).where(Indicator.id == indicator.id).values(**columns)
                        .execution_options(synchronize_session=False))
        session.execute(delete(IndicatorTarget).where(
            IndicatorTarget.indicator_id == indicator.id))
    if spec.targets:
        session.execute(insert(IndicatorTarget), [
            {"indicator_id": indicator.id, "period": t.period, "value": t.value}
            for t in spec.targets])
    if spec.values:
        session.execute(insert(IndicatorValue), [
            {"indicator_id": indicator.id, **value_columns(v), "recorded_by": actor,
             "recorded_at": utcnow()} for v in spec.values])
    bump_data_version(session, mandate_id=mandate.id or 0)
    session.refresh(indicator)
    return indicator


def delete_indicator(session: Session, *, indicator: Indicator, if_match: str | None) -> None:
    require_version(indicator, if_match)
    session.execute(delete(Indicator).where(Indicator.id == indicator.id))
    bump_data_version(session, mandate_id=indicator.mandate_id)
