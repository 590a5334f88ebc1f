"""?explain=true shows how every figure is made; themes and filters narrow every level as
they narrow the deliverables list; the action line and measure endpoints give the same
nodes as the mandate's progress."""

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services.rollups.rules import Policy
from tests.helpers import load
from tests.rollups.helpers import (
    EMPTY,
    FORMULA_POLICY,
    HAND,
    OTHER_ORG,
    Spec,
    expected,
    figures,
    get_json,
    hand_plan,
    shape,
    totals,
    url,
)

# --- explanations ------------------------------------------------------------------------


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


# --- themes and filters -------------------------------------------------------------------


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


@pytest.mark.usefixtures("other_org")
@pytest.mark.parametrize("params", OTHER_ORG_FILTERS, ids=lambda p: repr(p) if p else "none")
def test_filters_narrow_rollups_like_they_narrow_the_list(
    client: TestClient, params: dict[str, Any]
) -> None:
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


# --- single-node endpoints ----------------------------------------------------------------


NODE_QUERIES: list[dict[str, Any]] = [
    {}, {"tag": "digital"}, {"status": ["completed", "in_progress"]},
    {"owner": "Open Government Unit"}, {"q": "report"}, {"explain": "true"},
    {"as_of": "2020-01-01"}, {"explain": "true", "tag": "youth"},
]


@pytest.mark.usefixtures("other_org")
@pytest.mark.parametrize("params", NODE_QUERIES, ids=lambda p: repr(p) if p else "none")
def test_action_line_and_measure_endpoints_match_the_mandate_nodes(
    client: TestClient, params: dict[str, Any]
) -> None:
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


@pytest.mark.usefixtures("other_org")
def test_single_node_endpoints_keep_a_conflicting_scope_filter(client: TestClient) -> None:
    in_so2 = get_json(client, url(OTHER_ORG), {"action_line": "SO2"})
    assert in_so2["action_lines"][0]["totals"] == EMPTY
    in_so21 = get_json(client, url(OTHER_ORG), {"measure": "SO2.1"})
    assert in_so21["action_lines"][0]["measures"][0]["totals"] == EMPTY
    line = get_json(client, url(OTHER_ORG, "action-lines/SO1/progress"), {"action_line": "SO2"})
    measure = get_json(client, url(OTHER_ORG, "measures/SO1.1/progress"), {"measure": "SO2.1"})
    assert (line["action_line"]["totals"], measure["measure"]["totals"]) == (EMPTY, EMPTY)
