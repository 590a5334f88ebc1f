"""The OpenAPI document as third-party tools read it: Redocly's linter, openapi-typescript
with the TypeScript compiler, and openapi-python-client running the staff flow.

The tools are the ones pinned in clients/ (package.json and package-lock.json; the Python
generator's version below), installed there on first use: npm's registry and PyPI must
answer then. Where npm or a registry is missing the tests are skipped with the reason,
unless ``PLANPULSE_TEST_REQUIRE_CLIENTS=1`` (as in .ci/run), which turns the skip into a
failure.
"""

import fcntl
import importlib
import json
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.api.openapi import published_document
from app.models import Role
from tests.conftest import make_client
from tests.helpers import new_token

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "clients"
NODE_BIN = CLIENTS / "node_modules" / ".bin"
PUBLISHED_TYPES = ROOT / "docs" / "planpulse-api.d.ts"
PYTHON_GENERATOR = "openapi-python-client==0.29.1"
REQUIRE_CLIENTS = os.environ.get("PLANPULSE_TEST_REQUIRE_CLIENTS") == "1"
M = "2018-2020"


def _unavailable(reason: str) -> None:
    if REQUIRE_CLIENTS:
        pytest.fail(reason)
    pytest.skip(reason)


def _run(*command: str | Path, cwd: Path = ROOT, timeout: int = 300
         ) -> subprocess.CompletedProcess[str]:
    # The test environment's own tools (ruff, which the Python generator formats with) first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False, env={**os.environ, "PATH": path})


