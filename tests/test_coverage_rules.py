"""The coverage rules, run directly on plans (no database, no HTTP).

Every rule has a plan that breaks it (the clean plan with one change) and the clean plan,
which passes every rule at once; then the edges of each rule's definition (docs/ci.md).
"""

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
import yaml

from app.coverage.config import Layer, merge
from app.coverage.engine import run
from app.coverage.model import (
    Config,
    PlanInput,
    Report,
    Severity,
    ThresholdsWhen,
    from_plan_file,
)
from app.coverage.rules import RULES, covers_year, period_dates, under_prefix
from app.coverage.source import PlanLoader, line_numbers, read_plan_text
from app.errors import InvalidInput
from app.schemas.plan_file import PlanFile, parse_plan_text
from app.schemas.records_file import RecordsFile
from tests.helpers import DATA

CLEAN = DATA / "coverage-clean.yaml"
AS_OF = date(2026, 7, 15)
NO_RECORDS = RecordsFile()
"""Records with nothing in them: the records rules run and find nothing (they are broken
in tests/test_coverage_records.py)."""
EVERY_RULE_ON = Layer(
    source="test", rules={"deliverable.evidence-missing": Severity.error,
                          "measure.owner-missing": Severity.error},
    themes={"gender": 0.5, "energy": 0.25},
    thresholds={"mandate-progress": 0.5, "mandate-completion-rate": 0.3,
                "action-line-progress": 0.4, "action-line-completion-rate": 0.3})


def clean_data() -> dict[str, Any]:
    return yaml.load(CLEAN.read_text(encoding="utf-8"), Loader=PlanLoader)  # type: ignore[no-any-return]


def item(data: dict[str, Any], code: str) -> dict[str, Any]:
    """The first action line, measure, deliverable or indicator with this code."""
    for line in data["action_lines"]:
        if line["code"] == code:
            return line  # type: ignore[no-any-return]
        for measure in line.get("measures", []):
            if measure["code"] == code:
                return measure  # type: ignore[no-any-return]
            for deliverable in measure.get("deliverables", []):
                if deliverable["code"] == code:
                    return deliverable  # type: ignore[no-any-return]
    return next(i for i in data["indicators"] if i["code"] == code)


def plan_input(data: dict[str, Any], evidence: dict[str, bool] | None = None) -> PlanInput:
    # model_validate, not validate_plan: duplicate codes must reach the rules.
    plan = PlanFile.model_validate(data)
    every = {d.code: True for _m, d in plan.deliverables()}
    return replace(from_plan_file(plan, NO_RECORDS),
                   has_evidence={**every, **(evidence or {})})


def check(data: dict[str, Any], *, config: Config | None = None, as_of: date = AS_OF,
          evidence: dict[str, bool] | None = None) -> Report:
    return run(plan_input(data, evidence), config or merge([EVERY_RULE_ON]), as_of)


def found(report: Report) -> set[tuple[str, str]]:
    return {(finding.rule, finding.item) for finding in report.findings}


def test_the_clean_plan_passes_every_rule() -> None:
    report = check(clean_data())
    assert report.findings == []
    assert report.skipped == []
    assert report.passed
    assert {count.rule for count in report.summary} == set(RULES)
    # Every item passes; a theme only needs its minimum share.
    assert all(count.covered == count.total for count in report.summary
               if count.rule != "theme.coverage")


Change = Callable[[dict[str, Any]], None]


