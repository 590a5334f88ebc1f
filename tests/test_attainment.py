"""The attainment rules, computed by hand: ratio, status, combining periods, gender splits.

No database: these are the pure functions that every indicator view is built on.
"""

from typing import Any

import pytest

from app.models import Aggregation, Direction
from app.schemas.splits import share, split_problems
from app.services.indicators.attainment import (
    DEFAULT_THRESHOLDS,
    AttainmentStatus,
    Thresholds,
    combine,
    parity_gap,
    ratio,
    status,
)

ON, AT, OFF = AttainmentStatus.on_track, AttainmentStatus.at_risk, AttainmentStatus.off_track


# --- ratio and status for each direction -----------------------------------------------------

@pytest.mark.parametrize(
    ("direction", "actual", "target", "baseline", "expected_ratio", "expected_status"),
    [
        # The report's own: 36% women speakers against the parity target of 50%.
        pytest.param(Direction.increase, 36, 50, None, 0.72, AT, id="increase-36-of-50"),
        pytest.param(Direction.increase, 50, 50, None, 1.0, ON, id="increase-reached"),
        pytest.param(Direction.increase, 60, 50, None, 1.2, ON, id="increase-beyond"),
        pytest.param(Direction.increase, 0, 50, None, 0.0, OFF, id="increase-nothing"),
        # USE practices: 345 in 2019, 368 in 2020; against 400 that is 23 of the 55 to gain.
        pytest.param(Direction.increase, 368, 400, 345, round(23 / 55, 4), OFF,
                     id="increase-with-baseline"),
        pytest.param(Direction.increase, 390, 400, 345, round(45 / 55, 4), AT,
                     id="increase-with-baseline-at-risk"),
        pytest.param(Direction.increase, 340, 400, 345, round(-5 / 55, 4), OFF,
                     id="increase-below-baseline-is-negative"),
        # Decrease with baseline: from 100 towards 60; at 70, 30 of the 40 are gone.
        pytest.param(Direction.decrease, 70, 60, 100, 0.75, AT, id="decrease-with-baseline"),
        pytest.param(Direction.decrease, 60, 60, 100, 1.0, ON,
                     id="decrease-with-baseline-reached"),
        pytest.param(Direction.decrease, 110, 60, 100, -0.25, OFF,
                     id="decrease-with-baseline-went-up"),
        # Decrease without baseline: target / actual.
        pytest.param(Direction.decrease, 25, 20, None, 0.8, AT, id="decrease-no-baseline"),
        pytest.param(Direction.decrease, 40, 20, None, 0.5, OFF,
                     id="decrease-no-baseline-off"),
        pytest.param(Direction.decrease, 16, 20, None, 1.25, ON,
                     id="decrease-no-baseline-beyond"),
        # Actual 0 on a decrease without baseline: no division by zero; target is reached.
        pytest.param(Direction.decrease, 0, 20, None, 1.0, ON, id="decrease-actual-zero"),
        pytest.param(Direction.decrease, 0, 0, None, 1.0, ON,
                     id="decrease-actual-and-target-zero"),
        pytest.param(Direction.decrease, 0, 60, 100, round(100 / 40, 4), ON,
                     id="decrease-actual-zero-with-baseline"),
        # Target equal to baseline: nothing to gain, so reached or not.
        pytest.param(Direction.increase, 100, 100, 100, 1.0, ON,
                     id="increase-target-equals-baseline-reached"),
        pytest.param(Direction.increase, 99, 100, 100, 0.0, OFF,
                     id="increase-target-equals-baseline-missed"),
        pytest.param(Direction.decrease, 100, 100, 100, 1.0, ON,
                     id="decrease-target-equals-baseline-reached"),
        pytest.param(Direction.decrease, 101, 100, 100, 0.0, OFF,
                     id="decrease-target-equals-baseline-missed"),
        pytest.param(Direction.increase, 0, 0, None, 1.0, ON, id="increase-target-zero"),
    ],
)
def test_ratio_and_status_by_direction(
    direction: Direction, actual: float, target: float, baseline: float | None,
    expected_ratio: float, expected_status: AttainmentStatus,
) -> None:
    assert ratio(direction, actual=actual, target=target, baseline=baseline) == expected_ratio
    assert status(direction, actual=actual, target=target, baseline=baseline) == (
        expected_ratio, expected_status)


