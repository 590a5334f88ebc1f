"""The report's parts as plain rows, gathered from the services (no SQL here).

Statuses come from the progress service, so that a report ``as_of`` a date shows each
deliverable as it stood then, exactly as the rollups count it; titles, owners and due
dates are today's (only statuses travel in time). Indicators are where they stand now.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from app.models import Mandate, Status
from app.reports.figures import amount, differs, figure_pieces, value_text
from app.reports.quantities import Quantity, latest_values, resolved
from app.schemas.api import FigureOut, IndicatorOut, MandateProgress, ProgressTotals
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
    quantity: Quantity | None = None
    """Its stated quantity; a linked indicator's actual once :func:`with_actuals` read it."""


@dataclass(frozen=True)
class Scope:
    """What a progress query covers: the rollup, and the deliverables it counts."""

    progress: MandateProgress
    deliverables: list[DeliverableLine]
    """In plan order, each with its status at the time asked for."""
    tags: list[str]
    """Every tag of the mandate's deliverables, in or out of scope (for filter choices)."""
    owners: list[str]
    """Every owner named in the mandate (of a deliverable or a measure), in or out of
    scope."""


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
    # The rollup lists every measure, whatever the filters: their owners are all here.
    owners = {measure.owner for line in progress.action_lines for measure in line.measures
              if measure.owner}
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
            action_line=row.action_line, measure=row.measure,
            quantity=Quantity.stored(deliverable.quantity)))
    return Scope(progress=progress, deliverables=lines, tags=sorted(tags),
                 owners=sorted(owners, key=str.casefold))


def linked_indicators(lines: list[DeliverableLine]) -> bool:
    """Whether any deliverable reads its quantity's actual from an indicator."""
    return any(line.quantity is not None and line.quantity.indicator is not None
               for line in lines)


def with_actuals(lines: list[DeliverableLine], views: list[IndicatorOut]
                 ) -> list[DeliverableLine]:
    """``lines`` with each linked quantity's actual read from its indicator's latest value."""
    latest = latest_values(views)
    return [replace(line, quantity=resolved(line.quantity, latest))
            if line.quantity is not None and line.quantity.indicator is not None else line
            for line in lines]


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
    quantity: Quantity | None = None
    owner: str | None = None
    """The deliverable's own owner."""
    measure_owner: str | None = None

    @property
    def answerable(self) -> str | None:
        """Who answers for the deliverable: its own owner, else its measure's."""
        return self.owner or self.measure_owner


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
class ResultRow:
    """One figure of the report's "Main results", in the form the report states it."""

    code: str
    title: str
    unit: str
    currency: str | None
    period: str | None
    value: float | None
    """The value: typed, or computed from the records."""
    value_text: str
    """"400+", "3 out of 5"; for a derived value not the one printed: "15 (report: 16)"."""
    figure: FigureOut | None
    """The figure whose form is shown: the typed value, or the report's printed figure."""
    split: str | None = None
    components: str | None = None
    change: str | None = None
    reported: FigureOut | None = None
    """For a derived indicator: the figure the report printed, if it gave one."""
    reported_text: str | None = None
    differs: bool = False
    """Whether the value is not the report's figure as printed (app/schemas/figures.py)."""
    source: str | None = None


@dataclass(frozen=True)
class ResultGroup:
    """The figures of one group: organisation-wide, an action line, or the gender
    highlights (of the organisation or of an action line)."""

    title: str
    action_line: str | None
    gender: bool
    rows: list[ResultRow]


GENDER_TAG = "gender"
GENDER_TITLE = "Gender equality highlights"
ORGANISATION_TITLE = "Organisation-wide"


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
    main_results: list[ResultGroup] = field(default_factory=list)


def summary_row(code: str, title: str, totals: ProgressTotals) -> SummaryRow:
    return SummaryRow(
        code=code, title=title, deliverables=totals.deliverables,
        by_status={status: getattr(totals.by_status, status.value) for status in Status},
        completion_rate=totals.completion_rate, progress=totals.progress)


def indicator_rows(views: list[IndicatorOut]) -> list[IndicatorRow]:
    rows = []
    for view in views:
        headline = view.headline
        rows.append(IndicatorRow(
            code=view.code, title=view.title, action_line=view.action_line,
            measure=view.measure, unit=view.unit, currency=view.currency,
            period=headline.period, value=headline.actual, target=headline.target,
            attainment=headline.attainment, attainment_status=headline.status,
            women_share=headline.women_share))
    return rows


