"""The same plan gives the same report offline (a plan file), over HTTP
(GET /api/v1/mandates/{mandate}/coverage) and online (``planpulse check --url``), on SQLite
and PostgreSQL; what only the service knows (history, evidence) comes from the database."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app
from app.coverage.config import Layer, merge, to_query
from app.coverage.model import Severity, ThresholdsWhen
from app.models import Role, Status
from app.schemas.plan_file import parse_plan_text
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.services.status.decision import StatusUpdate
from tests.conftest import make_client, serving
from tests.helpers import DATA, auth, new_token, set_status, statements

GAPS = DATA / "coverage-gaps.yaml"
CLEAN = DATA / "coverage-clean.yaml"
MANDATE = "CITY-2024"


@pytest.fixture(autouse=True)
def _in_a_directory_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def load_file(engine: Engine, path: Path) -> None:
    with Session(engine) as session:
        import_plan(session, plan=parse_plan_text(path.read_text(encoding="utf-8")))
        session.commit()


def check(*args: str) -> Result:
    return CliRunner().invoke(app, ["check", *args])


def three_ways(engine: Engine, live_url: str, plan: Path, *args: str
               ) -> tuple[Result, Any, Result]:
    """The report from the file, from GET .../coverage, and from check --url; the records
    rules off, as a plan file alone gives no records."""
    args = (*args, "--rule", "records=off")
    offline = check(str(plan), "--format", "json", *args)
    assert offline.exit_code in {0, 1}, offline.stderr
    sent = json.loads(offline.stdout)
    query = [("as_of", sent["as_of"]), *_query_of(sent["config"])]
    with make_client(engine) as client:
        response = client.get(f"/api/v1/mandates/{MANDATE}/coverage", params=query)
    assert response.status_code == 200, response.text
    online = check("--url", live_url, "--mandate", MANDATE, "--format", "json", *args)
    return offline, response.json(), online


def _query_of(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The query for the configuration a report was made with (what the CLI sends)."""
    layer = Layer(source="report", rules={k: Severity(v) for k, v in config["rules"].items()},
                  stale_after_days=config["stale_after_days"], themes=config["themes"],
                  thresholds=config["thresholds"],
                  thresholds_when=ThresholdsWhen(config["thresholds_when"]))
    return to_query(merge([layer]))


@pytest.mark.parametrize(("plan", "as_of", "exit_code"), [
    (GAPS, "2026-07-15", 1), (CLEAN, "2026-07-15", 0), (CLEAN, "2026-10-01", 1)],
    ids=["gaps", "clean", "clean-later"])
def test_offline_http_and_online_reports_are_identical(
        engine: Engine, live_url: str, plan: Path, as_of: str, exit_code: int) -> None:
    load_file(engine, plan)
    offline, over_http, online = three_ways(engine, live_url, plan, "--as-of", as_of)
    assert offline.exit_code == online.exit_code == exit_code, online.stderr
    assert json.loads(offline.stdout) == over_http == json.loads(online.stdout)
    if as_of == "2026-10-01":  # 93 days after the file's as_of: every open deliverable
        assert {f["item"] for f in over_http["findings"] if f["rule"] == "deliverable.stale"
                } == {"L1M1D2", "L1M2D1", "L2M1D1", "L2M2D1", "L3M1D1"}


def test_a_local_configuration_is_sent_to_the_service(engine: Engine, live_url: str,
                                                      tmp_path: Path) -> None:
    load_file(engine, GAPS)
    (tmp_path / "planpulse.toml").write_text(
        '[check]\nstale-after-days = 10\n'
        '[check.rules]\nindicator = "warning"\n"structure.code-prefix" = "off"\n'
        '[check.themes]\ngender = 0.9\nenergy = 0.2\n'
        '[check.thresholds]\nmandate-progress = 0.7\naction-line-completion-rate = 0.4\n')
    offline, over_http, online = three_ways(engine, live_url, GAPS, "--as-of", "2026-07-15",
                                            "--rule", "deliverable.overdue=off")
    report = json.loads(offline.stdout)
    assert report == over_http == json.loads(online.stdout)
    rules = {finding["rule"] for finding in report["findings"]}
    assert {"theme.coverage", "figures.mandate-below-threshold",
            "figures.action-line-below-threshold", "deliverable.stale"} <= rules
    assert not rules & {"structure.code-prefix", "deliverable.overdue"}
    assert {f["severity"] for f in report["findings"] if f["family"] == "indicator"} == {
        "warning"}


def test_every_format_online_counts_the_same_findings(engine: Engine, live_url: str) -> None:
    load_file(engine, GAPS)
    for fmt in ("junit", "github", "text"):
        same = ("--as-of", "2026-07-15", "--format", fmt, "--rule", "records=off")
        offline = check(str(GAPS), *same)
        online = check("--url", live_url, "--mandate", MANDATE, *same)
        assert online.exit_code == offline.exit_code == 1
        if fmt == "junit":
            assert '<testsuites name="planpulse check" tests="' in online.stdout
            assert 'failures="12"' in online.stdout.splitlines()[1]
        if fmt == "github":
            assert sum(line.startswith("::") for line in online.stdout.splitlines()) == 12
            assert "file=" not in online.stdout  # no file on the service's side
        if fmt == "text":  # the same but for the header and the file's lines
            located = re.compile(rf"^  {re.escape(str(GAPS))}:\d+: ", re.MULTILINE)
            assert located.sub("  ", offline.stdout).splitlines()[1:] == (
                online.stdout.splitlines()[1:])


