"""Commands that read or write plans never create or migrate a database: where they find no
schema at head, they name the database they opened, say how to point them elsewhere, and
exit 2 having created nothing (README, "Command line")."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from app import db, migrate, settings
from app.cli import app

BUNDLED = Path(__file__).parent.parent / "app" / "data" / "metropolis-2018-2020.yaml"
BACKENDS = ["sqlite", "postgresql"]
Run = Callable[..., Result]
PLAN_COMMANDS = [
    ["token", "create", "--role", "admin", "--name", "ana"],
    ["token", "list"],
    ["token", "revoke", "ana"],
    ["import", str(BUNDLED)],
    ["export", "2018-2020"],
    ["report", "2018-2020"],
]
IDS = [" ".join(command[:2]) if command[0] == "token" else command[0]
       for command in PLAN_COMMANDS]


@pytest.fixture
def run() -> Iterator[Run]:
    """Runs ``planpulse`` as a user would, with the settings read afresh each time."""

    def invoke(*args: str) -> Result:
        settings.get_settings.cache_clear()
        db.get_engine.cache_clear()
        try:
            return CliRunner().invoke(app, list(args))
        finally:
            db.get_engine().dispose()
            db.get_engine.cache_clear()
            settings.get_settings.cache_clear()

    yield invoke


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory of no project, as the working directory, with no database URL set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLANPULSE_DATABASE_URL", raising=False)
    return tmp_path


def _refused(result: Result, database: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # no exception escaped: no traceback
    assert "Traceback" not in result.stderr
    assert database in result.stderr
    assert "PLANPULSE_DATABASE_URL" in result.stderr
    assert "planpulse db upgrade" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", PLAN_COMMANDS, ids=IDS)
def test_with_the_default_database_missing_a_command_says_so_and_creates_no_file(
        run: Run, elsewhere: Path, command: list[str]) -> None:
    result = run(*command)
    _refused(result, str(elsewhere / "planpulse.db"))
    assert "sqlite:///./planpulse.db" in result.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
@pytest.mark.parametrize("command", PLAN_COMMANDS, ids=IDS)
def test_a_fresh_database_without_a_schema_is_refused(
        run: Run, empty_database_url: str, command: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPULSE_DATABASE_URL", empty_database_url)
    url = make_url(empty_database_url)
    named = (str(Path(url.database).resolve()) if url.get_backend_name() == "sqlite"
             else url.render_as_string(hide_password=True))
    _refused(run(*command), named)
    assert list(tmp_path.iterdir()) == []  # the SQLite file was not created
    assert migrate.schema_state(empty_database_url).revision is None


def test_an_empty_sqlite_file_is_left_as_it_was(run: Run, elsewhere: Path) -> None:
    (elsewhere / "planpulse.db").touch()
    result = run("export", "2018-2020")
    _refused(result, str(elsewhere / "planpulse.db"))
    assert "has no planpulse schema" in result.stderr
    assert [(p.name, p.stat().st_size) for p in elsewhere.iterdir()] == [("planpulse.db", 0)]


def test_a_file_that_is_not_a_database_is_named_and_left_alone(run: Run, elsewhere: Path
                                                               ) -> None:
    (elsewhere / "planpulse.db").write_bytes(b"not a database, but notes" * 100)
    result = run("token", "list")
    _refused(result, f"cannot open the database {elsewhere / 'planpulse.db'}")
    assert (elsewhere / "planpulse.db").read_bytes() == b"not a database, but notes" * 100
    assert [p.name for p in elsewhere.iterdir()] == ["planpulse.db"]


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
def test_a_schema_older_than_head_is_refused_and_not_migrated(
        run: Run, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPULSE_DATABASE_URL", empty_database_url)
    migrate.upgrade(empty_database_url, "0001")
    result = run("token", "create", "--role", "admin", "--name", "ana")
    assert result.exit_code == 2, result.stderr
    assert f"revision 0001, older than this version's {migrate.head_revision()}" in (
        result.stderr)
    assert migrate.schema_state(empty_database_url).revision == "0001"


def test_the_password_of_a_database_that_cannot_be_reached_is_masked(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPULSE_DATABASE_URL",
                       "postgresql+psycopg://ana:s3cret@127.0.0.1:1/planpulse")
    result = run("token", "list")
    assert result.exit_code == 2, result.stderr
    assert "cannot open the database postgresql+psycopg://ana:***@127.0.0.1:1/planpulse" in (
        result.stderr)
    assert "s3cret" not in result.stderr
    assert "PLANPULSE_DATABASE_URL" in result.stderr


def test_after_db_upgrade_the_commands_work(run: Run, elsewhere: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    created = run("token", "create", "--role", "admin", "--name", "ana")
    assert created.exit_code == 0, created.stderr
    assert created.stdout.startswith("pp_")
    imported = run("import", str(BUNDLED))
    assert imported.exit_code == 0, imported.stderr
    exported = run("export", "2018-2020")
    assert exported.exit_code == 0, exported.stderr
    assert "L3M3D2" in exported.stdout


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_after_db_upgrade_the_commands_work_on_postgresql(
        run: Run, empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPULSE_DATABASE_URL", empty_database_url)
    assert run("token", "list").exit_code == 2
    assert run("db", "upgrade").exit_code == 0
    created = run("token", "create", "--role", "admin", "--name", "ana")
    assert created.exit_code == 0, created.stderr
    assert run("import", str(BUNDLED)).exit_code == 0
    assert "L3M3D2" in run("export", "2018-2020").stdout
