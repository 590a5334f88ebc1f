"""The plan file (YAML or JSON): its shape, and validation that reports every problem at once."""

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from app.errors import FieldError, InvalidInput, validation_errors
from app.models.enums import (
    Aggregation,
    Direction,
    IndicatorUnit,
    SplitDimension,
    Status,
)
from app.schemas.derived import DerivedSpec
from app.schemas.fields import (
    Code,
    Period,
    Tag,
    Title,
)
from app.schemas.fields import period_text as _period_text
from app.schemas.figures import FigureForm, form_problems
from app.schemas.splits import split_problems
from app.schemas.text import refuse_nul

MAX_WEIGHT = 1_000_000
"""Weights are relative; a bound keeps their sums far from overflow."""

Owner = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""The person or team responsible, for a deliverable or a measure (the same constraints)."""

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    _no_nul = field_validator("*", mode="before")(refuse_nul)


class MandateSpec(_Strict):
    code: Code
    title: Title
    start_date: date
    end_date: date

    # Cross-field rules are field validators so that the error's path names the field.
    @field_validator("end_date")
    @classmethod
    def _dates_ordered(cls, end_date: date, info: ValidationInfo) -> date:
        start_date = info.data.get("start_date")
        if start_date is not None and end_date < start_date:
            raise ValueError(f"end_date {end_date} is before start_date {start_date}")
        return end_date


def percent_only_in_progress(percent: float | None, info: ValidationInfo) -> float | None:
    """A field validator: ``percent_complete`` goes with status in_progress only (the plan
    file and the request bodies alike; a field validator, so the error names the field)."""
    status = info.data.get("status")
    if percent is not None and status is not None and status != Status.in_progress:
        raise ValueError(f"percent_complete is only for status in_progress, not {status}")
    return percent


class QuantitySpec(_Strict):
    """A quantity a deliverable states ("6 approved pilot projects"): its target, and its
    actual typed here or read from an indicator of the plan."""

    target: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    actual: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=200)] | None = Field(
        default=None, examples=["approved pilot projects"])
    indicator: Code | None = Field(
        default=None, description="An indicator of this plan whose latest value is the "
        "actual.")

    @field_validator("indicator")
    @classmethod
    def _one_actual(cls, indicator: str | None, info: ValidationInfo) -> str | None:
        if indicator is not None and info.data.get("actual") is not None:
            raise ValueError("give the actual or the indicator it is read from, not both")
        return indicator


class DeliverableSpec(_Strict):
    code: Code
    title: Title
    status: Status = Status.not_started
    percent_complete: Annotated[float, Field(ge=0, le=100)] | None = None
    weight: Annotated[float, Field(ge=0, le=MAX_WEIGHT, allow_inf_nan=False)] = 1.0
    owner: Owner | None = None
    due_date: date | None = None
    tags: list[Tag] = []
    quantity: QuantitySpec | None = None

    _percent = field_validator("percent_complete")(percent_only_in_progress)


class MeasureSpec(_Strict):
    code: Code
    title: Title
    owner: Owner | None = None
    deliverables: list[DeliverableSpec] = []


class ActionLineSpec(_Strict):
    code: Code
    title: Title
    measures: list[MeasureSpec] = []


class PeriodValue(_Strict):
    period: Period
    value: Annotated[float, Field(allow_inf_nan=False)]


Part = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=2000)]


class ValueSpec(FigureForm, PeriodValue):
    """A recorded value; ``parts`` breaks it down by the indicator's split, the form's
    fields (app/schemas/figures.py) say how it was stated."""

    parts: dict[str, Part] | None = None
    note: Text | None = None
    source: Text | None = None


class IndicatorSpec(_Strict):
    code: Code
    title: Title
    unit: IndicatorUnit
    direction: Direction
    tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        default=None, description="For maintain: the distance from target still on track.")
    aggregation: Aggregation = Field(
        default=Aggregation.last, description="How values of several periods combine.")
    split: SplitDimension | None = Field(
        default=None, description="Every value must be broken down by this dimension.")
    action_line: Code | None = None
    measure: Code | None = None
    tags: list[Tag] = Field(default=[], description="Themes the indicator reports on, e.g. "
                            "[gender].")
    baseline: PeriodValue | None = None
    targets: list[PeriodValue] = []
    values: list[ValueSpec] = []
    derived: DerivedSpec | None = Field(
        default=None, description="Values computed from the records when read, instead of "
        "typed values (docs/records.md).")
    reported: list[ValueSpec] = Field(
        default=[], description="For a derived indicator: the figures as a published "
        "report printed them, shown beside the computed values.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, validate_default=True,
        description="ISO 4217 code; required with unit currency.")

    @field_validator("currency")
    @classmethod
    def _currency_with_unit(cls, currency: str | None, info: ValidationInfo) -> str | None:
        unit = info.data.get("unit")
        if unit is not None and (unit == IndicatorUnit.currency) != (currency is not None):
            raise ValueError("an ISO 4217 code goes with unit currency, and only with it")
        return currency

    @field_validator("derived")
    @classmethod
    def _derived_not_typed(cls, derived: DerivedSpec | None, info: ValidationInfo
                           ) -> DerivedSpec | None:
        if derived is not None and info.data.get("values"):
            raise ValueError("a derived indicator's values come from the records: "
                             "give derived or values, not both")
        if derived is not None and info.data.get("split") is not None:
            raise ValueError("a derived indicator has no split")
        return derived

    @field_validator("reported")
    @classmethod
    def _reported_of_derived(cls, reported: list[ValueSpec], info: ValidationInfo
                             ) -> list[ValueSpec]:
        # "derived" is missing from info.data when it was itself refused: that error is
        # reported at its own path, and the reported figures are not judged against it.
        if reported and "derived" in info.data and info.data["derived"] is None:
            raise ValueError("reported figures go with a derived indicator; a typed value "
                             "is the report's own figure")
        return reported

    @field_validator("measure")
    @classmethod
    def _one_link(cls, measure: str | None, info: ValidationInfo) -> str | None:
        if measure is not None and info.data.get("action_line") is not None:
            raise ValueError("link an indicator to an action_line or a measure, not both")
        return measure


class PolicySpec(_Strict):
    """How this mandate's progress is rolled up (defaults: the rules of docs/rollups.md)."""

    in_progress_credit: Annotated[float, Field(ge=0, le=1)] = 0.5
    not_achieved_counts: bool = True


