"""Importing a plan file upserts by code; exporting gives a file that imports back identically."""

import copy
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli
from app.errors import InvalidInput
from app.models import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Mandate,
    Measure,
    Role,
    StatusChange,
    metadata,
)
from app.schemas.plan_file import PlanFile, parse_plan_text
from app.services.plan.bundled import bundled_plan, bundled_plan_text
from app.services.plan.exporter import dump_yaml, export_plan, to_json_ready
from app.services.plan.importer import ImportReport, import_plan
from tests.helpers import OTHER_ORG_PLAN, auth, load, new_token, small_plan, snapshot

OTHER_ORG = "OGP-2022-2025"


def _import_text(session: Session, text: str, *, fmt: str | None = None) -> ImportReport:
    report = import_plan(session, plan=parse_plan_text(text, fmt=fmt))
    session.commit()
    return report


def _export_yaml(session: Session, code: str) -> str:
    return dump_yaml(export_plan(session, mandate_code=code))


def _export_json(session: Session, code: str) -> str:
    return json.dumps(to_json_ready(export_plan(session, mandate_code=code)), indent=2,
                      ensure_ascii=False)


def _empty_database(session: Session) -> None:
    for table in reversed(metadata.sorted_tables):
        session.execute(delete(table))
    session.commit()


def _history(session: Session, code: str) -> list[tuple[Any, ...]]:
    """A deliverable's history, oldest first: (from_status, to_status, changed_by)."""
    rows = session.execute(
        select(StatusChange.from_status, StatusChange.to_status, StatusChange.changed_by)
        .join(Deliverable, Deliverable.id == StatusChange.deliverable_id)
        .where(Deliverable.code == code).order_by(StatusChange.id))
    return [tuple(row) for row in rows]


def _deliverable(session: Session, code: str) -> Deliverable:
    session.expire_all()
    return session.execute(select(Deliverable).where(Deliverable.code == code)).scalar_one()


def _codes(session: Session, table: Any) -> set[str]:
    return set(session.execute(select(table.code)).scalars())


def _content(plan: PlanFile) -> dict[str, Any]:
    """What a plan says, leaving out what export does not keep: the order of a deliverable's
    tags (a set, exported sorted) and as_of (the date of the statuses, not of the plan)."""
    data = plan.model_dump(exclude={"as_of"})
    for line in data["action_lines"]:
        for measure in line["measures"]:
            for deliverable in measure["deliverables"]:
                deliverable["tags"] = sorted(deliverable["tags"])
    return data


# --- the bundled Metropolis plan ---------------------------------------------------------------

BUNDLED_STATUS_COUNTS = {
    "L1": {"completed": 13, "in_progress": 1, "not_achieved": 3},
    "L2": {"completed": 22, "in_progress": 1, "not_started": 1, "not_achieved": 3},
    "L3": {"completed": 15, "not_started": 6},
}


def test_bundled_plan_imports_three_lines_27_measures_65_deliverables(session: Session) -> None:
    import_plan(session, plan=bundled_plan())
    session.commit()

    assert session.scalar(select(func.count()).select_from(ActionLine)) == 3
    assert session.scalar(select(func.count()).select_from(Measure)) == 27
    assert session.scalar(select(func.count()).select_from(Deliverable)) == 65
    rows = session.execute(
        select(ActionLine.code, Deliverable.status, func.count())
        .join(Measure, Measure.action_line_id == ActionLine.id)
        .join(Deliverable, Deliverable.measure_id == Measure.id)
        .group_by(ActionLine.code, Deliverable.status))
    counts: dict[str, dict[str, int]] = {}
    for line, status, count in rows:
        counts.setdefault(line, {})[status] = count
    assert counts == BUNDLED_STATUS_COUNTS


def test_bundled_deliverables_each_have_one_history_entry_as_of_the_file(
    session: Session,
) -> None:
    import_plan(session, plan=bundled_plan())
    session.commit()

    rows = session.execute(
        select(Deliverable.id, Deliverable.status, StatusChange.from_status,
               StatusChange.to_status, StatusChange.changed_by, StatusChange.effective_at)
        .join(StatusChange, StatusChange.deliverable_id == Deliverable.id)).all()
    assert len(rows) == 65
    assert len({row.id for row in rows}) == 65
    for row in rows:
        assert (row.from_status, row.to_status) == (None, row.status)
        assert row.changed_by == "import"
        assert row.effective_at == datetime(2020, 12, 31, tzinfo=UTC)


