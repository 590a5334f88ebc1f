"""The README and docs/api.md stay true: their command table is the command line's, their
status-change example is what a fresh database serves, and they point only at files in the
repository."""

import re
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.core import TyperGroup

from app import conditional, migrate
from app.cli import app as cli
from app.db import build_engine, unit_of_work
from app.main import create_app
from app.models import Role
from app.services.plan.bundled import load_bundled_plan_if_empty
from app.settings import Settings
from tests.helpers import auth, new_token

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
API_DOC = ROOT / "docs" / "api.md"
BACKENDS = ["sqlite", "postgresql"]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _command_table() -> set[str]:
    """The commands the README's "Command line" table names, e.g. ``token create``."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Command line\n"):]
    section = section[:section.index("\n## ", 1)]
    first_cells = [row.split(" | ")[0] for row in section.splitlines()
                   if row.startswith("| `planpulse ")]
    return {name for cell in first_cells
            for name in re.findall(r"`planpulse ([a-z]+(?: [a-z]+)?)", cell)}


def _commands() -> set[str]:
    """Every command of the command line, a group's as ``group command``."""
    group = typer.main.get_command(cli)
    assert isinstance(group, TyperGroup)
    names = set()
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            names |= {f"{name} {sub}" for sub in command.commands}
        else:
            names.add(name)
    return names


def test_the_readme_s_command_table_lists_every_command_and_no_other() -> None:
    assert {"check", "report", "serve", "token create", "db upgrade"} <= _commands()
    assert _command_table() == _commands()


@pytest.mark.parametrize("doc", ["README.md", "docs/api.md", "docs/ci.md"])
def test_the_docs_point_only_at_files_in_the_repository(doc: str) -> None:
    path = ROOT / doc
    text = path.read_text(encoding="utf-8")
    assert "CONTRACT.md" not in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not re.match(r"[a-z]+:", target):
            assert (path.parent / target).exists(), target


def _status_change_example() -> dict[str, str]:
    text = API_DOC.read_text(encoding="utf-8")
    found = re.search(
        r"GET /api/v1/mandates/2018-2020/deliverables/L3M3D2\n→ 200, ETag: (\"[^\"]+\")\n"
        r".*?If-Match: (\"[^\"]+\")\n.*?→ 200, ETag: (\"[^\"]+\"), the deliverable's new state",
        text, re.DOTALL)
    assert found is not None, "the status-change example of docs/api.md"
    wildcard = re.search(r"`If-Match: \*` is refused\s+with 428.*?`detail`\s+is \"(.*?)\"",
                         text, re.DOTALL)
    missing = re.search(r"A missing `If-Match` gets 428 too, with\s+\"(.*?)\"", text,
                        re.DOTALL)
    assert wildcard is not None and missing is not None, "the 428 details of docs/api.md"
    return {"read": found.group(1), "sent": found.group(2), "written": found.group(3),
            "wildcard": _flat(wildcard.group(1)), "missing": _flat(missing.group(1))}


def test_the_documented_428_details_are_the_code_s() -> None:
    example = _status_change_example()
    assert example["wildcard"] == conditional.WILDCARD_REFUSED
    assert example["missing"] == conditional.MISSING


@pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)
def test_the_status_change_example_is_what_a_fresh_database_serves(
        empty_database_url: str) -> None:
    """As ``planpulse serve`` starts on a new database: migrated, the bundled plan loaded."""
    example = _status_change_example()
    migrate.upgrade(empty_database_url)
    engine = build_engine(empty_database_url)
    try:
        with unit_of_work(engine) as session:
            load_bundled_plan_if_empty(session)
        editor = auth(new_token(engine, Role.editor, "ana"))
        path = "/api/v1/mandates/2018-2020/deliverables/L3M3D2"
        application = create_app(settings=Settings(database_url=empty_database_url),
                                 engine=engine)
        with TestClient(application) as client:
            read = client.get(path)
            assert read.status_code == 200
            assert read.headers["ETag"] == example["read"] == example["sent"]
            change = {"status": "in_progress", "percent_complete": 60,
                      "note": "Partners mapped in 3 regions",
                      "evidence_url": "https://example.org/mapping.xlsx",
                      "effective_at": "2021-01-15"}
            for if_match, detail in (("*", example["wildcard"]), (None, example["missing"])):
                headers = editor | ({"If-Match": if_match} if if_match else {})
                refused = client.post(f"{path}/status", headers=headers, json=change)
                assert refused.status_code == 428
                assert refused.json()["detail"] == detail
            written = client.post(f"{path}/status", json=change,
                                  headers=editor | {"If-Match": example["sent"]})
            assert written.status_code == 200, written.text
            assert written.headers["ETag"] == example["written"]
    finally:
        engine.dispose()
