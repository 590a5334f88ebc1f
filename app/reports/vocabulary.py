"""How statuses and figures are shown to people: the one home of the report's symbols.

The Metropolis Annual Report marks each deliverable V (completed), a bullet (in progress),
0 (not started) or a multiplication sign (not achieved). The report has no symbol for
``cancelled``; planpulse shows it as an en dash, the usual mark for "does not apply", since
a cancelled deliverable is left out of every denominator.
"""

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from app.models.enums import IndicatorUnit, Status

STATUS_SYMBOLS: Mapping[Status, str] = {
    Status.completed: "V",
    Status.in_progress: "•",
    Status.not_started: "0",
    Status.not_achieved: "\u00d7",  # multiplication sign
    Status.cancelled: "\u2013",  # en dash
}
"""The annual report's symbol for each status (cancelled: planpulse's own)."""

STATUS_WORDS: Mapping[Status, str] = {
    Status.completed: "completed",
    Status.in_progress: "in progress",
    Status.not_started: "not started",
    Status.not_achieved: "not achieved",
    Status.cancelled: "cancelled",
}
"""The status in words, shown beside its symbol so that nothing relies on colour."""

ATTAINMENT_WORDS: Mapping[str, str] = {
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "no_target": "no target",
    "no_value": "no value",
}

NOTHING = "—"
"""What a missing figure looks like (an em dash, unlike the cancelled symbol)."""


def symbol(status: Status | str) -> str:
    return STATUS_SYMBOLS[Status(status)]


def word(status: Status | str) -> str:
    return STATUS_WORDS[Status(status)]


def attainment_word(status: str) -> str:
    return ATTAINMENT_WORDS.get(status, status.replace("_", " "))


def whole_percent(ratio: float | None) -> int | None:
    """A ratio in 0..1 as a whole percentage, halves rounded up: 0.7846 → 78."""
    if ratio is None:
        return None
    return int((Decimal(str(ratio)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent(ratio: float | None) -> str:
    """0.7846 → "78%"; None → "—"."""
    value = whole_percent(ratio)
    return NOTHING if value is None else f"{value}%"


def number(value: float | None) -> str:
    """2450.0 → "2,450"; 0.45 → "0.45"; None → "—"."""
    if value is None:
        return NOTHING
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def figure(value: float | None, unit: str, currency: str | None = None) -> str:
    """An indicator's value in its unit: 36 (percent) → "36%", 33000 (count) → "33,000"."""
    if value is None:
        return NOTHING
    if unit == IndicatorUnit.percent:
        return f"{number(value)}%"
    if unit == IndicatorUnit.currency and currency:
        return f"{number(value)} {currency}"
    return number(value)