def _set(which: str, /, **fields: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        target = item(data, which)
        for key, value in fields.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    return change


def _add_line(data: dict[str, Any]) -> None:
    data["action_lines"].append({"code": "L4", "title": "Citizen engagement"})


def _add_measure(data: dict[str, Any]) -> None:
    item(data, "L3")["measures"].append({"code": "L3M3", "title": "Rain gardens",
                                         "owner": "Parks Department"})


def _rename_bus_measure(data: dict[str, Any]) -> None:
    item(data, "L2M2D1")["code"] = "BUS1D1"
    item(data, "L2M2")["code"] = "BUS1"


def _drop(code: str, key: str, period: str) -> Change:
    def change(data: dict[str, Any]) -> None:
        entries = item(data, code)[key]
        entries[:] = [entry for entry in entries if entry["period"] != period]
    return change


def _add_target(data: dict[str, Any]) -> None:
    item(data, "BIKE_LANES_KM")["targets"].append({"period": "2027", "value": 55})


def _no_parts(data: dict[str, Any]) -> None:
    item(data, "CYCLISTS")["values"][1].pop("parts")


def _untag_gender(data: dict[str, Any]) -> None:
    item(data, "L2M1D2").pop("tags")
    item(data, "L3M1D1").pop("tags")


OPEN_DELIVERABLES = {"L1M1D2", "L1M2D1", "L2M1D1", "L2M2D1", "L3M1D1"}

# rule → (what breaks it, the items it then reports, configuration or facts if needed)
BREAKS: dict[str, tuple[Change, set[str], dict[str, Any]]] = {
    "structure.action-line-without-measures": (_add_line, {"L4"}, {}),
    "structure.measure-without-deliverables": (_add_measure, {"L3M3"}, {}),
    "structure.duplicate-code": (_set("L2M1D2", code="L2M1D1"), {"L2M1D1"}, {}),
    "structure.code-prefix": (_rename_bus_measure, {"BUS1"}, {}),
    "measure.owner-missing": (_set("L2M2", owner=None), {"L2M2"}, {}),
    "deliverable.owner-missing": (_set("L1M2D1", owner=None), {"L1M2D1"}, {}),
    "deliverable.due-date-missing": (_set("L2M1D1", due_date=None), {"L2M1D1"}, {}),
    "deliverable.overdue": (_set("L3M1D1", due_date="2026-05-31"), {"L3M1D1"}, {}),
    "deliverable.in-progress-without-percent": (
        _set("L1M1D2", percent_complete=None), {"L1M1D2"}, {}),
    "deliverable.completed-short-of-target": (
        _set("L3M2D1", quantity={"target": 10000, "actual": 9200, "unit": "street trees"}),
        {"L3M2D1"}, {}),
    "deliverable.stale": (lambda data: data.update(as_of="2026-04-01"), OPEN_DELIVERABLES, {}),
    "deliverable.evidence-missing": (lambda data: None, {"L3M2D1"},
                                     {"evidence": {"L3M2D1": False}}),
    "indicator.target-missing": (_drop("RENEWABLE_SHARE", "targets", "2026"),
                                 {"RENEWABLE_SHARE"}, {}),
    "indicator.baseline-missing": (_set("CYCLISTS", baseline=None), {"CYCLISTS"}, {}),
    "indicator.value-missing": (_drop("BIKE_LANES_KM", "values", "2025-Q4"),
                                {"BIKE_LANES_KM"}, {}),
    "indicator.split-missing": (_no_parts, {"CYCLISTS"}, {}),
    "indicator.period-outside-mandate": (_add_target, {"BIKE_LANES_KM"}, {}),
    "theme.coverage": (_untag_gender, {"gender"}, {}),
    "figures.mandate-below-threshold": (
        lambda data: None, {"CITY-2024"},
        {"thresholds": {"mandate-progress": 0.6}}),  # progress is 0.5938
    "figures.action-line-below-threshold": (
        lambda data: None, {"L2"},
        {"thresholds": {"action-line-progress": 0.46}}),  # L2 is at 0.45, the others above
}


def test_every_rule_has_a_plan_that_breaks_it() -> None:
    assert set(BREAKS) == {rule_id for rule_id, r in RULES.items() if r.family != "records"}


@pytest.mark.parametrize("rule_id", list(BREAKS))
def test_a_plan_that_breaks_one_rule_gets_that_rule_s_findings_and_no_other(rule_id: str
                                                                          ) -> None:
    change, items, extra = BREAKS[rule_id]
    data = clean_data()
    change(data)
    config = merge([EVERY_RULE_ON, Layer(source="case", thresholds=extra.get("thresholds", {}))])
    report = check(data, config=config, evidence=extra.get("evidence"))
    assert found(report) == {(rule_id, code) for code in items}
    severity = config.severities[rule_id]
    assert {finding.severity for finding in report.findings} == {severity}
    assert report.passed is (severity == Severity.warning)
    for finding in report.findings:
        assert finding.item in finding.message  # the message names the item


def test_default_severities() -> None:
    defaults = merge([])
    assert {rule_id for rule_id, s in defaults.severities.items() if s == Severity.warning} == {
        "structure.code-prefix", "deliverable.in-progress-without-percent", "deliverable.stale",
        "indicator.baseline-missing", "records.kind-unfilled", "records.derived-without-records",
        "records.typed-and-derived", "deliverable.completed-short-of-target",
        "records.derived-differs-from-reported"}
    assert {rule_id for rule_id, s in defaults.severities.items() if s == Severity.off} == {
        "deliverable.evidence-missing", "measure.owner-missing"}


def test_a_warning_is_reported_but_passes() -> None:
    data = clean_data()
    _set("CYCLISTS", baseline=None)(data)
    report = run(from_plan_file(PlanFile.model_validate(data)), merge([]), AS_OF)
    assert [(f.rule, f.severity) for f in report.findings] == [
        ("indicator.baseline-missing", "warning")]
    assert report.passed and report.counts.warnings == 1 and report.counts.errors == 0


def test_a_rule_that_is_off_reports_nothing_and_counts_nothing() -> None:
    data = clean_data()
    _set("L1M2D1", owner=None)(data)
    config = merge([Layer(source="t", rules={"deliverable.owner-missing": Severity.off})])
    report = check(data, config=config)
    assert report.findings == []
    assert "deliverable.owner-missing" not in {count.rule for count in report.summary}


# Deliverables -----------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "due", "overdue"), [
    ("in_progress", "2026-07-14", True),
    ("not_started", "2026-07-14", True),
    ("not_achieved", "2026-07-14", True),
    ("in_progress", "2026-07-15", False),   # due today is not overdue
    ("completed", "2020-01-01", False),
    ("cancelled", "2020-01-01", False),
])
def test_overdue_only_for_open_deliverables_past_their_due_date(status: str, due: str,
                                                               overdue: bool) -> None:
    data = clean_data()
    percent = 10 if status == "in_progress" else None
    _set("L2M1D1", status=status, due_date=due, percent_complete=percent)(data)
    report = run(from_plan_file(PlanFile.model_validate(data)),
                 merge([Layer(source="t", rules={"structure": Severity.off})]), AS_OF)
    assert (("deliverable.overdue", "L2M1D1") in found(report)) is overdue


