"""What the records pages show: the members' table of a period (the report's tables 4.1,
4.2 and the annex lists), a member's years and activities, and the calendar of activities.

The figures come from ``app.services.records.queries``; the few reads those do not offer
(the periods that have a roll, the sheets, the activity kinds) are here, each one query.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import FieldError, InvalidInput, NotFound
from app.models import ActionLine, ActivityKind, ActivityMode, EngagementKind, RollEntry
from app.schemas.derived import DerivedSpec
from app.services.paging import PageRequest
from app.services.records import queries

MEMBERS_PER_PAGE = 200
EVENTS_LIMIT = 2000  # the calendar is one page; a year holds about a hundred events
DEFAULT_SHEET = "engagement"
DEFAULT_KIND = "event"
SHEET_TITLES = {"engagement": "Engagement (table 4.1)", "website": "Website (table 4.2)",
                "annex": "Annex lists"}
MODE_WORDS = {ActivityMode.online: "online", ActivityMode.in_person: "in person",
              ActivityMode.hybrid: "hybrid"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


# Reads the record services do not offer ----------------------------------------------------

def roll_periods(session: Session) -> list[str]:
    """The periods that have a roll (members in force on it), the newest first."""
    return list(session.execute(
        select(RollEntry.period).where(RollEntry.superseded_at.is_(None))
        .group_by(RollEntry.period).order_by(RollEntry.period.desc())).scalars())


def sheets(session: Session) -> list[str]:
    """The sheets of the engagement kinds, in the order of their first column."""
    return list(session.execute(
        select(EngagementKind.sheet).group_by(EngagementKind.sheet)
        .order_by(func.min(EngagementKind.position), EngagementKind.sheet)).scalars())


def kind_sheets(session: Session) -> dict[str, str]:
    """Each engagement kind's sheet."""
    return {code: sheet for code, sheet in session.execute(
        select(EngagementKind.code, EngagementKind.sheet))}


def engagement_kinds(session: Session) -> list[dict[str, Any]]:
    """Every engagement kind, in the order the report prints the columns."""
    return [queries.kind_view(kind) for kind in session.execute(
        select(EngagementKind).order_by(EngagementKind.position, EngagementKind.id)).scalars()]


def activity_kinds(session: Session) -> list[tuple[str, str]]:
    return [(code, title) for code, title in session.execute(
        select(ActivityKind.code, ActivityKind.title).order_by(ActivityKind.code))]


def action_lines(session: Session) -> list[str]:
    return list(session.execute(select(ActionLine.code).group_by(ActionLine.code)
                                .order_by(ActionLine.code)).scalars())


# Links --------------------------------------------------------------------------------------

def link(path: str, **params: Any) -> str:
    """``path`` with the params that hold something, as a query."""
    pairs = [(name, str(value)) for name, value in params.items()
             if value not in (None, "")]
    return path + ("?" + urlencode(pairs) if pairs else "")


def latest_period(periods: list[str | None]) -> str | None:
    """The latest year among ``periods`` (a headline's "mandate" is none)."""
    years = [period for period in periods if period and period.isdigit()]
    return max(years) if years else None


def derived_link(derived: dict[str, Any] | None, *, period: str | None,
                 sheet_of: dict[str, str]) -> str | None:
    """The page holding what a derived indicator counts: the members' table of the period
    (on the kind's sheet) for the engagement forms, the calendar for the activity forms."""
    if not derived:
        return None
    spec = DerivedSpec.model_validate(derived)
    of = spec.of
    if spec.form in ("count_activities", "women_share"):
        return link("/events", kind=of.kind or "", mode=getattr(of, "mode", None))
    kind = getattr(of, "engagement", None)
    return link("/members", period=period, sheet=sheet_of.get(kind or ""), kind=kind)


# The members' table -------------------------------------------------------------------------

@dataclass(frozen=True)
class MembersQuery:
    period: str | None = None
    sheet: str | None = None
    q: str | None = None
    kind: str | None = None
    offset: int = 0


def cell(value: Any) -> str:
    """A value as the report prints it: a flag "Yes", a count its number, a label its text."""
    if value is True:
        return "Yes"
    if value is None or value is False:
        return ""
    return str(value)


