"""Conditional requests over HTTP, route by route (docs/api.md, "Caching" and "No lost
updates"): a write guarded by If-Match refuses ``*`` with 428 and changes nothing, and
goes through when one tag of a list is current; a view answers 304 to ``If-None-Match: *``.
"""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.conditional import WILDCARD_REFUSED
from tests.helpers import snapshot

M = "/api/v1/mandates/2018-2020"
OTHER = '"0.0"'
"""A tag that names no version of anything here."""

pytestmark = pytest.mark.usefixtures("metropolis_records")


def _etag(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


# Each write: what it sends, as (method, path, JSON body, role), and the item whose ETag
# guards it.
WRITES: dict[str, tuple[str, str, Any, str, str]] = {
    "status": ("POST", f"{M}/deliverables/L3M3D2/status",
               {"status": "completed", "note": "Done at last"}, "editor",
               f"{M}/deliverables/L3M3D2"),
    "patch": ("PATCH", f"{M}/deliverables/L3M3D2", {"owner": "Ana", "weight": 2}, "editor",
              f"{M}/deliverables/L3M3D2"),
    "indicator-value": ("POST", f"{M}/indicators/SOCIAL_MEDIA_FOLLOWERS/values",
                        {"period": "2020", "value": 150}, "editor",
                        f"{M}/indicators/SOCIAL_MEDIA_FOLLOWERS"),
    "indicator-replace": ("PUT", f"{M}/indicators/SOCIAL_MEDIA_FOLLOWERS",
                          {"code": "SOCIAL_MEDIA_FOLLOWERS", "title": "Followers", "unit": "count",
                           "direction": "increase", "action_line": "L1"}, "admin",
                          f"{M}/indicators/SOCIAL_MEDIA_FOLLOWERS"),
    "member-engagement": ("PUT", "/api/v1/members/cordoba/engagement/2020",
                          {"values": {"activated": True}}, "editor", "/api/v1/members/cordoba"),
    "activity-replace": ("PUT", "/api/v1/activities/PP-2020-2",
                         {"code": "PP-2020-2", "kind": "pilot_project", "period": "2020",
                          "title": "Tactical urbanism, in more cities"}, "editor",
                         "/api/v1/activities/PP-2020-2"),
    "indicator-delete": ("DELETE", f"{M}/indicators/SOCIAL_MEDIA_FOLLOWERS", None, "admin",
                         f"{M}/indicators/SOCIAL_MEDIA_FOLLOWERS"),
}
# "*" alone, and "*" in a list beside the current tag: a list that holds * is refused too.
WILDCARDS: dict[str, Callable[[str], str]] = {
    "star": lambda _current: "*",
    "star-in-a-list": lambda current: f"{current}, *",
}


def _send(client: TestClient, write: str, if_match: str, tokens: dict[str, dict[str, str]]
          ) -> Any:
    method, path, body, role, _item = WRITES[write]
    return client.request(method, path, json=body,
                          headers={**tokens[role], "If-Match": if_match})


@pytest.mark.parametrize("wildcard", list(WILDCARDS))
@pytest.mark.parametrize("write", list(WRITES))
def test_if_match_star_is_refused_with_428_and_changes_nothing(
    engine: Engine, client: TestClient, tokens: dict[str, dict[str, str]], write: str,
    wildcard: str
) -> None:
    current = _etag(client, WRITES[write][4])
    before = snapshot(engine)
    refused = _send(client, write, WILDCARDS[wildcard](current), tokens)
    assert refused.status_code == 428, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert (problem["status"], problem["detail"]) == (428, WILDCARD_REFUSED)
    assert snapshot(engine) == before
    assert _etag(client, WRITES[write][4]) == current


@pytest.mark.parametrize("write", list(WRITES))
def test_if_match_may_list_tags_one_of_which_is_current(
    engine: Engine, client: TestClient, tokens: dict[str, dict[str, str]], write: str
) -> None:
    current = _etag(client, WRITES[write][4])
    before = snapshot(engine)
    # The current tag alone among others, first or last: the write goes through.
    accepted = _send(client, write, f'{OTHER}, {current}', tokens)
    assert accepted.status_code in (200, 204), accepted.text
    assert snapshot(engine) != before
    if write == "indicator-delete":
        assert client.get(WRITES[write][4]).status_code == 404
        return
    assert accepted.headers["etag"] != current
    assert _etag(client, WRITES[write][4]) == accepted.headers["etag"]
    # None of them current: 412, and nothing more is written.
    after = snapshot(engine)
    stale = _send(client, write, f'{OTHER}, {current}', tokens)
    assert stale.status_code == 412, stale.text
    assert snapshot(engine) == after


def test_a_batch_item_with_if_match_star_fails_the_batch(
    engine: Engine, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    good = {"code": "L3M3D3", "if_match": _etag(client, f"{M}/deliverables/L3M3D3"),
            "status": "completed"}
    before = snapshot(engine)
    refused = client.post(f"{M}/deliverables:batch-status", headers=tokens["editor"], json={
        "changes": [good, {"code": "L3M3D2", "if_match": "*", "status": "completed"}]})
    assert refused.status_code == 409, refused.text
    results = refused.json()["results"]
    assert [(r["code"], r["outcome"], r["status"]) for r in results] == [
        ("L3M3D3", "not_applied", 200), ("L3M3D2", "failed", 428)]
    assert results[1]["detail"] == WILDCARD_REFUSED
    assert snapshot(engine) == before


# --- If-None-Match: * -----------------------------------------------------------------------

VIEWS = {
    "progress": f"{M}/progress",
    "progress-of-a-line": f"{M}/action-lines/L2/progress",
    "indicators": f"{M}/indicators",
    "report": f"{M}/report",
    "badge": "/badge/2018-2020.svg",
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_if_none_match_star_gets_304(client: TestClient, view: str) -> None:
    """A client that holds any version gets 304 (RFC 9110): the first request of all, with
    nothing computed yet, and again once the answer has been computed (and, for progress,
    cached)."""
    path = VIEWS[view]
    cold = client.get(path, headers={"If-None-Match": "*"})
    assert cold.status_code == 304, cold.text
    assert cold.content == b""
    full = client.get(path)
    assert full.status_code == 200
    assert cold.headers["etag"] == full.headers["etag"]
    warm = client.get(path, headers={"If-None-Match": "*"})
    assert warm.status_code == 304
    assert warm.headers["etag"] == full.headers["etag"]
    assert warm.content == b""
    # A tag that is not the current one still gets the whole answer.
    assert client.get(path, headers={"If-None-Match": OTHER}).status_code == 200
