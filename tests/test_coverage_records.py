"""The records rules (``records.*``): each broken once by records that are otherwise clean,
the clean records passing them all, their skipping without records, and
``planpulse check PLAN --records RECORDS`` end to end."""

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app
from app.coverage.config import merge
from app.coverage.engine import run
from app.coverage.model import Finding, Report, from_plan_file
from app.coverage.rules import RULES
from app.coverage.source import PlanLoader
from app.coverage.stored import stored_input
from app.models import Indicator, IndicatorValue, Mandate
from app.schemas.plan_file import PlanFile
from app.schemas.records_file import RecordsFile
from tests.helpers import DATA

CLEAN_PLAN = DATA / "coverage-clean.yaml"
AS_OF = date(2026, 7, 15)
TYPED_AND_DERIVED = "records.typed-and-derived"
STORED_ONLY = (TYPED_AND_DERIVED, "records.derived-differs-from-reported")
"""Judges the stored plan's typed values (a file can't hold them): tested on the database."""
RECORDS_RULES = [rule_id for rule_id, r in RULES.items()
                 if r.family == "records" and rule_id not in STORED_ONLY]
"""The records rules a records file alone can break (the stored-only ones are tested on
the service: tests/test_figures.py and below)."""
DERIVED = [
    {"code": "SHARE_ACTIVATED", "title": "Share of members activated", "unit": "percent",
     "direction": "increase", "baseline": {"period": "2023", "value": 40},
     "targets": [{"period": "mandate", "value": 60}],
     "derived": {"share_of_members": {"engagement": "activated"}}},
    {"code": "EVENTS", "title": "Events held", "unit": "count", "direction": "increase",
     "aggregation": "sum", "baseline": {"period": "2023", "value": 2},
     "targets": [{"period": "mandate", "value": 9}],
     "derived": {"count_activities": {"kind": "event"}}},
]
# Members M1 and M2 on the 2024 roll, M1 alone on 2025's; both kinds filled each year;
# events in 2024 and 2025; the members of activities on their period's roll.
CLEAN_RECORDS: dict[str, Any] = {
    "engagement_kinds": [
        {"code": "activated", "title": "Activated", "value": "flag"},
        {"code": "meetings", "title": "Meetings attended", "value": "count"},
    ],
    "members": [{"code": "M1", "name": "Lyon"}, {"code": "M2", "name": "Porto"}],
    "engagement": [
        {"member": "M1", "period": "2024", "values": {"activated": True, "meetings": 3}},
        {"member": "M2", "period": "2024", "values": {"activated": False}},
        {"member": "M1", "period": "2025", "values": {"activated": True, "meetings": 1}},
    ],
    "activities": [
        {"code": "A1", "kind": "event", "title": "Climate forum", "start_date": "2024-05-10",
         "mode": "in_person", "links": [{"mandate": "CITY-2024", "action_line": "L1"}]},
        {"code": "A2", "kind": "statement", "title": "Joint statement on heat", "period": "2025",
         "links": [{"mandate": "CITY-2024"}],
         "members": [{"member": "M1", "role": "organiser"}]},
        {"code": "A3", "kind": "event", "title": "Cycling day", "start_date": "2025-03-01",
         "mode": "online", "links": [{"mandate": "CITY-2024", "measure": "L2M1"}],
         "members": [{"member": "M1", "role": "speaker"}]},
        {"code": "A4", "kind": "event", "title": "Climate forum", "start_date": "2024-09-20",
         "mode": "online"},
    ],
}

Change = Callable[[dict[str, Any]], None]


def activity(records: dict[str, Any], code: str) -> dict[str, Any]:
    return next(a for a in records["activities"] if a["code"] == code)


def _unfill_meetings_2025(records: dict[str, Any]) -> None:
    del records["engagement"][2]["values"]["meetings"]


def _date_a1_before_the_mandate(records: dict[str, Any]) -> None:
    activity(records, "A1")["start_date"] = "2023-12-31"


def _name_m2_in_a3(records: dict[str, Any]) -> None:
    activity(records, "A3")["members"].append({"member": "M2", "role": "partner"})


def _enter_a1_twice(records: dict[str, Any]) -> None:
    records["activities"].append({**activity(records, "A1"), "code": "A5",
                                  "title": "  climate   FORUM "})


def _drop_2025_event(records: dict[str, Any]) -> None:
    records["activities"].remove(activity(records, "A3"))


# rule → (what breaks it, the item reported, words its message has)
BREAKS: dict[str, tuple[Change, str, list[str]]] = {
    "records.kind-unfilled": (_unfill_meetings_2025, "meetings", ["meetings", "2025 roll"]),
    "records.activity-outside-mandate": (_date_a1_before_the_mandate, "A1",
                                         ["A1", "2023-12-31", "CITY-2024"]),
    "records.member-not-on-roll": (_name_m2_in_a3, "M2", ["M2", "A3", "2025 roll"]),
    "records.duplicate-activity": (_enter_a1_twice, "A5", ["A1 and A5", "2024-05-10"]),
    "records.derived-without-records": (_drop_2025_event, "EVENTS",
                                        ["EVENTS", "count_activities kind=event", "2025"]),
}


