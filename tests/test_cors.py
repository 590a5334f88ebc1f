"""Browsers on another origin: PLANPULSE_CORS_ORIGINS lets the pages of the listed sites call
the API; every answer to them carries the CORS headers, the early ones included."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine

from app.main import create_app
from app.settings import Settings, get_settings
from tests.conftest import make_client

M = "/api/v1/mandates/2018-2020"
ALLOWED = "https://dash.example"
OTHER = "https://elsewhere.example"
STATUS_CHANGE = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, if-match, content-type"}


@pytest.fixture
def cors(engine: Engine, metropolis: None) -> Iterator[TestClient]:
    with make_client(engine, cors_origins=f"{ALLOWED}, https://b.example:8443") as client:
        yield client


def _cors_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in headers.items()
            if name.lower().startswith("access-control-allow-")}


def test_an_allowed_origin_reads_the_progress_and_its_etag(cors: TestClient) -> None:
    answer = cors.get(f"{M}/progress", headers={"Origin": ALLOWED})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "ETag" in answer.headers["access-control-expose-headers"].split(", ")
    assert "Origin" in answer.headers["vary"]
    assert "access-control-allow-credentials" not in answer.headers


def test_a_304_answered_before_routing_carries_the_headers(cors: TestClient) -> None:
    etag = cors.get(f"{M}/progress", headers={"Origin": ALLOWED}).headers["etag"]
    again = cors.get(f"{M}/progress", headers={"Origin": ALLOWED, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["access-control-allow-origin"] == ALLOWED
    assert again.headers["etag"] == etag


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", f"{M}/deliverables/NOPE", 404),
    ("POST", f"{M}/deliverables/L2M10D1/status", 401),
])
def test_errors_carry_the_headers(cors: TestClient, method: str, path: str,
                                  status: int) -> None:
    answer = cors.request(method, path, json={"status": "completed"},
                          headers={"Origin": ALLOWED})
    assert answer.status_code == status
    assert answer.headers["access-control-allow-origin"] == ALLOWED


def test_a_body_too_large_is_refused_with_the_headers(engine: Engine, metropolis: None,
                                                      editor: dict[str, str]) -> None:
    with make_client(engine, cors_origins=ALLOWED, max_body_bytes=100) as client:
        answer = client.post(f"{M}/deliverables/L2M10D1/status", content=b"x" * 500,
                             headers={**editor, "Origin": ALLOWED,
                                      "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.headers["access-control-allow-origin"] == ALLOWED


def test_a_status_change_is_preflighted(cors: TestClient) -> None:
    answer = cors.options(f"{M}/deliverables/L2M10D1/status", headers=STATUS_CHANGE)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    methods = answer.headers["access-control-allow-methods"].split(", ")
    assert {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} <= set(methods)
    allowed = answer.headers["access-control-allow-headers"].lower().split(", ")
    assert {"authorization", "content-type", "if-match", "if-none-match",
            "idempotency-key"} <= set(allowed)
    assert answer.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in answer.headers


def test_the_second_origin_of_the_list_is_allowed_too(cors: TestClient) -> None:
    second = "https://b.example:8443"
    answer = cors.get(f"{M}/progress", headers={"Origin": second})
    assert answer.headers["access-control-allow-origin"] == second


def test_another_origin_is_not_allowed(cors: TestClient) -> None:
    read = cors.get(f"{M}/progress", headers={"Origin": OTHER})
    assert read.status_code == 200
    assert _cors_headers(dict(read.headers)) == {}
    preflight = cors.options(f"{M}/deliverables/L2M10D1/status",
                             headers={**STATUS_CHANGE, "Origin": OTHER})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


def test_by_default_no_cors_at_all(client: TestClient, metropolis: None) -> None:
    read = client.get(f"{M}/progress", headers={"Origin": ALLOWED})
    assert read.status_code == 200
    assert not [name for name in read.headers if name.lower().startswith("access-control-")]
    preflight = client.options(f"{M}/deliverables/L2M10D1/status", headers=STATUS_CHANGE)
    assert preflight.status_code == 405


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANPULSE_CORS_ORIGINS",
                       " https://a.example, HTTPS://B.Example:443,http://127.0.0.1:8080,")
    assert Settings().cors_origins == ("https://a.example", "https://b.example",
                                       "http://127.0.0.1:8080")
    monkeypatch.setenv("PLANPULSE_CORS_ORIGINS", "")
    assert Settings().cors_origins == ()


@pytest.mark.parametrize("origin", [
    "https://a.example/", "https://a.example/app", "a.example", "ftp://a.example",
    "https://a.example?x=1", "https://user@a.example", "https://a.example:99999", "*",
    "https://",
])
def test_a_malformed_origin_stops_the_start(monkeypatch: pytest.MonkeyPatch,
                                            origin: str) -> None:
    monkeypatch.setenv("PLANPULSE_CORS_ORIGINS", f"https://ok.example, {origin}")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationError) as refused:
            create_app()  # as `planpulse serve` builds it: the settings from the environment
    finally:
        get_settings.cache_clear()
    assert "PLANPULSE_CORS_ORIGINS" in str(refused.value)
    assert repr(origin) in str(refused.value)


def test_an_unexpected_error_is_readable_by_an_allowed_origin_only(cors: TestClient) -> None:
    def fail() -> None:
        raise RuntimeError("a bug")

    cors.app.add_api_route("/api/v1/fails", fail)  # type: ignore[attr-defined]
    failed = cors.get("/api/v1/fails", headers={"Origin": ALLOWED})
    assert failed.status_code == 500
    assert failed.headers["access-control-allow-origin"] == ALLOWED
    assert "a bug" not in failed.text
    other = cors.get("/api/v1/fails", headers={"Origin": OTHER})
    assert other.status_code == 500 and _cors_headers(dict(other.headers)) == {}
