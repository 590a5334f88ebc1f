"""Staff change statuses and fields: recorded, versioned, traceable, never lost."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app as cli
from app.errors import PreconditionFailed
from app.models import ApiToken, Deliverable, Role, Status, StatusChange
from app.services.plan.bundled import bundled_plan
from app.services.plan.deliverables import etag, find_row
from app.services.plan.importer import import_plan
from app.services.status.decision import StatusUpdate
from tests.helpers import auth, new_token, set_status

M = "/api/v1/mandates/2018-2020"


def _etag(client: TestClient, code: str) -> str:
    return client.get(f"{M}/deliverables/{code}").headers["etag"]


def _post(client: TestClient, code: str, body: dict[str, Any], headers: dict[str, str],
          if_match: str | None = None) -> Any:
    extra = {"If-Match": if_match if if_match is not None else _etag(client, code)}
    return client.post(f"{M}/deliverables/{code}/status", json=body, headers={**headers, **extra})


@pytest.mark.usefixtures("metropolis")
def test_status_change_is_recorded_with_who_why_and_evidence(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    before = client.get(f"{M}/progress").json()["totals"]
    response = _post(client, "L3M3D2", {
        "status": "in_progress", "percent_complete": 60, "note": "Partners mapped in 3 regions",
        "evidence_url": "https://example.org/mapping.xlsx", "effective_at": "2021-01-15"},
        tokens["editor"])
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["percent_complete"], body["version"]) == ("in_progress", 60, 2)
    assert response.headers["etag"] == _etag(client, "L3M3D2") != '"0.1"'

    latest = client.get(f"{M}/deliverables/L3M3D2/history").json()["data"][0]
    assert latest["changed_by"] == "editor-ana"
    assert (latest["from_status"], latest["to_status"]) == ("not_started", "in_progress")
    assert latest["note"] == "Partners mapped in 3 regions"
    assert latest["evidence_url"] == "https://example.org/mapping.xlsx"
    assert latest["effective_at"] == "2021-01-15T00:00:00Z"
    assert latest["recorded_at"] > "2025"
    feed = client.get(f"{M}/activity").json()["data"][0]
    assert (feed["deliverable"], feed["changed_by"], feed["note"]) == (
        "L3M3D2", "editor-ana", "Partners mapped in 3 regions")
    after = client.get(f"{M}/progress").json()["totals"]
    assert after["by_status"]["in_progress"] == before["by_status"]["in_progress"] + 1
    assert after["progress"] == round((50 + 0.5 + 0.5 + 0.6) / 65, 4)


@pytest.mark.usefixtures("metropolis")
def test_effective_at_defaults_to_now_and_may_not_be_in_the_future(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    refused = _post(client, "L3M3D2", {"status": "completed", "effective_at": tomorrow},
                    tokens["editor"])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "effective_at"
    assert client.get(f"{M}/deliverables/L3M3D2").json()["status"] == "not_started"

    assert _post(client, "L3M3D2", {"status": "completed"}, tokens["editor"]).status_code == 200
    latest = client.get(f"{M}/deliverables/L3M3D2/history").json()["data"][0]
    assert latest["effective_at"] == latest["recorded_at"]


@pytest.mark.usefixtures("metropolis")
def test_setting_the_same_state_records_nothing(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    etag = _etag(client, "L1M1D1")
    response = _post(client, "L1M1D1", {"status": "completed"}, tokens["editor"], etag)
    assert response.status_code == 200
    assert response.headers["etag"] == etag
    assert client.get(f"{M}/deliverables/L1M1D1/history").json()["count"] == 1


@pytest.mark.usefixtures("metropolis")
def test_missing_and_stale_if_match(client: TestClient, tokens: dict[str, dict[str, str]]
                                    ) -> None:
    missing = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                          headers=tokens["editor"])
    assert missing.status_code == 428
    stale = _etag(client, "L3M3D2")
    assert _post(client, "L3M3D2", {"status": "in_progress"}, tokens["editor"]).status_code == 200
    refused = _post(client, "L3M3D2", {"status": "completed"}, tokens["editor"], stale)
    assert refused.status_code == 412
    assert refused.json()["current"]["status"] == "in_progress"
    assert refused.json()["etag"] == _etag(client, "L3M3D2")
    assert client.get(f"{M}/deliverables/L3M3D2/history").json()["count"] == 2


@pytest.mark.usefixtures("metropolis")
def test_a_retry_with_the_same_idempotency_key_records_once(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    etag = _etag(client, "L3M3D2")
    headers = {**tokens["editor"], "If-Match": etag, "Idempotency-Key": "board-2020-11-1"}
    first = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                        headers=headers)
    retry = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                        headers=headers)
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert client.get(f"{M}/deliverables/L3M3D2/history").json()["count"] == 2
    reused = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "not_started"},
                         headers=headers)
    assert reused.status_code == 409


@pytest.mark.usefixtures("metropolis")
def test_an_idempotency_key_belongs_to_the_caller_who_sent_it(
    engine: Engine, client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """Two editors whose clients happen to pick the same key: the second one's request is
    carried out for them, not answered with the first one's stored answer."""
    path = f"{M}/deliverables/L3M3D2/status"
    ana = {**tokens["editor"], "Idempotency-Key": "board-2020-11-1"}
    ben = {**auth(new_token(engine, Role.editor, "editor-ben")),
           "Idempotency-Key": "board-2020-11-1"}
    first = client.post(path, json={"status": "completed"},
                        headers={**ana, "If-Match": _etag(client, "L3M3D2")})
    assert first.status_code == 200, first.text
    # Meanwhile it is set back in progress, so Ben's "completed" is a change of its own.
    assert _post(client, "L3M3D2", {"status": "in_progress"}, tokens["editor"]
                 ).status_code == 200
    theirs = client.post(path, json={"status": "completed"},
                         headers={**ben, "If-Match": _etag(client, "L3M3D2")})
    assert theirs.status_code == 200, theirs.text
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["version"] == first.json()["version"] + 2
    assert theirs.headers["etag"] == _etag(client, "L3M3D2") != first.headers["etag"]
    history = client.get(f"{M}/deliverables/L3M3D2/history").json()["data"]
    assert [(e["to_status"], e["changed_by"]) for e in history[:3]] == [
        ("completed", "editor-ben"), ("in_progress", "editor-ana"), ("completed", "editor-ana")]
    # Each one's retry replays their own answer.
    again = client.post(path, json={"status": "completed"},
                        headers={**ben, "If-Match": theirs.headers["etag"]})
    assert (again.headers["idempotent-replayed"], again.json()) == ("true", theirs.json())
    replayed = client.post(path, json={"status": "completed"},
                           headers={**ana, "If-Match": theirs.headers["etag"]})
    assert (replayed.headers["idempotent-replayed"], replayed.json()) == ("true", first.json())
    assert client.get(f"{M}/deliverables/L3M3D2/history").json()["count"] == 4


