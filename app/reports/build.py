"""The report's parts as plain rows, gathered from the services (no SQL here).

Statuses come from the progress service, so that a report ``as_of`` a date shows each
deliverable as it stood then, exactly as the rollups count it; titles, owners and due
dates are today's (only statuses travel in time). Indicators are where they stand now.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from app.models import Mandate, Status
from app.schemas.api import IndicatorOut, MandateProgress, ProgressTotals
from app.schemas.splits import share
from app.services.indicators.attainment import DEFAULT_THRESHOLDS, Thresholds
from app.services.indicators.service import indicator_views
from app.services.paging import PageRequest
from app.services.plan.deliverables import DeliverableFilter, list_deliverables
from app.services.rollups.progress import ProgressQuery, mandate_progress

ALL_DELIVERABLES = 1_000_000
"""The list service pages; a report takes every deliverable at once."""


@dataclass(frozen=True)
class DeliverableLine:
    """A deliverable with its status at the time asked for."""

    code: str
    title: str
    status: Status
    percent_complete: float | None
    owner: str | None
    due_date: date | None
    updated_at: datetime | None
    tags: list[str]
    action_line: str
    measure: str


@dataclass(frozen=True)
class Scope:
    """What a progress query covers: the rollup, and the deliverables it counts."""

    progress: MandateProgress
    deliverables: list[DeliverableLine]
    """In plan order, each with its status at the time asked for."""
    tags: list[str]
    """Every tag of the mandate's deliverables, in or out of scope (for filter choices)."""
    owners: list[str]
    """Every owner named in the mandate, in or out of scope."""


def scoped_progress(session: Session, *, mandate: Mandate, query: ProgressQuery) -> Scope:
    """The progress rollup for ``query`` and the deliverables it counts, each with its
    status as of ``query.as_of``: the rollup's own explanation lists them."""
    progress = mandate_progress(session, mandate=mandate, query=replace(query, explain=True))
    explained = progress.explain or {}
    states = {item["code"]: Status(item["status"])
              for item in [*explained["counted"], *explained["left_out"]]}
    rows = list_deliverables(session, where=DeliverableFilter(mandate_id=mandate.id or 0),
                             page=PageRequest(ALL_DELIVERABLES)).data
    travelled = query.as_of is not None or query.known_at is not None
    lines = []
    tags: set[str] = set()
    owners: set[str] = set()
    for row in rows:
        deliverable = row.deliverable
        tags.update(row.tags)
        if deliverable.owner:
            owners.add(deliverable.owner)
        status = states.get(deliverable.code)
        if status is None:
            continue  # outside the filters
        lines.append(DeliverableLine(
            code=deliverable.code, title=deliverable.title, status=status,
            percent_complete=None if travelled else deliverable.percent_complete,
            owner=deliverable.owner, due_date=deliverable.due_date,
            updated_at=deliverable.updated_at, tags=list(row.tags),
            action_line=row.action_line, measure=row.measure))
    return Scope(progress=progress, deliverables=lines, tags=sorted(tags),
                 owners=sorted(owners, key=str.casefold))


@dataclass(frozen=True)
class ImplementationRow:
    """One line of the annual report's "Implementation of the Action Plan" table."""

    action_line: str
    action_line_title: str
    measure: str
    measure_title: str
    deliverable: str
    deliverable_title: str
    status: Status


@dataclass(frozen=True)
class SummaryRow:
    """Rollup figures of an action line (or of the whole mandate)."""

    code: str
    title: str
    deliverables: int
    by_status: dict[Status, int]
    completion_rate: float | None
    progress: float | None


@dataclass(frozen=True)
class IndicatorRow:
    code: str
    title: str
    action_line: str | None
    measure: str | None
    unit: str
    currency: str | None
    period: str | None
    value: float | None
    target: float | None
    attainment: float | None
    attainment_status: str
    women_share: float | None


@dataclass(frozen=True)
class Report:
    mandate: str
    title: str
    start_date: date
    end_date: date
    as_of: datetime
    implementation: list[ImplementationRow] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)
    total: SummaryRow | None = None
    indicators: list[IndicatorRow] = field(default_factory=list)


def summary_row(code: str, title: str, totals: ProgressTotals) -> SummaryRow:
    return SummaryRow(
        code=code, title=title, deliverables=totals.deliverables,
        by_status={status: getattr(totals.by_status, status.value) for status in Status},
        completion_rate=totals.completion_rate, progress=totals.progress)


def indicator_rows(session: Session, *, mandate: Mandate, thresholds: Thresholds
                   ) -> list[IndicatorRow]:
    rows = []
    for view in indicator_views(session, mandate=mandate, thresholds=thresholds):
        headline = view.headline
        rows.append(IndicatorRow(
            code=view.code, title=view.title, action_line=view.action_line,
            measure=view.measure, unit=view.unit, currency=view.currency,
            period=headline.period, value=headline.actual, target=headline.target,
            attainment=headline.attainment, attainment_status=headline.status,
            women_share=headline.women_share))
    return rows


def split_shares(view: IndicatorOut) -> dict[str, float] | None:
    """Each gender category's share of the indicator's headline value, when it is split."""
    values = view.values
    period = view.headline.period
    chosen = next((v for v in values if v.period == period), values[-1] if values else None)
    if chosen is None or not chosen.parts:
        return None
    shares = {category: share(chosen.parts, category) for category in chosen.parts}
    return {category: value for category, value in shares.items() if value is not None}


def build_report(session: Session, *, mandate: Mandate, as_of: datetime | None = None,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Report:
    """Every part of the report on ``mandate``, statuses as of ``as_of`` (default now)."""
    query = ProgressQuery(where=DeliverableFilter(mandate_id=mandate.id or 0), as_of=as_of,
                          thresholds=thresholds)
    scope = scoped_progress(session, mandate=mandate, query=query)
    progress, lines = scope.progress, scope.deliverables
    line_titles = {line.code: line.title for line in progress.action_lines}
    measure_titles = {measure.code: measure.title for line in progress.action_lines
                      for measure in line.measures}
    implementation = [
        ImplementationRow(
            action_line=item.action_line, action_line_title=line_titles[item.action_line],
            measure=item.measure, measure_title=measure_titles[item.measure],
            deliverable=item.code, deliverable_title=item.title, status=item.status)
        for item in lines
    ]
    return Report(
        mandate=mandate.code, title=mandate.title, start_date=mandate.start_date,
        end_date=mandate.end_date, as_of=progress.as_of,
        implementation=implementation,
        summary=[summary_row(line.code, line.title, line.totals)
                 for line in progress.action_lines],
        total=summary_row("Total", mandate.title, progress.totals),
        indicators=indicator_rows(session, mandate=mandate, thresholds=thresholds),
    )
