"""Progress rollups: figures worked out by hand, a property test against the plain-Python
reference (:func:`app.services.rollups.rules.totals_of`), time travel (as_of, known_at, series),
explanations, themes and filters, compare, caching, and SQLite/PostgreSQL agreement.

Every test here runs on SQLite and on PostgreSQL (through the ``engine`` fixtures), except
:func:`test_sqlite_and_postgresql_give_the_same_json`, which builds both databases itself.
"""

import copy
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import migrate
from app.api.routes import progress as progress_routes
from app.db import build_engine
from app.models import Deliverable, Role, Status, StatusChange
from app.models.types import utcnow
from app.schemas.plan_file import parse_plan_text
from app.services.lookup import get_mandate
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.services.rollups.rules import Policy, totals_of
from app.services.status.decision import StatusUpdate
from tests.conftest import drop_database, make_client, new_database_url
from tests.helpers import OTHER_ORG_PLAN, auth, load, new_token, set_status, small_plan

API = "/api/v1"
METROPOLIS = "2018-2020"
OTHER_ORG = "OGP-2022-2025"
STATUSES = [s.value for s in Status]

State = tuple[str, float | None]
"""A deliverable's (status, percent_complete)."""


def url(mandate: str, tail: str = "progress") -> str:
    return f"{API}/mandates/{mandate}/{tail}"


def totals(deliverables: int, completed: int, in_progress: int, not_started: int,
           not_achieved: int, cancelled: int, completion_rate: float | None,
           progress: float | None) -> dict[str, Any]:
    """A ``totals`` object as the progress JSON spells it."""
    assert deliverables == completed + in_progress + not_started + not_achieved + cancelled
    return {
        "deliverables": deliverables,
        "by_status": {"completed": completed, "in_progress": in_progress,
                      "not_started": not_started, "not_achieved": not_achieved,
                      "cancelled": cancelled},
        "completion_rate": completion_rate,
        "progress": progress,
    }


EMPTY = totals(0, 0, 0, 0, 0, 0, None, None)