def test_cancelled_deliverables_need_no_owner_nor_due_date() -> None:
    data = clean_data()
    assert item(data, "L1M2D2")["status"] == "cancelled" and "owner" not in item(data, "L1M2D2")
    assert check(data).findings == []


@pytest.mark.parametrize(("days", "stale"), [(89, False), (90, True), (200, True)])
def test_stale_from_the_configured_number_of_days(days: int, stale: bool) -> None:
    data = clean_data()
    data["as_of"] = "2026-04-01"
    as_of = date(2026, 4, 1) + timedelta(days=days)
    report = run(from_plan_file(PlanFile.model_validate(data)),
                 merge([Layer(source="t", rules={"indicator": Severity.off,
                                                 "deliverable.overdue": Severity.off})]), as_of)
    assert {f.item for f in report.findings if f.rule == "deliverable.stale"} == (
        OPEN_DELIVERABLES if stale else set())
    limit = merge([Layer(source="t", stale_after_days=days + 1)])
    report = run(from_plan_file(PlanFile.model_validate(data)), limit, as_of)
    assert not [f for f in report.findings if f.rule == "deliverable.stale"]


def test_staleness_is_skipped_for_a_plan_file_without_as_of() -> None:
    data = clean_data()
    del data["as_of"]
    report = run(from_plan_file(PlanFile.model_validate(data), NO_RECORDS), merge([]),
                 date(2030, 1, 1))
    assert "deliverable.stale" not in {finding.rule for finding in report.findings}
    assert [(s.rule, "as_of" in s.reason) for s in report.skipped] == [
        ("deliverable.stale", True)]


def test_evidence_is_skipped_for_a_plan_file_and_silent_while_off() -> None:
    plan = PlanFile.model_validate(clean_data())
    on = merge([Layer(source="t", rules={"deliverable.evidence-missing": Severity.warning})])
    assert [s.rule for s in run(from_plan_file(plan, NO_RECORDS), on, AS_OF).skipped] == [
        "deliverable.evidence-missing"]
    assert run(from_plan_file(plan, NO_RECORDS), merge([]), AS_OF).skipped == []


