"""What the rollup tests share: the progress JSON's shapes, the plain-Python reference
(:func:`app.services.rollups.rules.totals_of` over a plan's deliverables), the plans they
load and the strategy that draws random ones."""

import copy
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.models import Status
from app.services.rollups.rules import Policy, totals_of
from tests.helpers import load

API = "/api/v1"
METROPOLIS = "2018-2020"
OTHER_ORG = "OGP-2022-2025"
TIME_PLAN = "T-2024"
"""small_plan's mandate."""
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
BUNDLED_NOW = totals(65, 50, 2, 7, 6, 0, 0.7692, 0.7846)
"""The bundled plan as its file has it (README's tour): 50 of 65 completed; progress
(50 + 0.5 + 0.5) / 65, the two in_progress without a percent counting half."""


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


def post_status(client: TestClient, mandate: str, code: str, body: dict[str, Any],
                headers: dict[str, str]) -> Any:
    """A status change through the API, sent with the deliverable's current ETag."""
    current = client.get(url(mandate, f"deliverables/{code}")).headers["etag"]
    response = client.post(url(mandate, f"deliverables/{code}/status"), json=body,
                           headers={**headers, "If-Match": current})
    assert response.status_code == 200, response.text
    return response


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


# --- a plan that exercises every rule --------------------------------------------------------


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


# --- random plans ------------------------------------------------------------------------------

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


def import_random(session: Session, plan: dict[str, Any]) -> tuple[str, Policy]:
    """Import under a code of its own, so that examples never meet: no cleaning needed."""
    code = f"P{next(_mandate_numbers)}"
    plan = copy.deepcopy(plan)
    plan["mandate"]["code"] = code
    load(session, plan)
    return code, Policy(**plan["rollup_policy"])
