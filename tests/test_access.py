"""Who may do what, checked for every route of the application's own route table.

A route added without an access rule (a Reader, Editor or Admin dependency) fails here.
"""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.api.openapi import required_role
from app.main import ROUTERS
from app.models import ApiToken, Role
from app.models.types import utcnow
from tests.conftest import make_client
from tests.helpers import auth, new_token

PUBLIC_PATHS = {"/healthz", "/readyz"}
SAMPLE_PATH_VALUES = {"mandate": "2018-2020", "code": "L1M3D2", "name": "nobody",
                      "period": "2020", "webhook": "wh_nobody",
                      "delivery": "00000000-0000-0000-0000-000000000000"}
CREDENTIALS = ["none", "malformed", "unknown", "expired", "revoked", "viewer", "editor",
               "admin"]


def _routes() -> list[APIRoute]:
    routes = [route for router in ROUTERS for route in router.routes
              if isinstance(route, APIRoute)]
    assert len(routes) >= 15
    return routes


def test_every_route_declares_who_may_call_it() -> None:
    unguarded = [f"{sorted(route.methods)} {route.path}" for route in _routes()
                 if required_role(route) is None and route.path not in PUBLIC_PATHS
                 and route.include_in_schema]
    assert unguarded == []


def _expected(role: Role | None, credential: str, public_read: bool) -> set[int] | None:
    """The status codes allowed for this role and credential; None = must get through."""
    if role is None:
        return None
    if credential in {"malformed", "unknown", "expired", "revoked"}:
        return {401}
    if credential == "none":
        return None if (role == Role.viewer and public_read) else {401}
    return None if Role(credential).rank >= role.rank else {403}


@pytest.fixture
def credentials(engine: Engine, metropolis: None,
                tokens: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    expired = new_token(engine, Role.admin, "expired-admin")
    revoked = new_token(engine, Role.admin, "revoked-admin")
    with Session(engine) as session:
        session.execute(update(ApiToken).where(ApiToken.name == "expired-admin")
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.execute(update(ApiToken).where(ApiToken.name == "revoked-admin")
                        .values(revoked_at=utcnow()))
        session.commit()
    return {
        "none": {},
        "malformed": {"Authorization": "Token abc"},
        "unknown": auth("pp_not-a-token-anybody-has"),
        "expired": auth(expired),
        "revoked": auth(revoked),
        **tokens,
    }


@pytest.mark.parametrize("public_read", [True, False], ids=["public-read", "private-read"])
def test_access_matrix(engine: Engine, credentials: dict[str, dict[str, str]],
                       public_read: bool) -> None:
    mismatches: list[str] = []
    checked = 0
    with make_client(engine, public_read=public_read) as client:
        for route in _routes():
            if not route.include_in_schema:
                continue
            role = required_role(route)
            path = route.path.format(**SAMPLE_PATH_VALUES)
            for method in sorted(route.methods):
                for credential in CREDENTIALS:
                    # An empty JSON body: where access is granted the answer is a 4xx about
                    # the body or a 200, never a 401/403; where it is not, 401/403 comes first.
                    response = client.request(method, path, headers=credentials[credential],
                                              json={} if method in {"POST", "PUT", "PATCH"}
                                              else None)
                    expected = _expected(role, credential, public_read)
                    got = response.status_code
                    wrong = (got not in expected) if expected else got in {401, 403}
                    if wrong or got >= 500:
                        mismatches.append(f"{method} {path} as {credential}: {got}")
                    checked += 1
    assert mismatches == []
    assert checked >= 8 * 15


def test_reads_need_a_viewer_token_when_reads_are_private(
    engine: Engine, credentials: dict[str, Any]
) -> None:
    with make_client(engine, public_read=False) as client:
        assert client.get("/api/v1/mandates").status_code == 401
        assert client.get("/api/v1/mandates", headers=credentials["viewer"]).status_code == 200
        assert client.get("/healthz").status_code == 200