def test_importing_the_same_file_twice_changes_nothing(session: Session, engine: Engine) -> None:
    import_plan(session, plan=bundled_plan())
    session.commit()
    before = snapshot(engine)

    report = import_plan(session, plan=bundled_plan())
    session.commit()

    assert not report.changed
    assert cli._summary(report).startswith("mandate 2018-2020: unchanged")
    assert report.deliverables.unchanged == 65
    assert report.status_changes == 0
    assert snapshot(engine) == before


# --- upsert by code -----------------------------------------------------------------------------

def _edited(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    plan = small_plan()
    edit(plan)
    return plan


def _line(plan: dict[str, Any], line: int) -> dict[str, Any]:
    return plan["action_lines"][line]


def _measure(plan: dict[str, Any], line: int, measure: int) -> dict[str, Any]:
    return _line(plan, line)["measures"][measure]


def test_changed_status_records_one_history_entry_and_bumps_version(session: Session) -> None:
    load(session, small_plan())

    report = load(session, _edited(
        lambda plan: _measure(plan, 1, 0)["deliverables"][0].update(status="completed")))

    assert report.status_changes == 1
    assert _history(session, "B1a") == [(None, "not_started", "import"),
                                         ("not_started", "completed", "import")]
    assert _deliverable(session, "B1a").version == 2
    assert _deliverable(session, "B1b").version == 1


def _without_b1b_and_a2(plan: dict[str, Any]) -> None:
    del _measure(plan, 1, 0)["deliverables"][1]
    del _line(plan, 0)["measures"][1]


def test_items_absent_from_the_file_are_reported_and_kept(session: Session) -> None:
    load(session, small_plan())

    report = load(session, _edited(_without_b1b_and_a2))

    assert report.deliverables.absent == ["A2a", "B1b"]
    assert report.measures.absent == ["A2"]
    assert "2 not in the file (kept; --prune deletes): A2a, B1b" in cli._summary(report)
    assert _codes(session, Deliverable) == {"A1a", "A1b", "A2a", "B1a", "B1b"}
    assert _codes(session, Measure) == {"A1", "A2", "B1"}


def test_prune_deletes_absent_items_with_their_history(session: Session) -> None:
    load(session, small_plan())
    kept_history = _history(session, "A1a")

    report = load(session, _edited(_without_b1b_and_a2), prune=True)

    assert (report.deliverables.deleted, report.measures.deleted) == (2, 1)
    assert _codes(session, Deliverable) == {"A1a", "A1b", "B1a"}
    assert _codes(session, Measure) == {"A1", "B1"}
    history_of = session.execute(
        select(StatusChange.deliverable_id).distinct()).scalars().all()
    assert len(history_of) == 3
    assert _history(session, "A1a") == kept_history


def test_a_deliverable_moves_to_another_measure(session: Session) -> None:
    load(session, small_plan())

    def move_a1b_to_b1(plan: dict[str, Any]) -> None:
        moved = _measure(plan, 0, 0)["deliverables"].pop(1)
        _measure(plan, 1, 0)["deliverables"].append(moved)

    report = load(session, _edited(move_a1b_to_b1))

    b1 = session.execute(select(Measure.id).where(Measure.code == "B1")).scalar_one()
    assert _deliverable(session, "A1b").measure_id == b1
    assert report.status_changes == 0
    exported = export_plan(session, mandate_code="T-2024")
    assert [d["code"] for d in exported["action_lines"][1]["measures"][0]["deliverables"]] == [
        "B1a", "B1b", "A1b"]


def test_tags_are_added_and_removed_via_the_file(session: Session) -> None:
    load(session, small_plan())

    load(session, _edited(
        lambda plan: _measure(plan, 1, 0)["deliverables"][1].update(tags=["youth", "Climate"])))

    tags = session.execute(
        select(DeliverableTag.tag).join(Deliverable).where(Deliverable.code == "B1b"))
    assert sorted(tags.scalars()) == ["climate", "youth"]
    assert _deliverable(session, "B1b").version == 2


def test_renamed_items_and_a_changed_target_are_updated_in_place(session: Session) -> None:
    plan = small_plan()
    plan["indicators"] = [{"code": "I1", "title": "Share", "unit": "percent",
                           "direction": "increase", "measure": "A1",
                           "targets": [{"period": "2025", "value": 50}]}]
    load(session, plan)
    ids = _codes_to_ids(session)

    _line(plan, 0)["title"] = "Line A, renamed"
    _measure(plan, 0, 0)["title"] = "Measure A1, renamed"
    plan["indicators"][0]["targets"][0]["value"] = 60
    report = load(session, plan)

    assert (report.action_lines.updated, report.measures.updated) == (1, 1)
    assert report.indicator_targets == 1
    exported = export_plan(session, mandate_code="T-2024")
    assert exported["action_lines"][0]["title"] == "Line A, renamed"
    assert exported["action_lines"][0]["measures"][0]["title"] == "Measure A1, renamed"
    assert exported["indicators"][0]["targets"] == [{"period": "2025", "value": 60}]
    assert _codes_to_ids(session) == ids


def _measure_owner(session: Session, code: str) -> str | None:
    session.expire_all()
    return session.execute(select(Measure.owner).where(Measure.code == code)).scalar_one()


def test_a_measure_s_owner_is_imported_changed_and_cleared_by_the_file(
        session: Session) -> None:
    plan = small_plan()
    _measure(plan, 1, 0)["owner"] = "  Mobility team "
    load(session, plan)
    assert _measure_owner(session, "B1") == "Mobility team"
    assert _measure_owner(session, "A1") is None

    _measure(plan, 1, 0)["owner"] = "Ana"
    changed = load(session, plan)
    # Only the owner differs: a change (and an event), as a deliverable's owner is.
    assert changed.changed
    assert (changed.measures.updated, changed.measures.unchanged) == (1, 2)
    assert (changed.deliverables.updated, changed.status_changes) == (0, 0)
    assert _measure_owner(session, "B1") == "Ana"

    del _measure(plan, 1, 0)["owner"]
    assert load(session, plan).measures.updated == 1
    assert _measure_owner(session, "B1") is None
    assert not load(session, plan).changed


def test_export_writes_a_measure_s_owner_only_when_it_has_one(session: Session) -> None:
    plan = small_plan()
    _measure(plan, 0, 0)["owner"] = "Energy Office"
    load(session, plan)

    measures = [measure for line in export_plan(session, mandate_code="T-2024")["action_lines"]
                for measure in line["measures"]]

    assert list(measures[0]) == ["code", "title", "owner", "deliverables"]
    assert measures[0]["owner"] == "Energy Office"
    assert all("owner" not in measure for measure in measures[1:])


def test_a_measure_owner_is_refused_as_a_deliverable_owner_is(session: Session) -> None:
    for owner, message in (("", "at least 1 character"), ("x" * 201, "at most 200")):
        plan = small_plan()
        _measure(plan, 0, 1)["owner"] = owner
        with pytest.raises(InvalidInput) as refused:
            load(session, plan)
        assert [(e.path, message in e.message) for e in refused.value.errors] == [
            ("action_lines[0].measures[1].owner", True)]
    assert _codes(session, Measure) == set()


def _codes_to_ids(session: Session) -> set[tuple[str, int]]:
    return {(code, row_id) for table in (ActionLine, Measure, Deliverable)
            for code, row_id in session.execute(select(table.code, table.id))}


# --- export → import → export ------------------------------------------------------------------

def _owned_plan_text() -> str:
    """The small plan with owners on measures as well as on deliverables."""
    plan = small_plan()
    _measure(plan, 0, 0)["owner"] = "Energy Office"
    _measure(plan, 1, 0)["owner"] = "Ana"
    return yaml.safe_dump(plan, sort_keys=False)


ROUND_TRIP_PLANS = [
    pytest.param(bundled_plan_text, "2018-2020", id="bundled"),
    pytest.param(lambda: OTHER_ORG_PLAN.read_text(encoding="utf-8"), OTHER_ORG, id="other-org"),
    pytest.param(_owned_plan_text, "T-2024", id="measure-owners"),
]


@pytest.mark.parametrize(("source", "code"), ROUND_TRIP_PLANS)
def test_export_import_export_is_byte_identical(
    session: Session, source: Callable[[], str], code: str
) -> None:
    _import_text(session, source())
    first_yaml, first_json = _export_yaml(session, code), _export_json(session, code)

    _empty_database(session)
    _import_text(session, first_yaml)
    assert _export_yaml(session, code) == first_yaml

    _empty_database(session)
    _import_text(session, first_json, fmt="json")
    assert _export_json(session, code) == first_json


@pytest.mark.parametrize(("source", "code"), ROUND_TRIP_PLANS)
def test_export_keeps_everything_the_file_said(
    session: Session, source: Callable[[], str], code: str
) -> None:
    _import_text(session, source())

    exported = parse_plan_text(_export_yaml(session, code))

    assert _content(exported) == _content(parse_plan_text(source()))


def test_other_org_plan_has_its_owners_due_dates_weights_and_cancelled_items(
    session: Session,
) -> None:
    plan = parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8"))
    import_plan(session, plan=plan)
    session.commit()

    assert session.scalar(select(func.count()).select_from(ActionLine)) == 5
    assert session.scalar(select(func.count()).select_from(Deliverable)) == 100
    statuses = Counter(session.execute(select(Deliverable.status)).scalars())
    assert statuses["cancelled"] == sum(d.status == "cancelled" for _, d in plan.deliverables())
    assert statuses["cancelled"] > 0
    for column in (Deliverable.owner, Deliverable.due_date):
        assert session.scalar(select(func.count(column))) > 0
    assert session.scalar(select(func.count()).where(Deliverable.weight != 1)) > 0


# --- command line ------------------------------------------------------------------------------

def test_cli_import_then_export_round_trips_the_other_org_plan(
    cli_runner: CliRunner, session: Session, tmp_path: Path
) -> None:
    imported = cli_runner.invoke(cli.app, ["import", str(OTHER_ORG_PLAN)])
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.startswith(f"mandate {OTHER_ORG}: created")

    exported = cli_runner.invoke(cli.app, ["export", OTHER_ORG])
    assert exported.exit_code == 0, exported.output
    assert _content(parse_plan_text(exported.stdout)) == _content(
        parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")))

    as_json = cli_runner.invoke(cli.app, ["export", OTHER_ORG, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    exported_file = tmp_path / "plan.json"
    exported_file.write_text(as_json.stdout, encoding="utf-8")
    _empty_database(session)
    assert cli_runner.invoke(cli.app, ["import", str(exported_file)]).exit_code == 0
    again = cli_runner.invoke(cli.app, ["export", OTHER_ORG])
    assert again.stdout == exported.stdout


# --- HTTP ---------------------------------------------------------------------------------------

def _plan_url(code: str) -> str:
    return f"/api/v1/mandates/{code}/plan"


@pytest.fixture
def admin(engine: Engine) -> dict[str, str]:
    return auth(new_token(engine, Role.admin))


def test_put_yaml_creates_a_mandate_and_get_returns_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = OTHER_ORG_PLAN.read_bytes()

    put = client.put(_plan_url(OTHER_ORG), content=body,
                     headers={**admin, "Content-Type": "application/yaml"})

    assert put.status_code == 200, put.text
    assert put.json()["mandate_created"] is True
    assert put.json()["deliverables"]["created"] == 100
    as_json = client.get(_plan_url(OTHER_ORG))
    assert as_json.headers["content-type"] == "application/json"
    as_yaml = client.get(_plan_url(OTHER_ORG), headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert parse_plan_text(as_yaml.text) == parse_plan_text(as_json.text, fmt="json")
    assert _content(parse_plan_text(as_yaml.text)) == _content(parse_plan_text(body))


def test_put_json_creates_a_mandate(client: TestClient, admin: dict[str, str]) -> None:
    data = yaml.safe_load(OTHER_ORG_PLAN.read_text(encoding="utf-8"))
    data["mandate"]["code"] = "OGP-JSON"

    put = client.put(_plan_url("OGP-JSON"), content=json.dumps(data, default=str),
                     headers={**admin, "Content-Type": "application/json"})

    assert put.status_code == 200, put.text
    assert put.json()["mandate_created"] is True
    got = client.get(_plan_url("OGP-JSON")).json()
    assert len(got["action_lines"]) == 5
    assert _content(parse_plan_text(json.dumps(got), fmt="json")) == _content(
        parse_plan_text(json.dumps(data, default=str), fmt="json"))


def test_exported_yaml_reimports_over_http_without_change(
    client: TestClient, admin: dict[str, str], engine: Engine
) -> None:
    client.put(_plan_url(OTHER_ORG), content=OTHER_ORG_PLAN.read_bytes(),
               headers={**admin, "Content-Type": "application/yaml"})
    exported = client.get(_plan_url(OTHER_ORG), headers={"Accept": "application/yaml"}).text
    before = snapshot(engine)

    put = client.put(_plan_url(OTHER_ORG), content=exported,
                     headers={**admin, "Content-Type": "application/yaml"})

    assert put.status_code == 200
    assert put.json()["changed"] is False
    assert snapshot(engine) == before


def test_put_with_prune_deletes_what_the_file_no_longer_lists(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    load(session, small_plan())
    smaller = copy.deepcopy(small_plan())
    _without_b1b_and_a2(smaller)

    put = client.put(_plan_url("T-2024") + "?prune=true", content=json.dumps(smaller),
                     headers={**admin, "Content-Type": "application/json"})

    assert put.status_code == 200, put.text
    assert put.json()["pruned"] is True
    assert put.json()["deliverables"]["deleted"] == 2
    assert _codes(session, Deliverable) == {"A1a", "A1b", "B1a"}
    assert _codes(session, Mandate) == {"T-2024"}