class PlanFile(_Strict):
    mandate: MandateSpec
    rollup_policy: PolicySpec = Field(default_factory=PolicySpec)
    as_of: date | None = Field(
        default=None,
        description="The date the statuses in this file stand at; their history records "
        "them as effective then. Defaults to the time of import.",
    )
    action_lines: list[ActionLineSpec] = []
    indicators: list[IndicatorSpec] = []

    def deliverables(self) -> list[tuple[MeasureSpec, DeliverableSpec]]:
        return [(m, d) for line in self.action_lines for m in line.measures
                for d in m.deliverables]


class _PlanLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML without implicit timestamps: dates stay text until the plan's own validation
    reads them, so that an impossible date is reported at its field's path."""


_PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_plan_text(text: str | bytes, *, fmt: str | None = None) -> PlanFile:
    """Read a plan file's text (YAML, of which JSON is a subset) and validate it whole."""
    try:
        data = json.loads(text) if fmt == "json" else yaml.load(text, Loader=_PlanLoader)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        # ValueError covers JSON errors, bad UTF-8 and YAML dates that do not exist.
        kind = "JSON" if fmt == "json" else "YAML"
        raise InvalidInput([FieldError("", f"malformed {kind}: {_one_line(error)}")]) from None
    return validate_plan(data)


def validate_plan(data: Any) -> PlanFile:
    """Validate a plan's data, raising one InvalidInput that lists every problem found."""
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("", "a plan file must be a mapping with a 'mandate' key")])
    errors: list[FieldError] = []
    plan: PlanFile | None = None
    try:
        plan = PlanFile.model_validate(data)
    except ValidationError as error:
        errors.extend(validation_errors(error.errors()))
    errors.extend(_cross_check(data))
    if plan is not None and plan.as_of is not None and plan.as_of > datetime.now(UTC).date():
        errors.append(FieldError("as_of", f"{plan.as_of} is in the future"))
    if errors or plan is None:
        raise InvalidInput(_unique(errors), detail=f"{len(_unique(errors))} problem(s) in the plan")
    return plan


