"""The quantity a deliverable states ("6 approved pilot projects") and how far it got:
"6 approved pilot projects: 4 (short of target)".

The actual is typed in the plan or read from an indicator's latest value (derived or
typed), from the indicator views a page or report has already computed.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.models import Status
from app.reports.vocabulary import number
from app.schemas.api import IndicatorOut
from app.services.plan import quantities as plan_quantities

SHORT_OF_TARGET = "short of target"


@dataclass(frozen=True)
class Quantity:
    """A deliverable's quantity with its actual, when one is known."""

    target: float
    actual: float | None = None
    unit: str | None = None
    indicator: str | None = None
    """The indicator the actual is read from, if any."""

    @classmethod
    def stored(cls, column: Mapping[str, Any] | None) -> "Quantity | None":
        """From the stored column ({target, actual?, unit?, indicator?})."""
        if not column:
            return None
        return cls(target=float(column["target"]),
                   actual=None if column.get("actual") is None else float(column["actual"]),
                   unit=column.get("unit"), indicator=column.get("indicator"))

    def short(self, status: Status | str) -> bool:
        """A completed deliverable whose actual is below its target."""
        return Status(status) == Status.completed and plan_quantities.short_of_target(
            {"target": self.target}, self.actual)

    def text(self, status: Status | str) -> str:
        """"6 pilot projects: 4 (short of target)"; "6 pilot projects" without an actual."""
        text = number(self.target) + (f" {self.unit}" if self.unit else "")
        if self.actual is not None:
            text += f": {number(self.actual)}"
        if self.short(status):
            text += f" ({SHORT_OF_TARGET})"
        return text


def latest_values(views: Iterable[IndicatorOut]) -> dict[str, float]:
    """Each indicator's latest value (derived or typed) by its code, as the coverage check
    reads it (app/services/plan/quantities.py)."""
    return plan_quantities.latest_values(
        (view.code, [(value.period, value.value) for value in view.values])
        for view in views)


def resolved(quantity: Quantity | None, latest: Mapping[str, float]) -> Quantity | None:
    """``quantity`` with the actual read from its indicator, when it names one."""
    if quantity is None or quantity.indicator is None:
        return quantity
    return Quantity(target=quantity.target, actual=latest.get(quantity.indicator),
                    unit=quantity.unit, indicator=quantity.indicator)
