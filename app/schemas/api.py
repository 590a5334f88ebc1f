"""Shapes of the API's answers (the plan file has its own module)."""

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.models.enums import Qualifier, Status

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, and how many items match in all."""

    data: list[T]
    count: int = Field(description="How many items match, across all pages.")
    limit: int
    offset: int


class MandateSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["2018-2020"])
    title: str = Field(examples=["Metropolis Action Plan 2018-2020"])
    start_date: date
    end_date: date
    updated_at: datetime


class QuantityOut(BaseModel):
    """A quantity the deliverable states: its target, and its actual typed or read from an
    indicator of the plan (docs/plan-file.md)."""

    target: float = Field(examples=[6])
    actual: float | None = None
    unit: str | None = Field(default=None, examples=["pilot projects"])
    indicator: str | None = Field(default=None, examples=["PILOT_PROJECTS_LISTED"])


class DeliverablePublic(BaseModel):
    code: str = Field(examples=["L1M3D2"])
    title: str = Field(examples=["Gender parity at Metropolis events and debates, "
                                 "especially in terms of speakers"])
    status: Status
    percent_complete: float | None = None
    weight: float = 1.0
    owner: str | None = None
    due_date: date | None = None
    tags: list[str] = Field(default_factory=list, examples=[["gender"]])
    quantity: QuantityOut | None = None
    action_line: str = Field(examples=["L1"])
    measure: str = Field(examples=["L1M3"])
    version: int = Field(description="Bumped by every change; the ETag carries it.")
    updated_at: datetime


class StatusChangePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: Status | None
    to_status: Status
    percent_complete: float | None
    note: str | None
    evidence_url: str | None
    changed_by: str
    effective_at: datetime = Field(description="When it happened in reality.")
    recorded_at: datetime = Field(description="When it was entered.")


class TreeDeliverable(BaseModel):
    code: str
    title: str
    status: Status
    percent_complete: float | None = None
    weight: float = 1.0
    owner: str | None = None
    due_date: date | None = None
    tags: list[str] = Field(default_factory=list)
    quantity: QuantityOut | None = None


class TreeMeasure(BaseModel):
    code: str
    title: str
    owner: str | None = Field(default=None, description="The person or team responsible "
                              "for the measure.")
    deliverables: list[TreeDeliverable]


class TreeActionLine(BaseModel):
    code: str
    title: str
    measures: list[TreeMeasure]


class PeriodValuePublic(BaseModel):
    period: str = Field(examples=["2020"])
    value: float


class TreeIndicator(BaseModel):
    code: str
    title: str
    unit: str
    direction: str
    action_line: str | None = None
    measure: str | None = None
    tags: list[str] = Field(default_factory=list)
    baseline: PeriodValuePublic | None = None
    targets: list[PeriodValuePublic] = Field(default_factory=list)
    values: list[PeriodValuePublic] = Field(default_factory=list)


class MandateTree(MandateSummary):
    action_lines: list[TreeActionLine]
    indicators: list[TreeIndicator]


class ByStatus(BaseModel):
    completed: int
    in_progress: int
    not_started: int
    not_achieved: int
    cancelled: int


class ProgressTotals(BaseModel):
    deliverables: int = Field(examples=[65], description="All of them, cancelled included.")
    by_status: ByStatus
    completion_rate: float | None = Field(
        examples=[0.7692], description="completed / (deliverables - cancelled); 4 decimals.")
    progress: float | None = Field(
        examples=[0.7846],
        description="Σ weight·score / Σ weight over non-cancelled deliverables; 4 decimals.")


class RollupPolicy(BaseModel):
    in_progress_credit: float = Field(
        examples=[0.5], description="Score of in_progress without percent_complete.")
    not_achieved_counts: bool = Field(
        examples=[True], description="Whether not_achieved stays in the denominators.")


class ProgressNode(BaseModel):
    """What the rollup shows of an action line and of a measure alike."""

    code: str
    title: str
    totals: ProgressTotals
    explain: dict[str, Any] | None = Field(
        default=None, description="With ?explain=true: formula, policy, weights, and the "
        "deliverables counted or left out and why.")


class MeasureProgress(ProgressNode):
    owner: str | None = Field(default=None, description="The person or team responsible "
                              "for the measure.")


class IndicatorSummary(BaseModel):
    code: str
    title: str
    action_line: str | None
    measure: str | None
    period: str | None
    actual: float | None
    target: float | None
    attainment: float | None
    status: str
    women_share: float | None


class ActionLineProgress(ProgressNode):
    measures: list[MeasureProgress]
    indicators: list[IndicatorSummary] = Field(default_factory=list)


class MandateRef(BaseModel):
    code: str
    title: str


class ProgressHeader(BaseModel):
    mandate: MandateRef
    as_of: datetime = Field(description="The time the figures stand at.")
    known_at: datetime | None = Field(
        default=None, description="Only history recorded by then was used.")
    policy: RollupPolicy


class MandateProgress(ProgressHeader):
    totals: ProgressTotals
    action_lines: list[ActionLineProgress]
    by_tag: dict[str, ProgressTotals] = Field(
        default_factory=dict, description="The same figures for each theme (tag).")
    indicators: list[IndicatorSummary] = Field(default_factory=list)
    explain: dict[str, Any] | None = None


class ActionLineProgressOut(ProgressHeader):
    action_line: ActionLineProgress


class MeasureProgressOut(ProgressHeader):
    action_line: str
    measure: MeasureProgress


class SeriesPoint(ProgressTotals):
    at: datetime = Field(description="The end of the interval.")


class SeriesOut(ProgressHeader):
    points: list[SeriesPoint]


class ComparedLine(BaseModel):
    code: str
    title: str
    totals: ProgressTotals


class ComparedMandate(BaseModel):
    mandate: MandateRef
    policy: RollupPolicy
    totals: ProgressTotals
    action_lines: list[ComparedLine]


class CompareOut(BaseModel):
    as_of: datetime
    mandates: list[ComparedMandate]


class KindResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    absent: list[str] = Field(description="Codes stored but not in the file.")
    deleted: int = Field(description="How many absent items were deleted (with prune).")


class ImportResult(BaseModel):
    mandate: str
    mandate_created: bool
    changed: bool
    pruned: bool
    action_lines: KindResult
    measures: KindResult
    deliverables: KindResult
    indicators: KindResult
    status_changes: int
    indicator_values: int
    indicator_targets: int = Field(description="Targets added or changed.")
    policy_change: dict[str, Any] | None = Field(
        default=None, description="The rollup policy before and after, when it changed.")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class VersionReadsFailed(BaseModel):
    since: datetime
    reason: str


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    database: str
    schema_revision: str | None
    version_reads: str = Field(
        examples=["fresh"], description="How progress requests learn the data versions: "
        "fresh (PostgreSQL, on the replica's own connection), pooled (that connection "
        "failed; read through the pool while it reconnects), data_version (SQLite), "
        "per-request (watching off).")
    version_reads_failed: VersionReadsFailed | None = Field(
        default=None, description="While pooled: since when, and why.")


class DeliverableState(BaseModel):
    """What a 412 shows of the deliverable as it is now, so that the client can reapply."""

    code: str
    status: Status
    percent_complete: float | None
    version: int
    owner: str | None
    due_date: date | None
    weight: float
    title: str
    updated_at: datetime


class BatchItemResult(BaseModel):
    code: str
    outcome: Literal["applied", "unchanged", "failed", "not_applied"]
    status: int = Field(description="The HTTP status this item alone would have had.")
    etag: str | None = None
    detail: str | None = None
    current: DeliverableState | None = Field(
        default=None, description="A failed item's deliverable as it is now (412).")


class BatchResult(BaseModel):
    results: list[BatchItemResult]


class ActivityEntry(BaseModel):
    kind: str = Field(description="status or edit")
    deliverable: str
    changed_by: str
    recorded_at: datetime
    effective_at: datetime
    from_status: Status | None = None
    to_status: Status | None = None
    percent_complete: float | None = None
    note: str | None = None
    evidence_url: str | None = None
    changes: dict[str, Any] | None = None


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    scopes: list[str] = Field(default_factory=list, description="MANDATE, MANDATE:LINE or "
                              "MANDATE:MEASURE; empty: every mandate.")
    person: str | None = None

    @field_validator("scopes", mode="before")
    @classmethod
    def _no_scopes_is_empty(cls, value: Any) -> Any:
        return value or []


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret, shown this once only.")


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    recorded_at: datetime


class Headline(BaseModel):
    period: str | None = Field(description="The period the figures are for.")
    actual: float | None
    target: float | None
    attainment: float | None = Field(description="Raw ratio; 1 = target reached.")
    status: str = Field(examples=["at_risk"],
                        description="on_track, at_risk, off_track, no_target or no_value")
    women_share: float | None = Field(description="Women's share of the value, 0..1.")
    parity_gap: float | None = Field(description="0.5 minus the women's share.")


class ComponentOut(BaseModel):
    name: str = Field(examples=["led"])
    value: float | None = Field(default=None, examples=[6])
    share: float | None = Field(default=None, description="Percent of the value.")


class ChangeOut(BaseModel):
    percent: float = Field(examples=[6.7])
    since: str = Field(examples=["2019"])


class FigureOut(BaseModel):
    """A figure and the form it was stated in (docs/plan-file.md)."""

    model_config = ConfigDict(from_attributes=True)

    period: str
    value: float
    qualifier: Qualifier | None = Field(
        default=None, description="at_least (\"400+\"), more_than, about or almost.")
    parts: dict[str, float] | None = None
    shares: dict[str, float] | None = Field(
        default=None, description="The split as printed, in percent, when its counts are "
        "not.", examples=[{"women": 36, "men": 64}])
    women_share: float | None = Field(
        default=None, description="Women's share, 0..1, from the parts or the shares.")
    components: list[ComponentOut] | None = Field(
        default=None, description="Named parts that add up to the value, or share it.")
    out_of: float | None = Field(default=None, description="\"3 out of 5\": 5.")
    share_of_total: float | None = Field(default=None, description="value / out_of, 0..1.")
    change: ChangeOut | None = None
    quote: str | None = Field(default=None, description="The source's own words.")
    note: str | None = None
    source: str | None = None


class ReportedOut(FigureOut):
    """A figure as a published report printed it, for a derived indicator."""


class IndicatorValueOut(FigureOut):
    recorded_by: str
    recorded_at: datetime
    superseded: bool | None = None
    explain: dict[str, Any] | None = Field(
        default=None, description="With explain=true, for a derived value: "
        "{numerator: {count, records: [codes]}, denominator: {count} | null}.")


class IndicatorOut(BaseModel):
    code: str = Field(examples=["SPEAKERS_WOMEN_SHARE"])
    title: str
    unit: str
    currency: str | None = None
    direction: str
    tolerance: float | None = None
    aggregation: str
    split: str | None = None
    action_line: str | None = None
    measure: str | None = None
    tags: list[str] = Field(default_factory=list, examples=[["gender"]])
    baseline: PeriodValuePublic | None = None
    targets: list[PeriodValuePublic]
    values: list[IndicatorValueOut]
    headline: Headline
    derived: dict[str, Any] | None = Field(
        default=None, description="How the values are computed from the records "
        "(docs/records.md); null for typed values.",
        examples=[{"share_of_members": {"engagement": "activated"}}])
    reported: list[ReportedOut] = Field(
        default_factory=list, description="For a derived indicator: the figures as a "
        "published report printed them.")
    version: int


class FieldProblem(BaseModel):
    path: str = Field(examples=["action_lines[1].measures[0].deliverables[2].status"])
    message: str = Field(examples=["'done' is not one of completed, in_progress, "
                                   "not_started, not_achieved, cancelled"])


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["about:blank"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="With 422: every problem, each naming its field.")


class StaleProblem(Problem):
    """412: ``If-Match`` named a version that is no longer the current one."""

    etag: str | None = Field(default=None, description="The current ETag, to send in "
                             "If-Match once the change has been reconsidered.")
    current: DeliverableState | None = Field(
        default=None, description="Deliverables: the current state.")


class ConflictProblem(Problem):
    """409; a batch not applied lists every item's outcome."""

    results: list[BatchItemResult] | None = Field(
        default=None, description="A batch: each item, `failed` or `not_applied`.")
