"""A bad plan file is refused whole, each problem named by its path, and nothing is written."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli
from app.errors import InvalidInput
from app.models import Role
from app.schemas.plan_file import parse_plan_text, validate_plan
from tests.helpers import auth, load, new_token, small_plan, snapshot

STATUSES = ("completed", "in_progress", "not_started", "not_achieved", "cancelled")
PLAN_URL = "/api/v1/mandates/T-2024/plan"

Plan = dict[str, Any]


def _deliverable(plan: Plan, line: int, measure: int, index: int) -> dict[str, Any]:
    return plan["action_lines"][line]["measures"][measure]["deliverables"][index]


def _set(line: int, measure: int, index: int, **fields: Any) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        _deliverable(plan, line, measure, index).update(fields)
        return plan
    return mutate


def _with_indicator(**fields: Any) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        plan["indicators"] = [{"code": "I1", "title": "An indicator", "unit": "count",
                               "direction": "increase", **fields}]
        return plan
    return mutate


def _drop(*keys: str | int) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        item: Any = plan
        for key in keys[:-1]:
            item = item[key]
        del item[keys[-1]]
        return plan
    return mutate


def _rename(*keys: str | int, code: str) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        item: Any = plan
        for key in keys:
            item = item[key]
        item["code"] = code
        return plan
    return mutate


def _set_mandate(**fields: Any) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        plan["mandate"].update(fields)
        return plan
    return mutate


def _set_top(**fields: Any) -> Callable[[Plan], Plan]:
    def mutate(plan: Plan) -> Plan:
        plan.update(fields)
        return plan
    return mutate


def _text(text: str) -> Callable[[Plan], str]:
    return lambda _plan: text


D = "action_lines[{}].measures[{}].deliverables[{}]"

# (mutation of small_plan(), expected path, fragments the message must contain)
BAD_FILES = [
    pytest.param(_set(1, 0, 1, status="done"), D.format(1, 0, 1) + ".status",
                 ("'done'", *STATUSES), id="status-not-in-vocabulary"),
    pytest.param(_set(0, 0, 1, percent_complete=101), D.format(0, 0, 1) + ".percent_complete",
                 ("less than or equal to 100",), id="percent-complete-over-100"),
    pytest.param(_set(0, 0, 0, percent_complete=50), D.format(0, 0, 0) + ".percent_complete",
                 ("only for status in_progress", "completed"),
                 id="percent-complete-not-in-progress"),
    pytest.param(_set(0, 0, 0, weight=-1), D.format(0, 0, 0) + ".weight",
                 ("greater than or equal to 0",), id="negative-weight"),
    pytest.param(_rename("action_lines", 1, "measures", 0, "deliverables", 0, code="A1a"),
                 D.format(1, 0, 0) + ".code",
                 ("duplicate deliverable code 'A1a'", D.format(0, 0, 0) + ".code"),
                 id="duplicate-deliverable-across-measures"),
    pytest.param(_rename("action_lines", 1, "measures", 0, code="A1"),
                 "action_lines[1].measures[0].code", ("duplicate measure code 'A1'",),
                 id="duplicate-measure"),
    pytest.param(_rename("action_lines", 1, code="A"), "action_lines[1].code",
                 ("duplicate action line code 'A'",), id="duplicate-action-line"),
    pytest.param(_drop("mandate"), "mandate", ("field required",), id="missing-mandate"),
    pytest.param(_drop("action_lines", 0, "measures", 1, "title"),
                 "action_lines[0].measures[1].title", ("field required",), id="missing-title"),
    pytest.param(_set_mandate(end_date="2023-12-31"), "mandate.end_date",
                 ("before start_date",), id="end-before-start"),
    pytest.param(_set(0, 1, 0, statuss="completed"), D.format(0, 1, 0) + ".statuss",
                 ("unknown field",), id="unknown-field"),
    pytest.param(_set(1, 0, 1, tags="gender"), D.format(1, 0, 1) + ".tags",
                 ("valid list",), id="tags-as-string"),
    pytest.param(_with_indicator(measure="Z9"), "indicators[0].measure",
                 ("no measure 'Z9'",), id="indicator-unknown-measure"),
    pytest.param(_with_indicator(measure="A1", action_line="A"), "indicators[0].measure",
                 ("not both",), id="indicator-two-links"),
    pytest.param(_with_indicator(unit="euros"), "indicators[0].unit",
                 ("'euros'", "count", "percent", "currency", "ratio"), id="unknown-unit"),
    pytest.param(_with_indicator(values=[{"period": "2025", "value": 1},
                                         {"period": 2025, "value": 2}]),
                 "indicators[0].values[1].period", ("'2025' given twice",),
                 id="period-given-twice"),
    pytest.param(_set_top(as_of="2999-01-01"), "as_of", ("in the future",), id="as-of-future"),
    pytest.param(_text("mandate: [code, title\n"), "", ("malformed YAML",), id="malformed-yaml"),
    pytest.param(_text("- mandate\n- action_lines\n"), "", ("must be a mapping",),
                 id="top-level-list"),
    pytest.param(_rename("action_lines", 0, "measures", 0, "deliverables", 0, code="A1 a"),
                 D.format(0, 0, 0) + ".code", ("should match pattern",), id="code-with-space"),
    pytest.param(_rename("action_lines", 1, "measures", 0, code="B/1"),
                 "action_lines[1].measures[0].code", ("should match pattern",),
                 id="code-with-slash"),
]


def _problems(bad: Plan | str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        if isinstance(bad, str):
            parse_plan_text(bad)
        else:
            validate_plan(bad)
    return [(error.path, error.message) for error in caught.value.errors]


@pytest.mark.parametrize(("mutate", "path", "fragments"), BAD_FILES)
def test_bad_plan_file_is_refused_with_path_and_reason(
    mutate: Callable[[Plan], Plan | str], path: str, fragments: tuple[str, ...]
) -> None:
    problems = _problems(mutate(small_plan()))
    assert [found_path for found_path, _ in problems] == [path]
    message = problems[0][1]
    for fragment in fragments:
        assert fragment in message


def test_the_unmodified_small_plan_is_valid() -> None:
    # The cases above start from this file: each one's only problem is the one it adds.
    assert validate_plan(small_plan()).mandate.code == "T-2024"


def _plan_with_five_problems() -> Plan:
    plan = small_plan(end_date="2023-01-01")
    _deliverable(plan, 1, 0, 1)["status"] = "done"
    _deliverable(plan, 0, 0, 0)["weight"] = -2
    plan["action_lines"][1]["measures"][0]["deliverables"][0]["code"] = "A2a"
    plan["action_lines"][0]["measures"][1]["colour"] = "red"
    return plan


FIVE_PROBLEM_PATHS = {
    "mandate.end_date",
    D.format(1, 0, 1) + ".status",
    D.format(0, 0, 0) + ".weight",
    D.format(1, 0, 0) + ".code",
    "action_lines[0].measures[1].colour",
}


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_plan(_plan_with_five_problems())
    assert {error.path for error in caught.value.errors} == FIVE_PROBLEM_PATHS
    assert caught.value.detail == "5 problem(s) in the plan"


# --- command line ---------------------------------------------------------------------------

def test_cli_refuses_a_bad_file_with_exit_2_and_writes_nothing(
    cli_runner: CliRunner, engine: Engine, session: Session, tmp_path: Path
) -> None:
    load(session, small_plan())
    bad = tmp_path / "plan.yaml"
    bad.write_text(yaml.safe_dump(_plan_with_five_problems()), encoding="utf-8")
    before = snapshot(engine)

    result = cli_runner.invoke(cli.app, ["import", str(bad)])

    assert result.exit_code == 2
    assert "5 problem(s)" in result.stderr
    for path in FIVE_PROBLEM_PATHS:
        assert f"{path}: " in result.stderr
    assert result.stdout == ""
    assert snapshot(engine) == before


def test_cli_refuses_malformed_json_file(
    cli_runner: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text('{"mandate": {"code": "T-2024",}}', encoding="utf-8")
    before = snapshot(engine)

    result = cli_runner.invoke(cli.app, ["import", str(bad)])

    assert result.exit_code == 2
    assert "malformed JSON" in result.stderr
    assert snapshot(engine) == before


# --- HTTP -------------------------------------------------------------------------------------

def _put(client: TestClient, body: str | bytes, token: str | None,
         content_type: str = "application/json", url: str = PLAN_URL) -> Any:
    headers = {"Content-Type": content_type, **(auth(token) if token else {})}
    return client.put(url, content=body, headers=headers)


def test_put_bad_plan_gets_422_problem_listing_every_error(
    client: TestClient, engine: Engine, session: Session
) -> None:
    load(session, small_plan())
    token = new_token(engine, Role.admin)
    before = snapshot(engine)

    response = _put(client, json.dumps(_plan_with_five_problems()), token)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["detail"] == "5 problem(s) in the plan"
    assert {error["path"] for error in problem["errors"]} == FIVE_PROBLEM_PATHS
    assert all(set(error) == {"path", "message"} and error["message"]
               for error in problem["errors"])
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        pytest.param('{"mandate": {"code": "T-2024"', "application/json", "malformed JSON",
                     id="json"),
        pytest.param("mandate:\n  code: [T-2024\n", "application/yaml", "malformed YAML",
                     id="yaml"),
    ],
)
def test_put_malformed_body_gets_422_and_writes_nothing(
    client: TestClient, engine: Engine, body: str, content_type: str, fragment: str
) -> None:
    token = new_token(engine, Role.admin)
    before = snapshot(engine)

    response = _put(client, body, token, content_type)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["errors"][0]["message"]
    assert snapshot(engine) == before


def test_put_plan_whose_mandate_differs_from_the_url_gets_422(
    client: TestClient, engine: Engine
) -> None:
    token = new_token(engine, Role.admin)
    before = snapshot(engine)

    response = _put(client, json.dumps(small_plan(code="OTHER")), token)

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["path"] == "mandate.code"
    assert "'OTHER'" in error["message"] and "'T-2024'" in error["message"]
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("role", "content_type", "status"),
    [
        pytest.param(None, "application/json", 401, id="no-token"),
        pytest.param(Role.viewer, "application/json", 403, id="viewer"),
        pytest.param(Role.editor, "application/json", 403, id="editor"),
        pytest.param(Role.admin, "text/csv", 415, id="unsupported-content-type"),
    ],
)
def test_put_plan_refused_for_role_or_content_type_writes_nothing(
    client: TestClient, engine: Engine, role: Role | None, content_type: str, status: int
) -> None:
    token = new_token(engine, role) if role else None
    before = snapshot(engine)

    response = _put(client, json.dumps(small_plan()), token, content_type)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert snapshot(engine) == before
