"""The PostgreSQL pool: it tests a connection that has sat idle before handing it out, so
a database restart costs no failed request; its size is fixed, and a request that finds
every connection in use waits, then gets a 503."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from app import db
from app.db import build_engine, engine_for, serial_plans
from app.settings import Settings
from tests.conftest import make_client


def test_a_connection_killed_while_idle_is_replaced_before_use(
        engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server connection to lose")
    monkeypatch.setattr(db, "PING_BYPASS_SECONDS", 0.0)  # every checkout is "idle for long"
    app_engine = build_engine(engine.url.render_as_string(hide_password=False), pool_size=2)
    try:
        with app_engine.connect() as connection:
            victim = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as other:  # what a restart does to the pooled connection
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"),
                                 {"pid": victim}).scalar_one() is True
        with app_engine.connect() as connection:
            now = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert now != victim
    finally:
        app_engine.dispose()


def test_a_connection_just_used_is_not_tested_again(
        engine: Engine, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server connection to test")
    app_engine = build_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    pings: list[str] = []
    try:
        with app_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        original = app_engine.dialect.do_ping
        app_engine.dialect.do_ping = lambda conn: pings.append("ping") or original(conn)  # type: ignore[method-assign]
        for _ in range(5):
            with app_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        assert pings == []
    finally:
        app_engine.dispose()


def _postgres_url(engine: Engine, backend: str) -> str:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no connection pool to size")
    return engine.url.render_as_string(hide_password=False)


def test_steady_load_opens_no_connection_per_request(engine: Engine, backend: str) -> None:
    """More concurrent work than the pool holds waits for a pooled connection; it does
    not open (and close) a connection of its own each time, a server process per request."""
    app_engine = engine_for(Settings(database_url=_postgres_url(engine, backend),
                                     db_pool_size=2))
    opened: list[int] = []
    event.listen(app_engine, "connect", lambda *_: opened.append(1))
    start = threading.Barrier(6)

    def work(_: int) -> None:
        start.wait()
        for _ in range(20):
            with app_engine.connect() as connection:
                connection.execute(text("SELECT pg_sleep(0.001)"))

    try:
        with ThreadPoolExecutor(6) as workers:
            list(workers.map(work, range(6)))
        assert len(opened) <= 2
    finally:
        app_engine.dispose()


def test_no_free_connection_is_a_503_to_retry(engine: Engine, backend: str) -> None:
    url = _postgres_url(engine, backend)
    app_engine = engine_for(Settings(database_url=url, db_pool_size=1, db_pool_timeout=0.2))
    try:
        with app_engine.connect(), make_client(app_engine) as client:  # the only connection
            answer = client.get("/api/v1/mandates")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        assert "in use" in answer.json()["detail"]
        assert "Traceback" not in answer.text and "SELECT" not in answer.text
    finally:
        app_engine.dispose()


def test_statements_in_serial_plans_get_no_parallel_workers(engine: Engine,
                                                            backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite plans no parallel workers")
    union = text("EXPLAIN SELECT count(*) FROM deliverable UNION ALL "
                 "SELECT count(*) FROM status_change")
    with Session(engine) as session:
        # Parallel workers made free, so that the planner takes them for these tiny tables.
        for setting in ("parallel_setup_cost", "parallel_tuple_cost",
                        "min_parallel_table_scan_size"):
            session.execute(text(f"SET LOCAL {setting} = 0"))

        def gathers() -> bool:
            return any("Gather" in line for line in session.execute(union).scalars())

        assert gathers()
        with serial_plans(session):
            assert not gathers()
        assert gathers()  # the statements after it are planned as before
