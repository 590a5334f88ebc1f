"""Alembic, driven from code: the CLI, the server start and the tests all migrate this way."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

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
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


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
