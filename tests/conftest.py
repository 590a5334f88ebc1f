"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL tests create their own database on the server named by
``PLANPULSE_TEST_POSTGRES_URL`` (default: the local server, user postgres) and drop it at
the end. Where no server answers they are skipped with the reason, unless
``PLANPULSE_TEST_REQUIRE_POSTGRES=1`` (as in .ci/run), which turns the skip into a failure.

Hypothesis runs under the profile named by ``PLANPULSE_TEST_HYPOTHESIS_PROFILE``: ``dev``
(the default: random examples, a few per test, remembered in .hypothesis/ to replay
failures) or ``ci`` (as in .ci/run: derandomized, the same examples on every run, and more
of them).

The setups many test files share are fixtures here: ``metropolis`` (the bundled plan),
``other_org`` (tests/data/other-org-plan.yaml), ``token_secrets`` and ``tokens`` (one token per
role, as a secret and as headers).
"""

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import db, migrate, settings
from app.db import build_engine
from app.main import create_app
from app.models import Role, metadata
from app.schemas.plan_file import parse_plan_text
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.services.records.bundled import load_bundled_records_if_empty
from app.settings import Settings
from tests.helpers import OTHER_ORG_PLAN, auth, new_token

POSTGRES_ADMIN_URL = os.environ.get(
    "PLANPULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("PLANPULSE_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]

# How many examples each property test tries, and how they are chosen; what a test needs of
# its own (no deadline, health checks it cannot meet) it says in its own @settings, which
# leave these to the profile. "dev": random examples, 25 per test, failures remembered in
# .hypothesis/ and tried first next time. "ci": derandomized (the same examples on every
# run and machine, so a red CI run is red again on rerun and at a developer's desk), four
# times as many (the two rollup properties then take about three minutes of the two
# workers' time, and .ci/run stays under eight minutes on a 2-core machine), no example
# database, and the @reproduce_failure line printed on failure. test_openapi_fuzz keeps
# settings of its own: derandomized in both, and a per-operation budget over every route.
hypothesis_settings.register_profile("dev", max_examples=25)
hypothesis_settings.register_profile("ci", max_examples=100, derandomize=True, database=None,
                                     print_blob=True)
HYPOTHESIS_PROFILE = os.environ.get("PLANPULSE_TEST_HYPOTHESIS_PROFILE", "dev")
hypothesis_settings.load_profile(HYPOTHESIS_PROFILE)


def _postgres_admin() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _postgres_unavailable() -> str | None:
    try:
        engine = _postgres_admin()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means "not here"
        return f"no PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string()}: " + (
            str(error).splitlines()[0])
    return None


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_unavailable()


def new_database_url(backend: str, tmp_dir: Path, postgres_reason: str | None) -> str:
    """Create an empty database of ``backend`` and return its URL."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'planpulse-{uuid.uuid4().hex[:8]}.db'}"
    if postgres_reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(postgres_reason)
        pytest.skip(postgres_reason)
    name = f"planpulse_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = _postgres_admin()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path,
                       postgres_reason: str | None) -> Iterator[str]:
    """A brand-new, unmigrated database (for migration tests); parametrised by backend."""
    url = new_database_url(request.param, tmp_path, postgres_reason)
    yield url
    drop_database(url)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 postgres_reason: str | None) -> Iterator[str]:
    """One database per backend for the whole run, migrated to head once."""
    url = new_database_url(request.param, tmp_path_factory.mktemp("db"), postgres_reason)
    migrate.upgrade(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def shared_engine(migrated_url: str) -> Iterator[Engine]:
    engine = build_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(shared_engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after each test."""
    yield shared_engine
    _empty_all_tables(shared_engine)


def _empty_all_tables(engine: Engine) -> None:
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def backend(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session for service tests; the test commits what it wants to keep."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.rollback()


TEST_SETTINGS: dict[str, object] = {"changes_stream_seconds": 0.5}
"""A change stream ends soon in tests, so that a walk over every GET route finishes."""


def make_client(engine: Engine, **settings: object) -> TestClient:
    app = create_app(settings=Settings(database_url=str(engine.url),
                                       **{**TEST_SETTINGS, **settings}),
                     engine=engine)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with make_client(engine) as test_client:
        yield test_client


@contextmanager
def serving(engine: Engine, **settings: Any) -> Iterator[str]:
    """The app served over ``engine`` by a real uvicorn in a thread: its URL."""
    application = create_app(settings=Settings(database_url=str(engine.url),
                                               **{**TEST_SETTINGS, **settings}),
                             engine=engine)
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_url(engine: Engine) -> Iterator[str]:
    """A real HTTP server over the test database, for tests that need real concurrency
    or a real browser."""
    with serving(engine) as url:
        yield url


@pytest.fixture
def cli_runner(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose `planpulse` commands use the test database."""
    monkeypatch.setenv("PLANPULSE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    yield CliRunner()
    db.get_engine().dispose()
    db.get_engine.cache_clear()
    settings.get_settings.cache_clear()


# --- setups shared by many test files --------------------------------------------------------


@pytest.fixture
def metropolis(session: Session) -> None:
    """The bundled Metropolis plan (mandate 2018-2020), imported and committed."""
    import_plan(session, plan=bundled_plan())
    session.commit()


@pytest.fixture
def metropolis_records(metropolis: None, session: Session) -> None:
    """The bundled plan and the bundled records of 2020 (members, engagement, activities)."""
    load_bundled_records_if_empty(session)
    session.commit()


@pytest.fixture
def other_org(session: Session) -> None:
    """tests/data/other-org-plan.yaml (mandate OGP-2022-2025), imported and committed."""
    import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")))
    session.commit()


@pytest.fixture
def token_secrets(engine: Engine) -> dict[str, str]:
    """A token per role (viewer, editor, admin), named ``<role>-ana``: role → its secret."""
    return {role.value: new_token(engine, role, f"{role.value}-ana") for role in Role}


@pytest.fixture
def tokens(token_secrets: dict[str, str]) -> dict[str, dict[str, str]]:
    """The same tokens as request headers: role → {"Authorization": "Bearer ..."}."""
    return {role: auth(secret) for role, secret in token_secrets.items()}


@pytest.fixture
def editor(tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    """An editor's headers (the token ``editor-ana``)."""
    return tokens["editor"]


@pytest.fixture
def admin(tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    """An admin's headers (the token ``admin-ana``)."""
    return tokens["admin"]
