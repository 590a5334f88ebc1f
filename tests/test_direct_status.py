"""The usual status change on PostgreSQL goes straight through the driver, in autocommit
(the Autocommit writer of app/services/status/pipeline.py): it must answer exactly as the
usual path does, write nothing when it hands over to it, and give its connection back as
it found it."""

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.db import driver_connection, engine_for
from app.models import Deliverable, Role, Status, StatusChange
from app.services.plan.bundled import bundled_plan
from app.services.plan.deliverables import etag, find_row
from app.services.plan.importer import import_plan
from app.services.status import pipeline
from app.services.status.decision import StatusUpdate
from app.services.status.pipeline import Autocommit, NeedsTransaction, change_status
from app.settings import Settings
from tests.conftest import make_client
from tests.helpers import auth, new_token, set_status, snapshot

M = "/api/v1/mandates/2018-2020"


@pytest.fixture
def editor(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    return auth(new_token(engine, Role.editor, "editor-ana"))


def _postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite takes the usual path, in one transaction")


def _change(client: TestClient, code: str, body: dict[str, Any], headers: dict[str, str]
            ) -> Any:
    etag = client.get(f"{M}/deliverables/{code}").headers["etag"]
    return client.post(f"{M}/deliverables/{code}/status", json=body,
                       headers={**headers, "If-Match": etag})


def _history(engine: Engine, code: str) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(StatusChange).join(
            Deliverable, Deliverable.id == StatusChange.deliverable_id
        ).where(Deliverable.code == code)).scalar_one()


def test_a_status_change_answers_what_a_read_then_shows(
        client: TestClient, engine: Engine, editor: dict[str, str]) -> None:
    progress = client.get(f"{M}/progress")
    entries = _history(engine, "L1M1D1")
    changed = _change(client, "L1M1D1", {"status": "in_progress", "percent_complete": 40,
                                         "note": "half the cities surveyed"}, editor)
    assert changed.status_code == 200
    read = client.get(f"{M}/deliverables/L1M1D1")
    assert changed.json() == read.json()
    assert changed.headers["etag"] == read.headers["etag"]
    assert changed.json()["updated_at"].endswith("Z")
    latest = client.get(f"{M}/deliverables/L1M1D1/history").json()["data"][0]
    assert (latest["to_status"], latest["percent_complete"], latest["changed_by"],
            latest["note"]) == ("in_progress", 40, "editor-ana", "half the cities surveyed")
    assert _history(engine, "L1M1D1") == entries + 1
    # The progress its own process had cached is not served again (read-your-writes).
    again = client.get(f"{M}/progress", headers={"If-None-Match": progress.headers["etag"]})
    assert again.status_code == 200
    assert again.json()["totals"]["by_status"] != progress.json()["totals"]["by_status"]


def test_the_same_state_again_records_nothing(
        client: TestClient, engine: Engine, editor: dict[str, str]) -> None:
    first = _change(client, "L1M1D1", {"status": "in_progress", "percent_complete": 40}, editor)
    entries = _history(engine, "L1M1D1")
    again = _change(client, "L1M1D1", {"status": "in_progress", "percent_complete": 40}, editor)
    assert again.status_code == 200
    assert again.headers["etag"] == first.headers["etag"]
    assert _history(engine, "L1M1D1") == entries


def test_connections_go_back_to_the_pool_as_they_came(
        engine: Engine, backend: str, editor: dict[str, str]) -> None:
    """After a change in autocommit, the pool's one connection still runs a batch as one
    transaction: a batch refused for one stale item leaves nothing of the others."""
    _postgres_only(backend)
    one = engine_for(Settings(database_url=engine.url.render_as_string(hide_password=False),
                              db_pool_size=1))
    try:
        with make_client(one) as client:
            assert _change(client, "L1M1D1", {"status": "completed"}, editor).status_code == 200
            good = {"code": "L1M1D2", "status": "completed",
                    "if_match": client.get(f"{M}/deliverables/L1M1D2").headers["etag"]}
            stale = {"code": "L1M1D3", "status": "completed", "if_match": '"1.1"'}
            refused = client.post(f"{M}/deliverables:batch-status",
                                  json={"changes": [good, stale]}, headers=editor)
            assert refused.status_code == 409
            assert client.get(f"{M}/deliverables/L1M1D2").json()["version"] == 1
    finally:
        one.dispose()


def test_a_race_lost_after_the_read_writes_nothing_and_hands_over(
        engine: Engine, backend: str, editor: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer commits between the autocommit writer's read and its write: the
    write finds another version, writes nothing, and the transaction's path is told to
    answer."""
    _postgres_only(backend)
    entries = _history(engine, "L1M1D1")
    with Session(engine) as session:
        read_at = etag(find_row(session, mandate="2018-2020", code="L1M1D1").deliverable)
    original = pipeline.decide

    def another_writer_first(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(pipeline, "decide", original)  # ben decides as usual
        with Session(engine) as session:  # and writes after ana's read
            set_status(session, "L1M1D1", StatusUpdate(status=Status.not_achieved),
                       actor="ben", if_match=read_at)
            session.commit()
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, "decide", another_writer_first)
    with driver_connection(engine) as connection, pytest.raises(NeedsTransaction):
        change_status(Autocommit(connection), mandate="2018-2020", code="L1M1D1",
                      if_match=read_at, actor="ana",
                      change=StatusUpdate(status=Status.in_progress, percent_complete=10))
    assert _history(engine, "L1M1D1") == entries + 1  # ben's change alone
    with Session(engine) as session:
        now = find_row(session, mandate="2018-2020", code="L1M1D1").deliverable
        assert (now.status, now.version) == ("not_achieved", 2)


def test_what_is_not_the_usual_case_is_handed_over_untouched(
        engine: Engine, backend: str, editor: dict[str, str]) -> None:
    _postgres_only(backend)
    before = snapshot(engine)
    with driver_connection(engine) as connection:
        for mandate, code, change in [
            ("2018-2020", "NO-SUCH", StatusUpdate(status=Status.completed)),
            ("1999-2000", "L1M1D1", StatusUpdate(status=Status.completed)),
            ("2018-2020", "L1M1D1", StatusUpdate(
                status=Status.not_started, effective_at=datetime(2019, 1, 1, tzinfo=UTC))),
        ]:
            with pytest.raises(NeedsTransaction):
                change_status(Autocommit(connection), mandate=mandate, code=code,
                              if_match='"1.1"', change=change, actor="ana")
    assert snapshot(engine) == before
