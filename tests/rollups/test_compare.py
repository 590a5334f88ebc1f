"""GET /progress?mandates=...: mandates side by side, each as its own progress says."""

import pytest
from fastapi.testclient import TestClient

from tests.rollups.helpers import API, BUNDLED_NOW, METROPOLIS, OTHER_ORG, get_json, url

pytestmark = pytest.mark.usefixtures("metropolis", "other_org")


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
    assert plain["mandates"][1]["totals"] == BUNDLED_NOW
    assert plain["mandates"][0]["totals"] != plain["mandates"][1]["totals"]
    # A code named twice is shown once.
    twice = get_json(client, f"{API}/progress", {"mandates": f"{METROPOLIS},{METROPOLIS}"})
    assert len(twice["mandates"]) == 1


def test_compare_refuses_unknown_and_empty(client: TestClient) -> None:
    unknown = client.get(f"{API}/progress", params={"mandates": f"{METROPOLIS},NOPE"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    for query in ({"mandates": ""}, {"mandates": " , "}, {}):
        response = client.get(f"{API}/progress", params=query)
        assert response.status_code == 422, query
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["path"] for e in response.json()["errors"]] == ["mandates"]