def test_measure_owner_is_off_by_default_and_names_the_measure_when_on() -> None:
    data = clean_data()
    _set("L2M2", owner=None)(data)
    assert check(data, config=merge([])).findings == []
    on = merge([Layer(source="t", rules={"measure.owner-missing": Severity.error})])
    report = check(data, config=on)
    (finding,) = report.findings
    assert (finding.kind, finding.item, finding.path) == (
        "measure", "L2M2", "action_lines[1].measures[1]")
    assert finding.message == ("measure L2M2 has no owner: set owner to the person or team "
                               "responsible")
    assert report.passed is False
    assert [(c.label, c.covered, c.total) for c in report.summary
            if c.rule == "measure.owner-missing"] == [("measures with an owner", 5, 6)]


def test_in_progress_message_gives_the_policy_s_credit() -> None:
    data = clean_data()
    data["rollup_policy"] = {"in_progress_credit": 0.25}
    _set("L1M1D2", percent_complete=None)(data)
    (finding,) = check(data, config=merge([])).findings
    assert "25% done" in finding.message


# Structure --------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "parent", "under"), [
    ("L1M1", "L1", True), ("L1M1D1", "L1M1", True), ("SO1.1", "SO1", True),
    ("SO1.1.1", "SO1.1", True), ("L10M1", "L1", False), ("L1", "L1", False),
    ("L2M1", "L1", False), ("l1m1", "L1", False), ("SO1.10", "SO1.1", False),
])
def test_under_prefix(code: str, parent: str, under: bool) -> None:
    assert under_prefix(code, parent) is under


def test_code_prefix_is_judged_only_in_levels_that_prefix_their_codes() -> None:
    data = clean_data()
    # Deliverables numbered on their own (D1, D2, ...): that level does not use prefixes.
    for number, deliverable in enumerate(
            d for line in data["action_lines"] for m in line["measures"]
            for d in m["deliverables"]):
        deliverable["code"] = f"D{number + 1}"
    report = check(data)
    assert report.findings == []
    (count,) = [c for c in report.summary if c.rule == "structure.code-prefix"]
    assert (count.covered, count.total) == (6, 6)  # the measures only


def test_dotted_prefixes_are_prefixes() -> None:
    plan = PlanFile.model_validate(yaml.safe_load((DATA / "other-org-plan.yaml").read_text()))
    report = run(from_plan_file(plan), merge([]), date(2025, 1, 1))
    assert "structure.code-prefix" not in {f.rule for f in report.findings}
    (count,) = [c for c in report.summary if c.rule == "structure.code-prefix"]
    assert count.covered == count.total > 0


def test_a_level_without_prefixes_is_not_judged() -> None:
    data = clean_data()
    for line_code in ("L1", "L2", "L3"):
        item(data, line_code)["code"] = line_code.replace("L", "Line")
    report = check(data)
    assert report.findings == []  # measures L1M1... are not under Line1: that level is not judged
    (count,) = [c for c in report.summary if c.rule == "structure.code-prefix"]
    assert (count.covered, count.total) == (9, 9)  # the deliverables, still under L1M1...


def test_duplicate_codes_across_kinds_of_the_tree() -> None:
    data = clean_data()
    item(data, "L3M2D1")["code"] = "L3M2"  # a deliverable with its measure's code
    report = run(plan_input(data), merge([Layer(source="t", rules={
        "structure.code-prefix": Severity.off})]), AS_OF)
    assert [(f.rule, f.item, f.path) for f in report.findings] == [
        ("structure.duplicate-code", "L3M2", "action_lines[2].measures[1].deliverables[0]")]
    assert "measure action_lines[2].measures[1]" in report.findings[0].message


def test_a_plan_file_with_duplicate_codes_is_checked_not_refused() -> None:
    text = CLEAN.read_text().replace("code: L2M1D2", "code: L2M1D1")
    with pytest.raises(InvalidInput):
        parse_plan_text(text)  # import refuses it
    report = run(from_plan_file(read_plan_text(text)), merge([]), AS_OF)
    assert found(report) == {("structure.duplicate-code", "L2M1D1")}


def test_a_plan_file_with_other_problems_is_still_refused() -> None:
    text = CLEAN.read_text().replace("code: L2M1D2", "code: L2M1D1").replace(
        "status: not_achieved", "status: done")
    with pytest.raises(InvalidInput) as refused:
        read_plan_text(text)
    assert len(refused.value.errors) == 2


# Indicators -------------------------------------------------------------------------------