def test_ratio_is_rounded_to_four_decimals() -> None:
    assert ratio(Direction.increase, actual=1, target=3) == 0.3333
    assert ratio(Direction.increase, actual=2, target=3) == 0.6667
    assert ratio(Direction.increase, actual=368, target=400, baseline=345) == 0.4182


@pytest.mark.parametrize(
    ("actual", "target", "tolerance", "expected"),
    [
        pytest.param(50, 50, None, (1.0, ON), id="exact-no-tolerance"),
        pytest.param(50.5, 50, None, (1.01, OFF), id="off-by-half-no-tolerance"),
        pytest.param(52, 50, 3, (1.04, ON), id="above-within-tolerance"),
        pytest.param(47, 50, 3, (0.94, ON), id="below-at-the-tolerance-edge"),
        pytest.param(53, 50, 3, (1.06, ON), id="above-at-the-tolerance-edge"),
        pytest.param(54, 50, 3, (1.08, OFF), id="above-outside-tolerance"),
        # Far below, even with a ratio that would be on_track for an increase.
        pytest.param(46, 50, 3, (0.92, OFF), id="below-outside-tolerance"),
        # Maintain has no at_risk: within the band or not.
        pytest.param(35, 50, 5, (0.7, OFF), id="never-at-risk"),
        pytest.param(0, 0, None, (1.0, ON), id="target-zero-kept"),
        pytest.param(1, 0, None, (0.0, OFF), id="target-zero-missed"),
    ],
)
def test_maintain_is_on_track_only_within_tolerance(
    actual: float, target: float, tolerance: float | None,
    expected: tuple[float, AttainmentStatus],
) -> None:
    assert status(Direction.maintain, actual=actual, target=target,
                  tolerance=tolerance) == expected


def test_maintain_ignores_a_baseline() -> None:
    assert status(Direction.maintain, actual=52, target=52, baseline=40) == (1.0, ON)


# --- thresholds -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        pytest.param(100, ON, id="1.0"),
        pytest.param(90, ON, id="exactly-0.9"),
        pytest.param(89.99, AT, id="0.8999"),
        pytest.param(60, AT, id="exactly-0.6"),
        pytest.param(59.99, OFF, id="0.5999"),
        pytest.param(0, OFF, id="0"),
    ],
)
def test_default_thresholds_at_their_boundaries(actual: float,
                                                expected: AttainmentStatus) -> None:
    value, result = status(Direction.increase, actual=actual, target=100)
    assert value == round(actual / 100, 4)
    assert result == expected


def test_default_thresholds_are_0_9_and_0_6() -> None:
    assert (DEFAULT_THRESHOLDS.on_track, DEFAULT_THRESHOLDS.at_risk) == (0.9, 0.6)
    assert Thresholds() == DEFAULT_THRESHOLDS


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        pytest.param(Thresholds(on_track=0.7, at_risk=0.5), ON, id="lenient"),
        pytest.param(Thresholds(on_track=0.72, at_risk=0.5), ON, id="on-track-boundary"),
        pytest.param(Thresholds(on_track=0.95, at_risk=0.72), AT, id="at-risk-boundary"),
        pytest.param(Thresholds(on_track=0.95, at_risk=0.8), OFF, id="strict"),
    ],
)
def test_custom_thresholds(thresholds: Thresholds, expected: AttainmentStatus) -> None:
    assert status(Direction.increase, actual=36, target=50, thresholds=thresholds) == (
        0.72, expected)


def test_custom_thresholds_apply_to_decrease_too() -> None:
    # 20 / 25 = 0.8: at risk by default, on track with a lower bar.
    assert status(Direction.decrease, actual=25, target=20)[1] == AT
    assert status(Direction.decrease, actual=25, target=20,
                  thresholds=Thresholds(on_track=0.8, at_risk=0.5))[1] == ON


# --- no target, no value --------------------------------------------------------------------

@pytest.mark.parametrize("direction", list(Direction))
def test_no_target_and_no_value(direction: Direction) -> None:
    assert status(direction, actual=368, target=None, baseline=345) == (
        None, AttainmentStatus.no_target)
    assert status(direction, actual=None, target=None) == (None, AttainmentStatus.no_target)
    assert status(direction, actual=None, target=50, tolerance=1) == (
        None, AttainmentStatus.no_value)


def test_status_vocabulary() -> None:
    assert {member.value for member in AttainmentStatus} == {
        "on_track", "at_risk", "off_track", "no_target", "no_value"}


