"""Records keep their history (who, when, why): an editor's write supersedes what was in
force and leaves it on record; an activity's replacement is logged field by field."""

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("metropolis_records")

MEMBER = "/api/v1/members/cordoba"


def test_an_engagement_write_leaves_the_replaced_values_in_the_member_s_history(
        client: TestClient, editor: dict[str, str]) -> None:
    before = client.get(MEMBER)
    assert before.json()["engagement"][0]["values"]["bilateral_meetings"] == 1
    response = client.put(f"{MEMBER}/engagement/2020",
                          json={"values": {"activated": True, "bilateral_meetings": 3},
                                "note": "two more meetings found in the minutes"},
                          headers={**editor, "If-Match": before.headers["etag"]})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] != before.headers["etag"]
    assert response.json()["engagement"][0]["values"] == {"activated": True,
                                                          "bilateral_meetings": 3}
    history = client.get(f"{MEMBER}/history").json()
    meetings = [row for row in history if row["kind"] == "bilateral_meetings"]
    assert [(row["value"], row["superseded_at"] is None) for row in meetings] == [
        (3, True), (1, False)]
    assert (meetings[0]["recorded_by"], meetings[0]["note"]) == (
        "editor-ana", "two more meetings found in the minutes")
    # The kinds the write left out were cleared, and say by whom.
    cleared = [row for row in history if row["kind"] == "pilot_projects"]
    assert (cleared[0]["value"], cleared[0]["recorded_by"]) == (None, "editor-ana")


def test_an_activity_s_replacement_is_logged_with_what_changed(
        client: TestClient, editor: dict[str, str]) -> None:
    path = "/api/v1/activities/EV-2020-001"
    before = client.get(path)
    body = {key: before.json()[key] for key in ("code", "kind", "title", "location")}
    body |= {"start_date": "2020-01-15", "end_date": "2020-01-15", "mode": "hybrid"}
    response = client.put(path, json=body, headers={**editor,
                                                     "If-Match": before.headers["etag"]})
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "hybrid"
    (edit,) = client.get(f"{path}/history").json()
    assert edit["changes"] == {"mode": {"from": "in_person", "to": "hybrid"}}
    assert edit["changed_by"] == "editor-ana"
    # The same ETag again: the activity changed meanwhile.
    stale = client.put(path, json={**body, "mode": "online"},
                       headers={**editor, "If-Match": before.headers["etag"]})
    assert stale.status_code == 412
    assert client.get(path).json()["mode"] == "hybrid"
