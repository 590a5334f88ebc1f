"""Figures in time: ``as_of`` (the statuses as they stood then), ``known_at`` (only what had
been recorded by then) and the burn-up series, against the reference rebuilt from the
history, after scripted changes, at the exact instants of changes, and on the bundled plan."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Deliverable, Status, StatusChange
from app.models.types import utcnow
from app.services.lookup import get_mandate
from app.services.status.decision import StatusUpdate
from app.services.status.history import day_key, fork_of
from tests.helpers import load, set_status, small_plan
from tests.rollups.helpers import (
    BUNDLED_NOW,
    EMPTY,
    METROPOLIS,
    PERCENTS,
    STATUSES,
    TIME_PLAN,
    State,
    as_written,
    expected,
    get_json,
    import_random,
    instant,
    plan_specs,
    plans,
    post_status,
    shape,
    totals,
    url,
    without,
)

# --- the reference rebuilt from the history ----------------------------------------------


@dataclass(frozen=True)
class Entry:
    code: str
    to_status: str
    percent_complete: float | None
    effective_at: datetime
    recorded_at: datetime
    id: int


def history_of(session: Session, mandate_id: int) -> dict[str, list[Entry]]:
    rows = session.execute(
        select(Deliverable.code, StatusChange.to_status, StatusChange.percent_complete,
               StatusChange.effective_at, StatusChange.recorded_at, StatusChange.id)
        .join(Deliverable, Deliverable.id == StatusChange.deliverable_id)
        .where(Deliverable.mandate_id == mandate_id)
    ).all()
    entries: dict[str, list[Entry]] = {}
    for row in rows:
        entries.setdefault(row[0], []).append(Entry(*row))
    return entries


def states_from_history(codes: Sequence[str], history: Mapping[str, list[Entry]],
                        as_of: datetime | None, known_at: datetime | None
                        ) -> dict[str, State]:
    """Each deliverable's state: the latest entry by (effective_at, recorded_at, id) among
    those effective by ``as_of`` and recorded by ``known_at``; none → not_started."""
    states: dict[str, State] = {}
    for code in codes:
        visible = [e for e in history.get(code, [])
                   if (as_of is None or e.effective_at <= as_of)
                   and (known_at is None or e.recorded_at <= known_at)]
        if not visible:
            states[code] = ("not_started", None)
            continue
        latest = max(visible, key=lambda e: (e.effective_at, e.recorded_at, e.id))
        states[code] = (latest.to_status, latest.percent_complete)
    return states


EFFECTIVE_TIMES: list[datetime | None] = [
    datetime(2023, 12, 1, tzinfo=UTC),               # before the import's entries
    datetime(2024, 1, 1, tzinfo=UTC),                # the same instant as the import's
    datetime(2024, 2, 1, tzinfo=UTC),
    datetime(2024, 3, 15, 12, tzinfo=UTC),
    datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
    None,                                            # now (the fake recording time)
]
_fixed = [t for t in EFFECTIVE_TIMES if t is not None]
AS_OF_TIMES: list[datetime | None] = [
    *sorted({*_fixed, *(t - timedelta(microseconds=1) for t in _fixed),
             datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2100, 1, 1, tzinfo=UTC)}),
    None,
]


AtChange = tuple[int, int]
"""The instant the i-th change was recorded at, which is its effective_at when it gave
none, plus some microseconds (0, or -1: just before it)."""


@dataclass(frozen=True)
class Scenario:
    plan: dict[str, Any]
    changes: list[tuple[str, str, float | None, datetime | None]]
    """(deliverable code, status, percent_complete, effective_at), recorded in this order."""
    views: list[tuple[datetime | AtChange | None, int | None, list[str]]]
    """(as_of, known_at, statuses): as_of a time or an :data:`AtChange`, known_at as a step
    index (see :func:`_known_at`), and the statuses of a ?status= filter applied to the
    states as they stood."""


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    plan = draw(plans())
    codes = [d["code"] for line in plan["action_lines"] for m in line["measures"]
             for d in m["deliverables"]]
    changes: list[tuple[str, str, float | None, datetime | None]] = []
    if codes:
        # Half the changes to the first two deliverables, half of them dated now: so that
        # a deliverable often changes twice the same day (see AtChange).
        changed = st.sampled_from(codes[:2]) | st.sampled_from(codes)
        effective = st.none() | st.sampled_from(EFFECTIVE_TIMES)
        for _ in range(draw(st.integers(0, 8))):
            status = draw(st.sampled_from(STATUSES))
            percent = draw(st.sampled_from(PERCENTS)) if status == "in_progress" else None
            changes.append((draw(changed), status, percent, draw(effective)))
    # known_at: -1 = before the import was recorded; k ≥ 0 = after the import and the first
    # k/2 changes (odd k: half a second later, between two recordings).
    known = st.none() | st.integers(-1, 2 * len(changes) + 1)
    statuses = st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3, unique=True)
    as_of: st.SearchStrategy[datetime | AtChange | None] = st.sampled_from(AS_OF_TIMES)
    if changes:
        as_of = as_of | st.tuples(st.integers(0, len(changes) - 1), st.sampled_from([0, -1]))
    views = draw(st.lists(st.tuples(as_of, known, statuses), min_size=3, max_size=5))
    return Scenario(plan, changes, views)


def _recorded_at(i: int, base: datetime) -> datetime:
    """When the i-th change of a scenario is recorded (a fake, increasing time)."""
    return base + timedelta(seconds=i + 1)


def _as_of(view: datetime | AtChange | None, base: datetime) -> datetime | None:
    if isinstance(view, tuple):
        i, microseconds = view
        return _recorded_at(i, base) + timedelta(microseconds=microseconds)
    return view


def _known_at(step: int | None, base: datetime) -> datetime | None:
    if step is None:
        return None
    if step < 0:
        return datetime(2024, 6, 30, tzinfo=UTC)
    return base + timedelta(seconds=step // 2, microseconds=500_000 * (step % 2))


# Examples: as many as the Hypothesis profile says (tests/conftest.py).
@settings(deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_time_travel_equals_the_reference_rebuilt_from_history(
    session: Session, client: TestClient, scenario: Scenario
) -> None:
    code, policy = import_random(session, scenario.plan)
    structure, specs, _file_states = plan_specs(scenario.plan)
    mandate = get_mandate(session, code=code)
    # Changes are recorded at fake, increasing times after the import's (which is real now):
    # the i-th at base + i + 1 seconds, a few of them the same day (so closed the day they
    # began: an entry at its own day's node of the interval tree).
    base = utcnow().replace(microsecond=123456) + timedelta(seconds=1)
    for i, (deliverable_code, status, percent, effective_at) in enumerate(scenario.changes):
        set_status(session, deliverable_code,
                   StatusUpdate(status=Status(status), percent_complete=percent,
                                effective_at=effective_at),
                   mandate=code, actor="hypothesis", now=_recorded_at(i, base))
        session.commit()

    history = history_of(session, mandate.id or 0)
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    codes = [spec.code for spec in specs]
    # With neither as_of nor known_at: the current state, which the history must agree with.
    current = states_from_history(codes, history, None, None)
    assert shape(get_json(client, url(code))) == expected(structure, specs, current, policy)
    for view, step, statuses in scenario.views:
        as_of = _as_of(view, base)
        known_at = _known_at(step, base)
        params = {key: value.isoformat() for key, value in
                  (("as_of", as_of), ("known_at", known_at)) if value is not None}
        states = states_from_history(codes, history, as_of, known_at)
        body = get_json(client, url(code), params)
        assert shape(body) == expected(structure, specs, states, policy), params
        if as_of is not None:
            assert instant(body["as_of"]) == as_written(as_of)
        gender = get_json(client, url(code), {**params, "tag": "gender"})
        assert shape(gender) == expected(structure, specs, states, policy,
                                         lambda spec: "gender" in spec.tags), params
        by_status = get_json(client, url(code), {**params, "status": statuses})
        assert shape(by_status) == expected(
            structure, specs, states, policy,
            lambda spec, states=states, statuses=statuses: states[spec.code][0] in statuses
        ), (params, statuses)


# --- as_of, known_at and series after scripted changes ----------------------------------

# small_plan with its statuses dated 2024-01-01. Counted: A1a (w2, completed),
# A1b (w1, in_progress 40%), B1a (w1, the one that changes), B1b (w1, not_achieved);
# A2a is cancelled. Σw = 5, and progress = (2·1 + 0.4 + score of B1a) / 5.
B1A_NOT_STARTED = totals(5, 1, 1, 1, 1, 1, 0.25, 0.48)     # (2 + 0.4 + 0) / 5
B1A_AT_25 = totals(5, 1, 2, 0, 1, 1, 0.25, 0.53)           # (2.4 + 0.25) / 5
B1A_AT_50 = totals(5, 1, 2, 0, 1, 1, 0.25, 0.58)           # (2.4 + 0.5) / 5
B1A_COMPLETED = totals(5, 2, 1, 0, 1, 1, 0.5, 0.68)        # (2.4 + 1) / 5; completed 2/4
B1A_NOT_ACHIEVED = totals(5, 1, 1, 0, 2, 1, 0.25, 0.48)    # counted, scoring 0: (2.4 + 0) / 5
NOTHING_YET = totals(5, 0, 0, 5, 0, 0, 0.0, 0.0)           # before 2024-01-01: no history


def test_as_of_known_at_and_series_after_a_late_correction(
    session: Session, client: TestClient, editor: dict[str, str]
) -> None:
    load(session, {**small_plan(), "as_of": "2024-01-01"})
    post_status(client, TIME_PLAN, "B1a", {"status": "in_progress", "percent_complete": 50,
                                           "effective_at": "2024-03-10"}, editor)
    post_status(client, TIME_PLAN, "B1a", {"status": "completed",
                                           "effective_at": "2024-06-01T18:00:00Z"}, editor)
    before_feb = get_json(client, url(TIME_PLAN), {"as_of": "2024-02-15"})
    before_series = get_json(client, url(TIME_PLAN, "progress/series"),
                             {"from": "2024-01-01", "to": "2024-12-31", "interval": "month"})
    assert before_feb["totals"] == B1A_NOT_STARTED
    known_at = utcnow().isoformat()
    # The late correction: it had in fact started, at 25%, on 2024-02-01.
    post_status(client, TIME_PLAN, "B1a", {"status": "in_progress", "percent_complete": 25,
                                           "effective_at": "2024-02-01"}, editor)

    def at(as_of: str, **more: str) -> dict[str, Any]:
        return get_json(client, url(TIME_PLAN), {"as_of": as_of, **more})["totals"]

    assert at("2023-12-31") == NOTHING_YET
    assert at("2024-01-31") == B1A_NOT_STARTED
    assert at("2024-02-15") == B1A_AT_25
    assert at("2024-03-09") == B1A_AT_25
    assert at("2024-03-10") == B1A_AT_50       # a date means the end of that day
    assert at("2024-04-01") == B1A_AT_50
    assert at("2024-06-01T12:00:00Z") == B1A_AT_50
    assert at("2024-06-01T17:59:59.999999Z") == B1A_AT_50
    assert at("2024-06-01T18:00:00Z") == B1A_COMPLETED
    assert at("2024-06-01T20:00:00+02:00") == B1A_COMPLETED
    assert at("2024-06-01") == B1A_COMPLETED   # the end of 2024-06-01, after 18:00
    assert at("2024-07-01") == B1A_COMPLETED
    assert get_json(client, url(TIME_PLAN))["totals"] == B1A_COMPLETED
    # Written as the contract shows an end of day, though the query counts to its last instant.
    assert get_json(client, url(TIME_PLAN), {"as_of": "2024-06-01"})["as_of"] == (
        "2024-06-01T23:59:59Z")

    # The status filter takes the statuses as they stood: A1b (0.40) and B1a (0.50).
    assert at("2024-04-01", status="in_progress") == totals(2, 0, 2, 0, 0, 0, 0.0, 0.45)
    assert at("2024-02-15", status="not_started") == EMPTY

    # known_at before the correction reproduces the earlier report exactly.
    old = get_json(client, url(TIME_PLAN), {"as_of": "2024-02-15", "known_at": known_at})
    assert instant(old["known_at"]) == instant(known_at)
    assert without(old, "known_at") == before_feb
    old_series = get_json(client, url(TIME_PLAN, "progress/series"), {
        "from": "2024-01-01", "to": "2024-12-31", "interval": "month", "known_at": known_at})
    assert without(old_series, "known_at", "as_of") == without(before_series, "as_of")

    quarters = get_json(client, url(TIME_PLAN, "progress/series"),
                        {"from": "2024-01-01", "to": "2024-12-31", "interval": "quarter"})
    assert [instant(p["at"]) for p in quarters["points"]] == [
        datetime(2024, month, day, 23, 59, 59, tzinfo=UTC)
        for month, day in ((3, 31), (6, 30), (9, 30), (12, 31))]
    assert [without(p, "at") for p in quarters["points"]] == [
        B1A_AT_50, B1A_COMPLETED, B1A_COMPLETED, B1A_COMPLETED]

    months = get_json(client, url(TIME_PLAN, "progress/series"),
                      {"from": "2024-01-01", "to": "2024-12-31", "interval": "month"})
    assert len(months["points"]) == 12
    assert [without(p, "at") for p in months["points"]] == (
        [B1A_NOT_STARTED, B1A_AT_25] + [B1A_AT_50] * 3 + [B1A_COMPLETED] * 7)
    # Before the correction, February still read "not started".
    assert [p["progress"] for p in before_series["points"]] == (
        [0.48, 0.48] + [0.58] * 3 + [0.68] * 7)
    # Each point is the as_of figure at the end of its interval.
    for point in months["points"]:
        assert without(point, "at") == at(point["at"])
    years = get_json(client, url(TIME_PLAN, "progress/series"),
                     {"from": "2023-06-01", "to": "2024-12-31", "interval": "year"})
    assert [without(p, "at") for p in years["points"]] == [NOTHING_YET, B1A_COMPLETED]


# --- the exact instant of a change ----------------------------------------------------------

# B1a's three changes. The first is closed later the same day, so its entry sits at its own
# day's node of the interval tree (app/services/status/history.py); the second is closed 38
# days later, and its node is a day to the right of its start (2024-03-26, the day in
# [2024-03-13, 2024-04-20] with the most trailing zero bits); the third is still in effect
# (the root, right of every day).
AT_50 = datetime(2024, 3, 13, 10, 0, 0, 123456, tzinfo=UTC)
COMPLETED_AT = datetime(2024, 3, 13, 15, 0, tzinfo=UTC)
MISSED_AT = datetime(2024, 4, 20, 9, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
AT_A_CHANGE = [
    (AT_50 - MICROSECOND, B1A_NOT_STARTED),
    (AT_50, B1A_AT_50),
    (COMPLETED_AT - MICROSECOND, B1A_AT_50),
    (COMPLETED_AT, B1A_COMPLETED),
    (MISSED_AT - MICROSECOND, B1A_COMPLETED),
    (MISSED_AT, B1A_NOT_ACHIEVED),
]


def test_the_premise_each_change_sits_where_the_instant_test_says() -> None:
    """The test below reaches each branch of the interval tree's query: a change whose node
    is its own day, one whose node is right of its day, and one still in effect."""
    assert fork_of(AT_50, COMPLETED_AT) == day_key(AT_50)
    assert fork_of(COMPLETED_AT, MISSED_AT) > day_key(COMPLETED_AT)
    assert fork_of(MISSED_AT, None) > day_key(MISSED_AT)


@pytest.mark.parametrize(("as_of", "want"), AT_A_CHANGE,
                         ids=[f"{moment.isoformat()}" for moment, _want in AT_A_CHANGE])
def test_as_of_the_exact_instant_of_a_change_counts_it(
    session: Session, client: TestClient, editor: dict[str, str], as_of: datetime,
    want: dict[str, Any]
) -> None:
    """A change is in effect from its effective_at on: as of that very microsecond it
    counts, one microsecond before it does not."""
    load(session, {**small_plan(), "as_of": "2024-01-01"})
    for status, percent, moment in (("in_progress", 50, AT_50), ("completed", None, COMPLETED_AT),
                                    ("not_achieved", None, MISSED_AT)):
        post_status(client, TIME_PLAN, "B1a", {
            "status": status, "percent_complete": percent,
            "effective_at": moment.isoformat().replace("+00:00", "Z")}, editor)
    body = get_json(client, url(TIME_PLAN), {"as_of": as_of.isoformat()})
    assert instant(body["as_of"]) == as_written(as_of)
    assert body["totals"] == want
    # The line and the measure the deliverable belongs to move with it.
    assert body["action_lines"][1]["totals"]["by_status"] == (
        body["action_lines"][1]["measures"][0]["totals"]["by_status"])
    line = get_json(client, url(TIME_PLAN, "action-lines/B/progress"),
                    {"as_of": as_of.isoformat()})["action_line"]
    assert line["totals"] == body["action_lines"][1]["totals"]


# --- the bundled plan ------------------------------------------------------------------------


@pytest.mark.usefixtures("metropolis")
def test_bundled_plan_through_time(client: TestClient) -> None:
    now = get_json(client, url(METROPOLIS))
    assert now["totals"] == BUNDLED_NOW
    # The statuses are dated 2020-12-31 by the file: at the end of that day they stand.
    year_end = get_json(client, url(METROPOLIS), {"as_of": "2020-12-31"})
    assert without(year_end, "as_of") == without(now, "as_of")
    assert instant(year_end["as_of"]) == datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC)
    # The day before they did not: every deliverable counts as not_started (0 of 65).
    day_before = get_json(client, url(METROPOLIS), {"as_of": "2020-12-30"})
    mid_year = get_json(client, url(METROPOLIS), {"as_of": "2020-06-30"})
    for early in (day_before, mid_year):
        assert early["totals"] == totals(65, 0, 0, 65, 0, 0, 0.0, 0.0)
        assert all(line["totals"]["by_status"]["not_started"] == line["totals"]["deliverables"]
                   for line in early["action_lines"])
        assert early["by_tag"]["gender"] == totals(10, 0, 0, 10, 0, 0, 0.0, 0.0)
    # The ten gender deliverables: L1M3D1, D3, D4, L2M5D2, L2M9D1, L3M4D2, L3M8D1 completed;
    # L1M3D2 and L2M5D1 in_progress without a percent (0.5 each); L3M4D1 not_started.
    # completed 7/10 = 0.7; progress (7 + 0.5 + 0.5) / 10 = 0.8
    gender = totals(10, 7, 2, 1, 0, 0, 0.7, 0.8)
    assert now["by_tag"]["gender"] == gender
    assert get_json(client, url(METROPOLIS), {"tag": "gender"})["totals"] == gender
    listed = get_json(client, url(METROPOLIS, "deliverables"), {"tag": "gender", "limit": 500})
    assert sorted(d["code"] for d in listed["data"]) == [
        "L1M3D1", "L1M3D2", "L1M3D3", "L1M3D4", "L2M5D1", "L2M5D2", "L2M9D1", "L3M4D1",
        "L3M4D2", "L3M8D1"]
    # youth: L1M4D1 and L2M10D1-D3, all not_achieved.
    assert now["by_tag"]["youth"] == totals(4, 0, 0, 0, 4, 0, 0.0, 0.0)
    assert set(now["by_tag"]) == {"gender", "youth"}
