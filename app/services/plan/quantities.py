"""A deliverable's stated quantity ("6 approved pilot projects") against its actual.

The actual is typed on the deliverable or read from an indicator of the plan: its latest
value (by period). The coverage check, the report and the dashboard all ask here.
"""

from collections.abc import Iterable, Mapping
from typing import Any


def latest_values(values_by_indicator: Iterable[tuple[str, Iterable[tuple[str, float]]]]
                  ) -> dict[str, float]:
    """Indicator code → the value of its latest period, from (code, [(period, value)])."""
    latest = {}
    for code, values in values_by_indicator:
        by_period = dict(values)
        if by_period:
            latest[code] = by_period[max(by_period)]
    return latest


def actual_of(quantity: Mapping[str, Any], latest: Mapping[str, float] | None
              ) -> float | None:
    """The quantity's actual: typed, or its indicator's latest value; None when unknown."""
    if quantity.get("actual") is not None:
        return float(quantity["actual"])
    indicator = quantity.get("indicator")
    if indicator is None or latest is None:
        return None
    return latest.get(indicator)


def short_of_target(quantity: Mapping[str, Any], actual: float | None) -> bool:
    """Whether a known actual falls below the target."""
    return actual is not None and actual < float(quantity["target"])
