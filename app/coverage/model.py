"""What the checks read (a plan, a few facts about its deliverables, the records), how
they are configured, and the report they produce (the JSON that every output format is
made from)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.plan_file import PlanFile
from app.schemas.records_file import RecordsFile


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    off = "off"


class ThresholdsWhen(StrEnum):
    always = "always"
    closed = "closed"


DEFAULT_STALE_AFTER_DAYS = 90


@dataclass(frozen=True)
class Config:
    """The configuration a check runs with, every layer merged (see config.py)."""

    severities: Mapping[str, Severity]
    """The severity of every rule, by id."""
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS
    themes: Mapping[str, float] = field(default_factory=dict)
    """Tag → minimum share (0..1) of action lines with a deliverable so tagged."""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Figure name (e.g. ``mandate-progress``) → minimum value (0..1)."""
    thresholds_when: ThresholdsWhen = ThresholdsWhen.always


@dataclass(frozen=True)
class PlanInput:
    """A plan and what the plan file alone cannot say about its deliverables.

    Both mappings are keyed by deliverable code. ``None`` means the fact is unknown for the
    whole plan (the rules that need it are skipped, with the reason); a code missing from a
    mapping means it is unknown for that deliverable only (it is not judged).
    """

    plan: PlanFile
    last_change: Mapping[str, date] | None = None
    """The date of each deliverable's last status change."""
    has_evidence: Mapping[str, bool] | None = None
    """Whether each deliverable's current status entry carries an evidence URL."""
    records: RecordsFile | None = None
    """The organisation's records (members, engagement, activities); ``None`` when none
    were given, and the records rules are skipped."""
    typed_values_of_derived: Mapping[str, list[str]] | None = None
    """Derived indicator's code → the periods it also has typed values for (a plan file
    can't hold both: empty; the stored plan may, from before the indicator was derived)."""
    indicator_values: Mapping[str, Mapping[str, float]] | None = None
    """Indicator code → period → its value as the service reads it (derived ones computed
    from the records); ``None`` for a plan file, whose typed values are read instead."""


def from_plan_file(plan: PlanFile, records: RecordsFile | None = None) -> PlanInput:
    """A plan file, with a records file if one is given: its ``as_of`` is taken as the date
    of every deliverable's last status change (an import records the statuses as effective
    then); without it, staleness is unknown. A plan file records no evidence."""
    last_change = None
    if plan.as_of is not None:
        last_change = {d.code: plan.as_of for _measure, d in plan.deliverables()}
    return PlanInput(plan=plan, last_change=last_change, has_evidence=None, records=records,
                     typed_values_of_derived={})


# The report ------------------------------------------------------------------------------

class _Out(BaseModel):
    # Unknown fields are ignored, so that a report from a newer service still reads.
    model_config = ConfigDict(extra="ignore")


ItemKind = Literal["mandate", "action_line", "measure", "deliverable", "indicator", "code",
                   "theme", "engagement_kind", "activity", "member"]


class Finding(_Out):
    rule: str = Field(examples=["deliverable.owner-missing"])
    family: str = Field(examples=["deliverable"])
    severity: Literal["error", "warning"]
    kind: ItemKind = Field(description="What kind of item the finding is about.")
    item: str = Field(description="The item's code (a tag for theme rules; for records "
                      "rules, a code of the records).",
                      examples=["L1M1D1"])
    path: str | None = Field(default=None, description="Where the item is in the plan file "
                             "(null for an item of the records).",
                             examples=["action_lines[0].measures[0].deliverables[0]"])
    message: str = Field(description="What is wrong with the item and what to do.")


class Count(_Out):
    """One line of the coverage summary: how many of the items a rule checked pass it."""

    rule: str
    family: str
    label: str = Field(examples=["deliverables with an owner"])
    covered: int
    total: int
    share: float | None = Field(description="covered / total, 4 decimals; null when total "
                                "is 0.")


class Skipped(_Out):
    rule: str
    reason: str


class MandateRef(_Out):
    code: str
    title: str


class ConfigOut(_Out):
    """The configuration the report was made with, every layer merged."""

    rules: dict[str, Severity]
    stale_after_days: int
    themes: dict[str, float]
    thresholds: dict[str, float]
    thresholds_when: ThresholdsWhen


class Counts(_Out):
    errors: int
    warnings: int


class Report(_Out):
    """The coverage report: ``planpulse check --format json`` prints it, and
    ``GET /api/v1/mandates/{mandate}/coverage`` answers it."""

    mandate: MandateRef
    as_of: date = Field(description="The date overdue, staleness and ended periods are "
                        "judged at.")
    passed: bool = Field(description="True when there is no finding of severity error.")
    counts: Counts
    findings: list[Finding]
    summary: list[Count]
    skipped: list[Skipped] = Field(description="Rules that are on but could not be judged "
                                   "from this input, with the reason.")
    config: ConfigOut
