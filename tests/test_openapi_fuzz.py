"""Property-based run of the API against its own OpenAPI document (schemathesis).

Every operation of ``/openapi.json`` is a test of its own, on SQLite and on PostgreSQL. It
gets requests generated from its documented parameters and bodies, valid and invalid, with an
admin token, against the bundled plan. Each answer must not be a 5xx, must match the schema
documented for its status (``response_schema_conformance``), and when it is an error must be
``application/problem+json`` with type, title, status and detail (the contract).

So that writes get past 404, 428 and 412 and their 200 answers are checked too, most generated
mandate codes become the bundled mandate's, most ``{code}`` path parameters a real code of the
kind the path names, and half the writes carry the resource's current ETag in ``If-Match``.

Bounded to finish well under two minutes for both backends: the schemathesis phases
"examples" and "fuzzing" only (its "coverage" phase, several hundred boundary requests per
operation, took about five minutes), ``MAX_EXAMPLES`` per operation, derandomized (the same
requests on every run while the document is the same), no Hypothesis database. The plan is
loaded once per backend; the writes of one operation's run are seen by the next ones.
Strings may hold NUL characters (schemathesis' default), as they may in a real request.
"""

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.main import create_app
from app.models import ActionLine, Deliverable, Indicator, Mandate, Measure, Role
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.settings import Settings
from tests.conftest import TEST_SETTINGS, _empty_all_tables
from tests.helpers import auth, new_token

MANDATE = "2018-2020"
MAX_EXAMPLES = 20
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# The path segment before {code} names the kind of item the code is looked up among.
KINDS: dict[str, Any] = {"deliverables": Deliverable, "action-lines": ActionLine,
                         "measures": Measure, "indicators": Indicator}


def _document_app() -> FastAPI:
    # Only /openapi.json is read from this app: its engine is never connected.
    return create_app(settings=Settings(database_url="sqlite://"))


# Loaded at collection, so that each operation is a test of its own; the requests go to the
# app of the `fuzz` fixture (one per backend), never to this one.
schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app())
schema.config.generation.update(max_examples=MAX_EXAMPLES)
schema.config.phases.update(phases=["examples", "fuzzing"])


@dataclass(frozen=True)
class Fuzz:
    engine: Engine
    app: FastAPI
    client: TestClient
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fuzz(shared_engine: Engine) -> Iterator[Fuzz]:
    """The app over one backend's database, holding the bundled plan, and an admin token.

    Module-scoped so that the plan is loaded once per backend; the tables are emptied at the
    end, as the function-scoped ``engine`` fixture would."""
    _empty_all_tables(shared_engine)
    with Session(shared_engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    headers = auth(new_token(shared_engine, Role.admin, name="fuzz-admin"))
    app = create_app(settings=Settings(database_url=str(shared_engine.url), **TEST_SETTINGS),
                     engine=shared_engine)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Fuzz(shared_engine, app, client, headers)
    finally:
        _empty_all_tables(shared_engine)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any, fuzz: Fuzz) -> None:
    aim_at_real_data(case, fuzz)
    response = case.call(app=fuzz.app, headers=fuzz.headers)
    case.validate_response(response, checks=[not_a_server_error,
                                             response_schema_conformance])
    if response.status_code >= 400:
        assert_problem_details(case, response)


def assert_problem_details(case: Any, response: Any) -> None:
    """The contract: every error is application/problem+json with type/title/status/detail."""
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    content_type = response.headers.get("content-type", "")
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/problem+json"), f"{where}: {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), f"{where}: {response.text[:300]}"
    missing = {"type", "title", "status", "detail"} - body.keys()
    assert not missing, f"{where}: problem lacks {sorted(missing)}: {response.text[:300]}"
    assert body["status"] == response.status_code, f"{where}: {response.text[:300]}"


def _pick(value: object, modulo: int) -> int:
    """A stable choice derived from a generated value (Python's hash() varies per run)."""
    return zlib.crc32(repr(value).encode()) % modulo


def aim_at_real_data(case: Any, fuzz: Fuzz) -> None:
    """Point most cases at the bundled mandate and at items that exist, and give half the
    writes the current ETag; the other cases keep their generated values."""
    path = case.path_parameters
    if not path:
        return
    if "mandate" in path and _pick(path["mandate"], 5) != 0:
        path["mandate"] = MANDATE
    kind = _kind(case.operation.path)
    if kind is not None and path.get("mandate") == MANDATE and _pick(path["code"], 5) != 0:
        codes = _codes(fuzz.engine, kind)
        if codes:
            path["code"] = codes[_pick(path["code"], len(codes))]
    if case.method.upper() in WRITES and _pick(path, 2) == 0:
        current = _current_etag(fuzz.client, case.formatted_path)
        if current is not None:
            case.headers = {**(case.headers or {}), "If-Match": current}


def _kind(path: str) -> Any:
    parts = path.split("/")
    if "{code}" not in parts:
        return None
    return KINDS.get(parts[parts.index("{code}") - 1])


def _codes(engine: Engine, model: Any) -> list[str]:
    with Session(engine) as session:
        return list(session.execute(
            select(model.code).join(Mandate, Mandate.id == model.mandate_id)
            .where(Mandate.code == MANDATE).order_by(model.code)).scalars())


def _current_etag(client: TestClient, path: str) -> str | None:
    """The ETag a GET of the resource (the path, or its parent for an action such as
    /status or /values) answers with."""
    for candidate in (path, path.rsplit("/", 1)[0]):
        response = client.get(candidate)
        if response.status_code == 200 and "etag" in response.headers:
            return response.headers["etag"]
    return None
