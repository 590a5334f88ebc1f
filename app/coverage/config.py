"""The checks' configuration: TOML files, command-line options and query parameters, each
read into a :class:`Layer`, validated strictly (an unknown key is an error, never ignored),
then merged over the defaults: defaults < configuration file < command line.

The file is the first found from a directory up (the plan file's, then the current one):
``planpulse.toml`` (its ``[check]`` table) or a ``pyproject.toml`` with a
``[tool.planpulse.check]`` table; a ``pyproject.toml`` without one is passed over.
"""

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.coverage.model import (
    DEFAULT_STALE_AFTER_DAYS,
    Config,
    ConfigOut,
    Severity,
    ThresholdsWhen,
)
from app.coverage.rules import FAMILIES, RULES, THRESHOLD_FIGURES

CONFIG_FILE = "planpulse.toml"
PYPROJECT = "pyproject.toml"
TOP_KEYS = ("rules", "stale-after-days", "themes", "thresholds")
THRESHOLD_KEYS = (*THRESHOLD_FIGURES, "when")
MAX_STALE_AFTER_DAYS = 36_500
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._\-]*$")
OPTION_PAIR = re.compile(r"^([^=:]+)[=:](.*)$")


class ConfigError(Exception):
    """The configuration cannot be used; every problem is listed, each as (key, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("; ".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {key}: {message}" if key else f"{self.source}: {message}"
                for key, message in self.problems]


@dataclass(frozen=True)
class Layer:
    """One source's settings, validated; what it does not set is left to earlier layers."""

    source: str
    rules: Mapping[str, Severity] = field(default_factory=dict)
    """Rule ids or family names → severity; a rule id beats its family within a layer."""
    stale_after_days: int | None = None
    themes: Mapping[str, float] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    thresholds_when: ThresholdsWhen | None = None


def default_config() -> Config:
    return Config(severities={rule_id: rule.default for rule_id, rule in RULES.items()})


def merge(layers: Iterable[Layer]) -> Config:
    """The defaults with each layer applied over them, in order."""
    severities = {rule_id: rule.default for rule_id, rule in RULES.items()}
    stale_after_days = DEFAULT_STALE_AFTER_DAYS
    themes: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    when = ThresholdsWhen.always
    for layer in layers:
        for key, severity in layer.rules.items():
            if key in FAMILIES:
                severities.update({rule_id: severity for rule_id, rule in RULES.items()
                                   if rule.family == key})
        for key, severity in layer.rules.items():
            if key in RULES:
                severities[key] = severity
        stale_after_days = layer.stale_after_days or stale_after_days
        themes.update(layer.themes)
        thresholds.update(layer.thresholds)
        when = layer.thresholds_when or when
    return Config(severities=severities, stale_after_days=stale_after_days,
                  themes=dict(sorted(themes.items())), thresholds=dict(sorted(thresholds.items())),
                  thresholds_when=when)


def describe(config: Config) -> ConfigOut:
    return ConfigOut(rules={rule_id: config.severities[rule_id] for rule_id in RULES},
                     stale_after_days=config.stale_after_days, themes=dict(config.themes),
                     thresholds=dict(config.thresholds),
                     thresholds_when=config.thresholds_when)


# Validation -----------------------------------------------------------------------------

def _unknown(kind: str, key: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return f"unknown {kind} {key!r}{hint}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _ratio(value: Any, key: str, problems: list[tuple[str, str]]) -> float | None:
    number = _number(value)
    if number is None or not 0 <= number <= 1:
        problems.append((key, f"{value!r} is not a number from 0 to 1"))
        return None
    return number


def parse_layer(table: Any, source: str) -> Layer:
    """Validate one source's settings (the shape of ``[tool.planpulse.check]``)."""
    problems: list[tuple[str, str]] = []
    if not isinstance(table, Mapping):
        raise ConfigError(source, [("", "the check settings must be a table")])
    for key in table:
        if key not in TOP_KEYS:
            problems.append((str(key), _unknown("key", str(key), TOP_KEYS)))

    rules: dict[str, Severity] = {}
    for key, value in _table(table, "rules", problems).items():
        if key not in RULES and key not in FAMILIES:
            problems.append((f"rules.{key}", _unknown("rule or family", key,
                                                      [*RULES, *FAMILIES])))
        elif value not in {s.value for s in Severity}:
            problems.append((f"rules.{key}", f"{value!r} is not one of error, warning, off"))
        else:
            rules[key] = Severity(value)

    stale_after_days = table.get("stale-after-days")
    if stale_after_days is not None and (
            isinstance(stale_after_days, bool) or not isinstance(stale_after_days, int)
            or not 1 <= stale_after_days <= MAX_STALE_AFTER_DAYS):
        problems.append(("stale-after-days", f"{stale_after_days!r} is not a whole number of "
                         f"days from 1 to {MAX_STALE_AFTER_DAYS}"))
        stale_after_days = None

    themes: dict[str, float] = {}
    for key, value in _table(table, "themes", problems).items():
        tag = key.strip().lower()
        if not TAG_PATTERN.match(tag):
            problems.append((f"themes.{key}", f"{key!r} is not a tag (letters, digits, . _ -)"))
            continue
        minimum = _ratio(value, f"themes.{key}", problems)
        if minimum is not None:
            themes[tag] = minimum

    thresholds: dict[str, float] = {}
    when: ThresholdsWhen | None = None
    for key, value in _table(table, "thresholds", problems).items():
        if key not in THRESHOLD_KEYS:
            problems.append((f"thresholds.{key}", _unknown("threshold", key, THRESHOLD_KEYS)))
        elif key == "when":
            if value not in {w.value for w in ThresholdsWhen}:
                problems.append(("thresholds.when", f"{value!r} is not one of always, closed"))
            else:
                when = ThresholdsWhen(value)
        else:
            minimum = _ratio(value, f"thresholds.{key}", problems)
            if minimum is not None:
                thresholds[key] = minimum
    if problems:
        raise ConfigError(source, problems)
    return Layer(source=source, rules=rules, stale_after_days=stale_after_days, themes=themes,
                 thresholds=thresholds, thresholds_when=when)


def _table(table: Mapping[str, Any], key: str, problems: list[tuple[str, str]]
           ) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, Mapping):
        problems.append((key, f"must be a table, not {value!r}"))
        return {}
    return {str(k): v for k, v in value.items()}