def test_staleness_and_evidence_come_from_the_status_history(engine: Engine) -> None:
    load_file(engine, CLEAN)
    backdated = datetime(2026, 7, 10, 12, tzinfo=UTC)
    with Session(engine) as session:
        for code, update in [
            ("L2M1D1", StatusUpdate(status=Status.completed, evidence_url="https://example.org/r",
                                    effective_at=backdated)),
            ("L3M1D1", StatusUpdate(status=Status.in_progress, percent_complete=90,
                                    effective_at=backdated)),
        ]:
            set_status(session, code, update, actor="test", mandate=MANDATE)
        session.commit()
    with make_client(engine) as client:
        report = client.get(f"/api/v1/mandates/{MANDATE}/coverage", params={
            "as_of": "2026-10-01", "rule": "deliverable.evidence-missing:error"}).json()
    found = {(f["rule"], f["item"]) for f in report["findings"]}
    # 93 days since the import's 2026-06-30; 83 since the backdated change of L3M1D1.
    assert {item for rule, item in found if rule == "deliverable.stale"} == {
        "L1M1D2", "L1M2D1", "L2M2D1"}
    assert {item for rule, item in found if rule == "deliverable.evidence-missing"} == {
        "L1M1D1", "L2M1D2", "L3M2D1"}
    assert report["skipped"] == []


def test_a_stored_plan_s_measure_owners_reach_the_rule(
        engine: Engine, live_url: str, tmp_path: Path) -> None:
    text = CLEAN.read_text(encoding="utf-8").replace("        owner: Resilience Office\n", "")
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    load_file(engine, plan)
    offline, over_http, online = three_ways(engine, live_url, plan, "--as-of", "2026-07-15",
                                            "--rule", "measure.owner-missing=error")
    assert offline.exit_code == online.exit_code == 1, online.stderr
    assert json.loads(offline.stdout) == over_http == json.loads(online.stdout)
    assert [(f["rule"], f["item"]) for f in over_http["findings"]] == [
        ("measure.owner-missing", "L3M1")]


def _statements(engine: Engine, code: str) -> list[str]:
    """The SQL statements GET .../coverage runs, each as the table it reads first."""
    with make_client(engine) as client, statements(engine) as sent:
        assert client.get(f"/api/v1/mandates/{code}/coverage").status_code == 200
    return [words[words.index("FROM") + 1] if "FROM" in words else words[0]
            for words in (statement.split() for statement in sent)]


def test_the_request_costs_a_fixed_number_of_queries(engine: Engine, backend: str) -> None:
    load_file(engine, CLEAN)
    with Session(engine) as session:
        import_plan(session, plan=bundled_plan())
        session.commit()
    # 9 deliverables and 3 indicators, or 65 and 96: the same statements, but the one
    # UNION ALL that computes the derived values the bundled plan's reported figures and
    # stated quantities are judged against (the clean plan needs none).
    # On PostgreSQL that UNION is planned without parallel workers (app/db.py): a SET
    # LOCAL before it and a RESET after.
    clean, bundled = _statements(engine, MANDATE), _statements(engine, "2018-2020")
    derived = ["SET", "roll_entry", "RESET"] if backend == "postgresql" else ["roll_entry"]
    assert bundled == [*clean, *derived]


def test_http_errors_are_problem_details(engine: Engine) -> None:
    load_file(engine, CLEAN)
    with make_client(engine) as client:
        missing = client.get("/api/v1/mandates/NOPE/coverage")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        unknown = client.get(f"/api/v1/mandates/{MANDATE}/coverage",
                             params={"rules": "deliverable:off"})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["path"] == "rules"
        bad = client.get(f"/api/v1/mandates/{MANDATE}/coverage", params=[
            ("rule", "deliverable.owner:off"), ("rule", "indicator:fatal"),
            ("theme", "gender:2"), ("threshold", "when:sometimes"), ("stale_after_days", "0")])
        assert bad.status_code == 422
        errors = [(e["path"], e["message"]) for e in bad.json()["errors"]]
        assert [path for path, _m in errors] == [
            "rule", "rule", "stale_after_days", "theme", "thresholds_when"]
        assert errors[1][1] == "indicator: 'fatal' is not one of error, warning, off"
        assert client.get(f"/api/v1/mandates/{MANDATE}/coverage",
                          params={"as_of": "soon"}).status_code == 422


def test_the_service_s_refusals_exit_2(engine: Engine, live_url: str) -> None:
    load_file(engine, CLEAN)
    missing = check("--url", live_url, "--mandate", "NOPE")
    assert missing.exit_code == 2
    assert "404 Not found: There is no mandate 'NOPE'." in missing.stderr
    not_planpulse = check("--url", live_url + "/healthz", "--mandate", MANDATE)
    assert not_planpulse.exit_code == 2


def test_a_token_for_a_service_without_public_reads(engine: Engine) -> None:
    load_file(engine, CLEAN)
    viewer = new_token(engine, Role.viewer)
    with serving(engine, public_read=False) as url:
        args = ["--url", url, "--mandate", MANDATE, "--as-of", "2026-07-15"]
        refused = check(*args)
        assert refused.exit_code == 2 and "401" in refused.stderr
        assert check(*args, "--token", viewer).exit_code == 0
        from_env = CliRunner(env={"PLANPULSE_TOKEN": viewer}).invoke(app, ["check", *args])
        assert from_env.exit_code == 0
        with make_client(engine, public_read=False) as client:
            path = f"/api/v1/mandates/{MANDATE}/coverage"
            assert client.get(path).status_code == 401
            assert client.get(path, headers=auth(viewer)).status_code == 200
