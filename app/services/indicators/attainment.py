"""How far an indicator is towards its target: the ratio, its status, the gender share.

Pure functions: the rules, stated once, tested without a database.
- increase: (actual - baseline) / (target - baseline), or actual / target without baseline;
- decrease: the mirror image: (baseline - actual) / (baseline - target), or
  target / actual without baseline;
- maintain: actual / target, and on track only within the tolerance (default 0) of target;
- status: on_track when the ratio is at least 0.9, at_risk from 0.6, off_track below
  (thresholds configurable); no_target where none is set; no_value where a target has no
  actual yet.
"""

import math
from collections.abc import Sequence
from enum import StrEnum

from app.models.enums import Aggregation, Direction
from app.settings import Thresholds

RATIO_DECIMALS = 4
PARITY = 0.5


class AttainmentStatus(StrEnum):
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"
    no_target = "no_target"
    no_value = "no_value"


DEFAULT_THRESHOLDS = Thresholds()


def ratio(direction: Direction, *, actual: float, target: float,
          baseline: float | None = None) -> float:
    """The raw attainment ratio (1 = target reached), rounded to 4 decimals."""
    if direction == Direction.decrease:
        if baseline is not None:
            span, gained = baseline - target, baseline - actual
        else:
            span, gained = actual, target  # target / actual
    elif direction == Direction.increase and baseline is not None:
        span, gained = target - baseline, actual - baseline
    else:
        span, gained = target, actual
    if span == 0:
        reached = actual <= target if direction == Direction.decrease else actual >= target
        if direction == Direction.maintain:
            reached = math.isclose(actual, target)
        return 1.0 if reached else 0.0
    return round(gained / span, RATIO_DECIMALS)


def status(direction: Direction, *, actual: float | None, target: float | None,
           baseline: float | None = None, tolerance: float | None = None,
           thresholds: Thresholds = DEFAULT_THRESHOLDS) -> tuple[float | None, AttainmentStatus]:
    """(ratio, status) for an actual against a target."""
    if target is None:
        return None, AttainmentStatus.no_target
    if actual is None:
        return None, AttainmentStatus.no_value
    value = ratio(direction, actual=actual, target=target, baseline=baseline)
    if direction == Direction.maintain:
        within = abs(actual - target) <= (tolerance or 0.0) + 1e-9
        return value, AttainmentStatus.on_track if within else AttainmentStatus.off_track
    if value >= thresholds.on_track:
        return value, AttainmentStatus.on_track
    if value >= thresholds.at_risk:
        return value, AttainmentStatus.at_risk
    return value, AttainmentStatus.off_track


def combine(aggregation: Aggregation, values: Sequence[float]) -> float | None:
    """Several periods' values as one figure; ``values`` in period order."""
    if not values:
        return None
    if aggregation == Aggregation.sum:
        return math.fsum(values)
    if aggregation == Aggregation.max:
        return max(values)
    if aggregation == Aggregation.mean:
        return round(math.fsum(values) / len(values), 6)
    return values[-1]


def parity_gap(women_share: float | None) -> float | None:
    """How far the women's share is below parity (negative: above it)."""
    return None if women_share is None else round(PARITY - women_share, RATIO_DECIMALS)
