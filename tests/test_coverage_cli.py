"""``planpulse check PLAN_FILE``: exit statuses, output formats, and a plan with known gaps."""

import io
import json
import socket
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.cli import app
from app.coverage.cli import wants_color
from app.coverage.output import Format
from app.coverage.rules import RULES
from tests.helpers import DATA

GAPS = DATA / "coverage-gaps.yaml"
CLEAN = DATA / "coverage-clean.yaml"
AS_OF = ["--as-of", "2026-07-15"]

# The gaps coverage-gaps.yaml was written with, one per rule that is on by default but
# staleness and duplicate codes (tested on their own).
EXPECTED_GAPS = {
    ("structure.action-line-without-measures", "L4"),
    ("structure.measure-without-deliverables", "L3M3"),
    ("structure.code-prefix", "BUS1"),
    ("deliverable.owner-missing", "L1M2D1"),
    ("deliverable.due-date-missing", "L2M1D1"),
    ("deliverable.overdue", "L3M1D1"),
    ("deliverable.in-progress-without-percent", "L1M1D2"),
    ("indicator.target-missing", "RENEWABLE_SHARE"),
    ("indicator.baseline-missing", "CYCLISTS"),
    ("indicator.value-missing", "BIKE_LANES_KM"),
    ("indicator.split-missing", "CYCLISTS"),
    ("indicator.period-outside-mandate", "BIKE_LANES_KM"),
}
WARNINGS = {"structure.code-prefix", "deliverable.in-progress-without-percent",
            "indicator.baseline-missing"}