@contextmanager
def _one_installer(name: str) -> Iterator[None]:
    """One test process installs at a time (the suite runs in several)."""
    with open(CLIENTS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """clients/node_modules/.bin, installed from the lock file if it is not there yet."""
    if shutil.which("npm") is None:
        _unavailable("npm is not installed: the OpenAPI client checks need Node.js")
    with _one_installer("npm"):
        if not (NODE_BIN / "tsc").exists():
            installed = _run("npm", "ci", "--no-audit", "--no-fund", cwd=CLIENTS)
            if installed.returncode != 0:
                _unavailable(f"npm ci in clients/ failed:\n{installed.stderr[-2000:]}")
    return NODE_BIN


@pytest.fixture(scope="session")
def python_generator() -> Path:
    """openapi-python-client, in a virtualenv of its own (clients/.venv): its dependencies
    are not the service's."""
    home = CLIENTS / ".venv"
    binary = home / "bin" / "openapi-python-client"
    with _one_installer("pip"):
        if not binary.exists():
            venv.create(home, with_pip=True)
            installed = _run(home / "bin" / "python", "-m", "pip", "install", "--quiet",
                             PYTHON_GENERATOR)
            if installed.returncode != 0:
                _unavailable(f"pip could not install {PYTHON_GENERATOR}:\n"
                             f"{installed.stderr[-2000:]}")
    return binary


@pytest.fixture(scope="session")
def document_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(json.dumps(published_document()), encoding="utf-8")
    return path


def test_redocly_recommended_rules_find_nothing(node_tools: Path, document_file: Path
                                               ) -> None:
    linted = _run(node_tools / "redocly", "lint", document_file, "--format=json")
    assert linted.returncode == 0, linted.stderr[-3000:]
    totals = json.loads(linted.stdout)["totals"]
    assert totals == {"errors": 0, "warnings": 0, "ignored": 0}, linted.stdout[-3000:]


def test_the_published_typescript_types_are_current(node_tools: Path, document_file: Path,
                                                    tmp_path: Path) -> None:
    generated = tmp_path / "planpulse-api.d.ts"
    made = _run(node_tools / "openapi-typescript", document_file, "-o", generated)
    assert made.returncode == 0, made.stderr
    assert generated.read_text() == PUBLISHED_TYPES.read_text(), (
        "docs/planpulse-api.d.ts is not what the served document gives: run clients/generate")


def test_a_typed_client_compiles_against_the_types(node_tools: Path) -> None:
    compiled = _run(node_tools / "tsc", "-p", CLIENTS / "tsconfig.json")
    assert compiled.returncode == 0, compiled.stdout[-3000:]


def test_the_types_refuse_a_status_that_does_not_exist(node_tools: Path) -> None:
    """The compile above can fail: the same types catch a status the API does not know."""
    wrong = CLIENTS / "node_modules" / "wrong-status.ts"
    wrong.write_text('import type { components } from "../../docs/planpulse-api";\n'
                     'export const change: components["schemas"]["StatusChangeIn"] = '
                     '{ status: "finished" };\n')
    compiled = _run(node_tools / "tsc", "--noEmit", "--strict", wrong)
    assert compiled.returncode != 0
    assert '"finished"' in compiled.stdout


@pytest.fixture(scope="session")
def python_client(python_generator: Path, document_file: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The package openapi-python-client generates, imported; its output, for the warnings."""
    out = tmp_path_factory.mktemp("python-client")
    made = _run(python_generator, "generate", "--path", document_file, "--meta", "none",
                "--output-path", out / "planpulse_client",
                "--config", CLIENTS / "python-client.yaml")
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(out))
    try:
        yield made
    finally:
        sys.path.remove(str(out))


def test_the_python_client_is_generated_without_a_warning(python_client: object) -> None:
    output = python_client.stdout + python_client.stderr  # type: ignore[attr-defined]
    assert "warning" not in output.lower(), output


def test_the_staff_flow_runs_through_the_generated_python_client(
        python_client: object, engine: Engine, metropolis: None) -> None:
    api = importlib.import_module("planpulse_client.api.deliverables")
    progress_api = importlib.import_module("planpulse_client.api.progress")
    models = importlib.import_module("planpulse_client.models")
    client_module = importlib.import_module("planpulse_client.client")
    for name in ("get_deliverable", "change_deliverable_status", "change_deliverable_statuses",
                 "get_deliverable_history"):
        importlib.import_module(f"planpulse_client.api.deliverables.{name}")
    importlib.import_module("planpulse_client.api.progress.get_mandate_progress")

    secret = new_token(engine, Role.editor)
    with make_client(engine) as http:
        http.headers["Authorization"] = f"Bearer {secret}"
        client = client_module.AuthenticatedClient(base_url="http://testserver", token=secret)
        client.set_httpx_client(http)

        progress = progress_api.get_mandate_progress.sync_detailed(M, client=client)
        assert progress.status_code == 200
        before = progress.parsed.totals.progress

        read = api.get_deliverable.sync_detailed(M, "L3M3D2", client=client)
        assert read.status_code == 200 and read.parsed.code == "L3M3D2"
        etag = read.headers["etag"]

        stale = api.change_deliverable_status.sync_detailed(
            M, "L3M3D2", client=client, if_match='"0.0"',
            body=models.StatusChangeIn(status=models.Status.COMPLETED))
        assert stale.status_code == 412
        assert isinstance(stale.parsed, models.StaleProblem)
        assert stale.parsed.etag == etag

        changed = api.change_deliverable_status.sync_detailed(
            M, "L3M3D2", client=client, if_match=etag,
            body=models.StatusChangeIn(status=models.Status.COMPLETED,
                                       note="Signed off at the Board meeting"))
        assert changed.status_code == 200, changed.content
        assert changed.parsed.status == models.Status.COMPLETED
        assert changed.headers["etag"] != etag

        batch = api.change_deliverable_statuses.sync_detailed(
            M, client=client, body=models.BatchStatusIn(changes=[models.BatchItem(
                code="L3M3D2", if_match=changed.headers["etag"],
                status=models.Status.IN_PROGRESS)]))
        assert batch.status_code == 200, batch.content
        assert [item.outcome for item in batch.parsed.results] == ["applied"]

        history = api.get_deliverable_history.sync_detailed(M, "L3M3D2", client=client)
        assert history.status_code == 200
        assert [entry.to_status.value for entry in history.parsed.data[:2]] == [
            "in_progress", "completed"]

        after = progress_api.get_mandate_progress.sync_detailed(M, client=client)
        assert after.parsed.totals.progress > before
