"""docs/ci.md stays true: its rule table is the registry's, its examples parse, and the
worked example is what the command prints."""

import json
import re
import tomllib
from datetime import date
from pathlib import Path

import yaml

from app.coverage.config import merge, parse_layer
from app.coverage.engine import run
from app.coverage.model import from_plan_file
from app.coverage.output import Location, as_text
from app.coverage.rules import RULES
from app.coverage.source import line_numbers
from app.services.plan.bundled import bundled_plan, bundled_plan_text

CI_DOC = Path(__file__).parent.parent / "docs" / "ci.md"
TEXT = CI_DOC.read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```$", TEXT, re.MULTILINE | re.DOTALL)


def test_the_rule_table_is_the_registry() -> None:
    rows = [line for line in TEXT.splitlines() if re.match(r"^\| `[a-z]+\.[a-z-]+` \|", line)]
    assert rows == [f"| `{r.id}` | {r.family} | {r.default.value} | {r.checks} | {r.fix} |"
                    for r in RULES.values()]


def test_the_workflows_are_yaml_and_the_configuration_is_valid() -> None:
    workflows = [yaml.safe_load(block) for block in _blocks("yaml")]
    assert len(workflows) == 3
    assert all(isinstance(workflow, dict) for workflow in workflows)
    (toml,) = _blocks("toml")
    config = merge([parse_layer(tomllib.loads(toml)["tool"]["planpulse"]["check"], "docs")])
    assert config.themes == {"gender": 0.5}
    for block in _blocks("json"):
        json.loads(block)


def test_the_worked_example_is_the_command_s_output() -> None:
    report = run(from_plan_file(bundled_plan()), merge([]), date(2026, 11, 27))
    path = "app/data/metropolis-2018-2020.yaml"
    text = as_text(report, Location(name=path, file=path,
                                    lines=line_numbers(bundled_plan_text())))
    summary = text[text.index("\ncoverage\n"):]
    assert summary in TEXT
    for line in text.splitlines():
        if "L1M1D1" in line or "(warning)" in line or "(error)" in line or "stale" in line:
            assert line in TEXT, line