def plan() -> PlanFile:
    data = yaml.load(CLEAN_PLAN.read_text(encoding="utf-8"), Loader=PlanLoader)
    data["indicators"] += copy.deepcopy(DERIVED)
    return PlanFile.model_validate(data)


def records_of(change: Change | None = None) -> RecordsFile:
    data = copy.deepcopy(CLEAN_RECORDS)
    if change is not None:
        change(data)
    return RecordsFile.model_validate(data)


def check(records: RecordsFile | None) -> Report:
    return run(from_plan_file(plan(), records), merge([]), AS_OF)


def records_findings(report: Report) -> list[Finding]:
    return [finding for finding in report.findings if finding.family == "records"]


def test_every_records_rule_has_records_that_break_it() -> None:
    assert set(BREAKS) == set(RECORDS_RULES)


def test_the_clean_records_pass_every_records_rule() -> None:
    report = check(records_of())
    assert records_findings(report) == []
    assert report.skipped == []
    assert {count.rule for count in report.summary} >= set(RECORDS_RULES)


@pytest.mark.parametrize("rule_id", list(BREAKS))
def test_records_that_break_one_rule_get_that_rule_s_finding_and_no_other(rule_id: str
                                                                          ) -> None:
    change, item, words = BREAKS[rule_id]
    (finding,) = records_findings(check(records_of(change)))
    assert (finding.rule, finding.item) == (rule_id, item)
    for word in words:
        assert word in finding.message
    assert finding.severity == RULES[rule_id].default.value


def test_without_records_the_records_rules_are_skipped_with_the_reason() -> None:
    report = check(None)
    assert records_findings(report) == []
    assert [s.rule for s in report.skipped] == RECORDS_RULES
    assert all(s.reason.startswith("no records given") for s in report.skipped)
    assert not {count.rule for count in report.summary} & set(RECORDS_RULES)


def test_default_severities_warn_of_gaps_and_fail_wrong_data() -> None:
    assert {rule_id: RULES[rule_id].default.value for rule_id in RECORDS_RULES} == {
        "records.kind-unfilled": "warning",
        "records.activity-outside-mandate": "error",
        "records.member-not-on-roll": "error",
        "records.duplicate-activity": "error",
        "records.derived-without-records": "warning",
    }


def test_a_kind_is_unfilled_once_per_period_with_a_roll() -> None:
    def no_meetings(records: dict[str, Any]) -> None:
        for entry in records["engagement"]:
            entry["values"].pop("meetings", None)
        records["engagement"].append({"member": "M2", "period": "2026"})

    found = [(f.item, year) for f in records_findings(check(records_of(no_meetings)))
             for year in ("2024", "2025", "2026")
             if f.rule == "records.kind-unfilled" and f"the {year} roll" in f.message]
    assert found == [("activated", "2026"), ("meetings", "2024"), ("meetings", "2025"),
                     ("meetings", "2026")]


def test_an_activity_counted_in_a_period_outside_the_mandate() -> None:
    def a2_in_2027(records: dict[str, Any]) -> None:
        activity(records, "A2")["period"] = "2027"
        records["engagement"].append({"member": "M1", "period": "2027",
                                      "values": {"activated": True, "meetings": 0}})

    (finding,) = records_findings(check(records_of(a2_in_2027)))
    assert (finding.rule, finding.item) == ("records.activity-outside-mandate", "A2")
    assert "in 2027" in finding.message


def test_an_activity_of_another_mandate_is_not_judged_against_this_one() -> None:
    def a1_elsewhere(records: dict[str, Any]) -> None:
        activity(records, "A1").update(start_date="2019-05-10",
                                       links=[{"mandate": "CITY-2018"}])
        records["activities"].append({"code": "A9", "kind": "event", "title": "Spare",
                                      "start_date": "2024-06-01"})

    assert records_findings(check(records_of(a1_elsewhere))) == []


def test_a_member_of_an_activity_that_is_not_a_member_at_all() -> None:
    def stranger(records: dict[str, Any]) -> None:
        activity(records, "A2")["members"].append({"member": "M9", "role": "speaker"})

    (finding,) = records_findings(check(records_of(stranger)))
    assert (finding.rule, finding.item) == ("records.member-not-on-roll", "M9")
    assert "A2" in finding.message and "not in members" in finding.message


def test_the_same_title_on_another_day_is_no_duplicate() -> None:
    # A1 and A4 are both "Climate forum", months apart.
    assert activity(CLEAN_RECORDS, "A1")["title"] == activity(CLEAN_RECORDS, "A4")["title"]
    assert not [f for f in records_findings(check(records_of()))
                if f.rule == "records.duplicate-activity"]


