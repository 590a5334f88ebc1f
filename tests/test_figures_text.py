"""The renderer of a figure in the report's own form (app/reports/figures.py), with the
Metropolis Annual Report 2020's own examples; no database."""

from typing import Any

import pytest

from app.models import Status
from app.reports.figures import (
    amount,
    change_text,
    components_text,
    differs,
    figure_pieces,
    figure_text,
    split_text,
    value_text,
)
from app.reports.quantities import Quantity
from app.schemas.api import FigureOut


def fig(value: float, **form: Any) -> FigureOut:
    return FigureOut(period="2020", value=value, **form)


@pytest.mark.parametrize(("item", "unit", "currency", "shown"), [
    (fig(400, qualifier="at_least"), "count", None, "400+"),
    (fig(2450, qualifier="at_least"), "count", None, "2,450+"),
    (fig(33000, qualifier="at_least"), "count", None, "33,000+"),
    (fig(2000, qualifier="more_than"), "count", None, "more than 2,000"),
    (fig(75, qualifier="almost"), "count", None, "almost 75"),
    (fig(936463, qualifier="about"), "currency", "EUR", "approximately 936,463 €"),
    (fig(1225075), "currency", "EUR", "1,225,075 €"),
    (fig(1234.5), "currency", "CHF", "1,234.5 CHF"),
    (fig(76), "percent", None, "76%"),
    (fig(15.6), "percent", None, "15.6%"),
    (fig(76, qualifier="at_least"), "percent", None, "at least 76%"),
    (fig(3, out_of=5), "count", None, "3 out of 5"),
    (fig(16, out_of=22), "count", None, "16 out of 22"),
    (fig(141), "count", None, "141"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_the_value_in_its_form(item: FigureOut, unit: str, currency: str | None,
                               shown: str) -> None:
    assert value_text(item, unit, currency) == shown


def test_the_split_as_printed() -> None:
    assert split_text(fig(160, shares={"women": 36, "men": 64})) == "36% women, 64% men"
    assert split_text(fig(16, parts={"women": 9, "men": 7})) == "9 women, 7 men"
    # The gender categories in their order, whatever the order given.
    assert split_text(fig(400, shares={"men": 55, "women": 45})) == "45% women, 55% men"
    assert split_text(fig(7, parts={"men": 2, "women": 5})) == "5 women, 2 men"
    assert split_text(fig(110, shares={"women": 44.5, "men": 55.5})) == (
        "44.5% women, 55.5% men")
    assert split_text(fig(7)) is None


def test_components_by_value_or_by_share() -> None:
    assert components_text(fig(16, components=[
        {"name": "led", "value": 6}, {"name": "supported", "value": 10}])) == (
        "6 led, 10 supported")
    assert components_text(fig(936463, components=[
        {"name": "membership fees", "share": 52},
        {"name": "partnerships with members", "share": 46},
        {"name": "partnerships with others", "share": 2}])) == (
        "membership fees 52%, partnerships with members 46%, partnerships with others 2%")
    assert components_text(fig(6)) is None


def test_a_change_since_a_period() -> None:
    assert change_text(fig(368, change={"percent": 6.7, "since": "2019"})) == (
        "+6.7% since 2019")
    assert change_text(fig(469, change={"percent": 28.5, "since": "2019"})) == (
        "+28.5% since 2019")
    assert change_text(fig(90, change={"percent": -3, "since": "2019"})) == "-3% since 2019"
    assert change_text(fig(90, change={"percent": 0, "since": "2019"})) == "±0% since 2019"
    assert change_text(fig(90)) is None


def test_the_whole_figure_in_one_line() -> None:
    assert figure_text(fig(400, qualifier="at_least", shares={"women": 45, "men": 55}),
                       "count") == "400+ (45% women, 55% men)"
    assert figure_text(fig(16, components=[
        {"name": "led", "value": 6}, {"name": "supported", "value": 10}]), "count") == (
        "16: 6 led, 10 supported")
    assert figure_text(fig(368, change={"percent": 6.7, "since": "2019"}), "count") == (
        "368 (+6.7% since 2019)")
    assert figure_text(fig(3, out_of=5), "count") == "3 out of 5"
    assert figure_text(None, "count") == "—"


def test_the_pieces_are_those_of_the_one_line() -> None:
    item = fig(75, qualifier="almost", shares={"women": 58, "men": 42},
               change={"percent": 10, "since": "2019"},
               components=[{"name": "online", "value": 70}, {"name": "on site", "value": 5}])
    pieces = figure_pieces(item, "count")
    assert (pieces.value, pieces.split, pieces.components, pieces.change) == (
        "almost 75", "58% women, 42% men", "70 online, 5 on site", "+10% since 2019")
    assert figure_text(item, "count") == (
        "almost 75: 70 online, 5 on site (58% women, 42% men; +10% since 2019)")


def test_amounts_reuse_the_vocabularys_numbers() -> None:
    assert amount(None, "count") == "—"
    assert amount(0.45, "ratio") == "0.45"
    assert amount(58.16, "percent") == "58.16%"


def test_a_derived_value_differs_from_the_report_as_printed() -> None:
    assert differs(15, fig(16))
    assert differs(31, fig(32))
    assert not differs(76.6, fig(76))  # the report truncated
    assert not differs(58.16, fig(58))
    assert not differs(15.6028, fig(15.6))
    assert not differs(16, fig(16))
    assert not differs(412, fig(400, qualifier="at_least"))
    assert differs(390, fig(400, qualifier="at_least"))
    assert not differs(15, fig(15, qualifier="almost"))
    assert not differs(None, fig(16)) and not differs(16, None)


def test_a_deliverables_quantity() -> None:
    pilots = Quantity(target=6, actual=4, unit="pilot projects")
    assert pilots.text(Status.completed) == "6 pilot projects: 4 (short of target)"
    assert pilots.text(Status.in_progress) == "6 pilot projects: 4"
    assert not pilots.short(Status.in_progress)
    assert Quantity(target=6, unit="approved pilot projects").text(Status.completed) == (
        "6 approved pilot projects")
    assert Quantity(target=1, actual=2, unit="issue papers").text(Status.completed) == (
        "1 issue papers: 2")
    assert Quantity.stored({"target": 6, "indicator": "PILOTS"}) == Quantity(
        target=6, indicator="PILOTS")
    assert Quantity.stored(None) is None
