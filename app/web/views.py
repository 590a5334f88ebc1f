"""What each page shows, gathered from the services (no SQL here, no HTTP either).

A page's filters narrow the deliverables exactly as the API's do (status, tag, owner and,
on the deliverables page, action line, measure and words); ``as_of`` shows the statuses as
they stood at the end of that day (UTC). Indicators and the activity feed are always
today's.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.errors import FieldError, InvalidInput
from app.models import Mandate, Status
from app.reports.build import (
    DeliverableLine,
    Scope,
    linked_indicators,
    result_row,
    scoped_progress,
    split_shares,
    with_actuals,
)
from app.reports.figures import amount
from app.schemas.api import IndicatorOut
from app.services.changes.stream import latest_id
from app.services.indicators.attainment import Thresholds
from app.services.indicators.service import indicator_views
from app.services.paging import PageRequest
from app.services.periods import Interval, interval_ends, parse_instant
from app.services.plan.activity import activity
from app.services.plan.deliverables import DeliverableFilter, mandate_list
from app.services.rollups.progress import ProgressQuery, series
from app.web import records
from app.web.charts import BurnUp, burn_up

FEED_SIZE = 12
MONTHLY_UP_TO = 60  # months; longer mandates are charted by quarter, then by year
QUARTERLY_UP_TO = 240
TEXT_LIMIT = 200


@dataclass(frozen=True)
class PageFilters:
    """A page's filters, as typed into its form (an empty field means "any")."""

    statuses: tuple[Status, ...] = ()
    tag: str | None = None
    owner: str | None = None
    action_line: str | None = None
    measure: str | None = None
    q: str | None = None
    as_of: datetime | None = None
    as_of_text: str = ""

    @classmethod
    def parse(cls, *, status: Iterable[str] = (), tag: str | None = None,
              owner: str | None = None, action_line: str | None = None,
              measure: str | None = None, q: str | None = None,
              as_of: str | None = None) -> "PageFilters":
        """Read the form's fields; every problem is reported at once (422)."""
        errors: list[FieldError] = []
        statuses: list[Status] = []
        for index, value in enumerate(v.strip() for v in status):
            if not value:
                continue
            try:
                statuses.append(Status(value))
            except ValueError:
                errors.append(FieldError(f"status[{index}]", f"{value!r} is not one of "
                                         f"{', '.join(s.value for s in Status)}"))
        texts = {"tag": tag, "owner": owner, "action_line": action_line, "measure": measure,
                 "q": q}
        cleaned: dict[str, str | None] = {}
        for name, value in texts.items():
            value = (value or "").strip() or None
            if value is not None and len(value) > TEXT_LIMIT:
                errors.append(FieldError(name, f"at most {TEXT_LIMIT} characters"))
            cleaned[name] = value
        moment = None
        as_of_text = (as_of or "").strip()
        if as_of_text:
            try:
                moment = parse_instant(as_of_text, field="as_of")
            except InvalidInput as error:
                errors.extend(error.errors)
        if errors:
            raise InvalidInput(errors)
        return cls(statuses=tuple(dict.fromkeys(statuses)), as_of=moment,
                   as_of_text=as_of_text, **cleaned)

    @property
    def narrowed(self) -> bool:
        """Whether any filter leaves deliverables out (as_of does not)."""
        return bool(self.statuses or self.tag or self.owner or self.action_line
                    or self.measure or self.q)

    def pairs(self, **changes: Any) -> list[tuple[str, str]]:
        values: dict[str, Any] = {
            "status": [s.value for s in self.statuses], "tag": self.tag, "owner": self.owner,
            "action_line": self.action_line, "measure": self.measure, "q": self.q,
            "as_of": self.as_of_text or None, **changes}
        pairs = []
        for name, value in values.items():
            for item in value if isinstance(value, list | tuple) else [value]:
                if item not in (None, ""):
                    pairs.append((name, str(item)))
        return pairs

    def query_string(self, **changes: Any) -> str:
        """These filters (with ``changes``) as a URL query, "" when there are none."""
        pairs = self.pairs(**changes)
        return "?" + urlencode(pairs) if pairs else ""

    def where(self, mandate_id: int) -> DeliverableFilter:
        return DeliverableFilter(mandate_id=mandate_id, statuses=self.statuses, tag=self.tag,
                                 owner=self.owner, action_line=self.action_line,
                                 measure=self.measure, q=self.q)


@dataclass(frozen=True)
class IndicatorGroup:
    code: str
    title: str
    indicators: list[dict[str, Any]] = field(default_factory=list)


def _query(mandate: Mandate, filters: PageFilters, thresholds: Thresholds) -> ProgressQuery:
    return ProgressQuery(where=filters.where(mandate.id or 0), as_of=filters.as_of,
                         thresholds=thresholds)


def chart_points(mandate: Mandate, as_of: datetime | None, now: datetime) -> list[datetime]:
    """The month ends from the mandate's start to its end, or to ``as_of`` (else now) if
    sooner; a look after the end adds that moment, so that the chart ends where the
    figures shown above it stand."""
    moment = as_of or now
    last = min(mandate.end_date, moment.date())
    if last < mandate.start_date:
        return []
    months = (last.year - mandate.start_date.year) * 12 + last.month - mandate.start_date.month
    interval = (Interval.month if months <= MONTHLY_UP_TO else
                Interval.quarter if months <= QUARTERLY_UP_TO else Interval.year)
    points = interval_ends(mandate.start_date, last, interval)
    if moment.date() > mandate.end_date:
        points.append(moment)
    return points