# Files ----------------------------------------------------------------------------------

def _load_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [("", f"cannot be read: {error}")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), [("", f"is not valid TOML: {error}")]) from None


def _pyproject_table(data: dict[str, Any]) -> Any:
    tool = data.get("tool")
    planpulse = tool.get("planpulse") if isinstance(tool, dict) else None
    return planpulse.get("check") if isinstance(planpulse, dict) else None


def read_config_file(path: Path) -> Layer:
    """A ``planpulse.toml`` (settings under ``[check]``) or a ``pyproject.toml`` (under
    ``[tool.planpulse.check]``); any other name is read as a ``planpulse.toml``."""
    data = _load_toml(path)
    if path.name == PYPROJECT:
        table = _pyproject_table(data)
        if table is None:
            raise ConfigError(str(path), [("", "has no [tool.planpulse.check] table")])
        return parse_layer(table, f"{path} [tool.planpulse.check]")
    unknown = [key for key in data if key != "check"]
    if unknown:
        raise ConfigError(str(path), [(key, _unknown("table", key, ["check"]))
                                      for key in unknown])
    return parse_layer(data.get("check", {}), f"{path} [check]")


def find_config_file(start: Path) -> Path | None:
    """The closest ``planpulse.toml``, or ``pyproject.toml`` holding check settings, from
    ``start`` up to the filesystem's root."""
    for directory in [start, *start.parents]:
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        candidate = directory / PYPROJECT
        if candidate.is_file() and _pyproject_table(_load_toml(candidate)) is not None:
            return candidate
    return None


# Command line and query parameters ------------------------------------------------------

def _pairs(values: Iterable[str], option: str, problems: list[tuple[str, str]]
           ) -> dict[str, str]:
    pairs = {}
    for value in values:
        match = OPTION_PAIR.match(value.strip())
        if match is None:
            problems.append((option, f"{value!r} is not NAME=VALUE"))
        else:
            pairs[match.group(1).strip()] = match.group(2).strip()
    return pairs


def _as_number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # parse_layer reports it


def layer_from_options(source: str, *, rules: Iterable[str] = (), themes: Iterable[str] = (),
                       thresholds: Iterable[str] = (), stale_after_days: int | None = None,
                       thresholds_when: str | None = None) -> Layer:
    """Settings given as options (``--rule ID=SEVERITY``) or query parameters
    (``rule=ID:SEVERITY``), validated like a file's."""
    problems: list[tuple[str, str]] = []
    table: dict[str, Any] = {
        "rules": _pairs(rules, "rule", problems),
        "themes": {tag: _as_number(value)
                   for tag, value in _pairs(themes, "theme", problems).items()},
        "thresholds": {key: _as_number(value)
                       for key, value in _pairs(thresholds, "threshold", problems).items()},
    }
    if thresholds_when is not None:
        table["thresholds"]["when"] = thresholds_when
    if stale_after_days is not None:
        table["stale-after-days"] = stale_after_days
    try:
        layer = parse_layer(table, source)
    except ConfigError as error:
        raise ConfigError(source, problems + error.problems) from None
    if problems:
        raise ConfigError(source, problems)
    return layer


def to_query(config: Config) -> list[tuple[str, str]]:
    """The query parameters that make the service run with ``config``: what differs from
    the defaults (an older service then still understands the request)."""
    defaults = default_config()
    query = [("rule", f"{rule_id}:{severity.value}") for rule_id, severity
             in config.severities.items() if severity != defaults.severities[rule_id]]
    if config.stale_after_days != defaults.stale_after_days:
        query.append(("stale_after_days", str(config.stale_after_days)))
    query += [("theme", f"{tag}:{minimum!r}") for tag, minimum in config.themes.items()]
    query += [("threshold", f"{key}:{minimum!r}") for key, minimum in config.thresholds.items()]
    if config.thresholds_when != defaults.thresholds_when:
        query.append(("thresholds_when", config.thresholds_when.value))
    return query