def shape(body: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a mandate progress JSON: totals per level and per tag."""
    return {
        "totals": body["totals"],
        "action_lines": [
            {"code": line["code"], "totals": line["totals"],
             "measures": [{"code": m["code"], "totals": m["totals"]} for m in line["measures"]]}
            for line in body["action_lines"]
        ],
        "by_tag": body["by_tag"],
    }


def figures(body: Mapping[str, Any]) -> dict[str, Any]:
    """Totals by node code (mandate under ``""``), for hand-written expectations."""
    found = {"": body["totals"]}
    for line in body["action_lines"]:
        found[line["code"]] = line["totals"]
        for measure in line["measures"]:
            found[measure["code"]] = measure["totals"]
    return found


def without(body: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


def get_json(client: TestClient, path: str, params: Any = None) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def as_written(moment: datetime) -> datetime:
    """A time as the API writes it: the last microsecond of a second (an end of day, say)
    is written to the second, …T23:59:59Z, though the query counts to that microsecond."""
    return moment.replace(microsecond=0) if moment.microsecond == 999999 else moment


# --- the Python reference ----------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What a deliverable is, apart from its status."""

    line: str
    measure: str
    code: str
    weight: float
    tags: frozenset[str]


Structure = list[tuple[str, list[str]]]
"""Action line codes, each with its measure codes, in plan order."""


def plan_specs(plan: Mapping[str, Any]) -> tuple[Structure, list[Spec], dict[str, State]]:
    """Structure, deliverables and the file's states of a plan dict."""
    structure: Structure = []
    specs: list[Spec] = []
    states: dict[str, State] = {}
    for line in plan["action_lines"]:
        structure.append((line["code"], [m["code"] for m in line["measures"]]))
        for measure in line["measures"]:
            for d in measure["deliverables"]:
                specs.append(Spec(line["code"], measure["code"], d["code"],
                                  float(d.get("weight", 1)), frozenset(d.get("tags", []))))
                states[d["code"]] = (d.get("status", "not_started"), d.get("percent_complete"))
    return structure, specs, states


def expected(structure: Structure, specs: Sequence[Spec], states: Mapping[str, State],
             policy: Policy, keep: Callable[[Spec], bool] = lambda _spec: True
             ) -> dict[str, Any]:
    """What :func:`shape` should give, computed in Python with ``totals_of``."""
    chosen = [spec for spec in specs if keep(spec)]

    def of(group: Sequence[Spec]) -> dict[str, Any]:
        return totals_of(((states[s.code][0], states[s.code][1], s.weight) for s in group),
                         policy).as_dict()

    return {
        "totals": of(chosen),
        "action_lines": [
            {"code": line, "totals": of([s for s in chosen if s.line == line]),
             "measures": [{"code": m, "totals": of([s for s in chosen if s.measure == m])}
                          for m in measures]}
            for line, measures in structure
        ],
        "by_tag": {tag: of([s for s in chosen if tag in s.tags])
                   for tag in sorted({t for s in chosen for t in s.tags})},
    }


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


# --- 1. figures worked out by hand ---------------------------------------------------------


def hand_plan(**top: Any) -> dict[str, Any]:
    """Ten deliverables chosen to exercise every rule (weights in brackets):

    A1: A1a completed [2], A1b in_progress 40% [1] (gender), A1c in_progress, no percent
        [0.5], A1d cancelled [3]
    A2: A2a cancelled [1]                  — nothing counts: nulls
    A3: A3a not_achieved [1]               — counts, or not, by the policy
    B1: B1a not_achieved [1] (gender), B1b not_started [1.5] (gender, youth),
        B1c completed [0]
    B2: no deliverables                    — nulls
    B3: B3a completed [0] (youth)          — counted, but weighs nothing: progress null
    """
    def d(code: str, status: str, weight: float, **more: Any) -> dict[str, Any]:
        return {"code": code, "title": f"Deliverable {code}", "status": status,
                "weight": weight, **more}

    return copy.deepcopy({
        "mandate": {"code": "H-2024", "title": "Hand plan", "start_date": "2024-01-01",
                    "end_date": "2024-12-31"},
        **top,
        "action_lines": [
            {"code": "A", "title": "Line A", "measures": [
                {"code": "A1", "title": "Measure A1", "deliverables": [
                    d("A1a", "completed", 2),
                    d("A1b", "in_progress", 1, percent_complete=40, tags=["gender"]),
                    d("A1c", "in_progress", 0.5),
                    d("A1d", "cancelled", 3),
                ]},
                {"code": "A2", "title": "Measure A2", "deliverables": [
                    d("A2a", "cancelled", 1)]},
                {"code": "A3", "title": "Measure A3", "deliverables": [
                    d("A3a", "not_achieved", 1)]},
            ]},
            {"code": "B", "title": "Line B", "measures": [
                {"code": "B1", "title": "Measure B1", "deliverables": [
                    d("B1a", "not_achieved", 1, tags=["gender"]),
                    d("B1b", "not_started", 1.5, tags=["gender", "youth"]),
                    d("B1c", "completed", 0),
                ]},
                {"code": "B2", "title": "Measure B2", "deliverables": []},
                {"code": "B3", "title": "Measure B3", "deliverables": [
                    d("B3a", "completed", 0, tags=["youth"])]},
            ]},
        ],
    })


HAND = "H-2024"
FORMULA_POLICY = {"in_progress_credit": 0.25, "not_achieved_counts": False}


def test_hand_computed_figures_with_the_default_policy(session: Session,
                                                       client: TestClient) -> None:
    load(session, hand_plan())
    body = get_json(client, url(HAND))
    assert body["policy"] == {"in_progress_credit": 0.5, "not_achieved_counts": True}
    assert figures(body) == {
        # A1: counted A1a, A1b, A1c (A1d cancelled). completed 1/3.
        #     Σw·s = 2·1 + 1·0.40 + 0.5·0.5 = 2.65; Σw = 2 + 1 + 0.5 = 3.5; 2.65/3.5 = 0.75714
        "A1": totals(4, 1, 2, 0, 0, 1, 0.3333, 0.7571),
        # A2: only a cancelled deliverable: nothing counts, both ratios null.
        "A2": totals(1, 0, 0, 0, 0, 1, None, None),
        # A3: not_achieved counts, scoring 0: 0/1 and 0/1.
        "A3": totals(1, 0, 0, 0, 1, 0, 0.0, 0.0),
        # A: counted A1a, A1b, A1c, A3a: completed 1/4 = 0.25; 2.65 / (3.5 + 1) = 0.58889
        "A": totals(6, 1, 2, 0, 1, 2, 0.25, 0.5889),
        # B1: counted all three, completed 1/3; Σw·s = 0 over Σw = 1 + 1.5 + 0 = 2.5: 0.0
        "B1": totals(3, 1, 0, 1, 1, 0, 0.3333, 0.0),
        "B2": EMPTY,
        # B3: completed 1/1, but Σw = 0: progress null.
        "B3": totals(1, 1, 0, 0, 0, 0, 1.0, None),
        # B: completed 2/4 = 0.5; 0 / 2.5 = 0.0
        "B": totals(4, 2, 0, 1, 1, 0, 0.5, 0.0),
        # mandate: counted 8 (10 minus 2 cancelled), completed 3: 0.375;
        #          Σw·s = 2.65, Σw = 4.5 + 2.5 = 7.0: 0.37857
        "": totals(10, 3, 2, 1, 2, 2, 0.375, 0.3786),
    }
    assert body["by_tag"] == {
        # A1b (0.40, w1), B1a (0, w1), B1b (0, w1.5): 0/3 completed; 0.4 / 3.5 = 0.11429
        "gender": totals(3, 0, 1, 1, 1, 0, 0.0, 0.1143),
        # B1b (0, w1.5), B3a (1, w0): 1/2 completed; 0 / 1.5 = 0.0
        "youth": totals(2, 1, 0, 1, 0, 0, 0.5, 0.0),
    }


def test_nulls_when_nothing_counts_at_any_level(session: Session, client: TestClient) -> None:
    plan = small_plan(code="NULLS")
    plan["action_lines"] = [
        {"code": "X", "title": "Dropped line", "measures": [
            {"code": "X1", "title": "Dropped", "deliverables": [
                {"code": "X1a", "title": "Dropped a", "status": "cancelled"},
                {"code": "X1b", "title": "Dropped b", "status": "cancelled", "weight": 4}]}]},
        {"code": "Y", "title": "Empty line", "measures": []},
    ]
    load(session, plan)
    body = get_json(client, url("NULLS"))
    # Two deliverables, both cancelled: the denominators are 0 everywhere.
    assert figures(body) == {"": totals(2, 0, 0, 0, 0, 2, None, None),
                             "X": totals(2, 0, 0, 0, 0, 2, None, None),
                             "X1": totals(2, 0, 0, 0, 0, 2, None, None),
                             "Y": EMPTY}
    assert body["action_lines"][1]["measures"] == []
    assert body["by_tag"] == {}


def test_a_mandate_policy_changes_the_figures_as_computed_by_hand(
    session: Session, client: TestClient
) -> None:
    load(session, hand_plan())
    report = load(session, hand_plan(rollup_policy=FORMULA_POLICY))
    assert report.policy_change == {
        "from": {"in_progress_credit": 0.5, "not_achieved_counts": True},
        "to": FORMULA_POLICY}
    body = get_json(client, url(HAND))
    assert body["policy"] == FORMULA_POLICY
    assert figures(body) == {
        # A1: A1c without a percent now scores 0.25: Σw·s = 2 + 0.4 + 0.5·0.25 = 2.525;
        #     2.525 / 3.5 = 0.72143; completed still 1/3.
        "A1": totals(4, 1, 2, 0, 0, 1, 0.3333, 0.7214),
        "A2": totals(1, 0, 0, 0, 0, 1, None, None),
        # A3: its only deliverable is not_achieved, now left out: nulls.
        "A3": totals(1, 0, 0, 0, 1, 0, None, None),
        # A: counted A1a, A1b, A1c: 1/3; 2.525 / 3.5
        "A": totals(6, 1, 2, 0, 1, 2, 0.3333, 0.7214),
        # B1: B1a left out; counted B1b, B1c: completed 1/2; 0 / (1.5 + 0) = 0.0
        "B1": totals(3, 1, 0, 1, 1, 0, 0.5, 0.0),
        "B2": EMPTY,
        "B3": totals(1, 1, 0, 0, 0, 0, 1.0, None),
        # B: counted B1b, B1c, B3a: completed 2/3; 0 / 1.5
        "B": totals(4, 2, 0, 1, 1, 0, 0.6667, 0.0),
        # mandate: counted 6 (A1a, A1b, A1c, B1b, B1c, B3a), completed 3: 0.5;
        #          2.525 / (3.5 + 1.5) = 0.505
        "": totals(10, 3, 2, 1, 2, 2, 0.5, 0.505),
    }
    assert body["by_tag"] == {
        # A1b (0.40, w1), B1b (0, w1.5); B1a left out: 0/2; 0.4 / 2.5 = 0.16
        "gender": totals(3, 0, 1, 1, 1, 0, 0.0, 0.16),
        "youth": totals(2, 1, 0, 1, 0, 0, 0.5, 0.0),
    }
    # The policy travels with every view of the mandate.
    for path in (url(HAND, "action-lines/A/progress"), url(HAND, "measures/B1/progress"),
                 url(HAND, "progress/series?from=2024-01-01&to=2024-03-31")):
        assert get_json(client, path)["policy"] == FORMULA_POLICY
    compared = get_json(client, f"{API}/progress", {"mandates": HAND})
    assert compared["mandates"][0]["policy"] == FORMULA_POLICY
    assert compared["mandates"][0]["totals"] == body["totals"]


# --- 2. property tests against the Python reference -----------------------------------------

WEIGHTS = [None, 0, 0.5, 1, 1.5, 2, 3]
"""None: not given (1). Dyadic fractions, so that sums are exact in binary floating point
whatever order SQL adds them in, and the rounded figures can be compared exactly."""
PERCENTS = [None, None, 0, 12.5, 25, 50, 75, 100]
CREDITS = [0.0, 0.25, 0.5, 0.75, 1.0]
TAG_SETS = [[], [], ["gender"], ["youth"], ["gender", "youth"]]
_mandate_numbers = itertools.count(1)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    """1-3 action lines of 1-3 measures of 0-5 deliverables, random statuses and policy."""
    lines = []
    for li in range(1, draw(st.integers(1, 3)) + 1):
        measures = []
        for mi in range(1, draw(st.integers(1, 3)) + 1):
            deliverables = []
            for di in range(1, draw(st.integers(0, 5)) + 1):
                code = f"L{li}M{mi}D{di}"
                item: dict[str, Any] = {"code": code, "title": f"Deliverable {code}",
                                        "status": draw(st.sampled_from(STATUSES)),
                                        "tags": draw(st.sampled_from(TAG_SETS))}
                weight = draw(st.sampled_from(WEIGHTS))
                if weight is not None:
                    item["weight"] = weight
                if item["status"] == "in_progress":
                    percent = draw(st.sampled_from(PERCENTS))
                    if percent is not None:
                        item["percent_complete"] = percent
                deliverables.append(item)
            measures.append({"code": f"L{li}M{mi}", "title": f"Measure {li}.{mi}",
                             "deliverables": deliverables})
        lines.append({"code": f"L{li}", "title": f"Line {li}", "measures": measures})
    return {
        "mandate": {"code": "set-per-example", "title": "Random plan",
                    "start_date": "2024-01-01", "end_date": "2024-12-31"},
        "as_of": "2024-01-01",
        "rollup_policy": {"in_progress_credit": draw(st.sampled_from(CREDITS)),
                          "not_achieved_counts": draw(st.booleans())},
        "action_lines": lines,
    }


def _import_random(session: Session, plan: dict[str, Any]) -> tuple[str, Policy]:
    """Import under a code of its own, so that examples never meet: no cleaning needed."""
    code = f"P{next(_mandate_numbers)}"
    plan = copy.deepcopy(plan)
    plan["mandate"]["code"] = code
    load(session, plan)
    return code, Policy(**plan["rollup_policy"])


PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(plan=plans())
def test_sql_rollups_equal_the_python_reference(session: Session, client: TestClient,
                                                plan: dict[str, Any]) -> None:
    code, policy = _import_random(session, plan)
    structure, specs, states = plan_specs(plan)

    for tag in (None, "gender", "youth"):
        params = {"tag": tag} if tag else {}

        def keep(spec: Spec, tag: str | None = tag) -> bool:
            return tag is None or tag in spec.tags

        want = expected(structure, specs, states, policy, keep)
        body = get_json(client, url(code), params)
        assert body["policy"] == policy.as_dict()
        assert shape(body) == want
        for line, (_line_code, measure_codes) in zip(want["action_lines"], structure,
                                                     strict=True):
            node = get_json(client, url(code, f"action-lines/{line['code']}/progress"),
                            params)["action_line"]
            assert node["totals"] == line["totals"]
            assert [m["totals"] for m in node["measures"]] == [
                m["totals"] for m in line["measures"]]
            for measure_code, measure in zip(measure_codes, line["measures"], strict=True):
                one = get_json(client, url(code, f"measures/{measure_code}/progress"), params)
                assert one["action_line"] == line["code"]
                assert one["measure"]["totals"] == measure["totals"]


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


@dataclass(frozen=True)
class Scenario:
    plan: dict[str, Any]
    changes: list[tuple[str, str, float | None, datetime | None]]
    """(deliverable code, status, percent_complete, effective_at), recorded in this order."""
    views: list[tuple[datetime | None, int | None, list[str]]]
    """(as_of, known_at, statuses): known_at as a step index (see :func:`_known_at`), and
    the statuses of a ?status= filter applied to the states as they stood."""


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    plan = draw(plans())
    codes = [d["code"] for line in plan["action_lines"] for m in line["measures"]
             for d in m["deliverables"]]
    changes: list[tuple[str, str, float | None, datetime | None]] = []
    if codes:
        for _ in range(draw(st.integers(0, 8))):
            status = draw(st.sampled_from(STATUSES))
            percent = draw(st.sampled_from(PERCENTS)) if status == "in_progress" else None
            changes.append((draw(st.sampled_from(codes)), status, percent,
                            draw(st.sampled_from(EFFECTIVE_TIMES))))
    # known_at: -1 = before the import was recorded; k ≥ 0 = after the import and the first
    # k/2 changes (odd k: half a second later, between two recordings).
    known = st.none() | st.integers(-1, 2 * len(changes) + 1)
    statuses = st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3, unique=True)
    views = draw(st.lists(st.tuples(st.sampled_from(AS_OF_TIMES), known, statuses),
                          min_size=3, max_size=5))
    return Scenario(plan, changes, views)