@pytest.fixture(autouse=True)
def _no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no planpulse.toml or pyproject.toml is found."""
    monkeypatch.chdir(tmp_path)


def check(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["check", *args], input=stdin)


def test_a_plan_with_gaps_fails_with_every_gap_and_nothing_else() -> None:
    result = check(str(GAPS), *AS_OF, "--format", "json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert {(f["rule"], f["item"]) for f in report["findings"]} == EXPECTED_GAPS
    assert len(report["findings"]) == len(EXPECTED_GAPS)
    assert {f["rule"] for f in report["findings"] if f["severity"] == "warning"} == WARNINGS
    assert report["counts"] == {"errors": 9, "warnings": 3}
    assert report["passed"] is False
    assert result.stderr == ""


def test_the_same_plan_with_its_gaps_fixed_passes() -> None:
    for fmt in Format:
        result = check(str(CLEAN), *AS_OF, "--format", fmt.value)
        assert result.exit_code == 0, (fmt, result.stdout, result.stderr)
    report = json.loads(check(str(CLEAN), *AS_OF, "--format", "json").stdout)
    assert report["findings"] == [] and report["passed"] is True


def test_warnings_alone_pass() -> None:
    result = check(str(GAPS), *AS_OF, "--rule", "structure=off", "--rule", "deliverable=off",
                   "--rule", "indicator=warning", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["counts"] == {"errors": 0, "warnings": 5}


def test_junit_has_one_failure_per_finding() -> None:
    result = check(str(GAPS), *AS_OF, "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    assert root.get("failures") == str(len(EXPECTED_GAPS))
    failed = [(case.get("classname"), case.get("name"), case.find("failure"))
              for case in root.iter("testcase") if case.find("failure") is not None]
    assert {(rule, item) for rule, item, _failure in failed} == EXPECTED_GAPS
    assert len(failed) == len(EXPECTED_GAPS)
    assert {failure.get("type") for rule, _i, failure in failed if rule in WARNINGS} == {
        "warning"}
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    # A suite per rule that checked something: themes and figures wait for a setting.
    assert set(suites) == {rule_id for rule_id, rule in RULES.items()
                           if rule.default.value != "off"
                           and rule.family not in {"theme", "figures"}}
    # A rule without findings is one passing case.
    stale = suites["deliverable.stale"]
    assert (stale.get("tests"), stale.get("failures")) == ("1", "0")
    cases = list(root.iter("testcase"))
    assert root.get("tests") == str(len(cases))
    overdue = next(c for c in cases if c.get("classname") == "deliverable.overdue")
    assert overdue.get("file") == str(GAPS)
    assert GAPS.read_text().splitlines()[int(overdue.get("line", 0)) - 1].strip() == (
        "- code: L3M1D1")


def test_junit_marks_skipped_rules() -> None:
    text = CLEAN.read_text().replace("as_of: 2026-06-30\n", "")
    result = check("-", *AS_OF, "--format", "junit", "--rule", "records=off", stdin=text)
    root = ET.fromstring(result.stdout)
    assert root.get("skipped") == "1"
    (case,) = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert case.get("classname") == "deliverable.stale"


def test_github_annotations_point_at_lines_of_the_plan_file() -> None:
    result = check(str(GAPS), *AS_OF, "--format", "github")
    assert result.exit_code == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == len(EXPECTED_GAPS)
    assert Counter(line.split(" ", 1)[0] for line in annotations) == {"::error": 9,
                                                                       "::warning": 3}
    owner = next(line for line in annotations if "deliverable.owner-missing" in line)
    prefix, message = owner.split("::", 2)[1:]
    assert prefix.startswith(f"error file={GAPS},line=")
    assert prefix.endswith(",title=deliverable.owner-missing")
    assert message.startswith("deliverable L1M2D1 has no owner")
    assert "deliverables with an owner: 7/8, 87.5%" in result.stdout


def test_text_is_grouped_by_rule_with_a_coverage_summary() -> None:
    result = check(str(GAPS), *AS_OF)
    assert result.exit_code == 1
    text = result.stdout
    assert "\x1b[" not in text  # not a terminal
    assert "deliverable.overdue (error): 1 finding(s)" in text
    assert f"  {GAPS}:72: deliverable L3M1D1 was due on 2026-05-31, 45 day(s) before " in text
    assert "indicators with a baseline: 2/3, 66.7%" in text
    assert text.rstrip().endswith("failed: 9 error(s), 3 warning(s)")
    assert text.index("structure.action-line-without-measures") < text.index(
        "indicator.split-missing")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("fmt", "tty", "environ", "color"), [
    (Format.text, True, {}, True),
    (Format.text, False, {}, False),
    (Format.text, True, {"NO_COLOR": "1"}, False),
    (Format.json, True, {}, False),
    (Format.github, True, {}, False),
])
def test_colour_only_for_text_on_a_terminal(fmt: Format, tty: bool, environ: dict[str, str],
                                            color: bool) -> None:
    assert wants_color(fmt, _Stream(tty), environ) is color


def test_stale_deliverables_of_a_plan_file_are_those_open_since_its_as_of() -> None:
    result = check(str(CLEAN), "--as-of", "2026-09-28", "--format", "json")
    stale = [f for f in json.loads(result.stdout)["findings"] if f["rule"] == "deliverable.stale"]
    assert {f["item"] for f in stale} == {"L1M1D2", "L1M2D1", "L2M1D1", "L2M2D1", "L3M1D1"}
    assert "no status change for 90 days, since 2026-06-30 (limit 90)" in stale[0]["message"]


def test_json_plan_files_and_stdin() -> None:
    import yaml

    from app.coverage.source import PlanLoader

    data = yaml.load(GAPS.read_text(), Loader=PlanLoader)
    as_json = Path("gaps.json")
    as_json.write_text(json.dumps(data))
    from_json = check(str(as_json), *AS_OF, "--format", "json")
    from_stdin = check("-", *AS_OF, "--format", "json", stdin=GAPS.read_text())
    from_file = check(str(GAPS), *AS_OF, "--format", "json")
    assert from_json.exit_code == from_stdin.exit_code == 1
    assert json.loads(from_json.stdout) == json.loads(from_stdin.stdout) == json.loads(
        from_file.stdout)


def test_list_rules() -> None:
    result = check("--list-rules", "--rule", "indicator=off")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(RULES)
    assert " off " in next(line for line in lines if line.startswith("indicator.target-"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("args", "stdin", "says"), [
    (["missing.yaml"], None, "cannot read missing.yaml"),
    (["-"], "mandate: [", "malformed YAML"),
    (["-"], "mandate:\n  code: X\n", "problem(s) in the plan"),
    (["-"], CLEAN.read_text().replace("status: not_achieved", "status: done"),
     "'done' is not one of"),
    ([str(CLEAN), "--as-of", "2026-13-01"], None, "--as-of: '2026-13-01' is not a date"),
    ([str(CLEAN), "--rule", "deliverable.owner=off"], None, "unknown rule or family"),
    ([str(CLEAN), "--theme", "gender=60%"], None, "is not a number from 0 to 1"),
    ([str(CLEAN), "--config", "nowhere.toml"], None, "nowhere.toml: no such file"),
    ([], None, "give a plan file, or --url and --mandate"),
    ([str(CLEAN), "--url", "http://127.0.0.1:1", "--mandate", "X"], None, "not both"),
    (["--url", "http://127.0.0.1:1"], None, "--url needs --mandate"),
    ([str(CLEAN), "--mandate", "X"], None, "--mandate goes with --url"),
    (["--url", "ftp://example.org", "--mandate", "X"], None, "is not an http:// or https://"),
    (["--url", "http://127.0.0.1:{port}", "--mandate", "X"], None, "cannot reach"),
])
def test_input_that_cannot_be_used_exits_2_with_the_reason_on_stderr(
        args: list[str], stdin: str | None, says: str) -> None:
    args = [arg.format(port=_closed_port()) for arg in args]
    result = check(*args, stdin=stdin)
    assert result.exit_code == 2, result.stdout
    assert says in result.stderr
    assert result.stdout == ""


def test_an_unknown_option_value_exits_2() -> None:
    result = check(str(CLEAN), "--format", "xml")
    assert result.exit_code == 2


def _without_measure_owner(tmp_path: Path, code: str) -> Path:
    """The clean plan with the owner of the measure ``code`` removed."""
    text = CLEAN.read_text(encoding="utf-8")
    start = text.index(f"      - code: {code}\n")
    owner = text.index("        owner: ", start)
    plan = tmp_path / "plan.yaml"
    plan.write_text(text[:owner] + text[text.index("\n", owner) + 1:], encoding="utf-8")
    return plan


def test_a_measure_without_owner_passes_by_default_and_fails_when_required(
        tmp_path: Path) -> None:
    plan = _without_measure_owner(tmp_path, "L2M2")
    default = check(str(plan), *AS_OF, "--format", "json")
    assert default.exit_code == 0, default.stdout
    assert json.loads(default.stdout)["findings"] == []

    required = check(str(plan), *AS_OF, "--format", "json",
                     "--rule", "measure.owner-missing=error")
    assert required.exit_code == 1, required.stderr
    (finding,) = json.loads(required.stdout)["findings"]
    assert (finding["rule"], finding["kind"], finding["item"]) == (
        "measure.owner-missing", "measure", "L2M2")
    assert "set owner" in finding["message"]

    (tmp_path / "planpulse.toml").write_text(
        '[check.rules]\n"measure.owner-missing" = "error"\n', encoding="utf-8")
    from_file = check(str(plan), *AS_OF)
    assert from_file.exit_code == 1
    assert "measure L2M2 has no owner: set owner to the person or team responsible" in (
        from_file.stdout)
    assert check(str(plan), *AS_OF, "--rule", "measure.owner-missing=warning"
                 ).exit_code == 0
