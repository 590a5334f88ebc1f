"""The one home of the progress rules: status → score, and the rollup formulas.

Over the deliverables in scope:
- ``deliverables`` counts them all, cancelled included; ``by_status`` counts each status;
- ``completion_rate`` = completed / counted, null when nothing is counted;
- ``progress`` = Σ weight·score / Σ weight over the counted ones, null when Σ weight is 0;
  score is 1 for completed, percent_complete/100 for in_progress (the policy's credit,
  0.5 by default, when percent_complete is unset), and 0 otherwise;
- *counted* means every deliverable except the cancelled ones (and the not_achieved ones
  when the mandate's policy leaves them out of the denominator);
- ratios are rounded to 4 decimals.

The rules are stated twice, on purpose and side by side: as SQL expressions, which the
rollup queries aggregate in the database, and as :meth:`Policy.score`, the plain-Python
statement that tests and explanations use.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal

from app.models.enums import Status

RATIO_DECIMALS = 4
STATUSES = tuple(Status)
"""The statuses in their order. Hot loops use these tuples: iterating an enum class, or
reading a member's ``value``, costs a Python call each time."""
STATUS_VALUES = tuple(s.value for s in STATUSES)
COMPLETED = Status.completed

FIXED_SCORES: Mapping[Status, float] = {
    Status.completed: 1.0,
    Status.not_started: 0.0,
    Status.not_achieved: 0.0,
}
"""Scores that do not depend on percent_complete; in_progress is scored from it."""

COMPLETION_RATE_FORMULA = "completed / counted"
PROGRESS_FORMULA = "Σ weight·score / Σ weight over counted deliverables"
SCORE_RULE = ("completed = 1; in_progress = percent_complete/100, or the policy's credit "
              "when unset; not_started = 0; not_achieved = 0")


@dataclass(frozen=True)
class Policy:
    """A mandate's rollup policy (the defaults are the rules of docs/rollups.md)."""

    in_progress_credit: float = 0.5
    """The score of an in_progress deliverable whose percent_complete is not set."""
    not_achieved_counts: bool = True
    """Whether not_achieved deliverables stay in the denominators (scoring 0)."""

    @cached_property
    def excluded(self) -> frozenset[Status]:
        """Statuses left out of every denominator."""
        if self.not_achieved_counts:
            return frozenset({Status.cancelled})
        return frozenset({Status.cancelled, Status.not_achieved})

    @cached_property
    def excluded_positions(self) -> tuple[int, ...]:
        """Where the excluded statuses stand in :data:`STATUSES`."""
        return tuple(i for i, status in enumerate(STATUSES) if status in self.excluded)

    def score(self, status: Status | str, percent_complete: float | None) -> float | None:
        """A deliverable's score in 0..1, or None when it is not counted."""
        status = Status(status)
        if status in self.excluded:
            return None
        if status == Status.in_progress:
            return self.in_progress_credit if percent_complete is None else percent_complete / 100
        return FIXED_SCORES[status]

    def exclusion_reason(self, status: Status | str) -> str | None:
        status = Status(status)
        if status == Status.cancelled:
            return "cancelled: dropped by decision, left out of every denominator"
        if status in self.excluded:
            return "not_achieved: left out of the denominators by this mandate's policy"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"in_progress_credit": self.in_progress_credit,
                "not_achieved_counts": self.not_achieved_counts}

    # The same rules in SQL -------------------------------------------------------------

    def counted_sql(self, status: Any) -> ColumnElement[bool]:
        return status.not_in(sorted(s.value for s in self.excluded))  # type: ignore[no-any-return]

    def score_sql(self, status: Any, percent_complete: Any) -> ColumnElement[float]:
        """:meth:`score` for counted deliverables, as a SQL expression."""
        in_progress = func.coalesce(cast(percent_complete, Float) / 100.0,
                                    literal(self.in_progress_credit, Float))
        whens: list[tuple[ColumnElement[bool], Any]] = [
            (status == Status.in_progress.value, in_progress)]
        whens += [(status == s.value, literal(v, Float)) for s, v in FIXED_SCORES.items() if v]
        return case(*whens, else_=literal(0.0, Float))

    def columns(self, status: Any, percent_complete: Any, weight: Any,
                where: ColumnElement[bool] | None = None) -> list[ColumnElement[Any]]:
        """The aggregate columns of every rollup query, read back by :func:`totals_from_row`,
        over the rows that also meet ``where``.

        Each is a plain aggregate with a FILTER clause (the database skips the rows it does
        not take instead of adding zeros), and how many are counted follows from the counts
        per status, so a row costs a few comparisons and three additions."""

        def only(condition: ColumnElement[bool]) -> ColumnElement[bool]:
            return condition if where is None else and_(condition, where)

        scored = status.in_([Status.completed.value, Status.in_progress.value])
        columns: list[ColumnElement[Any]] = [
            func.count().filter(only(status == value)).label(column)
            for value, (_status, column) in zip(STATUS_VALUES, COUNT_COLUMNS, strict=True)
        ]
        columns += [
            func.coalesce(func.sum(weight).filter(only(self.counted_sql(status))),
                          literal(0.0, Float)).label("weight_sum"),
            func.coalesce(func.sum(weight * self.score_sql(status, percent_complete)).filter(
                only(scored)), literal(0.0, Float)).label("weighted_score"),
        ]
        return columns


