"""Run the rules over a plan input: findings, the coverage summary, and what was skipped."""

from datetime import date
from typing import Literal

from app.coverage.config import describe
from app.coverage.model import (
    Config,
    Count,
    Counts,
    Finding,
    MandateRef,
    PlanInput,
    Report,
    Severity,
    Skipped,
)
from app.coverage.rules import RULES, Context


def run(plan_input: PlanInput, config: Config, as_of: date) -> Report:
    """Every rule that is not off, in registry order; findings in plan order within a rule."""
    context = Context(input=plan_input, config=config, as_of=as_of)
    findings: list[Finding] = []
    summary: list[Count] = []
    skipped: list[Skipped] = []
    for rule_id, rule in RULES.items():
        severity = config.severities[rule_id]
        if severity == Severity.off:
            continue
        outcome = rule.run(context)
        if outcome.skipped is not None:
            skipped.append(Skipped(rule=rule_id, reason=outcome.skipped))
        level: Literal["error", "warning"] = (
            "error" if severity == Severity.error else "warning")
        findings += [Finding(rule=rule_id, family=rule.family, severity=level,
                             kind=hit.kind, item=hit.item, path=hit.path, message=hit.message)
                     for hit in outcome.hits]
        summary += [Count(rule=rule_id, family=rule.family, label=label, covered=covered,
                          total=total, share=round(covered / total, 4) if total else None)
                    for label, covered, total in outcome.counts]
    errors = sum(finding.severity == "error" for finding in findings)
    mandate = plan_input.plan.mandate
    return Report(
        mandate=MandateRef(code=mandate.code, title=mandate.title), as_of=as_of,
        passed=errors == 0, counts=Counts(errors=errors, warnings=len(findings) - errors),
        findings=findings, summary=summary, skipped=skipped, config=describe(config))
