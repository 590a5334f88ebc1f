"""The PostgreSQL pool tests a connection that has sat idle before handing it out, so a
database restart costs no failed request."""

import pytest
from sqlalchemy import Engine, text

from app import db
from app.db import build_engine


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
