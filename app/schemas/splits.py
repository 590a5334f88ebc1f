"""The rule for values broken down by a dimension (gender: women, men, other, unknown)."""

import math
from collections.abc import Mapping
from typing import Any

from app.models.enums import GENDER_CATEGORIES, SplitDimension

CATEGORIES: Mapping[SplitDimension, tuple[str, ...]] = {SplitDimension.gender: GENDER_CATEGORIES}
ABSOLUTE_TOLERANCE = 1e-6


def split_problems(split: str | None, value: Any, parts: Any) -> list[str]:
    """What is wrong with ``parts`` as a breakdown of ``value``; empty when nothing is."""
    if parts is None:
        return []
    if split is None:
        return ["parts are given but the indicator declares no split"]
    if not isinstance(parts, Mapping) or not parts:
        return [f"parts must map {split} categories to numbers"]
    allowed = CATEGORIES[SplitDimension(split)]
    unknown = sorted(str(key) for key in parts if key not in allowed)
    if unknown:
        return [f"{', '.join(unknown)} not among the {split} categories "
                f"{', '.join(allowed)}"]
    numbers = [part for part in parts.values()
               if isinstance(part, int | float) and not isinstance(part, bool)]
    if len(numbers) != len(parts) or not isinstance(value, int | float):
        return []  # the shape's own validation reports wrong types
    total = math.fsum(numbers)
    if not math.isclose(total, value, rel_tol=1e-9, abs_tol=ABSOLUTE_TOLERANCE):
        return [f"parts add up to {total:g}, not to the value {value:g}"]
    return []


def share(parts: Mapping[str, float] | None, category: str = "women") -> float | None:
    """The share of one category in a breakdown, in 0..1 (4 decimals)."""
    if not parts:
        return None
    total = math.fsum(parts.values())
    if total <= 0:
        return None
    return round(parts.get(category, 0.0) / total, 4)
