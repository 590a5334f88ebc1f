"""HTTP semantics every route shares: HEAD for every GET, WWW-Authenticate on 401, one
paging on every list, and the dashboard pages' errors as HTML for browsers."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Role
from tests.conftest import make_client
from tests.helpers import auth, load, new_token, small_plan

M = "/api/v1/mandates/2018-2020"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


# HEAD --------------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize("path", [
    "/api/v1/mandates", M, f"{M}/deliverables", f"{M}/deliverables/L1M1D1", f"{M}/indicators",
    f"{M}/progress", f"{M}/plan", "/", "/mandates/2018-2020", "/badge/2018-2020.svg",
    "/healthz", "/readyz", "/openapi.json",
])
def test_head_answers_as_get_without_a_body(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content)
    assert head.headers.get("etag") == got.headers.get("etag")


@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize("path", [f"{M}/indicators",
                                  f"{M}/progress", "/badge/2018-2020.svg"])
def test_conditional_head_is_a_304(client: TestClient, path: str) -> None:
    etag = client.get(path).headers["etag"]
    for _ in range(2):  # the second progress HEAD is answered early, by AnswerAgain
        head = client.head(path, headers={"If-None-Match": etag})
        assert head.status_code == 304
        assert head.content == b""
        assert head.headers["etag"] == etag


@pytest.mark.usefixtures("metropolis")
def test_head_of_a_repeated_progress_read_has_no_body(client: TestClient) -> None:
    first = client.get(f"{M}/progress")
    head = client.head(f"{M}/progress")  # from AnswerAgain's cache
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == first.headers["etag"]


def test_head_of_an_unknown_mandate_is_a_404_without_body(client: TestClient) -> None:
    head = client.head("/api/v1/mandates/nope")
    assert head.status_code == 404
    assert head.content == b""
    assert head.headers["content-type"] == "application/problem+json"


def test_openapi_lists_no_head_operations(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert not [path for path, item in document["paths"].items() if "head" in item]
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


# WWW-Authenticate --------------------------------------------------------------------------

def test_401_without_a_token_names_the_bearer_scheme(client: TestClient) -> None:
    answer = client.get("/api/v1/tokens")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="planpulse"'


@pytest.mark.parametrize("secret", ["pp_not-a-token", "revoked", "expired"])
def test_401_for_a_bad_token_says_invalid_token(client: TestClient, engine: Engine,
                                                session: Session, secret: str) -> None:
    if secret in {"revoked", "expired"}:
        from datetime import timedelta

        from app.models import ApiToken
        from app.models.types import utcnow
        from app.services.access import tokens

        made = new_token(engine, Role.admin, secret)
        token = session.query(ApiToken).filter_by(name=secret).one()
        if secret == "revoked":
            tokens.revoke_token(session, name=secret)
        else:
            token.expires_at = utcnow() - timedelta(days=1)
        session.commit()
        secret = made
    answer = client.get("/api/v1/tokens", headers=auth(secret))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == \
        'Bearer realm="planpulse", error="invalid_token"'


def test_401_for_a_malformed_header_says_invalid_request(client: TestClient) -> None:
    answer = client.get("/api/v1/tokens", headers={"Authorization": "Basic abc"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == \
        'Bearer realm="planpulse", error="invalid_request"'


def test_401_of_a_write_and_of_private_reads(engine: Engine) -> None:
    with make_client(engine, public_read=False) as private:
        for answer in (private.get("/api/v1/mandates"), private.get("/mandates/x"),
                       private.get(f"{M}/progress"),
                       private.post(f"{M}/deliverables/L1M1D1/status",
                                    json={"status": "completed"})):
            assert answer.status_code == 401
            assert answer.headers["www-authenticate"].startswith('Bearer realm="planpulse"')


# Paging ------------------------------------------------------------------------------------

def _list(client: TestClient, path: str, headers: dict[str, str], **params: Any
          ) -> dict[str, Any]:
    answer = client.get(path, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"data", "count", "limit", "offset"}
    return body


LISTS = {"mandates": "/api/v1/mandates", "indicators": f"{M}/indicators",
         "tokens": "/api/v1/tokens"}
KEY = {"mandates": "code", "indicators": "code", "tokens": "name"}


@pytest.mark.usefixtures("metropolis", "other_org")
@pytest.mark.parametrize("kind", list(LISTS))
def test_every_list_pages_with_limit_and_offset(client: TestClient, kind: str,
                                                admin: dict[str, str]) -> None:
    path = LISTS[kind]
    whole = _list(client, path, admin, limit=500)
    total = whole["count"]
    assert total >= 2 and len(whole["data"]) == total
    keys = [item[KEY[kind]] for item in whole["data"]]
    first = _list(client, path, admin, limit=1)
    assert (first["count"], first["limit"], first["offset"]) == (total, 1, 0)
    assert [item[KEY[kind]] for item in first["data"]] == keys[:1]
    second = _list(client, path, admin, limit=1, offset=1)
    assert [item[KEY[kind]] for item in second["data"]] == keys[1:2]
    beyond = _list(client, path, admin, limit=total + 10)
    assert (len(beyond["data"]), beyond["count"], beyond["limit"]) == (total, total, total + 10)
    past = _list(client, path, admin, limit=5, offset=total)
    assert (past["data"], past["count"], past["limit"], past["offset"]) == ([], total, 5, total)
    default = _list(client, path, admin)  # every item, as before the lists took a limit
    assert (len(default["data"]), default["count"], default["limit"], default["offset"]) == (
        total, total, 500, 0)
    assert client.get(path, params={"limit": 0}, headers=admin).status_code == 422


def test_empty_lists_count_0_with_the_limit_asked(client: TestClient, session: Session,
                                                  engine: Engine) -> None:
    assert _list(client, "/api/v1/mandates", {}, limit=7) == {
        "data": [], "count": 0, "limit": 7, "offset": 0}
    load(session, small_plan())
    assert _list(client, "/api/v1/mandates/T-2024/indicators", {}, limit=7) == {
        "data": [], "count": 0, "limit": 7, "offset": 0}
    # The one token is the admin asking; past it, nothing.
    admin = auth(new_token(engine, Role.admin, "only"))
    assert _list(client, "/api/v1/tokens", admin, limit=3, offset=1) == {
        "data": [], "count": 1, "limit": 3, "offset": 1}


@pytest.mark.usefixtures("metropolis")
def test_indicator_pages_have_their_own_etags(client: TestClient) -> None:
    one = client.get(f"{M}/indicators", params={"limit": 1})
    two = client.get(f"{M}/indicators", params={"limit": 2})
    assert one.headers["etag"] != two.headers["etag"]
    assert client.get(f"{M}/indicators", params={"limit": 1}, headers={
        "If-None-Match": one.headers["etag"]}).status_code == 304


# The pages' errors -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/mandates/nope", "/mandates/nope/deliverables"])
def test_unknown_mandate_page_is_html_for_a_browser(client: TestClient, path: str) -> None:
    answer = client.get(path, headers=BROWSER)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Not found" in answer.text
    assert "nope" in answer.text
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("accept", ["application/json", "application/problem+json",
                                    "text/html;q=0.5, application/json"])
def test_unknown_mandate_page_is_problem_json_when_asked(client: TestClient,
                                                         accept: str) -> None:
    answer = client.get("/mandates/nope", headers={"Accept": accept})
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == 404
    assert "nope" in answer.json()["detail"]


def test_framework_errors_of_a_page_are_html_for_a_browser(engine: Engine) -> None:
    with make_client(engine, public_read=False) as private:
        refused = private.get("/mandates/x", headers=BROWSER)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("text/html")
        assert refused.headers["www-authenticate"] == 'Bearer realm="planpulse"'
    too_long = make_client(engine).get("/mandates/x", params={"tag": "x" * 201},
                                       headers=BROWSER)
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("text/html")
    assert "tag" in too_long.text


def test_page_errors_are_documented_as_html_and_problem_json(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/", "/mandates/{mandate}", "/mandates/{mandate}/deliverables"):
        for code in ("401", "403", "404", "422"):
            content = paths[path]["get"]["responses"][code]["content"]
            assert content["text/html"]["schema"] == {"type": "string"}
            assert "$ref" in content["application/problem+json"]["schema"]