# --- combining periods ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [
        pytest.param(Aggregation.sum, 70, id="sum"),
        pytest.param(Aggregation.last, 20, id="last"),
        pytest.param(Aggregation.max, 40, id="max"),
        pytest.param(Aggregation.mean, 23.333333, id="mean"),
    ],
)
def test_combine(aggregation: Aggregation, expected: float) -> None:
    assert combine(aggregation, [10, 40, 20]) == expected


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_combine_nothing_is_none(aggregation: Aggregation) -> None:
    assert combine(aggregation, []) is None


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_combine_one_value_is_that_value(aggregation: Aggregation) -> None:
    assert combine(aggregation, [36]) == 36


def test_combine_sum_is_exact_and_mean_rounded() -> None:
    assert combine(Aggregation.sum, [0.1] * 10) == 1.0
    assert combine(Aggregation.mean, [1, 2]) == 1.5
    assert combine(Aggregation.mean, [1, 1, 2]) == 1.333333


# --- gender: parity gap, splits, shares -----------------------------------------------------

@pytest.mark.parametrize(
    ("women_share", "expected"),
    [
        pytest.param(0.45, 0.05, id="experts-45-percent"),
        pytest.param(0.36, 0.14, id="speakers-36-percent"),
        pytest.param(0.5, 0.0, id="parity"),
        pytest.param(0.6, -0.1, id="above-parity"),
        pytest.param(0.0, 0.5, id="no-women"),
        pytest.param(None, None, id="unknown"),
    ],
)
def test_parity_gap(women_share: float | None, expected: float | None) -> None:
    assert parity_gap(women_share) == expected


@pytest.mark.parametrize(
    ("split", "value", "parts", "expected"),
    [
        pytest.param("gender", 400, {"women": 180, "men": 220}, [], id="experts-add-up"),
        pytest.param("gender", 4, {"women": 1, "men": 1, "other": 1, "unknown": 1}, [],
                     id="all-four-categories"),
        pytest.param("gender", 0.3, {"women": 0.1, "men": 0.2}, [],
                     id="float-sum-within-tolerance"),
        pytest.param("gender", 400, None, [], id="no-parts"),
        pytest.param(None, 400, None, [], id="no-split-no-parts"),
        pytest.param("gender", 400, {"women": 180, "men": 200},
                     ["parts add up to 380, not to the value 400"], id="do-not-add-up"),
        pytest.param("gender", 400, {"women": 180, "men": 220.01},
                     ["parts add up to 400.01, not to the value 400"], id="off-by-a-little"),
        pytest.param("gender", 10, {"women": 5, "girls": 5},
                     ["girls not among the gender categories women, men, other, unknown"],
                     id="unknown-category"),
        pytest.param(None, 400, {"women": 180, "men": 220},
                     ["parts are given but the indicator declares no split"],
                     id="parts-without-split"),
        pytest.param("gender", 400, {}, ["parts must map gender categories to numbers"],
                     id="empty-parts"),
    ],
)
def test_split_problems(split: str | None, value: Any, parts: Any,
                        expected: list[str]) -> None:
    assert split_problems(split, value, parts) == expected


def test_split_problems_leave_wrong_types_to_the_shape() -> None:
    # A part that is not a number is the schema's to report, not the split rule's.
    assert split_problems("gender", 400, {"women": "many", "men": 220}) == []
    assert split_problems("gender", "400", {"women": 180, "men": 220}) == []


@pytest.mark.parametrize(
    ("parts", "category", "expected"),
    [
        pytest.param({"women": 180, "men": 220}, "women", 0.45, id="experts-women"),
        pytest.param({"women": 180, "men": 220}, "men", 0.55, id="experts-men"),
        pytest.param({"women": 23, "men": 27}, "women", 0.46, id="learning-experts"),
        pytest.param({"women": 1, "men": 2}, "women", 0.3333, id="rounded"),
        pytest.param({"men": 10}, "women", 0.0, id="category-absent"),
        pytest.param({"women": 0, "men": 0}, "women", None, id="total-zero"),
        pytest.param({}, "women", None, id="empty"),
        pytest.param(None, "women", None, id="none"),
    ],
)
def test_share(parts: dict[str, float] | None, category: str,
               expected: float | None) -> None:
    assert share(parts, category) == expected


def test_share_defaults_to_women() -> None:
    assert share({"women": 945, "men": 1155}) == 0.45