@pytest.mark.parametrize(("periods", "year", "covered"), [
    (["2025"], 2025, True), (["2025-Q3"], 2025, True), (["2025-11"], 2025, True),
    (["mandate"], 2025, True), (["2024", "2026"], 2025, False), ([], 2025, False),
])
def test_covers_year(periods: list[str], year: int, covered: bool) -> None:
    assert covers_year(periods, year) is covered


def test_period_dates() -> None:
    mandate = PlanFile.model_validate(clean_data()).mandate
    assert period_dates("2025", mandate) == (date(2025, 1, 1), date(2025, 12, 31))
    assert period_dates("2025-Q1", mandate) == (date(2025, 1, 1), date(2025, 3, 31))
    assert period_dates("2024-02", mandate) == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_dates("9999-Q4", mandate) == (date(9999, 10, 1), date(9999, 12, 31))
    assert period_dates("0000", mandate) is None
    assert period_dates("mandate", mandate) == (mandate.start_date, mandate.end_date)


@pytest.mark.parametrize(("as_of", "ended"), [
    (date(2025, 12, 31), ["2024"]), (date(2026, 1, 1), ["2024", "2025"]),
    (date(2023, 6, 1), []),
])
def test_a_value_is_expected_for_each_year_that_has_ended(as_of: date, ended: list[str]
                                                          ) -> None:
    data = clean_data()
    item(data, "RENEWABLE_SHARE")["values"] = []
    data["as_of"] = None
    report = run(from_plan_file(PlanFile.model_validate(data)), merge([]), as_of)
    messages = [f.message for f in report.findings if f.rule == "indicator.value-missing"]
    if ended:
        assert messages == [f"indicator RENEWABLE_SHARE has no value for {', '.join(ended)}, "
                            f"which ended before {as_of}: record the values measured"]
    else:
        assert messages == []


def test_years_of_a_mandate_that_starts_and_ends_mid_year() -> None:
    data = clean_data()
    data["mandate"].update(start_date="2024-07-01", end_date="2025-06-30")
    for indicator in data["indicators"]:
        indicator["targets"] = [{"period": "2024-Q3", "value": 1},
                                {"period": "2025-06", "value": 1}]
        indicator["values"] = [{"period": "2024", "value": 1,
                                **({"parts": {"women": 1}} if "split" in indicator else {})}]
    report = run(from_plan_file(PlanFile.model_validate(data)),
                 merge([Layer(source="t", rules={"deliverable": Severity.off})]),
                 date(2025, 12, 31))
    assert report.findings == []


@pytest.mark.parametrize(("period", "inside"), [
    ("2023", False), ("2024", True), ("2026-Q4", True), ("2027-01", False), ("2023-12", False),
    ("mandate", True), ("0000", False),
])
def test_periods_outside_the_mandate(period: str, inside: bool) -> None:
    data = clean_data()
    item(data, "RENEWABLE_SHARE")["targets"].append({"period": period, "value": 1})
    report = check(data)
    assert (("indicator.period-outside-mandate", "RENEWABLE_SHARE") in found(report)) is (
        not inside)


def test_baselines_before_the_mandate_are_fine() -> None:
    assert item(clean_data(), "RENEWABLE_SHARE")["baseline"]["period"] == "2023"
    assert check(clean_data()).findings == []


# Themes and figures -------------------------------------------------------------------------

def test_theme_coverage_leaves_cancelled_deliverables_out() -> None:
    data = clean_data()
    _untag_gender(data)
    item(data, "L2M2D1")["tags"] = ["gender"]
    item(data, "L2M2D1")["status"] = "cancelled"
    report = check(data)
    assert found(report) == {("theme.coverage", "gender")}
    assert "1 of 3 action lines (33.3%)" in report.findings[0].message
    assert "L2, L3" in report.findings[0].message


def test_thresholds_when_closed_wait_for_the_mandate_s_end() -> None:
    config = merge([Layer(source="t", thresholds={"mandate-progress": 0.9},
                          thresholds_when=ThresholdsWhen.closed)])
    plan = PlanFile.model_validate(clean_data())
    open_report = run(from_plan_file(plan, NO_RECORDS), config, AS_OF)
    assert open_report.findings == []
    assert [s.rule for s in open_report.skipped] == ["figures.mandate-below-threshold"]
    closed = run(from_plan_file(plan), config, date(2027, 1, 1))
    assert ("figures.mandate-below-threshold", "CITY-2024") in found(closed)


