"""Alembic, driven from code: the CLI, the server start and the tests all migrate this way."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.settings import get_settings


def _script_location() -> Path:
    # The revisions live in ./migrations; app/migrations is a link to them, through which
    # the wheel carries them (see pyproject.toml's package-data).
    packaged = Path(__file__).parent / "migrations"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).parent.parent / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    url = database_url or get_settings().database_url
    # ConfigParser treats % specially; a password may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(revision: str, database_url: str | None = None) -> None:
    command.downgrade(alembic_config(database_url), revision)


@lru_cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


@lru_cache
def head_revision() -> str | None:
    return _scripts().get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (a newer planpulse may have
    migrated the database further)."""
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


@dataclass(frozen=True)
class SchemaState:
    """Where a database's schema stands, as found without creating or changing anything."""

    database: str
    """The database, as :func:`database_name` names it."""
    found: bool
    """False for a SQLite file that does not exist (it was not created)."""
    revision: str | None
    """The schema's revision; None where there is no schema."""

    @property
    def at_head(self) -> bool:
        return self.revision is not None and self.revision == head_revision()


def database_name(database_url: str) -> str:
    """The database as messages name it: a SQLite file by its absolute path, another by its
    URL with the password masked."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=True)
    if url.database in (None, "", ":memory:"):
        return "an in-memory SQLite database"
    return str(Path(url.database).resolve())


def schema_state(database_url: str) -> SchemaState:
    """The schema revision of the database at ``database_url``, read without creating it:
    a SQLite file that is not there is not opened, one that is is opened read-only (so it
    is neither created nor converted to WAL). Connection errors are SQLAlchemy's."""
    url, name = make_url(database_url), database_name(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, poolclass=NullPool)
    elif url.database in (None, "", ":memory:"):
        return SchemaState(name, True, None)  # always empty
    elif not Path(name).is_file():
        return SchemaState(name, False, None)
    else:
        read_only = f"file:{quote(name)}?mode=ro"
        engine = create_engine("sqlite://", poolclass=NullPool,
                               creator=lambda: sqlite3.connect(read_only, uri=True))
    try:
        return SchemaState(name, True, current_revision(engine))
    finally:
        engine.dispose()


STARTUP_LOCK_KEY = 0x706C616E  # "plan": any constant shared by every planpulse process


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock so that processes starting together
    migrate and load one at a time (Alembic takes no lock of its own). SQLite has one
    writer at a time anyway."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"),
                               {"key": STARTUP_LOCK_KEY})
            connection.commit()
