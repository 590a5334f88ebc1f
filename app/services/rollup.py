"""The one home of the progress rules: status → score, and the rollup formulas.

Over the deliverables in scope:
- ``deliverables`` counts them all, cancelled included; ``by_status`` counts each status;
- ``completion_rate`` = completed / (deliverables - cancelled), null when that is 0;
- ``progress`` = Σ weight·score / Σ weight over the non-cancelled ones, null when Σ weight
  is 0; score is 1 for completed, percent_complete/100 for in_progress (0.5 when unset),
  and 0 otherwise;
- ratios are rounded to 4 decimals.

The same rules are given twice, on purpose and side by side: as SQL expressions, which
the rollup queries aggregate in the database, and as :func:`score`, the plain-Python
statement of the rule that tests and explanations use.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, func, literal
from sqlalchemy.sql.elements import KeyedColumnElement

from app.models.enums import Status

RATIO_DECIMALS = 4
IN_PROGRESS_DEFAULT_CREDIT = 0.5
"""The credit of an in_progress deliverable whose percent_complete is not set."""

FIXED_SCORES: Mapping[Status, float] = {
    Status.completed: 1.0,
    Status.not_started: 0.0,
    Status.not_achieved: 0.0,
}
"""Scores that do not depend on percent_complete. in_progress is scored from it;
cancelled has no score: it is left out of every denominator."""

EXCLUDED_FROM_DENOMINATOR = frozenset({Status.cancelled})


def score(status: Status | str, percent_complete: float | None) -> float | None:
    """A deliverable's score in 0..1, or None when it does not count (cancelled)."""
    status = Status(status)
    if status in EXCLUDED_FROM_DENOMINATOR:
        return None
    if status == Status.in_progress:
        if percent_complete is None:
            return IN_PROGRESS_DEFAULT_CREDIT
        return percent_complete / 100
    return FIXED_SCORES[status]


def score_sql(status: KeyedColumnElement[Any], percent_complete: KeyedColumnElement[Any]
              ) -> ColumnElement[float]:
    """:func:`score` as a SQL expression (0 for statuses left out; see :func:`counted_sql`)."""
    in_progress_score = func.coalesce(
        cast(percent_complete, Float) / 100.0, literal(IN_PROGRESS_DEFAULT_CREDIT, Float)
    )
    whens: list[tuple[ColumnElement[bool], Any]] = [
        (status == Status.in_progress.value, in_progress_score)
    ]
    whens += [(status == s.value, literal(v, Float)) for s, v in FIXED_SCORES.items() if v]
    return case(*whens, else_=literal(0.0, Float))


def counted_sql(status: KeyedColumnElement[Any]) -> ColumnElement[bool]:
    """True for deliverables that count in the denominators."""
    return status.not_in([s.value for s in EXCLUDED_FROM_DENOMINATOR])


def rollup_columns(
    status: KeyedColumnElement[Any],
    percent_complete: KeyedColumnElement[Any],
    weight: KeyedColumnElement[Any],
) -> list[ColumnElement[Any]]:
    """The aggregate columns every rollup query selects, labelled for :func:`totals_from_row`."""
    counted = counted_sql(status)
    columns: list[ColumnElement[Any]] = [
        func.count().label("n_all"),
        func.coalesce(func.sum(case((counted, weight), else_=0.0)), 0.0).label("weight_sum"),
        func.coalesce(
            func.sum(case((counted, weight * score_sql(status, percent_complete)), else_=0.0)),
            0.0,
        ).label("weighted_score"),
    ]
    columns += [
        func.coalesce(func.sum(case((status == s.value, 1), else_=0)), 0).label(f"n_{s.value}")
        for s in Status
    ]
    return columns


@dataclass
class Totals:
    """Sums over a set of deliverables; add them up to roll a level into its parent."""

    by_status: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    weight_sum: float = 0.0
    weighted_score: float = 0.0

    @property
    def deliverables(self) -> int:
        return sum(self.by_status.values())

    @property
    def counted(self) -> int:
        return self.deliverables - sum(self.by_status[s] for s in EXCLUDED_FROM_DENOMINATOR)

    @property
    def completion_rate(self) -> float | None:
        if self.counted == 0:
            return None
        return round(self.by_status[Status.completed] / self.counted, RATIO_DECIMALS)

    @property
    def progress(self) -> float | None:
        if self.weight_sum <= 0:
            return None
        return round(self.weighted_score / self.weight_sum, RATIO_DECIMALS)

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(
            by_status={s: self.by_status[s] + other.by_status[s] for s in Status},
            weight_sum=self.weight_sum + other.weight_sum,
            weighted_score=self.weighted_score + other.weighted_score,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "deliverables": self.deliverables,
            "by_status": {s.value: self.by_status[s] for s in Status},
            "completion_rate": self.completion_rate,
            "progress": self.progress,
        }


def totals_from_row(row: Any) -> Totals:
    """Totals from a row selected with :func:`rollup_columns`."""
    mapping = row._mapping
    return Totals(
        by_status={s: int(mapping[f"n_{s.value}"]) for s in Status},
        weight_sum=float(mapping["weight_sum"]),
        weighted_score=float(mapping["weighted_score"]),
    )


def totals_of(items: Iterable[tuple[Status | str, float | None, float]]) -> Totals:
    """Plain-Python totals of (status, percent_complete, weight) triples: the reference."""
    totals = Totals()
    for status, percent_complete, weight in items:
        status = Status(status)
        totals.by_status[status] += 1
        item_score = score(status, percent_complete)
        if item_score is not None:
            totals.weight_sum += weight
            totals.weighted_score += weight * item_score
    return totals


def sum_totals(parts: Iterable[Totals]) -> Totals:
    total = Totals()
    for part in parts:
        total = total + part
    return total
