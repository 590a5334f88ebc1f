"""Engine and sessions. A unit of work commits on success and rolls back on any error."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from app.settings import Settings, get_settings


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


def build_engine(database_url: str, *, pool_size: int = 10, max_overflow: int = 0,
                 pool_timeout: float = 30.0) -> Engine:
    """SQLite with its pragmas, or PostgreSQL with a fixed-size pool by default:
    ``max_overflow`` connections are closed as soon as they are returned, so under steady
    load each one costs a new server process (fork and authentication) per request."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _begin)
        return engine
    keepalives = {name: value for name, value in KEEPALIVES.items() if name not in url.query}
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                           pool_timeout=pool_timeout, connect_args=keepalives)
    event.listen(engine, "connect", _note_in_use)
    event.listen(engine, "checkin", _note_in_use)
    event.listen(engine, "checkout", partial(_ping_unless_just_used, engine.dialect))
    return engine


KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3, "tcp_user_timeout": 60_000}
"""libpq's TCP keepalives and time-out for unacknowledged data: a connection that a
firewall, NAT or load balancer dropped without a word is found dead in about a minute
instead of the system's two hours. Parameters in the database URL take precedence."""

PING_BYPASS_SECONDS = 0.5
"""A pooled connection returned less than this ago is not tested again before use."""


def _note_in_use(_dbapi_connection: Any, record: Any) -> None:
    record.info["in_use_at"] = time.monotonic()


def _ping_unless_just_used(dialect: Dialect, dbapi_connection: Any, record: Any,
                           _proxy: Any) -> None:
    """``pool_pre_ping``, except for a connection that was in use a moment ago (the same
    window as HikariCP's ``aliveBypassWindowMs``): under load every request would
    otherwise pay a round trip to test a connection that just worked. A database restarted
    within that window costs the requests that were using it an error, as before the
    restart; the next ones get new connections."""
    if time.monotonic() - record.info.get("in_use_at", 0.0) < PING_BYPASS_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        # Whatever the error (a terminated backend is not always reported as a disconnect),
        # a connection that cannot answer SELECT 1 is of no use: the pool opens a new one.
        raise DisconnectionError() from error


@lru_cache
def get_engine() -> Engine:
    """The process's engine, for the command line; the app keeps its own in app.state."""
    settings = get_settings()
    return engine_for(settings)


def engine_for(settings: Settings) -> Engine:
    """The engine the settings describe."""
    return build_engine(settings.database_url, pool_size=settings.db_pool_size,
                        max_overflow=settings.db_max_overflow,
                        pool_timeout=settings.db_pool_timeout)


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


@contextmanager
def serial_plans(session: Session) -> Iterator[None]:
    """On PostgreSQL, the statements run inside are planned without parallel workers.

    For a UNION of aggregates of a few milliseconds each, PostgreSQL may plan a Parallel
    Append whose workers cost more to start than the scans they share
    (docs/performance.md). On an error the setting lasts until the rollback undoes it."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    yield
    # Back to the value the connection started with (server, role or connection options).
    session.execute(text("RESET max_parallel_workers_per_gather"))


class Runner(Protocol):
    """What runs a statement for a service: a SQLAlchemy ``Connection`` (in the request's
    transaction) or a :class:`DriverConnection` (in autocommit). Its result answers
    ``fetchone()``, ``fetchall()`` and ``rowcount`` either way."""

    def execute(self, statement: Executable, parameters: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class DriverConnection:
    """A connection of the driver, and the dialect its statements are compiled for."""

    connection: Any
    dialect: Dialect

    def execute(self, statement: Executable, parameters: dict[str, Any]) -> Any:
        """Run a SQLAlchemy statement, compiled once, through the driver: its cursor."""
        return self.connection.execute(driver_sql(statement, self.dialect), parameters)


@contextmanager
def driver_connection(engine: Engine) -> Iterator[DriverConnection]:
    """A pooled connection of the driver itself (psycopg), in autocommit: each statement
    its own transaction. For the hot paths whose one write is one statement, where
    SQLAlchemy's work per statement would cost more than the database's
    (app/services/status/pipeline.py)."""
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    connection.autocommit = True
    try:
        yield DriverConnection(connection, engine.dialect)
    except engine.dialect.loaded_dbapi.OperationalError:
        pooled.invalidate()  # the connection may be gone: the pool opens a new one
        raise
    finally:
        if pooled.is_valid:
            connection.autocommit = False  # as the pool hands connections out
        pooled.close()


@lru_cache(maxsize=64)
def driver_sql(statement: Executable, dialect: Dialect) -> str:
    """``statement`` compiled once for ``dialect``, to run through the driver with
    parameters by name."""
    return str(statement.compile(dialect=dialect))
