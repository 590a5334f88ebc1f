"""The report as text (grouped by rule), JSON, JUnit XML or GitHub workflow annotations.

Every format is made from the :class:`Report` alone (plus, for a plan file, the line of
each item), so a report fetched from the service prints exactly as one made locally.
"""

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from app.coverage.model import Count, Finding, Report
from app.coverage.rules import FAMILIES


class Format(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"
    github = "github"


@dataclass(frozen=True)
class Location:
    """Where the plan came from: a file (whose items have lines) or a service's URL."""

    name: str
    file: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, finding: Finding) -> int | None:
        return self.lines.get(finding.path) if finding.path else None


def render(report: Report, fmt: Format, *, location: Location, color: bool = False) -> str:
    if fmt == Format.json:
        return as_json(report)
    if fmt == Format.junit:
        return as_junit(report, location)
    if fmt == Format.github:
        return as_github(report, location)
    return as_text(report, location, color=color)


def as_json(report: Report) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


# Text -----------------------------------------------------------------------------------

class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def severity(self, severity: str, text: str | None = None) -> str:
        return self(text or severity, "1;31" if severity == "error" else "1;33")


def _by_rule(report: Report) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {}
    for finding in report.findings:
        groups.setdefault(finding.rule, []).append(finding)
    return groups


def _share(count: Count) -> str:
    return "n/a" if count.share is None else f"{count.share:.1%}"


def summary_lines(report: Report) -> list[str]:
    """The coverage summary per rule family: "deliverables with an owner: 40/65, 61.5%"."""
    lines = []
    for family in FAMILIES:
        counts = [count for count in report.summary if count.family == family]
        if counts:
            lines.append(f"  {family}")
            lines += [f"    {count.label}: {count.covered}/{count.total}, {_share(count)}"
                      for count in counts]
    return lines


def _verdict(report: Report) -> str:
    errors, warnings = report.counts.errors, report.counts.warnings
    return (f"{'passed' if report.passed else 'failed'}: {errors} error(s), "
            f"{warnings} warning(s)")


def as_text(report: Report, location: Location, *, color: bool = False) -> str:
    style = _Style(color)
    lines = [style(f"mandate {report.mandate.code} ({report.mandate.title}), as of "
                   f"{report.as_of}: {location.name}", "1")]
    for rule_id, findings in _by_rule(report).items():
        severity = findings[0].severity
        lines += ["", f"{style(rule_id, '1')} ({style.severity(severity)}): "
                      f"{len(findings)} finding(s)"]
        for finding in findings:
            line = location.line_of(finding)
            where = f"{location.file}:{line}: " if location.file and line else ""
            lines.append(f"  {where}{finding.message}")
    lines += ["", style("coverage", "1"), *summary_lines(report)]
    if report.skipped:
        lines += ["", style("skipped", "1")]
        lines += [f"  {skipped.rule}: {skipped.reason}" for skipped in report.skipped]
    verdict = _verdict(report)
    lines += ["", style(verdict, "1;32") if report.passed else style.severity("error", verdict)]
    return "\n".join(lines) + "\n"


# JUnit XML ------------------------------------------------------------------------------

def as_junit(report: Report, location: Location) -> str:
    """A test suite per rule that ran; a failed test case per finding (warnings too, with
    ``type="warning"``); a passing case for a rule without findings; a skipped one for a
    rule that could not be judged."""
    groups = _by_rule(report)
    skipped = {entry.rule: entry.reason for entry in report.skipped}
    ran = list(dict.fromkeys([*(count.rule for count in report.summary), *groups, *skipped]))
    ran.sort(key=lambda rule_id: list(report.config.rules).index(rule_id))
    root = ET.Element("testsuites", name="planpulse check")
    for rule_id in ran:
        suite = ET.SubElement(root, "testsuite", name=rule_id)
        findings = groups.get(rule_id, [])
        for finding in findings:
            case = ET.SubElement(suite, "testcase", classname=rule_id, name=finding.item)
            line = location.line_of(finding)
            if location.file:
                case.set("file", location.file)
                if line:
                    case.set("line", str(line))
            failure = ET.SubElement(case, "failure", type=finding.severity,
                                    message=finding.message)
            failure.text = (f"{finding.severity}: {finding.message}\n"
                            f"rule: {rule_id}\nitem: {finding.item}"
                            + (f"\npath: {finding.path}" if finding.path else ""))
        if not findings:
            case = ET.SubElement(suite, "testcase", classname=rule_id,
                                 name="skipped" if rule_id in skipped else "no findings")
            if rule_id in skipped:
                ET.SubElement(case, "skipped", message=skipped[rule_id])
        _count(suite, len(findings), int(rule_id in skipped))
    _count(root, len(report.findings), len(skipped))
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def _count(element: ET.Element, failures: int, skipped: int) -> None:
    element.set("tests", str(len(element.findall(".//testcase"))))
    element.set("failures", str(failures))
    element.set("errors", "0")
    element.set("skipped", str(skipped))


# GitHub workflow annotations ------------------------------------------------------------

def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def as_github(report: Report, location: Location) -> str:
    """One ``::error`` or ``::warning`` annotation per finding, at its line of the plan
    file when there is one; then the coverage summary as plain log lines."""
    lines = []
    for finding in report.findings:
        properties = []
        if location.file:
            properties.append(f"file={_escape_property(location.file)}")
            line = location.line_of(finding)
            if line:
                properties.append(f"line={line}")
        properties.append(f"title={_escape_property(finding.rule)}")
        lines.append(f"::{finding.severity} {','.join(properties)}::"
                     f"{_escape_data(finding.message)}")
    lines += [f"mandate {report.mandate.code}, as of {report.as_of}: {location.name}",
              "coverage", *summary_lines(report)]
    lines += [f"skipped {skipped.rule}: {skipped.reason}" for skipped in report.skipped]
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"
