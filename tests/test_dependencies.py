"""What the service imports at run time is what a plain install (`pip install -e .`, the
README's first command) brings: no module only the test extra installs."""

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"yaml": "pyyaml", "pydantic_settings": "pydantic-settings",
                "swagger_ui_bundle": "swagger-ui-bundle"}
"""Modules whose distribution has another name."""
BROUGHT_BY = {"starlette": "fastapi", "psycopg_pool": "psycopg"}
"""Modules a declared dependency installs with itself."""


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = set()
    for requirement in project["dependencies"]:
        name = requirement.split(";")[0].split("[")[0]
        for mark in "<>=!~ ":
            name = name.split(mark)[0]
        names.add(name.lower())
    return names


def _imported() -> set[str]:
    found = set()
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"app"}


def test_every_module_the_service_imports_is_a_declared_dependency() -> None:
    needed = {BROUGHT_BY.get(name, IMPORT_NAMES.get(name, name)).lower()
              for name in _imported()}
    assert needed - _declared() == set()
