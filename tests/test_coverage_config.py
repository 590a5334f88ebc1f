"""Configuration of the coverage checks: where it is found, what wins, what is refused."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.coverage.config import (
    ConfigError,
    Layer,
    default_config,
    find_config_file,
    layer_from_options,
    merge,
    parse_layer,
    read_config_file,
    to_query,
)
from app.coverage.model import Severity, ThresholdsWhen
from app.coverage.rules import RULES
from tests.helpers import DATA

GAPS = DATA / "coverage-gaps.yaml"


def test_defaults() -> None:
    config = default_config()
    assert config.severities == {rule_id: rule.default for rule_id, rule in RULES.items()}
    assert config.stale_after_days == 90
    assert config.themes == {} and config.thresholds == {}
    assert config.thresholds_when == ThresholdsWhen.always


def test_a_pyproject_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "plans"\n\n[tool.planpulse.check]\nstale-after-days = 30\n'
        '[tool.planpulse.check.rules]\n"deliverable.owner-missing" = "warning"\n'
        "[tool.planpulse.check.themes]\nGender = 0.5\n"
        '[tool.planpulse.check.thresholds]\nmandate-progress = 0.8\nwhen = "closed"\n')
    found = find_config_file(tmp_path)
    assert found == tmp_path / "pyproject.toml"
    config = merge([read_config_file(found)])
    assert config.stale_after_days == 30
    assert config.severities["deliverable.owner-missing"] == Severity.warning
    assert config.themes == {"gender": 0.5}
    assert config.thresholds == {"mandate-progress": 0.8}
    assert config.thresholds_when == ThresholdsWhen.closed


def test_which_file_is_found(tmp_path: Path) -> None:
    child = tmp_path / "plans" / "2024"
    child.mkdir(parents=True)
    (tmp_path / "planpulse.toml").write_text("[check]\nstale-after-days = 10\n")
    assert find_config_file(child) == tmp_path / "planpulse.toml"
    # A pyproject.toml without check settings is passed over...
    (child / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config_file(child) == tmp_path / "planpulse.toml"
    # ...one with them is the closest file...
    (child / "pyproject.toml").write_text("[tool.planpulse.check]\nstale-after-days = 20\n")
    assert find_config_file(child) == child / "pyproject.toml"
    # ...and in one directory planpulse.toml comes before pyproject.toml.
    (child / "planpulse.toml").write_text("[check]\nstale-after-days = 30\n")
    assert find_config_file(child) == child / "planpulse.toml"
    assert merge([read_config_file(child / "planpulse.toml")]).stale_after_days == 30


def test_later_layers_win_and_a_rule_beats_its_family() -> None:
    file = Layer(source="file", rules={"deliverable.owner-missing": Severity.off,
                                       "deliverable": Severity.warning},
                 stale_after_days=30, themes={"gender": 0.5}, thresholds={"mandate-progress": 0.8})
    options = Layer(source="command line", rules={"deliverable.owner-missing": Severity.error},
                    stale_after_days=60, themes={"youth": 0.2})
    config = merge([file, options])
    assert config.severities["deliverable.owner-missing"] == Severity.error  # options
    assert config.severities["deliverable.due-date-missing"] == Severity.warning  # file family
    assert config.severities["deliverable.evidence-missing"] == Severity.warning
    assert config.severities["indicator.target-missing"] == Severity.error  # default
    assert config.stale_after_days == 60
    assert config.themes == {"gender": 0.5, "youth": 0.2}
    assert config.thresholds == {"mandate-progress": 0.8}
    assert merge([file]).severities["deliverable.owner-missing"] == Severity.off


@pytest.mark.parametrize(("table", "key", "says"), [
    ({"stale_after_days": 30}, "stale_after_days", "did you mean 'stale-after-days'?"),
    ({"rule": {}}, "rule", "did you mean 'rules'?"),
    ({"rules": {"deliverable.owner": "off"}}, "rules.deliverable.owner", "unknown rule"),
    ({"rules": {"deliverable.stale": "fatal"}}, "rules.deliverable.stale",
     "not one of error, warning, off"),
    ({"rules": "off"}, "rules", "must be a table"),
    ({"stale-after-days": 0}, "stale-after-days", "from 1 to"),
    ({"stale-after-days": True}, "stale-after-days", "whole number"),
    ({"stale-after-days": 1.5}, "stale-after-days", "whole number"),
    ({"themes": {"gender": 50}}, "themes.gender", "from 0 to 1"),
    ({"themes": {"gen der": 0.5}}, "themes.gen der", "not a tag"),
    ({"thresholds": {"progress": 0.5}}, "thresholds.progress", "unknown threshold"),
    ({"thresholds": {"mandate-progress": "high"}}, "thresholds.mandate-progress", "from 0"),
    ({"thresholds": {"when": "sometimes"}}, "thresholds.when", "always, closed"),
])
def test_unknown_keys_and_bad_values_are_errors(table: dict[str, object], key: str, says: str
                                                ) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_layer(table, "pyproject.toml [tool.planpulse.check]")
    ((where, message),) = refused.value.problems
    assert where == key and says in message
    assert refused.value.lines()[0].startswith("pyproject.toml [tool.planpulse.check]: ")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_layer({"color": True, "rules": {"x": "off"}, "stale-after-days": -1}, "t")
    assert [key for key, _message in refused.value.problems] == [
        "color", "rules.x", "stale-after-days"]


def test_files_that_cannot_be_used(tmp_path: Path) -> None:
    bad = tmp_path / "planpulse.toml"
    bad.write_text("[check\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(bad)
    bad.write_text("[checks]\nstale-after-days = 3\n")
    with pytest.raises(ConfigError, match="unknown table 'checks'"):
        read_config_file(bad)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"no \[tool.planpulse.check\]"):
        read_config_file(pyproject)


def test_options_are_validated_like_a_file() -> None:
    layer = layer_from_options("command line", rules=["deliverable=warning", "theme:off"],
                               themes=["Gender=0.5"], thresholds=["mandate-progress=0.8"],
                               stale_after_days=10, thresholds_when="closed")
    assert layer.rules == {"deliverable": Severity.warning, "theme": Severity.off}
    assert layer.themes == {"gender": 0.5}
    assert layer.thresholds == {"mandate-progress": 0.8}
    with pytest.raises(ConfigError) as refused:
        layer_from_options("command line", rules=["deliverable"], themes=["gender=half"])
    assert [key for key, _m in refused.value.problems] == ["rule", "themes.gender"]


def test_the_query_sent_to_the_service_rebuilds_the_same_configuration() -> None:
    config = merge([Layer(source="t", rules={"indicator": Severity.off,
                                             "deliverable.evidence-missing": Severity.error},
                          stale_after_days=45, themes={"gender": 1 / 3},
                          thresholds={"action-line-completion-rate": 0.7},
                          thresholds_when=ThresholdsWhen.closed)])
    query = to_query(config)
    assert ("rule", "indicator.target-missing:off") in query
    assert not [value for name, value in query if value.startswith("deliverable.owner")]
    values: dict[str, list[str]] = {}
    for name, value in query:
        values.setdefault(name, []).append(value)
    rebuilt = merge([layer_from_options(
        "query", rules=values.get("rule", []), themes=values.get("theme", []),
        thresholds=values.get("threshold", []),
        stale_after_days=int(values["stale_after_days"][0]),
        thresholds_when=values["thresholds_when"][0])])
    assert rebuilt == config
    assert to_query(default_config()) == []


# Through the command line -------------------------------------------------------------------

def _config_of(result: object) -> dict[str, object]:
    return json.loads(result.stdout)["config"]  # type: ignore[attr-defined, no-any-return]


def test_command_line_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.planpulse.check]\nstale-after-days = 30\n[tool.planpulse.check.rules]\n'
        'deliverable = "off"\n')
    runner = CliRunner()
    args = ["check", str(GAPS), "--as-of", "2026-07-15", "--format", "json"]
    from_file = runner.invoke(app, args)
    assert _config_of(from_file)["stale_after_days"] == 30
    assert not [f for f in json.loads(from_file.stdout)["findings"]
                if f["family"] == "deliverable"]
    overridden = runner.invoke(app, [*args, "--stale-after-days", "7",
                                     "--rule", "deliverable.overdue=warning"])
    config = _config_of(overridden)
    assert config["stale_after_days"] == 7
    assert config["rules"]["deliverable.overdue"] == "warning"  # type: ignore[index]
    assert config["rules"]["deliverable.owner-missing"] == "off"  # type: ignore[index]
    isolated = runner.invoke(app, [*args, "--isolated"])
    assert _config_of(isolated)["stale_after_days"] == 90
    (tmp_path / "other.toml").write_text("[check]\nstale-after-days = 5\n")
    explicit = runner.invoke(app, [*args, "--config", "other.toml"])
    assert _config_of(explicit)["stale_after_days"] == 5


def test_an_unknown_key_stops_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "planpulse.toml").write_text('[check]\nstale-after-day = 30\n')
    result = CliRunner().invoke(app, ["check", str(GAPS)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "unknown key 'stale-after-day'; did you mean 'stale-after-days'?" in result.stderr
    assert "planpulse.toml [check]" in result.stderr


def test_the_configuration_next_to_the_plan_file_is_found_from_anywhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repository, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repository / "plan").mkdir(parents=True)
    elsewhere.mkdir()
    plan = repository / "plan" / "plan.yaml"
    plan.write_text(GAPS.read_text())
    (repository / "pyproject.toml").write_text(
        "[tool.planpulse.check]\nstale-after-days = 12\n")
    (elsewhere / "planpulse.toml").write_text("[check]\nstale-after-days = 34\n")
    monkeypatch.chdir(elsewhere)
    args = ["check", "--as-of", "2026-07-15", "--format", "json"]
    runner = CliRunner()
    assert _config_of(runner.invoke(app, [*args, str(plan)]))["stale_after_days"] == 12
    # Without a file of its own, the current directory's configuration is used.
    (repository / "pyproject.toml").unlink()
    assert _config_of(runner.invoke(app, [*args, str(plan)]))["stale_after_days"] == 34
    from_stdin = runner.invoke(app, [*args, "-"], input=plan.read_text())
    assert _config_of(from_stdin)["stale_after_days"] == 34
