"""The dashboard prints each indicator's figure in the report's own form (qualifier, out of,
split, components, change, the report's words as a tooltip, the source; a derived value
beside the report's figure when they differ) and each deliverable's quantity, as the report
does; over HTTP, without JavaScript, on SQLite and PostgreSQL."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.services.records.importer import import_records
from tests.helpers import load
from tests.test_reports_main_results import SOURCE, figures_plan, roll
from tests.test_web import Node, page

PAGE = "/mandates/F-2020"


@pytest.fixture
def figures(session: Session) -> None:
    load(session, figures_plan())
    import_records(session, records=roll(15), actor="test")
    session.commit()


def _value(doc: Node, code: str) -> Node:
    return doc.one("tr", data_code=code).one("td", data_label="Value")


@pytest.mark.usefixtures("figures")
def test_values_in_the_reports_form(client: TestClient) -> None:
    doc = page(client, PAGE)
    shown = {code: _value(doc, code).one("span", class_="form").text() for code in (
        "EXPERTS", "SECRETARIES", "FUNDS", "CALL", "PRACTICES", "ROLL", "MEMBERS")}
    assert shown == {"EXPERTS": "400+", "SECRETARIES": "3 out of 5",
                     "FUNDS": "approximately 936,463 €", "CALL": "16", "PRACTICES": "368",
                     "ROLL": "almost 15", "MEMBERS": "15"}
    assert _value(doc, "SECRETARIES").text() == "3 out of 5 (2020)"
    assert _value(doc, "CALL").one("span", class_="components").text() == (
        "6 led, 10 supported")
    assert _value(doc, "FUNDS").one("span", class_="components").text() == (
        "membership fees 52%, partnerships with members 46%, partnerships with others 2%")
    assert _value(doc, "PRACTICES").one("span", class_="change").text() == (
        "+6.7% since 2019")


@pytest.mark.usefixtures("figures")
def test_the_split_as_printed_with_its_bar(client: TestClient) -> None:
    doc = page(client, PAGE)
    for code, text, widths in [("EXPERTS", "45% women, 55% men", ["45%", "55%"]),
                               ("SPEAKERS", "36% women, 64% men", ["36%", "64%"])]:
        row = doc.one("tr", data_code=code)
        assert row.one("span", class_="split-text").text() == text
        assert [span.attrs["style"] for span in row.one("div", class_="split-bar")
                .find_all("span")] == [f"width: {width}" for width in widths]


@pytest.mark.usefixtures("figures")
def test_the_reports_words_as_a_tooltip_and_the_source(client: TestClient) -> None:
    doc = page(client, PAGE)
    experts = doc.one("tr", data_code="EXPERTS")
    assert experts.one("span", class_="form").attrs["title"] == (
        "400+ experts with whom we collaborated")
    assert experts.one("small", class_="source").text() == f"Source: {SOURCE}"
    assert "title" not in _value(doc, "SPEAKERS").one("span", class_="form").attrs


@pytest.mark.usefixtures("figures")
def test_a_derived_value_beside_the_reports_when_they_differ(client: TestClient) -> None:
    doc = page(client, PAGE)
    members = _value(doc, "MEMBERS")
    assert members.text() == "15 (2020) report: 16"
    assert members.one("span", class_="reported").attrs["title"] == SOURCE
    # The records' value is not the report's: no source is claimed for it.
    assert doc.one("tr", data_code="MEMBERS").find_all("small", class_="source") == []
    assert _value(doc, "ROLL").find_all("span", class_="reported") == []


def _quantities(row: Node) -> list[Node]:
    return [span for span in row.find_all("span") if span.has_class("quantity")]


@pytest.mark.usefixtures("figures")
def test_deliverables_show_their_quantity(client: TestClient) -> None:
    for path, params in [(PAGE, {}), (f"{PAGE}/deliverables", {"measure": "A1"})]:
        [done] = _quantities(page(client, path, **params).one("tr", data_code="A1a"))
        assert done.text() == "6 pilot projects: 4 (short of target)"
        assert done.has_class("short")
    doc = page(client, PAGE)
    [waiting] = _quantities(doc.one("tr", data_code="B1a"))
    assert waiting.text() == "5 regional agendas: 2" and not waiting.has_class("short")
    assert _quantities(doc.one("tr", data_code="A1b")) == []


@pytest.mark.usefixtures("figures")
def test_no_script_is_needed(client: TestClient) -> None:
    doc = page(client, PAGE)
    # The only script keeps the progress figures live; it writes no indicator's figure.
    assert [node.attrs.get("src") for node in doc.find_all("script")] == ["/static/live.js"]
    for row in doc.find_all("tr"):
        if row.attrs.get("data-code") and "data-status" not in row.attrs:  # an indicator
            assert not [node for node in row.find_all() if "data-figure" in node.attrs]
