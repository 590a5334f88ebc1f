"""The burn-up chart's geometry, computed from the series service's points.

Pure: the template draws the SVG from these coordinates. The y axis is the share of the
scope (the deliverables counted), 0 to 100%; two lines rise over time: weighted progress
(filled) and the completion rate.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.reports.vocabulary import percent
from app.schemas.api import SeriesPoint

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 30
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class ChartPoint:
    at: datetime
    x: float
    progress: float | None
    completion_rate: float | None
    progress_y: float
    completion_y: float
    deliverables: int
    completed: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class BurnUp:
    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    points: list[ChartPoint]
    progress_line: str
    progress_area: str
    completion_line: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    description: str


def _y(ratio: float | None) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return round(TOP + plot * (1 - (ratio or 0.0)), 1)


def burn_up(points: Sequence[SeriesPoint], *, end: date | None = None) -> BurnUp | None:
    """The chart of the series points (each with ``at`` and the progress totals).

    Points after ``end`` (the mandate's last day: a later look at it) are labelled with
    their date rather than their year."""
    if not points:
        return None
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    span = max(len(points) - 1, 1)
    chart_points = []
    for index, point in enumerate(points):
        x = LEFT + (right - LEFT) * (index / span if len(points) > 1 else 0.5)
        chart_points.append(ChartPoint(
            at=point.at, x=round(x, 1), progress=point.progress,
            completion_rate=point.completion_rate, progress_y=_y(point.progress),
            completion_y=_y(point.completion_rate), deliverables=point.deliverables,
            completed=point.by_status.completed))
    progress_line = " ".join(f"{p.x},{p.progress_y}" for p in chart_points)
    completion_line = " ".join(f"{p.x},{p.completion_y}" for p in chart_points)
    first, last = chart_points[0], chart_points[-1]
    area = f"{first.x},{bottom} {progress_line} {last.x},{bottom}"
    within = [p for p in chart_points if end is None or p.at.date() <= end]
    x_ticks = [Tick(p.x, f"{p.at:%Y}") for i, p in enumerate(within)
               if i == 0 or p.at.year != within[i - 1].at.year]
    if len(x_ticks) == 1 and len(within) > 1:
        x_ticks = [Tick(first.x, f"{first.at:%b %Y}"), Tick(within[-1].x, f"{within[-1].at:%b %Y}")]
    x_ticks += [Tick(p.x, f"{p.at:%Y-%m-%d}", "end") for p in chart_points[len(within):]]
    y_ticks = [Tick(_y(ratio), percent(ratio)) for ratio in Y_TICKS]
    description = (
        f"From {first.at:%Y-%m-%d} to {last.at:%Y-%m-%d}, progress went from "
        f"{percent(first.progress)} to {percent(last.progress)} and the completion rate "
        f"from {percent(first.completion_rate)} to {percent(last.completion_rate)}.")
    return BurnUp(width=WIDTH, height=HEIGHT, left=LEFT, right=right, top=TOP, bottom=bottom,
                  points=chart_points, progress_line=progress_line, progress_area=area,
                  completion_line=completion_line, x_ticks=x_ticks, y_ticks=y_ticks,
                  description=description)