def _by_measure(lines: list[DeliverableLine]) -> dict[str, list[DeliverableLine]]:
    grouped: dict[str, list[DeliverableLine]] = {}
    for line in lines:
        grouped.setdefault(line.measure, []).append(line)
    return grouped


def figure_card(view: IndicatorOut) -> dict[str, Any]:
    """How an indicator's headline value is printed: in the form the report states it
    ("400+", "3 out of 5"), its split, components and change as the report prints them,
    the report's words as a tooltip and its source; for a derived value the report printed
    otherwise, the report's figure beside it ("report: 16", its words as its tooltip)."""
    head = view.headline
    row = result_row(view)
    card: dict[str, Any] = {
        "value_text": amount(head.actual, view.unit, view.currency), "reported": None,
        "reported_title": None, "split_text": None, "components": None, "change": None,
        "quote": None, "source": None, "form_shares": None}
    if row is None or row.figure is None:
        return card
    form = row.figure
    card.update(split_text=row.split, components=row.components, change=row.change,
                form_shares=({name: share / 100 for name, share in form.shares.items()}
                             if form.shares else None))
    if row.differs:
        card.update(reported=row.reported_text, reported_title=form.quote or form.source)
    elif row.period == head.period and row.value == head.actual:
        card.update(value_text=row.value_text, quote=form.quote, source=row.source)
    return card


def indicator_groups(session: Session, *, views: list[IndicatorOut],
                     line_titles: dict[str, str]) -> list[IndicatorGroup]:
    """Indicators with where they stand, in the report's own form, and their gender split,
    grouped by action line."""
    groups = {code: IndicatorGroup(code, title) for code, title in line_titles.items()}
    unlinked = IndicatorGroup("", "Whole mandate")
    sheet_of = records.kind_sheets(session) if any(view.derived for view in views) else {}
    for view in views:
        card = figure_card(view)
        card = {**view.model_dump(), **card,
                "shares": split_shares(view) or card["form_shares"],
                "records_link": records.derived_link(
                    view.derived, sheet_of=sheet_of,
                    period=records.latest_period([view.headline.period,
                                                  *(value.period for value in view.values)]))}
        groups.get(view.action_line or "", unlinked).indicators.append(card)
    return [group for group in [*groups.values(), unlinked] if group.indicators]


def _common(session: Session, mandate: Mandate, filters: PageFilters, scope: Scope
            ) -> dict[str, Any]:
    progress = scope.progress
    return {
        "mandate": mandate, "mandates": mandate_list(session), "filters": filters,
        "progress": progress, "totals": progress.totals,
        "by_measure": _by_measure(scope.deliverables), "deliverables": scope.deliverables,
        "tags": scope.tags, "owners": scope.owners, "statuses": list(Status),
    }


def dashboard(session: Session, *, mandate: Mandate, filters: PageFilters,
              thresholds: Thresholds, now: datetime) -> dict[str, Any]:
    """The mandate's figures, chart, action lines, indicators and recent activity, and the
    change log's newest id before them: where the page's live updates start reading."""
    changes_since = latest_id(session)
    query = _query(mandate, filters, thresholds)
    scope = scoped_progress(session, mandate=mandate, query=query)
    views = indicator_views(session, mandate=mandate, thresholds=thresholds)
    scope = replace(scope, deliverables=with_actuals(scope.deliverables, views))
    points = chart_points(mandate, filters.as_of, now)
    chart: BurnUp | None = None
    if points:
        chart = burn_up(series(session, mandate=mandate, points=points, query=query).points,
                        end=mandate.end_date)
    line_titles = {line.code: line.title for line in scope.progress.action_lines}
    feed = activity(session, mandate=mandate, since=None, by=None,
                    page=PageRequest(FEED_SIZE))
    return {
        **_common(session, mandate, filters, scope),
        "chart": chart,
        "indicator_groups": indicator_groups(session, views=views, line_titles=line_titles),
        "feed": feed.data, "feed_total": feed.count, "thresholds": thresholds,
        "changes_since": changes_since,
    }


def deliverables_page(session: Session, *, mandate: Mandate, filters: PageFilters,
                      thresholds: Thresholds) -> dict[str, Any]:
    """The deliverables that match the filters, with the figures of that scope."""
    scope = scoped_progress(session, mandate=mandate, query=_query(mandate, filters,
                                                                   thresholds))
    if linked_indicators(scope.deliverables):
        views = indicator_views(session, mandate=mandate, thresholds=thresholds)
        scope = replace(scope, deliverables=with_actuals(scope.deliverables, views))
    lines = scope.progress.action_lines
    line = next((item for item in lines if item.code == filters.action_line), None)
    measure = None
    for candidate in lines:
        for item in candidate.measures:
            if item.code == filters.measure:
                line = line or candidate
                measure = item
    return {**_common(session, mandate, filters, scope), "line": line, "measure": measure,
            "action_lines": lines}


def default_mandate(session: Session) -> tuple[Mandate | None, list[Mandate]]:
    """The mandate the home page shows (the newest) and all of them."""
    mandates = mandate_list(session)
    return (mandates[0] if mandates else None), mandates
