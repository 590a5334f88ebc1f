"""Engine and sessions. A unit of work commits on success and rolls back on any error."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.settings import get_settings


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers and a writer overlap.
    # pysqlite's own transaction handling is switched off so that BEGIN is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin(connection: Any) -> None:
    # A transaction that may write takes SQLite's write lock when it starts, so that two
    # writers queue up instead of one failing half-way with "database is locked"; reads
    # (see reading()) start a plain deferred transaction and never wait for a writer.
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


SQLITE_BEGIN = "planpulse_sqlite_begin"


def reading(engine: Engine) -> Engine:
    """The engine for read-only work: on SQLite, transactions that take no write lock."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})


def build_engine(database_url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _begin)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
    )


@lru_cache
def get_engine() -> Engine:
    """The process's engine, for the command line; the app keeps its own in app.state."""
    settings = get_settings()
    return build_engine(settings.database_url, pool_size=settings.db_pool_size,
                        max_overflow=settings.db_max_overflow)


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
