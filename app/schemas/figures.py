"""The form a figure is stated in, beside its value: "400+", "almost 75", "3 out of 5",
"led by 6 and supported by 10", "45% women, 55% men", "a 6.7% increase in one year".

The plan file, the request bodies and the stored values share these shapes and rules;
the reports and the dashboard print a figure from them (app/reports/figures.py).
"""

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.models.enums import Qualifier, SplitDimension
from app.schemas.fields import Period
from app.schemas.splits import CATEGORIES, share

Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Quote = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
ROUNDING_PER_SHARE = 0.5
"""Printed shares are rounded: each may be off by half a unit, so n shares may add up to
100 ± n/2 (the report's 40 + 35 + 2 + 24 = 101)."""
ABSOLUTE_TOLERANCE = 1e-6


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Form):
    """A named part of a figure: a number that adds up with the others to the value, or a
    share of it in percent."""

    name: Name = Field(examples=["led"])
    value: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        default=None, examples=[6])
    share: Percent | None = Field(default=None, description="Percent of the value.")

    @model_validator(mode="after")
    def _value_or_share(self) -> "Component":
        if (self.value is None) == (self.share is None):
            raise ValueError("a component has a value or a share, one of them")
        return self


class Change(_Form):
    """A change stated with the figure: "a 6.7% increase in one year" is percent 6.7 since
    the previous year; a decrease is negative."""

    percent: Annotated[float, Field(allow_inf_nan=False)] = Field(examples=[6.7])
    since: Period = Field(examples=["2019"])


class FigureForm(_Form):
    """The fields of a value that say how it was stated (all optional)."""

    qualifier: Qualifier | None = Field(
        default=None, description="at_least for \"400+\", more_than, about, almost.")
    shares: dict[str, Percent] | None = Field(
        default=None, examples=[{"women": 36, "men": 64}],
        description="The split as printed, in percent, when its counts are not.")
    components: Annotated[list[Component], Field(min_length=2, max_length=50)] | None = Field(
        default=None, description="Named parts that add up to the value, or share it.")
    out_of: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, examples=[5], description="The total the value is a count of: "
        "\"3 out of 5\".")
    change: Change | None = None
    quote: Quote | None = Field(default=None, description="The source's own words.")


FORM_FIELDS = tuple(FigureForm.model_fields)


def form_problems(*, split: str | None, unit: str | None, value: Any, parts: Any,
                  form: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with a value's form, as (field, message) pairs; empty when nothing is.
    Tolerates malformed input (the shape's own validation reports it)."""
    problems: list[tuple[str, str]] = []
    shares = form.get("shares")
    if shares is not None:
        problems += [("shares", message) for message in _shares_problems(split, parts, shares)]
    components = form.get("components")
    if isinstance(components, list) and isinstance(value, int | float):
        problems += [("components", message)
                     for message in _components_problems(value, components)]
    out_of = form.get("out_of")
    if out_of is not None:
        if unit in ("percent", "ratio"):
            problems.append(("out_of", f"a {unit} is not a count of a total: give out_of "
                                       "with a count"))
        elif _number(value) and _number(out_of) and value > out_of:
            problems.append(("out_of", f"{value:g} out of {out_of:g} is more than the whole"))
    return problems


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shares_problems(split: str | None, parts: Any, shares: Any) -> list[str]:
    if split is None:
        return ["shares are given but the indicator declares no split"]
    if parts is not None:
        return ["give the split as parts (counts) or as shares (percent), not both"]
    if not isinstance(shares, Mapping) or not shares:
        return []
    allowed = CATEGORIES[SplitDimension(split)]
    unknown = sorted(str(key) for key in shares if key not in allowed)
    if unknown:
        return [f"{', '.join(unknown)} not among the {split} categories {', '.join(allowed)}"]
    numbers = [share for share in shares.values() if _number(share)]
    if len(numbers) != len(shares):
        return []
    return _hundred("shares", numbers)


def _hundred(what: str, numbers: list[float]) -> list[str]:
    total = math.fsum(numbers)
    slack = ROUNDING_PER_SHARE * len(numbers) + ABSOLUTE_TOLERANCE
    if abs(total - 100) > slack:
        return [f"{what} add up to {total:g}%, not to 100% (± {slack:g} for rounding)"]
    return []


def _components_problems(value: float, components: list[Any]) -> list[str]:
    items = [item if isinstance(item, Mapping) else {} for item in components]
    names = [item.get("name") for item in items if isinstance(item.get("name"), str)]
    problems = []
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"component names given twice: {', '.join(repeated)}")
    if any(item.get("value") is not None and item.get("share") is not None
           for item in items):
        return problems  # the component's own validation reports it
    values = [item.get("value") for item in items if item.get("value") is not None]
    shares = [item.get("share") for item in items if item.get("share") is not None]
    if values and shares:
        return [*problems, "components give values or shares, not a mix of both"]
    if not all(_number(number) for number in values + shares):
        return problems
    if values and len(values) == len(items):
        total = math.fsum(values)
        if not math.isclose(total, value, rel_tol=1e-9, abs_tol=ABSOLUTE_TOLERANCE):
            problems.append(f"components add up to {total:g}, not to the value {value:g}")
    elif shares and len(shares) == len(items):
        problems += _hundred("component shares", shares)
    return problems


def stored_form(form: FigureForm) -> dict[str, Any]:
    """The form's stored columns: JSON-ready, None where not given."""
    data = form.model_dump(mode="json", include=set(FORM_FIELDS))
    if data.get("components") is not None:
        data["components"] = [{key: item for key, item in component.items()
                               if item is not None} for component in data["components"]]
    return data


def women_share(parts: Mapping[str, float] | None, shares: Mapping[str, float] | None
                ) -> float | None:
    """Women's share of a split value, 0..1 (4 decimals): from the counts, else from the
    printed shares."""
    return share(parts or shares)


def share_of_total(value: float, out_of: float | None) -> float | None:
    """"3 out of 5" as 0.6 (4 decimals)."""
    return None if out_of is None else round(value / out_of, 4)


def agrees_with_printed(computed: float, printed: float, qualifier: str | None = None
                        ) -> bool:
    """Whether a computed figure is the one printed, as printed: "400+" is met by 400 or
    more, "almost 75" by up to 75, "about" within 5%; a bare figure matches when the
    computed one rounds, or is truncated (76.6% printed "76%"), to its decimals."""
    if qualifier == Qualifier.at_least:
        return computed >= printed
    if qualifier == Qualifier.more_than:
        return computed > printed
    if qualifier == Qualifier.almost:
        return computed <= printed
    if qualifier == Qualifier.about:
        return abs(computed - printed) <= ABOUT * abs(printed)
    decimals = _decimals(printed)
    scale = 10 ** decimals
    return printed in (round(computed, decimals), math.trunc(computed * scale) / scale)


ABOUT = 0.05
"""How far "about" may be from the figure printed."""


def _decimals(number: float) -> int:
    text = repr(float(number))
    return 0 if text.endswith(".0") else len(text.split(".", 1)[1])