def _known_at(step: int | None, base: datetime) -> datetime | None:
    if step is None:
        return None
    if step < 0:
        return datetime(2024, 6, 30, tzinfo=UTC)
    return base + timedelta(seconds=step // 2, microseconds=500_000 * (step % 2))


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_time_travel_equals_the_reference_rebuilt_from_history(
    session: Session, client: TestClient, scenario: Scenario
) -> None:
    code, policy = _import_random(session, scenario.plan)
    structure, specs, _file_states = plan_specs(scenario.plan)
    mandate = get_mandate(session, code=code)
    # Changes are recorded at fake, increasing times after the import's (which is real now):
    # the i-th at base + i + 1 seconds.
    base = utcnow() + timedelta(seconds=1)
    for i, (deliverable_code, status, percent, effective_at) in enumerate(scenario.changes):
        set_status(session, deliverable_code,
                   StatusUpdate(status=Status(status), percent_complete=percent,
                                effective_at=effective_at),
                   mandate=code, actor="hypothesis", now=base + timedelta(seconds=i + 1))
        session.commit()

    history = history_of(session, mandate.id or 0)
    session.commit()  # end the read: on SQLite an open transaction holds the write lock
    codes = [spec.code for spec in specs]
    # With neither as_of nor known_at: the current state, which the history must agree with.
    current = states_from_history(codes, history, None, None)
    assert shape(get_json(client, url(code))) == expected(structure, specs, current, policy)
    for as_of, step, statuses in scenario.views:
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


# --- 3. as_of, known_at and series after scripted changes ----------------------------------

TIME_PLAN = "T-2024"


@pytest.fixture
def editor(engine: Engine) -> dict[str, str]:
    return auth(new_token(engine, Role.editor, "editor-rollups"))


@pytest.fixture
def admin(engine: Engine) -> dict[str, str]:
    return auth(new_token(engine, Role.admin, "admin-rollups"))


def post_status(client: TestClient, mandate: str, code: str, body: dict[str, Any],
                headers: dict[str, str]) -> Any:
    current = client.get(url(mandate, f"deliverables/{code}")).headers["etag"]
    response = client.post(url(mandate, f"deliverables/{code}/status"), json=body,
                           headers={**headers, "If-Match": current})
    assert response.status_code == 200, response.text
    return response


# small_plan with its statuses dated 2024-01-01. Counted: A1a (w2, completed),
# A1b (w1, in_progress 40%), B1a (w1, the one that changes), B1b (w1, not_achieved);
# A2a is cancelled. Σw = 5, and progress = (2·1 + 0.4 + score of B1a) / 5.
B1A_NOT_STARTED = totals(5, 1, 1, 1, 1, 1, 0.25, 0.48)     # (2 + 0.4 + 0) / 5
B1A_AT_25 = totals(5, 1, 2, 0, 1, 1, 0.25, 0.53)           # (2.4 + 0.25) / 5
B1A_AT_50 = totals(5, 1, 2, 0, 1, 1, 0.25, 0.58)           # (2.4 + 0.5) / 5
B1A_COMPLETED = totals(5, 2, 1, 0, 1, 1, 0.5, 0.68)        # (2.4 + 1) / 5; completed 2/4
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


# --- 4. explanations -------------------------------------------------------------------------


def _nodes(body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    if "totals" in body and "explain" in body:
        yield body
    for line in body.get("action_lines", []):
        yield line
        yield from line["measures"]
    if "action_line" in body and isinstance(body["action_line"], dict):
        yield body["action_line"]
        yield from body["action_line"]["measures"]
    if "measure" in body:
        yield body["measure"]


def _check_explanation(node: Mapping[str, Any], policy: dict[str, Any]) -> None:
    explain = node["explain"]
    node_totals = node["totals"]
    assert explain["policy"] == policy
    assert explain["completion_rate"]["formula"] == "completed / counted"
    assert explain["progress"]["formula"].startswith("Σ weight·score / Σ weight")
    assert "percent_complete/100" in explain["score"]
    counted, left_out = explain["counted"], explain["left_out"]
    assert len(counted) + len(left_out) == node_totals["deliverables"]
    assert explain["completion_rate"]["counted"] == len(counted)
    completed = sum(item["status"] == "completed" for item in counted)
    assert explain["completion_rate"]["completed"] == completed
    assert node_totals["completion_rate"] == (
        round(completed / len(counted), 4) if counted else None)
    weight_sum = sum(item["weight"] for item in counted)
    weighted = sum(item["weight"] * item["score"] for item in counted)
    assert explain["progress"]["weight_sum"] == pytest.approx(weight_sum)
    assert explain["progress"]["weighted_score"] == pytest.approx(weighted)
    assert node_totals["progress"] == (round(weighted / weight_sum, 4) if weight_sum else None)
    for item in left_out:
        if item["status"] == "cancelled":
            assert item["reason"].startswith("cancelled")
        else:
            assert item["status"] == "not_achieved"
            assert not policy["not_achieved_counts"]
            assert "policy" in item["reason"]
    if not policy["not_achieved_counts"]:
        assert all(item["status"] != "not_achieved" for item in counted)


@pytest.mark.parametrize("policy", [None, FORMULA_POLICY], ids=["default", "formula-policy"])
def test_explain_shows_how_every_figure_is_made(
    session: Session, client: TestClient, policy: dict[str, Any] | None
) -> None:
    load(session, hand_plan(**({"rollup_policy": policy} if policy else {})))
    policy = policy or {"in_progress_credit": 0.5, "not_achieved_counts": True}
    body = get_json(client, url(HAND), {"explain": "true"})
    nodes = list(_nodes(body))
    assert len(nodes) == 1 + 2 + 6
    for node in nodes:
        _check_explanation(node, policy)
    assert get_json(client, url(HAND))["totals"] == body["totals"]

    a1 = next(m for m in body["action_lines"][0]["measures"] if m["code"] == "A1")
    credit = policy["in_progress_credit"]
    assert a1["explain"]["counted"] == [
        {"code": "A1a", "status": "completed", "weight": 2.0, "score": 1.0},
        {"code": "A1b", "status": "in_progress", "weight": 1.0, "score": 0.4},
        {"code": "A1c", "status": "in_progress", "weight": 0.5, "score": credit},
    ]
    assert [(i["code"], i["status"]) for i in a1["explain"]["left_out"]] == [
        ("A1d", "cancelled")]
    left_out = {item["code"]: item for item in body["explain"]["left_out"]}
    counted = {item["code"] for item in body["explain"]["counted"]}
    if policy["not_achieved_counts"]:
        assert set(left_out) == {"A1d", "A2a"}
        assert {"A3a", "B1a"} <= counted
    else:
        assert set(left_out) == {"A1d", "A2a", "A3a", "B1a"}
        assert left_out["A3a"]["reason"] == (
            "not_achieved: left out of the denominators by this mandate's policy")
    assert left_out["A2a"]["reason"] == (
        "cancelled: dropped by decision, left out of every denominator")

    # The single-node endpoints explain themselves the same way.
    line = get_json(client, url(HAND, "action-lines/B/progress"), {"explain": "true"})
    assert line["action_line"] == body["action_lines"][1]
    for node in _nodes(line):
        _check_explanation(node, policy)
    measure = get_json(client, url(HAND, "measures/A1/progress"), {"explain": "true"})
    assert measure["measure"] == a1
    # Without explain=true, no explanation.
    plain = get_json(client, url(HAND))
    assert "explain" not in plain
    assert all("explain" not in node for node in plain["action_lines"])


def test_explain_with_a_theme_and_at_a_past_time(session: Session, client: TestClient) -> None:
    load(session, {**hand_plan(rollup_policy=FORMULA_POLICY), "as_of": "2024-03-01"})
    body = get_json(client, url(HAND), {"explain": "true", "tag": "gender"})
    for node in _nodes(body):
        _check_explanation(node, FORMULA_POLICY)
    assert {i["code"] for i in body["explain"]["counted"]} == {"A1b", "B1b"}
    assert {i["code"] for i in body["explain"]["left_out"]} == {"B1a"}
    # Before the file's statuses took effect, everything was not_started and counted at 0.
    early = get_json(client, url(HAND), {"explain": "true", "as_of": "2024-02-01"})
    for node in _nodes(early):
        _check_explanation(node, FORMULA_POLICY)
    assert early["explain"]["left_out"] == []
    assert {i["status"] for i in early["explain"]["counted"]} == {"not_started"}
    assert early["totals"] == totals(10, 0, 0, 10, 0, 0, 0.0, 0.0)


# --- 5. themes and filters -------------------------------------------------------------------


def test_a_theme_narrows_every_level(session: Session, client: TestClient) -> None:
    load(session, hand_plan())
    body = get_json(client, url(HAND), {"tag": "gender"})
    assert figures(body) == {
        # Only A1b (in_progress 40%, w1).
        "A1": totals(1, 0, 1, 0, 0, 0, 0.0, 0.4), "A2": EMPTY, "A3": EMPTY,
        "A": totals(1, 0, 1, 0, 0, 0, 0.0, 0.4),
        # B1a (not_achieved, w1) and B1b (not_started, w1.5): 0/2; 0 / 2.5
        "B1": totals(2, 0, 0, 1, 1, 0, 0.0, 0.0), "B2": EMPTY, "B3": EMPTY,
        "B": totals(2, 0, 0, 1, 1, 0, 0.0, 0.0),
        # 0/3; 0.4 / 3.5 = 0.11429 — the same as by_tag["gender"] without the filter.
        "": totals(3, 0, 1, 1, 1, 0, 0.0, 0.1143),
    }
    assert body["totals"] == get_json(client, url(HAND))["by_tag"]["gender"]
    # Within the theme, by_tag counts the deliverables carrying both tags.
    assert body["by_tag"] == {"gender": body["totals"],
                              "youth": totals(1, 0, 0, 1, 0, 0, 0.0, 0.0)}
    assert get_json(client, url(HAND), {"tag": "GENDER"})["totals"] == body["totals"]
    assert figures(get_json(client, url(HAND), {"tag": "no-such-theme"}))[""] == EMPTY


OTHER_ORG_FILTERS: list[dict[str, Any]] = [
    {},
    {"status": "completed"},
    {"status": ["in_progress", "not_achieved"]},
    {"status": "cancelled"},
    {"owner": "Ministry of Justice"},
    {"owner": "Digital Government Agency", "status": "in_progress"},
    {"q": "budget"},
    {"q": "SO2."},
    {"q": "PORTAL"},
    {"action_line": "SO3"},
    {"measure": "SO1.1"},
    {"tag": "digital"},
    {"tag": "gender"},
    {"tag": "digital", "status": "completed", "action_line": "SO1"},
    {"q": "nothing matches this"},
    {"owner": "Nobody"},
]


@pytest.mark.parametrize("params", OTHER_ORG_FILTERS, ids=lambda p: repr(p) if p else "none")
def test_filters_narrow_rollups_like_they_narrow_the_list(
    session: Session, client: TestClient, params: dict[str, Any]
) -> None:
    import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")))
    session.commit()
    listed = get_json(client, url(OTHER_ORG, "deliverables"), {**params, "limit": 500})
    assert listed["count"] == len(listed["data"])
    body = get_json(client, url(OTHER_ORG), params)
    assert body["totals"]["deliverables"] == listed["count"]
    # The same figures, from the listed deliverables in Python.
    structure = [(line["code"], [m["code"] for m in line["measures"]])
                 for line in get_json(client, url(OTHER_ORG))["action_lines"]]
    specs = [Spec(d["action_line"], d["measure"], d["code"], d["weight"], frozenset(d["tags"]))
             for d in listed["data"]]
    states = {d["code"]: (d["status"], d["percent_complete"]) for d in listed["data"]}
    assert shape(body) == expected(structure, specs, states, Policy())
    if params:
        assert listed["count"] < 100


# --- 6. single-node endpoints ----------------------------------------------------------------


NODE_QUERIES: list[dict[str, Any]] = [
    {}, {"tag": "digital"}, {"status": ["completed", "in_progress"]},
    {"owner": "Open Government Unit"}, {"q": "report"}, {"explain": "true"},
    {"as_of": "2020-01-01"}, {"explain": "true", "tag": "youth"},
]


@pytest.mark.parametrize("params", NODE_QUERIES, ids=lambda p: repr(p) if p else "none")
def test_action_line_and_measure_endpoints_match_the_mandate_nodes(
    session: Session, client: TestClient, params: dict[str, Any]
) -> None:
    import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")))
    session.commit()
    body = get_json(client, url(OTHER_ORG), params)
    for line in body["action_lines"]:
        one = get_json(client, url(OTHER_ORG, f"action-lines/{line['code']}/progress"), params)
        assert one["mandate"] == body["mandate"]
        assert one["policy"] == body["policy"]
        assert one["action_line"] == line
        for measure in line["measures"]:
            single = get_json(client, url(OTHER_ORG, f"measures/{measure['code']}/progress"),
                              params)
            assert single["action_line"] == line["code"]
            assert single["measure"] == measure


def test_single_node_endpoints_keep_a_conflicting_scope_filter(
    session: Session, client: TestClient
) -> None:
    import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")))
    session.commit()
    in_so2 = get_json(client, url(OTHER_ORG), {"action_line": "SO2"})
    assert in_so2["action_lines"][0]["totals"] == EMPTY
    in_so21 = get_json(client, url(OTHER_ORG), {"measure": "SO2.1"})
    assert in_so21["action_lines"][0]["measures"][0]["totals"] == EMPTY
    line = get_json(client, url(OTHER_ORG, "action-lines/SO1/progress"), {"action_line": "SO2"})
    measure = get_json(client, url(OTHER_ORG, "measures/SO1.1/progress"), {"measure": "SO2.1"})
    assert (line["action_line"]["totals"], measure["measure"]["totals"]) == (EMPTY, EMPTY)


def test_unknown_codes_are_404_problems(session: Session, client: TestClient) -> None:
    load(session, small_plan())
    for path in (url(TIME_PLAN, "action-lines/NOPE/progress"),
                 url(TIME_PLAN, "measures/NOPE/progress"),
                 url(TIME_PLAN, "measures/A/progress"),        # a line's code is no measure's
                 url(TIME_PLAN, "action-lines/A1/progress"),   # and vice versa
                 url("NO-SUCH-MANDATE"),
                 url("NO-SUCH-MANDATE", "action-lines/A/progress"),
                 url("NO-SUCH-MANDATE", "progress/series")):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 404
        assert problem["title"] and problem["detail"]


# --- 7. mandates compared --------------------------------------------------------------------


@pytest.fixture
def two_mandates(session: Session) -> None:
    import_plan(session, plan=bundled_plan())
    import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")))
    session.commit()


@pytest.mark.usefixtures("two_mandates")
def test_compare_puts_mandates_side_by_side(client: TestClient) -> None:
    for params in ({}, {"tag": "gender"}, {"as_of": "2020-06-30"}):
        compared = get_json(client, f"{API}/progress",
                            {"mandates": f"{METROPOLIS},{OTHER_ORG}", **params})
        assert [m["mandate"]["code"] for m in compared["mandates"]] == [METROPOLIS, OTHER_ORG]
        for entry in compared["mandates"]:
            own = get_json(client, url(entry["mandate"]["code"]), params)
            assert entry["mandate"] == own["mandate"]
            assert entry["policy"] == own["policy"]
            assert entry["totals"] == own["totals"]
            assert entry["action_lines"] == [
                {key: line[key] for key in ("code", "title", "totals")}
                for line in own["action_lines"]]
    plain = get_json(client, f"{API}/progress", {"mandates": f"{OTHER_ORG}, {METROPOLIS}"})
    assert [m["mandate"]["code"] for m in plain["mandates"]] == [OTHER_ORG, METROPOLIS]
    assert plain["mandates"][1]["totals"] == totals(65, 50, 2, 7, 6, 0, 0.7692, 0.7846)
    assert plain["mandates"][0]["totals"] != plain["mandates"][1]["totals"]
    # A code named twice is shown once.
    twice = get_json(client, f"{API}/progress", {"mandates": f"{METROPOLIS},{METROPOLIS}"})
    assert len(twice["mandates"]) == 1


@pytest.mark.usefixtures("two_mandates")
def test_compare_refuses_unknown_and_empty(client: TestClient) -> None:
    unknown = client.get(f"{API}/progress", params={"mandates": f"{METROPOLIS},NOPE"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    for query in ({"mandates": ""}, {"mandates": " , "}, {}):
        response = client.get(f"{API}/progress", params=query)
        assert response.status_code == 422, query
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["path"] for e in response.json()["errors"]] == ["mandates"]


# --- 8. caching --------------------------------------------------------------------------------


def _revalidate(client: TestClient, path: str, tag: str) -> Any:
    return client.get(path, headers={"If-None-Match": tag})


def test_etags_give_304_until_a_write(session: Session, client: TestClient,
                                      editor: dict[str, str], admin: dict[str, str]) -> None:
    load(session, small_plan())
    paths = [url(TIME_PLAN), url(TIME_PLAN, "action-lines/B/progress"),
             url(TIME_PLAN, "measures/B1/progress"),
             url(TIME_PLAN, "progress/series?from=2024-01-01&to=2024-12-31"),
             f"{API}/progress?mandates={TIME_PLAN}"]

    def read_all() -> dict[str, Any]:
        answers = {}
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200
            assert response.headers["cache-control"]
            assert response.headers["etag"].startswith('W/"')
            answers[path] = response
        return answers

    first = read_all()
    for path, response in first.items():
        again = _revalidate(client, path, response.headers["etag"])
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == response.headers["etag"]
        assert again.headers["cache-control"]
        # A list of tags, or * , match too; a stranger does not.
        listed = f'"x", {response.headers["etag"]}'
        assert _revalidate(client, path, listed).status_code == 304
        assert _revalidate(client, path, '"nope"').status_code == 200

    writes: list[Callable[[], None]] = [
        lambda: post_status(client, TIME_PLAN, "B1a", {"status": "in_progress"}, editor),
        lambda: _patch_weight(client, editor),
        lambda: _put_plan(client, admin),
    ]
    previous = first
    for write in writes:
        write()
        now = read_all()
        for path, response in previous.items():
            stale = _revalidate(client, path, response.headers["etag"])
            assert stale.status_code == 200, path
            assert stale.headers["etag"] != response.headers["etag"]
            assert stale.json() != response.json() or "series" in path
        assert now[url(TIME_PLAN)].json()["totals"] != previous[url(TIME_PLAN)].json()["totals"]
        previous = now
    final = client.get(url(TIME_PLAN)).json()["totals"]
    # B1a completed through PUT /plan, with weight 3 from the PATCH:
    # (2·1 + 1·0.4 + 3·1 + 1·0) / (2 + 1 + 3 + 1) = 5.4 / 7
    assert final == totals(5, 2, 1, 0, 1, 1, 0.5, round(5.4 / 7, 4))
    # Importing the same file again writes nothing: every validator stays good.
    _put_plan(client, admin, changed=False)
    for path, response in previous.items():
        assert _revalidate(client, path, response.headers["etag"]).status_code == 304, path


def _patch_weight(client: TestClient, editor: dict[str, str]) -> None:
    current = client.get(url(TIME_PLAN, "deliverables/B1a")).headers["etag"]
    response = client.patch(url(TIME_PLAN, "deliverables/B1a"), json={"weight": 3},
                            headers={**editor, "If-Match": current})
    assert response.status_code == 200, response.text


def _put_plan(client: TestClient, admin: dict[str, str], *, changed: bool = True) -> None:
    plan = small_plan()
    b1a = plan["action_lines"][1]["measures"][0]["deliverables"][0]
    b1a.update(status="completed", weight=3)
    response = client.put(url(TIME_PLAN, "plan"), json=plan, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["changed"] is changed


def test_etags_differ_per_query_string(session: Session, client: TestClient) -> None:
    load(session, small_plan())
    queries = ["", "?tag=gender", "?tag=youth", "?as_of=2024-06-30", "?explain=true",
               "?status=completed", "?known_at=2030-01-01", "?as_of=2024-06-30&tag=gender"]
    tags = [client.get(url(TIME_PLAN) + q).headers["etag"] for q in queries]
    assert len(set(tags)) == len(queries)
    # And per endpoint.
    other = client.get(url(TIME_PLAN, "action-lines/A/progress")).headers["etag"]
    assert other not in tags
    # A tag from one query string does not validate another.
    assert _revalidate(client, url(TIME_PLAN) + "?tag=youth", tags[1]).status_code == 200


class _Today:
    """Stands in for ``datetime.date`` in the progress routes, with a chosen today."""

    day = date(2024, 5, 15)

    @classmethod
    def today(cls) -> date:
        return cls.day


def test_series_etag_changes_when_its_default_end_moves(
    session: Session, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(session, {**small_plan(), "as_of": "2024-01-01"})
    monkeypatch.setattr(progress_routes, "date", _Today)
    path = url(TIME_PLAN, "progress/series?interval=month")
    may = client.get(path)
    assert len(may.json()["points"]) == 5         # January to 15 May 2024
    monkeypatch.setattr(_Today, "day", date(2024, 6, 15))
    fresh = client.get(path)
    assert len(fresh.json()["points"]) == 6       # the answer has changed...
    # ...so the old validator must not match any more.
    assert client.get(path, headers={"If-None-Match": may.headers["etag"]}).status_code == 200


@pytest.mark.usefixtures("two_mandates")
def test_compare_etag_follows_every_mandate(client: TestClient, editor: dict[str, str]
                                            ) -> None:
    path = f"{API}/progress?mandates={METROPOLIS},{OTHER_ORG}"
    first = client.get(path)
    assert _revalidate(client, path, first.headers["etag"]).status_code == 304
    # A write to the second mandate makes the side-by-side answer stale too.
    post_status(client, OTHER_ORG, "SO1.1.5", {"status": "completed"}, editor)
    again = _revalidate(client, path, first.headers["etag"])
    assert again.status_code == 200
    assert again.json()["mandates"][1]["totals"] != first.json()["mandates"][1]["totals"]


# --- 9. SQLite and PostgreSQL agree ----------------------------------------------------------

IMPORTED_AT = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
SCRIPT: list[tuple[str, str, str, float | None, datetime | None, datetime]] = [
    # (mandate, deliverable, status, percent, effective_at, recorded_at)
    (METROPOLIS, "L3M3D2", "in_progress", 30, datetime(2020, 3, 1, tzinfo=UTC),
     datetime(2025, 2, 1, tzinfo=UTC)),
    (METROPOLIS, "L3M3D2", "completed", None, datetime(2021, 1, 10, tzinfo=UTC),
     datetime(2025, 2, 2, tzinfo=UTC)),
    (METROPOLIS, "L1M3D2", "completed", None, datetime(2020, 12, 31, tzinfo=UTC),
     datetime(2025, 2, 3, tzinfo=UTC)),                     # same effective_at as the import
    (METROPOLIS, "L2M5D1", "cancelled", None, datetime(2020, 9, 1, tzinfo=UTC),
     datetime(2025, 2, 4, tzinfo=UTC)),
    (OTHER_ORG, "SO1.1.4", "completed", None, datetime(2024, 7, 1, tzinfo=UTC),
     datetime(2025, 2, 5, tzinfo=UTC)),
    (OTHER_ORG, "SO1.1.5", "in_progress", None, None, datetime(2025, 2, 6, tzinfo=UTC)),
    (OTHER_ORG, "SO1.1.5", "not_achieved", None, datetime(2025, 2, 6, tzinfo=UTC),
     datetime(2025, 3, 1, tzinfo=UTC)),                     # same effective_at, later
    (OTHER_ORG, "SO1.1.1", "in_progress", 62.5, datetime(2024, 12, 1, tzinfo=UTC),
     datetime(2025, 3, 2, tzinfo=UTC)),                     # a late correction
]


def _build_backend(backend: str, tmp_path: Path, postgres_reason: str | None
                   ) -> tuple[str, Engine]:
    database_url = new_database_url(backend, tmp_path, postgres_reason)
    migrate.upgrade(database_url)
    engine = build_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        import_plan(session, plan=bundled_plan(), now=IMPORTED_AT)
        import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")),
                    now=IMPORTED_AT)
        session.commit()
        for mandate_code, code, status, percent, effective_at, recorded_at in SCRIPT:
            result = set_status(
                session, code, StatusUpdate(status=Status(status), percent_complete=percent,
                                            effective_at=effective_at),
                mandate=mandate_code, actor="script", now=recorded_at)
            assert result.changed
            session.commit()
    return database_url, engine


def _agreement_paths() -> list[str]:
    paths = [f"{API}/progress?mandates={METROPOLIS},{OTHER_ORG}"]
    lines = {METROPOLIS: ["L1", "L2", "L3"], OTHER_ORG: ["SO1", "SO2", "SO3", "SO4", "SO5"]}
    measures = {METROPOLIS: ["L1M3", "L2M5", "L3M3"], OTHER_ORG: ["SO1.1", "SO2.1"]}
    for mandate in (METROPOLIS, OTHER_ORG):
        base = url(mandate)
        paths += [base + query for query in (
            "", "?explain=true", "?tag=gender", "?tag=digital", "?tag=youth&explain=true",
            "?status=in_progress&status=not_achieved", "?q=report",
            "?as_of=2020-06-30", "?as_of=2020-12-31", "?as_of=2021-01-10",
            "?as_of=2024-07-01T00:00:00Z", "?as_of=2024-12-15&tag=digital",
            "?as_of=2025-02-06", "?as_of=2024-12-15&known_at=2025-03-01",
            "?known_at=2025-02-03", "?known_at=2025-01-01",
        )]
        paths += [url(mandate, f"action-lines/{code}/progress") for code in lines[mandate]]
        paths += [url(mandate, f"action-lines/{code}/progress?explain=true&as_of=2021-01-01")
                  for code in lines[mandate]]
        paths += [url(mandate, f"measures/{code}/progress?explain=true")
                  for code in measures[mandate]]
        paths += [url(mandate, "progress/series") + query for query in (
            "?from=2018-01-01&to=2025-12-31&interval=month",
            "?from=2018-01-01&to=2025-12-31&interval=quarter",
            "?from=2018-01-01&to=2025-12-31&interval=year&tag=gender",
            "?from=2020-01-01&to=2025-06-30&interval=quarter&known_at=2025-02-03",
        )]
    return paths


def test_sqlite_and_postgresql_give_the_same_json(tmp_path: Path,
                                                  postgres_reason: str | None) -> None:
    built: list[tuple[str, Engine]] = []
    try:
        for backend in ("sqlite", "postgresql"):
            built.append(_build_backend(backend, tmp_path, postgres_reason))
        answers: list[dict[str, Any]] = []
        for _database_url, engine in built:
            with make_client(engine) as client:
                found: dict[str, Any] = {}
                for path in _agreement_paths():
                    body = get_json(client, path)
                    if "as_of=" not in path:
                        body = without(body, "as_of")
                    found[path] = body
                answers.append(found)
        sqlite, postgresql = answers
        for path in sqlite:
            assert sqlite[path] == postgresql[path], path
        # The script did move the figures.
        assert sqlite[url(METROPOLIS)]["totals"] != totals(65, 50, 2, 7, 6, 0, 0.7692, 0.7846)
    finally:
        for database_url, engine in built:
            engine.dispose()
            drop_database(database_url)


# --- 10. the bundled plan ----------------------------------------------------------------------


@pytest.mark.usefixtures("two_mandates")
def test_bundled_plan_through_time(client: TestClient) -> None:
    now = get_json(client, url(METROPOLIS))
    assert now["totals"] == totals(65, 50, 2, 7, 6, 0, 0.7692, 0.7846)
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
