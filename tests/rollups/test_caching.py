"""Progress answers carry weak ETags: 304 while nothing changed, a fresh answer after any
write, one tag per query string, and a tag that moves with whatever else the answer
depends on (today's date, every mandate compared)."""

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api.routes import progress as progress_routes
from tests.helpers import load, small_plan
from tests.rollups.helpers import (
    API,
    METROPOLIS,
    OTHER_ORG,
    TIME_PLAN,
    post_status,
    totals,
    url,
)


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
        # A list of tags, or *, match too; a stranger does not.
        listed = f'"x", {response.headers["etag"]}'
        assert _revalidate(client, path, listed).status_code == 304
        assert _revalidate(client, path, "*").status_code == 304
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


@pytest.mark.usefixtures("metropolis", "other_org")
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
