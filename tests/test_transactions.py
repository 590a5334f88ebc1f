"""Every write is one transaction, committed before the answer leaves."""

from typing import Any

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.api.deps import CommitBeforeResponse
from app.db import DriverConnection
from app.main import ROUTERS
from app.services.status import statements
from tests.helpers import snapshot

M = "/api/v1/mandates/2018-2020"


def test_every_route_commits_before_it_answers() -> None:
    routes = [route for router in ROUTERS for route in router.routes
              if isinstance(route, APIRoute)]
    assert routes
    assert [r.path for r in routes if not isinstance(r, CommitBeforeResponse)] == []


def _etag(client: TestClient) -> str:
    return client.get(f"{M}/deliverables/L3M3D2").headers["etag"]


@pytest.mark.usefixtures("metropolis")
def test_a_commit_that_fails_is_an_error_and_nothing_is_stored(
    engine: Engine, client: TestClient, editor: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = _etag(client)
    before = snapshot(engine)

    def broken_commit(self: Session, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away at commit time")

    monkeypatch.setattr(Session, "commit", broken_commit)
    # With an Idempotency-Key the change takes the transactional path on every database.
    response = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                           headers={**editor, "If-Match": etag, "Idempotency-Key": "k1"})
    monkeypatch.undo()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["connection"] == "close"  # the server closes it: it says so
    assert "went away" not in response.text
    assert snapshot(engine) == before


@pytest.mark.usefixtures("metropolis")
def test_a_direct_write_whose_connection_is_lost_is_a_503_and_nothing_is_stored(
    engine: Engine, backend: str, client: TestClient, editor: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL's direct path commits with its one write statement: that statement
    failing (the server gone) is a 503 to retry, nothing is stored, and the connection is
    not handed out again."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no direct path")
    etag = _etag(client)
    before = snapshot(engine)
    original = DriverConnection.execute
    broken: list[Any] = []

    def server_gone_at_write(self: DriverConnection, statement: Any, parameters: Any) -> Any:
        if statement is statements.APPEND_AND_BUMP:
            broken.append(self.connection)
            raise psycopg.OperationalError("the server closed the connection (secret SQL)")
        return original(self, statement, parameters)

    monkeypatch.setattr(DriverConnection, "execute", server_gone_at_write)
    response = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                           headers={**editor, "If-Match": etag})
    monkeypatch.undo()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret SQL" not in response.text
    assert snapshot(engine) == before
    assert broken and broken[0].closed  # invalidated: the pool opens a new one
    again = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                        headers={**editor, "If-Match": etag})
    assert again.status_code == 200