def headline_value(view: IndicatorOut) -> FigureOut | None:
    """The value the headline stands on: its period's, else the latest."""
    values = view.values
    period = view.headline.period
    return next((v for v in values if v.period == period), values[-1] if values else None)


def split_shares(view: IndicatorOut) -> dict[str, float] | None:
    """Each gender category's share of the indicator's headline value, when it is split."""
    chosen = headline_value(view)
    if chosen is None or not chosen.parts:
        return None
    shares = {category: share(chosen.parts, category) for category in chosen.parts}
    return {category: value for category, value in shares.items() if value is not None}


def shown_figure(view: IndicatorOut) -> tuple[FigureOut | None, FigureOut | None]:
    """The value an indicator shows and, for a derived one, the report's printed figure:
    the latest reported one, beside the value computed for its period."""
    reported = view.reported[-1] if view.reported else None
    if reported is None:
        return headline_value(view), None
    computed = next((value for value in view.values if value.period == reported.period),
                    None)
    return computed, reported


def result_row(view: IndicatorOut) -> ResultRow | None:
    """An indicator's figure in the report's own form; None without any figure."""
    value, reported = shown_figure(view)
    form = reported or value
    if form is None:
        return None
    pieces = figure_pieces(form, view.unit, view.currency)
    reported_text = value_text(reported, view.unit, view.currency) if reported else None
    other = reported is not None and (value is None or differs(value.value, reported))
    shown = pieces.value
    if other:
        shown = (f"{amount(value.value if value else None, view.unit, view.currency)} "
                 f"(report: {reported_text})")
    return ResultRow(
        code=view.code, title=view.title, unit=view.unit, currency=view.currency,
        period=form.period, value=value.value if value else None, value_text=shown,
        figure=form, split=pieces.split, components=pieces.components, change=pieces.change,
        reported=reported, reported_text=reported_text, differs=other,
        source=form.source or (value.source if value else None))


def main_results(views: list[IndicatorOut], line_titles: dict[str, str]
                 ) -> list[ResultGroup]:
    """The figures grouped as the report's section 2 groups them: organisation-wide, then
    per action line, then the gender equality highlights (indicators tagged gender, by
    action line). A figure is printed once: a gender one among the highlights only."""
    rows = [(view, row) for view in views if (row := result_row(view)) is not None]
    groups = []
    for gender in (False, True):
        chosen = [(view, row) for view, row in rows if (GENDER_TAG in view.tags) == gender]
        for line in [None, *line_titles]:
            found = [row for view, row in chosen if view.action_line == line]
            title = ORGANISATION_TITLE if line is None else f"{line} {line_titles[line]}"
            if found:
                groups.append(ResultGroup(title=title, action_line=line, gender=gender,
                                          rows=found))
    return groups


def build_report(session: Session, *, mandate: Mandate, as_of: datetime | None = None,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Report:
    """Every part of the report on ``mandate``, statuses as of ``as_of`` (default now)."""
    query = ProgressQuery(where=DeliverableFilter(mandate_id=mandate.id or 0), as_of=as_of,
                          thresholds=thresholds)
    scope = scoped_progress(session, mandate=mandate, query=query)
    views = indicator_views(session, mandate=mandate, thresholds=thresholds)
    progress, lines = scope.progress, with_actuals(scope.deliverables, views)
    line_titles = {line.code: line.title for line in progress.action_lines}
    measures = {measure.code: measure for line in progress.action_lines
                for measure in line.measures}
    implementation = [
        ImplementationRow(
            action_line=item.action_line, action_line_title=line_titles[item.action_line],
            measure=item.measure, measure_title=measures[item.measure].title,
            deliverable=item.code, deliverable_title=item.title, status=item.status,
            quantity=item.quantity, owner=item.owner,
            measure_owner=measures[item.measure].owner)
        for item in lines
    ]
    return Report(
        mandate=mandate.code, title=mandate.title, start_date=mandate.start_date,
        end_date=mandate.end_date, as_of=progress.as_of,
        implementation=implementation,
        summary=[summary_row(line.code, line.title, line.totals)
                 for line in progress.action_lines],
        total=summary_row("Total", mandate.title, progress.totals),
        indicators=indicator_rows(views),
        main_results=main_results(views, line_titles),
    )
