"""Points in time: reading ``as_of`` values and cutting a range into intervals."""

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from app.errors import FieldError, InvalidInput

END_OF_DAY = time.max  # 23:59:59.999999


class Interval(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


MAX_POINTS = 400


def parse_instant(value: str, *, field: str, day_start: bool = False) -> datetime:
    """A date means the end of that day (its start with ``day_start``), in UTC; a time
    without an offset is UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.min if day_start else END_OF_DAY, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput([FieldError(field, f"{value!r} is not a date (YYYY-MM-DD) or an "
                                              "ISO 8601 date and time")]) from None


def _next_start(day: date, interval: Interval) -> date:
    months = {Interval.month: 1, Interval.quarter: 3, Interval.year: 12}[interval]
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _interval_start(day: date, interval: Interval) -> date:
    if interval == Interval.year:
        return date(day.year, 1, 1)
    if interval == Interval.quarter:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, day.month, 1)


def interval_ends(start: date, end: date, interval: Interval) -> list[datetime]:
    """The last instant of each interval touching [start, end], the last one cut at end."""
    if end < start:
        raise InvalidInput([FieldError("to", "is before from")])
    points = []
    cursor = _interval_start(start, interval)
    while cursor <= end:
        last_day = min(_next_start(cursor, interval) - timedelta(days=1), end)
        points.append(datetime.combine(last_day, END_OF_DAY, tzinfo=UTC))
        if len(points) > MAX_POINTS:
            raise InvalidInput([FieldError("interval", f"more than {MAX_POINTS} points; "
                                                       "choose a longer interval")])
        cursor = _next_start(cursor, interval)
    return points
