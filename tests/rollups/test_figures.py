"""Progress figures: worked out by hand for every rule, and equal to the plain-Python
reference (:func:`app.services.rollups.rules.totals_of`) on random plans, at every level
and through every progress endpoint."""

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session

from tests.helpers import load, small_plan
from tests.rollups.helpers import (
    API,
    EMPTY,
    FORMULA_POLICY,
    HAND,
    TIME_PLAN,
    Spec,
    expected,
    figures,
    get_json,
    hand_plan,
    import_random,
    plan_specs,
    plans,
    shape,
    totals,
    url,
)


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


# Examples: as many as the Hypothesis profile says (tests/conftest.py). Each example imports
# a plan of its own into the test's database, so the function-scoped fixtures are fine.
PROPERTY_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(plan=plans())
def test_sql_rollups_equal_the_python_reference(session: Session, client: TestClient,
                                                plan: dict[str, Any]) -> None:
    code, policy = import_random(session, plan)
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
