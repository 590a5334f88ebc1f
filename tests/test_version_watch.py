"""A dashboard polling the progress sees every write acknowledged before its request, at
once: the app's own, another connection's, another process's (SQLite's data_version; on
PostgreSQL a version read that begins after the request arrived, shared by the requests
arriving together), also while the watcher's connection is lost; and on SQLite it costs
the database nothing while nothing changes."""

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.db import build_engine
from app.models import Role
from app.services.access import tokens
from app.services.versioning import MandateVersion
from app.version_reads import APPLICATION_NAME, FreshVersions, VersionReadFailed
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


def watching(client: TestClient) -> str:
    return client.app.state.version_watch.health().state  # type: ignore[attr-defined,no-any-return]


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
        engine: Engine, session: Session, backend: str) -> None:
    """SQLite: nothing at all. PostgreSQL: nothing through the pool (its version reads go
    over the watcher's own connection: see the tests of FreshVersions below)."""
    load(session, small_plan())
    with make_client(engine) as client:
        first = {path: client.get(path) for path in PATHS}
        assert watching(client) == ("data_version" if backend == "sqlite" else "fresh")
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


def test_a_write_by_another_process_is_seen_by_the_next_request(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    with make_client(engine) as client:
        before = client.get(PATH)
        assert client.get(PATH, headers={"If-None-Match": before.headers["etag"]}
                          ).status_code == 304
        done = before.json()["totals"]["by_status"]["completed"]
        complete_b1a_elsewhere(engine)
        # No waiting, on either database: the very next request sees the commit.
        stale = client.get(PATH, headers={"If-None-Match": before.headers["etag"]})
        assert stale.status_code == 200
        assert stale.json()["totals"]["by_status"]["completed"] == done + 1


def test_when_the_version_connection_is_lost_every_poll_still_sees_writes(
        engine: Engine, session: Session, backend: str, caplog: pytest.LogCaptureFixture
        ) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no version connection to lose")
    load(session, small_plan())
    with make_client(engine, version_read_timeout=0.5) as client:
        start = completed(client)
        assert watching(client) == "fresh"
        with engine.connect() as connection:  # what a database restart does to it
            killed = connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"),
                {"name": APPLICATION_NAME}).all()
        assert killed and all(row == (True,) for row in killed)  # ours, and any left over
        complete_b1a_elsewhere(engine)
        assert completed(client) == start + 1  # read through the pool: still fresh
        ready = client.get("/readyz").json()
        assert ready["version_reads"] == "pooled"
        assert ready["version_reads_failed"]["reason"]
        assert "version reads go through the pool" in caplog.text
        # It opens its connection again by itself, and goes on seeing writes.
        assert until(lambda: completed(client) == start + 1 and watching(client) == "fresh")
        assert "version reads have their own connection again" in caplog.text
        with engine.begin() as connection:
            connection.execute(text("UPDATE deliverable SET status = 'not_started' "
                                    "WHERE code = 'B1a'"))
            connection.execute(text("UPDATE mandate SET data_version = data_version + 1"))
        assert completed(client) == start
        assert client.get("/readyz").json()["version_reads"] == "fresh"


def test_without_watching_every_poll_asks_and_sees_at_once(
        engine: Engine, session: Session) -> None:
    load(session, small_plan())
    with make_client(engine, watch_versions=False) as client:
        assert watching(client) == "per-request"
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


class _Gated(FreshVersions):
    """Version reads that wait at a gate, and remember when each query began."""

    def __init__(self) -> None:
        super().__init__("", timeout=5)
        self.began: list[set[str]] = []
        self.gate = asyncio.Event()

    async def _query(self, codes: list[str]) -> dict[str, MandateVersion]:
        self.began.append(set(codes))
        queried = len(self.began)
        await self.gate.wait()
        return {code: MandateVersion(1, code, queried, datetime(2026, 1, 1, tzinfo=UTC),
                                     date(2026, 1, 1), date(2026, 12, 31)) for code in codes}


def test_requests_arriving_together_share_one_version_read() -> None:
    async def scenario() -> tuple[_Gated, list[int]]:
        fresh = _Gated()
        waiting = [asyncio.ensure_future(fresh.read(["A"])) for _ in range(20)]
        await asyncio.sleep(0)
        fresh.gate.set()
        found = await asyncio.gather(*waiting)
        return fresh, [versions["A"].data_version for versions in found]

    fresh, versions = asyncio.run(scenario())
    assert len(fresh.began) == 1
    assert versions == [1] * 20


def test_a_read_never_answers_with_a_query_begun_before_it_arrived() -> None:
    """A request arriving while a query is in flight waits for another one: the query in
    flight may have begun before a write that was acknowledged before the request."""

    async def scenario() -> tuple[_Gated, int, int, int]:
        fresh = _Gated()
        first = asyncio.ensure_future(fresh.read(["A"]))
        await asyncio.sleep(0.01)  # its query has begun, and waits at the gate
        second = asyncio.ensure_future(fresh.read(["A", "B"]))
        third = asyncio.ensure_future(fresh.read(["C"]))
        await asyncio.sleep(0.01)
        assert not first.done() and not second.done()  # both queries wait at the gate
        fresh.gate.set()
        a, b, c = await asyncio.gather(first, second, third)
        return fresh, a["A"].data_version, b["B"].data_version, c["C"].data_version

    fresh, first, second, third = asyncio.run(scenario())
    assert (first, second, third) == (1, 2, 2)
    assert fresh.began == [{"A"}, {"A", "B", "C"}]


def test_a_failed_version_read_sends_its_requests_to_the_pool_for_a_while() -> None:
    class Failing(FreshVersions):
        async def _query(self, codes: list[str]) -> dict[str, MandateVersion]:
            raise OSError("connection reset")

    async def scenario() -> Failing:
        fresh = Failing("", timeout=5, retry_after=60)
        with pytest.raises(VersionReadFailed):
            await fresh.read(["A"])
        return fresh

    fresh = asyncio.run(scenario())
    assert not fresh.usable
    assert fresh.failure is not None and "connection reset" in fresh.failure[1]
