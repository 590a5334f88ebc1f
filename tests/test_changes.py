"""The change log (a transactional outbox) and the change stream, on SQLite and PostgreSQL:
every change writes its event in its own transaction, a refused one writes none, and the
stream serves them as server-sent events that resume from Last-Event-ID."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from app.models import ChangeEvent
from app.models.types import utcnow
from app.schemas.plan_file import validate_plan
from app.services.changes.stream import HOLE_WAIT, Cursor
from app.services.plan.importer import import_plan
from tests.conftest import make_client
from tests.helpers import load, small_plan

M = "/api/v1/mandates/2018-2020"
Tokens = dict[str, dict[str, str]]
pytestmark = pytest.mark.usefixtures("metropolis")


def _events(engine: Engine) -> list[ChangeEvent]:
    with Session(engine) as session:
        return list(session.execute(select(ChangeEvent).order_by(ChangeEvent.id)).scalars())


def _status(client: TestClient, code: str, body: dict[str, Any], headers: dict[str, str],
            if_match: str | None = None) -> Any:
    etag = if_match or client.get(f"{M}/deliverables/{code}").headers["etag"]
    return client.post(f"{M}/deliverables/{code}/status", json=body,
                       headers={**headers, "If-Match": etag})


def test_a_status_change_writes_its_event_naming_its_author(
        engine: Engine, client: TestClient, editor: dict[str, str]) -> None:
    before = len(_events(engine))
    response = _status(client, "L3M3D2", {"status": "in_progress", "note": "kick-off"}, editor)
    assert response.status_code == 200, response.text
    events = _events(engine)[before:]
    assert [(e.type, e.author_name, e.author_role) for e in events] == [
        ("deliverable.status_changed", "editor-ana", "editor")]
    data = events[0].data
    assert {key: data[key] for key in ("deliverable", "action_line", "measure", "from_status",
                                       "to_status", "note", "version")} == {
        "deliverable": "L3M3D2", "action_line": "L3", "measure": "L3M3",
        "from_status": "not_started", "to_status": "in_progress", "note": "kick-off",
        "version": response.json()["version"]}


def test_a_refused_change_writes_no_event(engine: Engine, client: TestClient,
                                          editor: dict[str, str]) -> None:
    stale = client.get(f"{M}/deliverables/L3M3D2").headers["etag"]
    assert _status(client, "L3M3D2", {"status": "in_progress"}, editor).status_code == 200
    before = len(_events(engine))
    refused = _status(client, "L3M3D2", {"status": "completed"}, editor, if_match=stale)
    assert refused.status_code == 412
    unchanged = _status(client, "L3M3D2", {"status": "in_progress"}, editor)
    assert unchanged.status_code == 200
    assert len(_events(engine)) == before


def test_a_batch_writes_an_event_per_change_or_none(engine: Engine, client: TestClient,
                                                     editor: dict[str, str]) -> None:
    def item(code: str, status: str, etag: str | None = None) -> dict[str, str]:
        return {"code": code, "status": status,
                "if_match": etag or client.get(f"{M}/deliverables/{code}").headers["etag"]}

    before = len(_events(engine))
    failed = client.post(f"{M}/deliverables:batch-status", headers=editor, json={"changes": [
        item("L3M3D2", "in_progress"), item("L3M3D3", "in_progress", '"0.1"')]})
    assert failed.status_code == 409
    assert len(_events(engine)) == before
    applied = client.post(f"{M}/deliverables:batch-status", headers=editor, json={"changes": [
        item("L3M3D2", "in_progress"), item("L3M3D3", "in_progress")]})
    assert applied.status_code == 200, applied.text
    assert sorted(e.data["deliverable"] for e in _events(engine)[before:]) == ["L3M3D2",
                                                                              "L3M3D3"]


def test_a_backdated_change_writes_its_event(engine: Engine, client: TestClient,
                                             editor: dict[str, str]) -> None:
    before = len(_events(engine))
    response = _status(client, "L3M3D2", {"status": "in_progress",
                                          "effective_at": "2020-06-30T00:00:00Z"}, editor)
    assert response.status_code == 200, response.text
    (event,) = _events(engine)[before:]
    assert event.data["effective_at"] == "2020-06-30T00:00:00Z"


def test_values_imports_and_records_write_their_events(
        engine: Engine, client: TestClient, tokens: Tokens, session: Session) -> None:
    before = len(_events(engine))
    etag = client.get(f"{M}/indicators/SPEAKERS_WOMEN_SHARE").headers["etag"]
    recorded = client.post(f"{M}/indicators/SPEAKERS_WOMEN_SHARE/values",
                           json={"period": "2020", "value": 40, "qualifier": "about"},
                           headers={**tokens["editor"], "If-Match": etag})
    assert recorded.status_code == 200, recorded.text
    plan = small_plan()
    imported = client.put("/api/v1/mandates/T-2024/plan", json=plan, headers=tokens["admin"])
    assert imported.status_code == 200, imported.text
    again = client.put("/api/v1/mandates/T-2024/plan", json=plan, headers=tokens["admin"])
    assert again.status_code == 200 and not again.json()["changed"]
    records = client.put("/api/v1/records", headers=tokens["admin"], json={
        "members": [{"code": "abidjan", "name": "Abidjan"}]})
    assert records.status_code == 200, records.text
    events = _events(engine)[before:]
    assert [(e.type, e.author_name, e.author_role) for e in events] == [
        ("indicator.value_recorded", "editor-ana", "editor"),
        ("plan.imported", "admin-ana", "admin"),
        ("records.changed", "admin-ana", "admin")]
    value, plan_event, records_event = events
    assert (value.data["indicator"], value.data["value"], value.data["qualifier"]) == (
        "SPEAKERS_WOMEN_SHARE", 40, "about")
    assert plan_event.data["mandate_created"] is True
    assert plan_event.data["deliverables"]["created"] == 5
    assert records_event.mandate_id is None


def test_a_rolled_back_transaction_leaves_no_event(engine: Engine, session: Session) -> None:
    before = len(_events(engine))
    with pytest.raises(RuntimeError), Session(engine) as own:
        import_plan(own, plan=validate_plan(small_plan()))
        raise RuntimeError("the request failed after the import")
    assert len(_events(engine)) == before
    load(session, small_plan())
    assert len(_events(engine)) == before + 1


def _stream(client: TestClient, path: str, **headers: str) -> list[dict[str, Any]]:
    """Every event a (short) stream sends: id, event and parsed data."""
    events, current = [], {}
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                current = {}
            elif line.startswith(("id: ", "event: ")):
                key, _, value = line.partition(": ")
                current[key] = value
            elif line.startswith("data: "):
                current["data"] = json.loads(line.removeprefix("data: "))
    return events


@pytest.fixture
def short_streams(engine: Engine) -> Iterator[TestClient]:
    with make_client(engine, changes_stream_seconds=0.3, changes_poll_seconds=0.05) as client:
        yield client


def test_the_stream_serves_the_mandate_s_changes_and_resumes_after_last_event_id(
        short_streams: TestClient, editor: dict[str, str], tokens: Tokens,
        client: TestClient) -> None:
    assert _status(client, "L3M3D2", {"status": "in_progress"}, editor).status_code == 200
    # Another mandate's change is not in this stream; the records' is.
    assert client.put("/api/v1/mandates/T-2024/plan", json=small_plan(),
                      headers=tokens["admin"]).status_code == 200
    assert client.put("/api/v1/records", headers=tokens["admin"], json={
        "members": [{"code": "abidjan", "name": "Abidjan"}]}).status_code == 200
    assert _status(client, "L3M3D3", {"status": "in_progress"}, editor).status_code == 200
    events = _stream(short_streams, f"{M}/changes?since=0")
    mine = [e for e in events if e["event"] != "plan.imported"]
    assert [e["event"] for e in mine][-3:] == ["deliverable.status_changed",
                                               "records.changed",
                                               "deliverable.status_changed"]
    assert all(e["data"]["mandate"] in ("2018-2020", None) for e in events)
    assert "T-2024" not in [e["data"]["mandate"] for e in events]
    last = mine[-1]
    assert last["id"] == last["data"]["id"]
    assert last["data"]["author"] == {"name": "editor-ana", "role": "editor"}
    assert last["data"]["data"]["deliverable"] == "L3M3D3"
    resumed = _stream(short_streams, f"{M}/changes", **{"Last-Event-ID": mine[-2]["id"]})
    assert [e["id"] for e in resumed] == [last["id"]]


def test_a_stream_without_last_event_id_starts_from_now(short_streams: TestClient,
                                                        client: TestClient,
                                                        editor: dict[str, str]) -> None:
    assert _status(client, "L3M3D2", {"status": "in_progress"}, editor).status_code == 200
    assert _stream(short_streams, f"{M}/changes") == []


def test_head_on_the_stream_answers_at_once(client: TestClient) -> None:
    response = client.head(f"{M}/changes")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")


def test_an_unknown_mandate_s_stream_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/mandates/NOPE/changes").status_code == 404


def _event(session: Session, event_id: int) -> None:
    session.execute(insert(ChangeEvent).values(
        id=event_id, type="deliverable.status_changed", mandate_id=None, occurred_at=utcnow(),
        author_name="ana", data={}))


def test_a_hole_in_the_ids_holds_what_follows_until_it_fills_or_grows_old(
        session: Session) -> None:
    """Ids are taken before commit: 3 may be visible before 2 is committed."""
    session.execute(delete(ChangeEvent))
    _event(session, 1)
    _event(session, 3)
    session.commit()
    now = utcnow()
    cursor = Cursor(last=0)
    assert [e.id for e in cursor.take(session, mandate_id=0, now=now)] == [1]
    assert cursor.take(session, mandate_id=0, now=now + HOLE_WAIT / 2) == []
    _event(session, 2)
    session.commit()
    assert [e.id for e in cursor.take(session, mandate_id=0, now=now + HOLE_WAIT / 2)] == [2, 3]
    _event(session, 5)
    session.commit()
    assert cursor.take(session, mandate_id=0, now=now) == []
    # 4 never comes (its transaction rolled back): past the wait, 5 goes out.
    late = now + HOLE_WAIT + timedelta(seconds=1)
    assert [e.id for e in cursor.take(session, mandate_id=0, now=late)] == [5]