def test_a_member_share_with_no_roll_for_a_year_that_has_activities() -> None:
    def no_2025_roll(records: dict[str, Any]) -> None:
        records["engagement"] = [e for e in records["engagement"] if e["period"] != "2025"]
        for item in records["activities"]:
            item["members"] = []

    (finding,) = records_findings(check(records_of(no_2025_roll)))
    assert (finding.rule, finding.item) == ("records.derived-without-records",
                                            "SHARE_ACTIVATED")
    assert "share_of_members engagement=activated" in finding.message
    assert "for 2025:" in finding.message
    assert finding.path == "indicators[3]"


def test_years_without_any_records_are_not_asked_for() -> None:
    # Nothing is recorded for 2026: no derived indicator is asked for it.
    report = check(records_of())
    assert not [f for f in report.findings if "2026" in f.message and f.family == "records"]


# The command ------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def command(*args: str) -> Result:
    return CliRunner().invoke(app, ["check", *args])


def files(tmp_path: Path, change: Change | None = None, *, suffix: str = ".yaml"
          ) -> tuple[Path, Path]:
    plan_path = tmp_path / "plan.yaml"
    data = yaml.load(CLEAN_PLAN.read_text(encoding="utf-8"), Loader=PlanLoader)
    data["indicators"] += copy.deepcopy(DERIVED)
    plan_path.write_text(yaml.safe_dump(json.loads(json.dumps(data, default=str))))
    records = copy.deepcopy(CLEAN_RECORDS)
    if change is not None:
        change(records)
    records_path = tmp_path / f"records{suffix}"
    records_path.write_text(json.dumps(records) if suffix == ".json"
                            else yaml.safe_dump(records))
    return plan_path, records_path


def records_rules_of(result: Result) -> tuple[list[tuple[str, str]], list[str]]:
    report = json.loads(result.stdout)
    return ([(f["rule"], f["item"]) for f in report["findings"] if f["family"] == "records"],
            [s["rule"] for s in report["skipped"]])


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_the_command_checks_the_records_file_given(tmp_path: Path, suffix: str) -> None:
    plan_path, records_path = files(tmp_path, _enter_a1_twice, suffix=suffix)
    result = command(str(plan_path), "--records", str(records_path), "--as-of", "2026-07-15",
                     "--format", "json", "--rule", "indicator=off")
    assert result.exit_code == 1, result.stderr
    assert records_rules_of(result) == ([("records.duplicate-activity", "A5")], [])


def test_the_command_passes_clean_records_and_skips_without_them(tmp_path: Path) -> None:
    plan_path, records_path = files(tmp_path)
    common = ("--as-of", "2026-07-15", "--format", "json", "--rule", "indicator=off")
    given = command(str(plan_path), "--records", str(records_path), *common)
    assert given.exit_code == 0, given.stderr
    assert records_rules_of(given) == ([], [])
    alone = command(str(plan_path), *common)
    assert alone.exit_code == 0, alone.stderr
    assert records_rules_of(alone) == ([], RECORDS_RULES)


@pytest.mark.parametrize(("text", "says"), [
    (None, "cannot read"),
    ("members: [\n", "malformed YAML"),
    ("members:\n  - {code: M1}\n", "members[0].name"),
], ids=["missing", "malformed", "invalid"])
def test_records_that_cannot_be_used_exit_2(tmp_path: Path, text: str | None, says: str
                                            ) -> None:
    plan_path, _records_path = files(tmp_path)
    bad = tmp_path / "bad.yaml"
    if text is not None:
        bad.write_text(text)
    result = command(str(plan_path), "--records", str(bad), "--as-of", "2026-07-15")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert says in result.stderr and "bad.yaml" in result.stderr


def test_records_do_not_go_with_a_service() -> None:
    result = command("--url", "http://127.0.0.1:9", "--mandate", "CITY-2024",
                     "--records", "records.yaml")
    assert result.exit_code == 2
    assert "--records goes with a plan file" in result.stderr


@pytest.mark.usefixtures("metropolis_records")
def test_typed_values_left_on_an_indicator_made_derived_are_a_finding(session: Session
                                                                      ) -> None:
    """An indicator typed in an earlier import and derived now keeps its typed values in the
    database: the stored plan's check names it and the periods."""
    mandate = session.execute(select(Mandate).where(Mandate.code == "2018-2020")).scalar_one()
    clean = stored_input(session, mandate=mandate)
    assert clean.typed_values_of_derived == {}
    indicator = session.execute(select(Indicator).where(
        Indicator.mandate_id == mandate.id, Indicator.code == "MEMBERS")).scalar_one()
    session.add(IndicatorValue(indicator_id=indicator.id or 0, period="2020", value=141,
                               recorded_by="import"))
    session.flush()
    report = run(stored_input(session, mandate=mandate), merge([]), AS_OF)
    found = [f for f in report.findings if f.rule == TYPED_AND_DERIVED]
    assert [(f.item, f.severity) for f in found] == [("MEMBERS", "warning")]
    assert "2020" in found[0].message