def _cross_check(data: dict[str, Any]) -> list[FieldError]:
    """Rules across items: unique codes and indicator links. Tolerates malformed input,
    so that these problems are reported together with the shape's own."""
    errors: list[FieldError] = []
    seen: dict[str, dict[str, str]] = {"action line": {}, "measure": {}, "deliverable": {},
                                       "indicator": {}}

    def claim(kind: str, code: Any, path: str) -> None:
        if not isinstance(code, str):
            return
        code = code.strip()
        if code in seen[kind]:
            errors.append(FieldError(path, f"duplicate {kind} code {code!r}, "
                                           f"first used at {seen[kind][code]}"))
        else:
            seen[kind][code] = path

    for i, line in enumerate(_items(data.get("action_lines"))):
        claim("action line", line.get("code"), f"action_lines[{i}].code")
        for j, measure in enumerate(_items(line.get("measures"))):
            claim("measure", measure.get("code"), f"action_lines[{i}].measures[{j}].code")
            for k, deliverable in enumerate(_items(measure.get("deliverables"))):
                claim("deliverable", deliverable.get("code"),
                      f"action_lines[{i}].measures[{j}].deliverables[{k}].code")
    for i, indicator in enumerate(_items(data.get("indicators"))):
        claim("indicator", indicator.get("code"), f"indicators[{i}].code")
    for i, line in enumerate(_items(data.get("action_lines"))):
        for j, measure in enumerate(_items(line.get("measures"))):
            for k, deliverable in enumerate(_items(measure.get("deliverables"))):
                quantity = deliverable.get("quantity")
                linked = quantity.get("indicator") if isinstance(quantity, dict) else None
                if isinstance(linked, str) and linked.strip() not in seen["indicator"]:
                    errors.append(FieldError(
                        f"action_lines[{i}].measures[{j}].deliverables[{k}].quantity."
                        "indicator", f"no indicator {linked!r} in this plan"))
    for i, indicator in enumerate(_items(data.get("indicators"))):
        for field, kind in (("action_line", "action line"), ("measure", "measure")):
            target = indicator.get(field)
            if isinstance(target, str) and target.strip() not in seen[kind]:
                errors.append(FieldError(f"indicators[{i}].{field}",
                                         f"no {kind} {target!r} in this plan"))
        errors += [FieldError(f"indicators[{i}].{error.path}", error.message)
                   for error in value_problems(indicator)]
        errors += [FieldError(f"indicators[{i}].{error.path}", error.message)
                   for error in indicator_period_problems(indicator)]
    return errors


def value_problems(indicator: dict[str, Any]) -> list[FieldError]:
    """The split and form of every value and reported figure (paths relative to the
    indicator's definition)."""
    errors = []
    for field in ("values", "reported"):
        for j, entry in enumerate(_items(indicator.get(field))):
            errors += [FieldError(f"{field}[{j}].parts", problem) for problem in split_problems(
                indicator.get("split"), entry.get("value"), entry.get("parts"))]
            errors += [FieldError(f"{field}[{j}].{name}", problem) for name, problem in
                       form_problems(split=indicator.get("split"), unit=indicator.get("unit"),
                                     value=entry.get("value"), parts=entry.get("parts"),
                                     form=entry)]
    return errors


def indicator_period_problems(indicator: dict[str, Any]) -> list[FieldError]:
    """A period may have one target and one value in a definition (paths relative to it)."""
    errors = []
    for field in ("targets", "values", "reported"):
        periods: set[str] = set()
        for j, entry in enumerate(_items(indicator.get(field))):
            period = _period_text(entry.get("period"))
            if not isinstance(period, str):
                continue  # the shape's own validation reports it
            if period in periods:
                errors.append(FieldError(f"{field}[{j}].period",
                                         f"period {period!r} given twice"))
            periods.add(period)
    return errors


def _items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, dict) else {} for item in value]


def _unique(errors: list[FieldError]) -> list[FieldError]:
    return list(dict.fromkeys(errors))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
