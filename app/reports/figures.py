"""A figure in the report's own form: "400+", "more than 2,000", "almost 75", "3 out of 5",
"approximately 936,463 €", "45% women, 55% men", "6 led, 10 supported", "+6.7% since 2019".

One renderer for every place that prints a figure (Markdown, HTML, xlsx, the dashboard), in
plain-text pieces, so that they all print the same words. Numbers are formatted by
:mod:`app.reports.vocabulary`.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from app.models.enums import GENDER_CATEGORIES, IndicatorUnit, Qualifier
from app.reports.vocabulary import NOTHING, figure, number
from app.schemas.api import ComponentOut, FigureOut
from app.schemas.figures import agrees_with_printed

CURRENCY_SIGNS: Mapping[str, str] = {"EUR": "€", "USD": "$", "GBP": "£"}
"""Currencies the report writes by their sign, after the amount ("936,463 €")."""

QUALIFIER_WORDS: Mapping[Qualifier, str] = {
    Qualifier.more_than: "more than",
    Qualifier.about: "approximately",
    Qualifier.almost: "almost",
    Qualifier.at_least: "at least",
}
"""How a qualifier is written before an amount; a count at_least is "400+" instead."""


@dataclass(frozen=True)
class FigurePieces:
    """A figure's plain-text pieces; None where the figure does not state that piece."""

    value: str
    """The value in its form and unit: "400+", "76%", "3 out of 5"."""
    split: str | None = None
    """"45% women, 55% men" or "9 women, 7 men"."""
    components: str | None = None
    """"6 led, 10 supported" or "membership fees 52%, partnerships with members 46%"."""
    change: str | None = None
    """"+6.7% since 2019"."""


def amount(value: float | None, unit: str, currency: str | None = None) -> str:
    """A value in its unit, as the report writes it: 76 → "76%", 936463 EUR → "936,463 €"."""
    if value is not None and unit == IndicatorUnit.currency and currency in CURRENCY_SIGNS:
        return f"{number(value)} {CURRENCY_SIGNS[currency]}"
    return figure(value, unit, currency)


def value_text(item: FigureOut, unit: str, currency: str | None = None) -> str:
    """The value with its qualifier and its total: "400+", "almost 75", "3 out of 5"."""
    if item.qualifier == Qualifier.at_least and unit == IndicatorUnit.count:
        text = f"{number(item.value)}+"
    elif item.qualifier is not None:
        text = f"{QUALIFIER_WORDS[Qualifier(item.qualifier)]} {amount(item.value, unit, currency)}"
    else:
        text = amount(item.value, unit, currency)
    if item.out_of is not None:
        text += f" out of {number(item.out_of)}"
    return text


def _in_order(split: Mapping[str, float]) -> list[tuple[str, float]]:
    known = [(name, split[name]) for name in GENDER_CATEGORIES if name in split]
    return known + [(name, share) for name, share in split.items()
                    if name not in GENDER_CATEGORIES]


def split_text(item: FigureOut) -> str | None:
    """The split as printed: shares "36% women, 64% men", else counts "9 women, 7 men"."""
    if item.shares:
        return ", ".join(f"{number(share)}% {name}" for name, share in _in_order(item.shares))
    if item.parts:
        return ", ".join(f"{number(part)} {name}" for name, part in _in_order(item.parts))
    return None


def _component(component: ComponentOut) -> str:
    if component.share is not None:
        return f"{component.name} {number(component.share)}%"
    return f"{number(component.value)} {component.name}"


def components_text(item: FigureOut) -> str | None:
    """The named parts: "6 led, 10 supported", or shares "membership fees 52%, ..."."""
    if not item.components:
        return None
    return ", ".join(_component(component) for component in item.components)


def change_text(item: FigureOut) -> str | None:
    """The change stated with the figure: "+6.7% since 2019"; a decrease "-3% since 2019"."""
    if item.change is None:
        return None
    sign = "+" if item.change.percent > 0 else "-" if item.change.percent < 0 else "±"
    return f"{sign}{number(abs(item.change.percent))}% since {item.change.since}"


def figure_pieces(item: FigureOut, unit: str, currency: str | None = None) -> FigurePieces:
    """Every piece of ``item`` in the report's own form."""
    return FigurePieces(value=value_text(item, unit, currency), split=split_text(item),
                        components=components_text(item), change=change_text(item))


def figure_text(item: FigureOut | None, unit: str, currency: str | None = None) -> str:
    """The whole figure in one line: "16: 6 led, 10 supported", "400+ (45% women, 55% men)",
    "368 (+6.7% since 2019)"; None → "—"."""
    if item is None:
        return NOTHING
    pieces = figure_pieces(item, unit, currency)
    text = pieces.value
    if pieces.components:
        text += f": {pieces.components}"
    extras = [piece for piece in (pieces.split, pieces.change) if piece]
    if extras:
        text += f" ({'; '.join(extras)})"
    return text


def differs(computed: float | None, reported: FigureOut | None) -> bool:
    """Whether a derived value is not the figure the report printed, as printed (the rule
    the coverage check judges by): 15 is not 16; 76.6 is the report's "76%" (truncated),
    412 its "400+"."""
    if computed is None or reported is None:
        return False
    return not agrees_with_printed(computed, reported.value, reported.qualifier)