DEFAULT_POLICY = Policy()
COUNT_COLUMNS = tuple((status, f"n_{value}") for status, value in zip(STATUSES, STATUS_VALUES,
                                                                      strict=True))
COUNT_NAMES = tuple(column for _status, column in COUNT_COLUMNS)


@dataclass
class Totals:
    """Sums over a set of deliverables; add them up to roll a level into its parent."""

    by_status: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    counted: int = 0
    weight_sum: float = 0.0
    weighted_score: float = 0.0

    @property
    def deliverables(self) -> int:
        return sum(self.by_status.values())

    @property
    def completion_rate(self) -> float | None:
        if self.counted == 0:
            return None
        return round(self.by_status[COMPLETED] / self.counted, RATIO_DECIMALS)

    @property
    def progress(self) -> float | None:
        if self.weight_sum <= 0:
            return None
        return round(self.weighted_score / self.weight_sum, RATIO_DECIMALS)

    def __add__(self, other: "Totals") -> "Totals":
        total = Totals(by_status=dict(self.by_status), counted=self.counted,
                       weight_sum=self.weight_sum, weighted_score=self.weighted_score)
        total.add(other)
        return total

    def add(self, other: "Totals") -> None:
        """Add ``other`` in place."""
        mine, theirs = self.by_status, other.by_status
        for status in STATUSES:
            mine[status] += theirs[status]
        self.counted += other.counted
        self.weight_sum += other.weight_sum
        self.weighted_score += other.weighted_score

    def as_dict(self) -> dict[str, Any]:
        by_status = self.by_status
        return {
            "deliverables": sum(by_status.values()),
            "by_status": {value: by_status[status]
                          for status, value in zip(STATUSES, STATUS_VALUES, strict=True)},
            "completion_rate": self.completion_rate,
            "progress": self.progress,
        }


def totals_from_row(row: Any, policy: Policy = DEFAULT_POLICY) -> Totals:
    """Totals from a row selected with :meth:`Policy.columns` under ``policy``."""
    mapping = row._mapping
    counts = [int(mapping[column]) for column in COUNT_NAMES]
    return Totals(
        by_status=dict(zip(STATUSES, counts, strict=True)),
        counted=sum(counts) - sum(counts[i] for i in policy.excluded_positions),
        weight_sum=float(mapping["weight_sum"]),
        weighted_score=float(mapping["weighted_score"]),
    )


def totals_of(items: Iterable[tuple[Status | str, float | None, float]],
              policy: Policy = DEFAULT_POLICY) -> Totals:
    """Plain-Python totals of (status, percent_complete, weight) triples: the reference."""
    totals = Totals()
    for status, percent_complete, weight in items:
        status = Status(status)
        totals.by_status[status] += 1
        item_score = policy.score(status, percent_complete)
        if item_score is not None:
            totals.counted += 1
            totals.weight_sum += weight
            totals.weighted_score += weight * item_score
    return totals


def sum_totals(parts: Iterable[Totals]) -> Totals:
    total = Totals()
    for part in parts:
        total.add(part)
    return total