FIGURE_RULES = ["figures.mandate-below-threshold", "figures.action-line-below-threshold"]
HIGH_BAR = {"mandate-progress": 0.99, "action-line-progress": 0.99}
"""Minimums no figure of the clean plan reaches: whatever is judged is a finding."""


@pytest.mark.parametrize(("as_of", "judged"), [
    (date(2026, 12, 30), False),
    (date(2026, 12, 31), False),   # the end date itself: the mandate has not ended yet
    (date(2027, 1, 1), True),      # the day after: it has
], ids=str)
def test_thresholds_when_closed_start_the_day_after_the_end_date(as_of: date,
                                                                 judged: bool) -> None:
    """docs/ci.md: with when = "closed", only once the mandate's end_date is before the
    check's date."""
    plan = PlanFile.model_validate(clean_data())
    assert plan.mandate.end_date == date(2026, 12, 31)
    config = merge([Layer(source="t", thresholds=HIGH_BAR,
                          thresholds_when=ThresholdsWhen.closed)])
    report = run(from_plan_file(plan), config, as_of)
    findings = {f.rule for f in report.findings if f.rule in FIGURE_RULES}
    skipped = {s.rule: s.reason for s in report.skipped if s.rule in FIGURE_RULES}
    if judged:
        assert findings == set(FIGURE_RULES)
        assert skipped == {}
    else:
        assert findings == set()
        assert set(skipped) == set(FIGURE_RULES)
        assert all("2026-12-31" in reason for reason in skipped.values())
    # Without "closed" they are judged on every one of these days.
    always = run(from_plan_file(plan), merge([Layer(source="t", thresholds=HIGH_BAR)]), as_of)
    assert {f.rule for f in always.findings if f.rule in FIGURE_RULES} == set(FIGURE_RULES)


def test_figures_use_the_contract_s_formulas() -> None:
    config = merge([Layer(source="t", thresholds={"mandate-progress": 0.5938,
                                                  "mandate-completion-rate": 0.375})])
    report = run(from_plan_file(PlanFile.model_validate(clean_data())), config, AS_OF)
    assert "figures.mandate-below-threshold" not in {f.rule for f in report.findings}
    config = merge([Layer(source="t", thresholds={"mandate-completion-rate": 0.3751})])
    report = run(from_plan_file(PlanFile.model_validate(clean_data())), config, AS_OF)
    (finding,) = [f for f in report.findings if f.rule == "figures.mandate-below-threshold"]
    assert "completion_rate 0.375 is below the minimum 0.3751" in finding.message


# The bundled plan and the file's lines ------------------------------------------------------

def test_the_bundled_plan_as_the_docs_show_it() -> None:
    from app.services.plan.bundled import bundled_plan

    report = run(from_plan_file(bundled_plan()), merge([]), date(2026, 11, 27))
    by_rule: dict[str, int] = {}
    for finding in report.findings:
        by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
    assert by_rule == {
        "deliverable.owner-missing": 65, "deliverable.due-date-missing": 65,
        "deliverable.in-progress-without-percent": 2, "deliverable.stale": 15,
        "indicator.target-missing": 96, "indicator.baseline-missing": 96,
        "indicator.value-missing": 72,  # the 24 derived indicators are the records' to fill
    }
    assert (report.counts.errors, report.counts.warnings) == (298, 113)


def test_line_numbers_point_at_each_item() -> None:
    text = CLEAN.read_text()
    lines = line_numbers(text)
    source = text.splitlines()
    assert source[lines["action_lines[0].measures[0].deliverables[1]"] - 1].strip() == (
        "- code: L1M1D2")
    assert source[lines["indicators[2]"] - 1].strip() == "- code: CYCLISTS"
    assert line_numbers("{unclosed: [") == {}


def test_findings_keep_the_plan_s_order_within_a_rule() -> None:
    data = clean_data()
    for code in ("L3M2D1", "L1M1D1", "L2M1D2"):
        _set(code, owner=None)(data)
    report = check(data)
    assert [f.item for f in report.findings] == ["L1M1D1", "L2M1D2", "L3M2D1"]


def test_the_input_is_not_modified() -> None:
    data = clean_data()
    before = copy.deepcopy(data)
    check(data)
    assert data == before