@pytest.mark.usefixtures("metropolis")
def test_patch_fields_by_role_versioned_and_recorded(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    etag = _etag(client, "L1M3D2")
    response = client.patch(
        f"{M}/deliverables/L1M3D2",
        json={"owner": "Gender team", "due_date": "2020-12-31", "tags": ["gender", "events"],
              "weight": 2, "note": "assigned at the Board"},
        headers={**tokens["editor"], "If-Match": etag})
    assert response.status_code == 200
    body = response.json()
    assert (body["owner"], body["due_date"], body["tags"], body["weight"], body["version"]) == (
        "Gender team", "2020-12-31", ["events", "gender"], 2, 2)
    title = client.patch(f"{M}/deliverables/L1M3D2", json={"title": "Parity"},
                         headers={**tokens["editor"], "If-Match": response.headers["etag"]})
    assert title.status_code == 403
    title = client.patch(f"{M}/deliverables/L1M3D2", json={"title": "Parity", "owner": None},
                         headers={**tokens["admin"], "If-Match": response.headers["etag"]})
    assert title.status_code == 200
    assert (title.json()["title"], title.json()["owner"]) == ("Parity", None)
    edits = [e for e in client.get(f"{M}/activity").json()["data"] if e["kind"] == "edit"]
    assert [e["changed_by"] for e in edits] == ["admin-ana", "editor-ana"]
    assert edits[1]["changes"]["owner"] == {"from": None, "to": "Gender team"}
    assert edits[1]["note"] == "assigned at the Board"
    assert edits[0]["changes"]["title"]["to"] == "Parity"


@pytest.mark.usefixtures("metropolis")
def test_batch_applies_all_or_nothing(client: TestClient, tokens: dict[str, dict[str, str]]
                                      ) -> None:
    good = [{"code": code, "if_match": _etag(client, code), "status": "completed"}
            for code in ("L3M3D2", "L3M3D3")]
    stale = {"code": "L3M4D1", "if_match": '"1.1"', "status": "completed"}
    refused = client.post(f"{M}/deliverables:batch-status", json={"changes": [*good, stale]},
                          headers=tokens["editor"])
    assert refused.status_code == 409
    outcomes = [(r["code"], r["outcome"], r["status"]) for r in refused.json()["results"]]
    assert outcomes == [("L3M3D2", "not_applied", 200), ("L3M3D3", "not_applied", 200),
                        ("L3M4D1", "failed", 412)]
    assert client.get(f"{M}/deliverables", params={"status": "completed"}).json()["count"] == 50

    applied = client.post(f"{M}/deliverables:batch-status", json={"changes": good},
                          headers=tokens["editor"])
    assert applied.status_code == 200
    assert [r["outcome"] for r in applied.json()["results"]] == ["applied", "applied"]
    assert client.get(f"{M}/deliverables", params={"status": "completed"}).json()["count"] == 52


@pytest.mark.usefixtures("metropolis")
def test_history_is_newest_first_and_paginated(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    for status in ("in_progress", "not_achieved", "completed"):
        assert _post(client, "L3M3D2", {"status": status}, tokens["editor"]).status_code == 200
    page = client.get(f"{M}/deliverables/L3M3D2/history", params={"limit": 2}).json()
    assert page["count"] == 4
    assert [e["to_status"] for e in page["data"]] == ["completed", "not_achieved"]
    rest = client.get(f"{M}/deliverables/L3M3D2/history", params={"offset": 2}).json()
    assert [e["to_status"] for e in rest["data"]] == ["in_progress", "not_started"]


@pytest.mark.usefixtures("metropolis")
def test_activity_filters_by_author_and_time(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    start = datetime.now(UTC).isoformat()
    assert _post(client, "L3M3D2", {"status": "completed"}, tokens["editor"]).status_code == 200
    assert _post(client, "L3M3D3", {"status": "completed"}, tokens["admin"]).status_code == 200
    recent = client.get(f"{M}/activity", params={"since": start}).json()
    assert [e["deliverable"] for e in recent["data"]] == ["L3M3D3", "L3M3D2"]
    by_editor = client.get(f"{M}/activity", params={"by": "editor-ana"}).json()
    assert [e["deliverable"] for e in by_editor["data"]] == ["L3M3D2"]
    assert client.get(f"{M}/activity").json()["count"] == 67


@pytest.mark.usefixtures("metropolis")
def test_change_status_service_refuses_a_lost_update(session: Session) -> None:
    """The rule holds without HTTP: a write based on an old version is refused."""
    first = etag(find_row(session, mandate="2018-2020", code="L3M3D2").deliverable)
    set_status(session, "L3M3D2", StatusUpdate(status=Status.completed), if_match=first)
    with pytest.raises(PreconditionFailed):
        set_status(session, "L3M3D2", StatusUpdate(status=Status.not_started), actor="ben",
                   if_match=first)
    assert find_row(session, mandate="2018-2020", code="L3M3D2").deliverable.status == (
        "completed")


@pytest.mark.usefixtures("metropolis")
def test_admin_actions_go_to_the_audit_log(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    created = client.post("/api/v1/tokens", json={"name": "dashboard", "role": "viewer"},
                          headers=tokens["admin"])
    assert created.status_code == 201
    assert created.json()["token"].startswith("pp_")
    assert client.delete("/api/v1/tokens/dashboard", headers=tokens["admin"]).status_code == 204
    assert client.get(M, headers=auth(created.json()["token"])).status_code == 401
    plan = client.get(f"{M}/plan", headers={"Accept": "application/yaml"}).text
    changed = plan.replace("status: not_started", "status: completed", 1)
    assert client.put(f"{M}/plan", content=changed.encode(), headers={
        **tokens["admin"], "Content-Type": "application/yaml"}).status_code == 200
    log = client.get("/api/v1/audit", headers=tokens["admin"]).json()
    assert [(e["actor"], e["action"], e["target"]) for e in log["data"]] == [
        ("admin-ana", "plan.import", "2018-2020"),
        ("admin-ana", "token.revoke", "dashboard"),
        ("admin-ana", "token.create", "dashboard"),
    ]
    assert client.get("/api/v1/audit", headers=tokens["editor"]).status_code == 403


def test_token_cli_prints_the_token_alone_and_stores_only_its_hash(
    cli_runner: CliRunner, engine: Engine, client: TestClient
) -> None:
    result = cli_runner.invoke(cli, ["token", "create", "--role", "editor", "--name", "ana",
                                     "--expires-in", "30"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("pp_") and len(secret) >= 3 + 43 and "\n" not in secret
    with Session(engine) as session:
        stored = session.execute(select(ApiToken)).scalar_one()
    assert secret not in (stored.token_hash, stored.name)
    assert stored.expires_at is not None
    listing = cli_runner.invoke(cli, ["token", "list"])
    assert "ana\teditor\texpires" in listing.stdout and secret not in listing.stdout
    assert cli_runner.invoke(cli, ["token", "create", "--role", "editor", "--name", "ana"]
                             ).exit_code == 1
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    etag = client.get(f"{M}/deliverables/L3M3D2").headers["etag"]
    ok = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "completed"},
                     headers={**auth(secret), "If-Match": etag})
    assert ok.status_code == 200
    assert cli_runner.invoke(cli, ["token", "revoke", "ana"]).exit_code == 0
    refused = client.post(f"{M}/deliverables/L3M3D2/status", json={"status": "not_started"},
                          headers={**auth(secret), "If-Match": ok.headers["etag"]})
    assert refused.status_code == 401
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(StatusChange).where(
            StatusChange.changed_by == "ana")).scalar_one() == 1
        assert session.execute(select(Deliverable.status).where(
            Deliverable.code == "L3M3D2")).scalar_one() == "completed"