def members_page(session: Session, query: MembersQuery) -> dict[str, Any]:
    periods = roll_periods(session)
    all_sheets = sheets(session)
    period = query.period or (periods[0] if periods else None)
    sheet = query.sheet or (DEFAULT_SHEET if DEFAULT_SHEET in all_sheets else
                            (all_sheets[0] if all_sheets else DEFAULT_SHEET))
    errors = []
    if all_sheets and sheet not in all_sheets:
        errors.append(FieldError("sheet", f"{sheet!r} is not one of {', '.join(all_sheets)}"))
    if errors:
        raise InvalidInput(errors)
    context: dict[str, Any] = {
        "periods": periods, "period": period, "sheets": all_sheets, "sheet": sheet,
        "sheet_titles": SHEET_TITLES, "q": query.q or "", "kind": query.kind, "table": None,
        "link": link, "cell": cell}
    if period is None:
        return context
    if period not in periods:
        raise NotFound(f"There is no roll for the period {period!r}.")
    table = queries.engagement_table(
        session, period=period, sheet=sheet, search=query.q,
        page=PageRequest(MEMBERS_PER_PAGE, query.offset))
    here = {"period": period, "sheet": sheet, "q": query.q, "kind": query.kind}
    previous = next_ = None
    if table["offset"] > 0:
        previous = link("/members", **here, offset=max(0, table["offset"] - table["limit"])
                        or None)
    if table["offset"] + table["limit"] < table["count"]:
        next_ = link("/members", **here, offset=table["offset"] + table["limit"])
    return {**context, "table": table, "here": here, "previous": previous, "next": next_}


def member_page(session: Session, code: str) -> dict[str, Any]:
    member = queries.get_member(session, code)
    detail = queries.member_detail(session, member)
    kinds = engagement_kinds(session)
    held = {kind for year in detail["engagement"] for kind in year["values"]}
    return {"member": detail, "kinds": [kind for kind in kinds if kind["code"] in held],
            "periods": [year["period"] for year in detail["engagement"]],
            "by_period": {year["period"]: year["values"] for year in detail["engagement"]},
            "sheet_titles": SHEET_TITLES, "link": link, "cell": cell,
            "mode_words": MODE_WORDS}


# The calendar -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventsQuery:
    kind: str | None = DEFAULT_KIND
    mode: str | None = None
    action_line: str | None = None
    month: str | None = None
    member: str | None = None


def _month(text: str) -> tuple[date, date]:
    year, _, month = text.partition("-")
    if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()
            and 1 <= int(month) <= 12):
        raise ValueError(text)
    first = date(int(year), int(month), 1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def month_title(key: str) -> str:
    if key == "":
        return "No date"
    year, month = key.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def events_page(session: Session, query: EventsQuery) -> dict[str, Any]:
    """The activities (events unless told) by month, the counts by mode of what the other
    filters leave; the mode filter narrows the rows only."""
    errors = []
    if query.mode and query.mode not in {mode.value for mode in ActivityMode}:
        errors.append(FieldError("mode", f"{query.mode!r} is not one of "
                                 f"{', '.join(mode.value for mode in ActivityMode)}"))
    start = end = None
    if query.month:
        try:
            start, end = _month(query.month)
        except ValueError:
            errors.append(FieldError("month", f"{query.month!r} is not a month (YYYY-MM)"))
    if errors:
        raise InvalidInput(errors)
    found = queries.activity_page(session, PageRequest(EVENTS_LIMIT), queries.ActivityFilter(
        kind=query.kind or None, start=start, end=end, member=query.member or None,
        action_line=query.action_line or None))
    counts = {mode.value: 0 for mode in ActivityMode}
    for item in found.data:
        if item["mode"]:
            counts[str(item["mode"])] += 1
    shown = [item for item in found.data if not query.mode or item["mode"] == query.mode]
    months: dict[str, list[dict[str, Any]]] = {}
    for item in shown:
        key = f"{item['start_date']:%Y-%m}" if item["start_date"] else ""
        months.setdefault(key, []).append(item)
    here = {"kind": query.kind if query.kind is not None else "", "mode": query.mode,
            "action_line": query.action_line, "month": query.month, "member": query.member}
    return {"query": query, "here": here, "months": months, "month_title": month_title,
            "counts": counts, "considered": len(found.data), "total": found.count,
            "shown": len(shown), "modes": list(ActivityMode), "mode_words": MODE_WORDS,
            "kinds": activity_kinds(session), "action_lines": action_lines(session),
            "link": link}
