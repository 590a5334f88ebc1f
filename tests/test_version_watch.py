"""A dashboard polling the progress costs the database nothing while nothing changes, and
still sees every write at once: the app's own, another connection's (SQLite's data_version),
another process's (PostgreSQL's NOTIFY), also while the listener reconnects."""

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.db import build_engine
from app.models import Role
from app.services.access import tokens
from tests.conftest import make_client
from tests.helpers import auth, load, new_token, small_plan, statements

PATH = "/api/v1/mandates/T-2024/progress"
PATHS = [PATH, f"{PATH}?tag=gender", "/api/v1/mandates/T-2024/action-lines/B/progress",
         "/api/v1/progress?mandates=T-2024"]


def until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def watching(client: TestClient) -> bool:
    """SQLite watches from the first request; PostgreSQL once its LISTEN is in place."""
    return until(lambda: client.app.state.version_watch.trusted)  # type: ignore[attr-defined]


def completed(client: TestClient) -> int:
    return int(client.get(PATH).json()["totals"]["by_status"]["completed"])


def complete_b1a_elsewhere(engine: Engine) -> None:
    """A write that this app takes no part in, as another process or tool would make it:
    on a connection of another engine, with no session hook of ours."""
    other = build_engine(engine.url.render_as_string(hide_password=False))
    try:
        with other.begin() as connection:
            connection.execute(text(
                "UPDATE deliverable SET status = 'completed', version = version + 1 "
                "WHERE code = 'B1a'"))
            connection.execute(text(
                "UPDATE mandate SET data_version = data_version + 1 WHERE code = 'T-2024'"))
    finally:
        other.dispose()


def test_polling_an_unchanged_plan_asks_the_database_nothing(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    with make_client(engine) as client:
        assert watching(client)
        first = {path: client.get(path) for path in PATHS}
        with statements(engine) as sent:
            for path, answer in first.items():
                again = client.get(path)
                assert again.status_code == 200
                assert again.headers["etag"] == answer.headers["etag"]
                assert {**again.json(), "as_of": None} == {**answer.json(), "as_of": None}
                revalidated = client.get(path, headers={"If-None-Match": answer.headers["etag"]})
                assert revalidated.status_code == 304
        assert sent == []


def test_a_write_through_the_app_is_seen_by_the_next_poll(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    editor = auth(new_token(engine, Role.editor))
    with make_client(engine) as client:
        assert watching(client)
        before = client.get(PATH)
        current = client.get("/api/v1/mandates/T-2024/deliverables/B1a").headers["etag"]
        written = client.post("/api/v1/mandates/T-2024/deliverables/B1a/status",
                              json={"status": "completed"},
                              headers={**editor, "If-Match": current})
        assert written.status_code == 200
        # No waiting: the very next request sees it.
        after = client.get(PATH, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200
        done = before.json()["totals"]["by_status"]["completed"]
        assert after.json()["totals"]["by_status"]["completed"] == done + 1


def test_a_write_by_another_process_is_seen(engine: Engine, session: Session,
                                           backend: str) -> None:
    load(session, small_plan())
    with make_client(engine) as client:
        assert watching(client)
        before = client.get(PATH)
        assert client.get(PATH, headers={"If-None-Match": before.headers["etag"]}
                          ).status_code == 304
        done = before.json()["totals"]["by_status"]["completed"]
        complete_b1a_elsewhere(engine)
        if backend == "sqlite":
            # data_version is read on each request: the very next one sees the commit.
            assert completed(client) == done + 1
        else:
            # PostgreSQL delivers the NOTIFY after the commit: seen as soon as it arrives.
            assert until(lambda: completed(client) == done + 1)
        stale = client.get(PATH, headers={"If-None-Match": before.headers["etag"]})
        assert stale.status_code == 200


def test_while_the_listener_is_down_every_poll_asks_the_database(
        engine: Engine, session: Session, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no LISTEN connection to lose")
    load(session, small_plan())
    with make_client(engine) as client:
        assert watching(client)
        start = completed(client)
        with engine.connect() as connection:  # what a database restart does to it
            killed = connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%'")).all()
        assert killed == [(True,)]
        complete_b1a_elsewhere(engine)
        assert until(lambda: completed(client) == start + 1)
        # It listens again by itself, and goes on seeing writes.
        assert watching(client)
        with engine.begin() as connection:
            connection.execute(text("UPDATE deliverable SET status = 'not_started' "
                                    "WHERE code = 'B1a'"))
            connection.execute(text("UPDATE mandate SET data_version = data_version + 1"))
        assert until(lambda: completed(client) == start)


def test_without_watching_every_poll_asks_and_sees_at_once(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    with make_client(engine, watch_versions=False) as client:
        assert not client.app.state.version_watch.trusted  # type: ignore[attr-defined]
        start = completed(client)
        with statements(engine) as sent:
            client.get(PATH)
        assert any("data_version" in statement for statement in sent)
        complete_b1a_elsewhere(engine)
        assert completed(client) == start + 1


def test_a_token_is_checked_on_every_request_even_for_a_cached_answer(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    secret = new_token(engine, Role.viewer, name="dashboard")
    with make_client(engine, public_read=False) as client:
        assert watching(client)
        assert client.get(PATH).status_code == 401
        answer = client.get(PATH, headers=auth(secret))
        assert answer.status_code == 200
        assert client.get(PATH, headers=auth(secret)).status_code == 200
        # The answer is cached now; without a token it is still refused...
        assert client.get(PATH).status_code == 401
        assert client.get(PATH, headers={"If-None-Match": answer.headers["etag"]}
                          ).status_code == 401
        # ...and a revoked token at once.
        with Session(engine) as admin_session:
            tokens.revoke_token(admin_session, name="dashboard")
            admin_session.commit()
        assert client.get(PATH, headers=auth(secret)).status_code == 401


def _data_version(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT data_version FROM mandate WHERE code = 'T-2024'")).scalar_one())


def test_a_write_bumps_the_version_once_and_leaves_no_bump_behind(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    editor = auth(new_token(engine, Role.editor))
    with make_client(engine) as client:
        before = _data_version(engine)
        deliverables = "/api/v1/mandates/T-2024/deliverables"
        changes = [{"code": code, "status": "completed",
                    "if_match": client.get(f"{deliverables}/{code}").headers["etag"]}
                   for code in ("B1a", "B1b", "A1b")]
        answer = client.post(f"{deliverables}:batch-status", json={"changes": changes},
                             headers=editor)
        assert answer.status_code == 200
        # Three changes in one transaction: one new version, carried out by the database.
        assert _data_version(engine) == before + 1
        refused = client.post(f"{deliverables}:batch-status", json={"changes": changes},
                              headers=editor)
        assert refused.status_code == 409                 # stale ETags: nothing applied...
        assert _data_version(engine) == before + 1        # ...and no new version either
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM data_version_bump")
                                  ).scalar_one() == 0
