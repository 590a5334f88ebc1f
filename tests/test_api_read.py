"""The read API over the bundled Metropolis plan and small hand-made plans."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Role
from tests.helpers import auth, load, new_token, small_plan

M = "/api/v1/mandates/2018-2020"


def _totals(deliverables: int, completed: int, in_progress: int, not_started: int,
            not_achieved: int, completion_rate: float, progress: float) -> dict[str, Any]:
    return {
        "deliverables": deliverables,
        "by_status": {"completed": completed, "in_progress": in_progress,
                      "not_started": not_started, "not_achieved": not_achieved,
                      "cancelled": 0},
        "completion_rate": completion_rate,
        "progress": progress,
    }


@pytest.mark.usefixtures("metropolis")
def test_bundled_progress_matches_the_contract_example(client: TestClient) -> None:
    response = client.get(f"{M}/progress")
    assert response.status_code == 200
    body = response.json()
    assert body["mandate"]["code"] == "2018-2020"
    # 50 completed of 65; 2 in progress credited 0.5 each: (50 + 1) / 65.
    assert body["totals"] == _totals(65, 50, 2, 7, 6, 0.7692, 0.7846)
    lines = {line["code"]: line["totals"] for line in body["action_lines"]}
    assert lines == {
        "L1": _totals(17, 13, 1, 0, 3, round(13 / 17, 4), round(13.5 / 17, 4)),
        "L2": _totals(27, 22, 1, 1, 3, round(22 / 27, 4), round(22.5 / 27, 4)),
        "L3": _totals(21, 15, 0, 6, 0, round(15 / 21, 4), round(15 / 21, 4)),
    }
    measures = [m for line in body["action_lines"] for m in line["measures"]]
    assert len(measures) == 27
    l2m10 = next(m for m in measures if m["code"] == "L2M10")
    assert l2m10["totals"]["by_status"]["not_achieved"] == 3
    assert l2m10["totals"]["progress"] == 0.0


@pytest.mark.usefixtures("metropolis")
def test_progress_narrowed_to_a_theme(client: TestClient) -> None:
    body = client.get(f"{M}/progress", params={"tag": "youth"}).json()
    # L1M4D1 and L2M10D1-D3 are the youth deliverables, all not achieved.
    assert body["totals"]["deliverables"] == 4
    assert body["totals"]["by_status"]["not_achieved"] == 4
    assert body["totals"]["completion_rate"] == 0.0
    assert [line["totals"]["deliverables"] for line in body["action_lines"]] == [1, 3, 0]
    assert body["action_lines"][2]["totals"]["progress"] is None


def test_weights_percentages_and_cancelled(session: Session, client: TestClient) -> None:
    load(session, small_plan())
    body = client.get("/api/v1/mandates/T-2024/progress").json()
    # Counted: A1a (w2, 1.0), A1b (w1, 0.4), B1a (w1, 0), B1b (w1, 0); A2a cancelled.
    assert body["totals"]["deliverables"] == 5
    assert body["totals"]["by_status"]["cancelled"] == 1
    assert body["totals"]["completion_rate"] == 0.25
    assert body["totals"]["progress"] == round((2 * 1.0 + 0.4) / 5, 4)
    line_a = body["action_lines"][0]
    assert line_a["totals"]["progress"] == round(2.4 / 3, 4)
    assert line_a["measures"][1]["totals"] == {
        "deliverables": 1,
        "by_status": {"completed": 0, "in_progress": 0, "not_started": 0, "not_achieved": 0,
                      "cancelled": 1},
        "completion_rate": None,
        "progress": None,
    }


@pytest.mark.usefixtures("metropolis")
def test_mandate_list_and_tree(client: TestClient) -> None:
    listing = client.get("/api/v1/mandates").json()
    assert listing["count"] == 1
    assert listing["data"][0]["code"] == "2018-2020"
    tree = client.get(M).json()
    assert [line["code"] for line in tree["action_lines"]] == ["L1", "L2", "L3"]
    measures = [m for line in tree["action_lines"] for m in line["measures"]]
    assert sum(len(m["deliverables"]) for m in measures) == 65
    l2m2 = next(m for m in measures if m["code"] == "L2M2")
    assert [d["code"] for d in l2m2["deliverables"]] == [f"L2M2D{i}" for i in range(1, 6)]
    assert {i["code"] for i in tree["indicators"]} >= {"SPEAKERS_WOMEN_SHARE", "USE_PRACTICES"}


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(
    ("params", "count", "first"),
    [
        ({}, 65, "L1M1D1"),
        ({"status": "not_started"}, 7, "L2M2D1"),
        ({"status": ["in_progress", "not_achieved"]}, 8, "L1M1D2"),
        ({"action_line": "L3"}, 21, "L3M1D1"),
        ({"measure": "L2M10"}, 3, "L2M10D1"),
        ({"tag": "gender"}, 10, "L1M3D1"),
        ({"tag": "GENDER", "status": "in_progress"}, 2, "L1M3D2"),
        ({"q": "observatory"}, 4, "L2M2D2"),
        ({"q": "l3m6d"}, 6, "L3M6D1"),
        ({"owner": "nobody"}, 0, None),
        ({"action_line": "L9"}, 0, None),
    ],
)
def test_deliverable_filters(client: TestClient, params: dict[str, Any], count: int,
                             first: str | None) -> None:
    body = client.get(f"{M}/deliverables", params=params).json()
    assert body["count"] == count
    assert (body["data"][0]["code"] if body["data"] else None) == first


def _plan_with_measure_owners() -> dict[str, Any]:
    """The small plan with B1 owned by Ana (who also owns its deliverable B1a) and A1 by
    Energy Office (whose deliverables name no owner)."""
    plan = small_plan()
    plan["action_lines"][0]["measures"][0]["owner"] = "Energy Office"
    plan["action_lines"][1]["measures"][0]["owner"] = "Ana"
    return plan


def test_the_tree_and_the_progress_show_each_measure_s_owner(
        client: TestClient, session: Session) -> None:
    load(session, _plan_with_measure_owners())
    tree = client.get("/api/v1/mandates/T-2024").json()
    owners = {m["code"]: m["owner"] for line in tree["action_lines"] for m in line["measures"]}
    assert owners == {"A1": "Energy Office", "A2": None, "B1": "Ana"}
    progress = client.get("/api/v1/mandates/T-2024/progress").json()
    assert {m["code"]: m["owner"] for line in progress["action_lines"]
            for m in line["measures"]} == owners
    assert all("owner" not in line for line in progress["action_lines"])
    measure = client.get("/api/v1/mandates/T-2024/measures/A1/progress").json()
    assert measure["measure"]["owner"] == "Energy Office"


@pytest.mark.parametrize(("owner", "codes"), [
    ("Energy Office", ["A1a", "A1b"]),  # through their measure's owner only
    ("Ana", ["B1a", "B1b"]),            # B1a its own and its measure's, B1b its measure's
    ("Nobody", []),
])
def test_the_owner_filter_finds_deliverables_through_their_measure_s_owner(
        client: TestClient, session: Session, owner: str, codes: list[str]) -> None:
    load(session, _plan_with_measure_owners())
    body = client.get("/api/v1/mandates/T-2024/deliverables", params={"owner": owner}).json()
    assert [item["code"] for item in body["data"]] == codes
    assert body["count"] == len(codes)
    progress = client.get("/api/v1/mandates/T-2024/progress", params={"owner": owner}).json()
    assert progress["totals"]["deliverables"] == len(codes)


def test_the_owner_filter_still_finds_a_deliverable_by_its_own_owner(
        client: TestClient, session: Session) -> None:
    plan = _plan_with_measure_owners()
    plan["action_lines"][0]["measures"][0]["deliverables"][1]["owner"] = "Rui"
    load(session, plan)
    body = client.get("/api/v1/mandates/T-2024/deliverables", params={"owner": "Rui"}).json()
    assert [item["code"] for item in body["data"]] == ["A1b"]
    assert [item["owner"] for item in body["data"]] == ["Rui"]


def test_owner_me_finds_what_the_token_and_its_person_answer_for(
        engine: Engine, client: TestClient, session: Session) -> None:
    plan = _plan_with_measure_owners()
    plan["action_lines"][0]["measures"][1]["deliverables"][0]["owner"] = "energy-bot"
    load(session, plan)
    mine = auth(new_token(engine, Role.editor, "energy-bot", person="Energy Office"))
    theirs = auth(new_token(engine, Role.editor, "ana-bot", person="Ana"))
    url = "/api/v1/mandates/T-2024/deliverables"
    # By the person (A1's owner) and by the token's own name (A2a).
    assert [item["code"] for item in client.get(url, params={"owner": "@me"},
                                                headers=mine).json()["data"]] == [
        "A1a", "A1b", "A2a"]
    assert [item["code"] for item in client.get(url, params={"owner": "@me"},
                                                headers=theirs).json()["data"]] == [
        "B1a", "B1b"]
    anonymous = client.get(url, params={"owner": "@me"})
    assert anonymous.status_code == 422
    assert anonymous.json()["errors"][0]["path"] == "owner"


@pytest.mark.usefixtures("metropolis")
def test_pagination_reports_the_total_and_walks_every_item(client: TestClient) -> None:
    seen: list[str] = []
    for offset in range(0, 65, 20):
        page = client.get(f"{M}/deliverables", params={"limit": 20, "offset": offset}).json()
        assert page["count"] == 65
        seen += [item["code"] for item in page["data"]]
    assert len(seen) == 65 == len(set(seen))
    assert seen[-1] == "L3M8D1"
    assert client.get(f"{M}/deliverables", params={"offset": 100}).json()["data"] == []


@pytest.mark.usefixtures("metropolis")
def test_one_deliverable_with_etag_and_history(client: TestClient) -> None:
    response = client.get(f"{M}/deliverables/L2M10D2")
    assert response.status_code == 200
    assert response.headers["etag"].startswith('"')
    body = response.json()
    assert body["status"] == "not_achieved"
    assert (body["action_line"], body["measure"], body["tags"]) == ("L2", "L2M10", ["youth"])
    history = client.get(f"{M}/deliverables/L2M10D2/history").json()
    assert history["count"] == 1
    assert history["data"][0]["to_status"] == "not_achieved"
    assert history["data"][0]["effective_at"] == "2020-12-31T00:00:00Z"


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/mandates/1999-2001", 404),
        ("/api/v1/mandates/1999-2001/progress", 404),
        (f"{M}/deliverables/NOPE", 404),
        (f"{M}/deliverables/NOPE/history", 404),
        (f"{M}/deliverables?limit=0", 422),
        (f"{M}/deliverables?limit=abc", 422),
        (f"{M}/deliverables?status=done", 422),
        (f"{M}/deliverables?offset=-1", 422),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_errors_are_problem_json(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if status == 422:
        assert body["errors"][0]["path"] in {"limit", "offset", "status[0]", "status"}
    assert "Traceback" not in response.text and "SELECT" not in response.text


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema_revision"] is not None


def test_not_ready_when_schema_is_behind(tmp_path: Any) -> None:
    from app.db import build_engine
    from tests.conftest import make_client

    engine: Engine = build_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    with make_client(engine) as client:
        response = client.get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    assert "planpulse db upgrade" in response.json()["detail"]


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/v1/mandates/{mandate}/progress" in schema["paths"]
