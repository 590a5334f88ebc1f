"""The report's "Main results" (the annual report's section 2) and the deliverables'
quantities, in Markdown, HTML, xlsx and CSV, for a small plan of their own; over HTTP too.
On SQLite and PostgreSQL."""

import csv
import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from app.reports.build import GENDER_TITLE, ORGANISATION_TITLE, Report, build_report
from app.reports.formats import Part, ReportFormat
from app.reports.render import render
from app.schemas.records_file import RecordsFile
from app.services.lookup import get_mandate
from app.services.records.importer import import_records
from tests.helpers import load, small_plan

CODE = "F-2020"
M = f"/api/v1/mandates/{CODE}"
SOURCE = "Annual Report 2020, section 2"
FORMS = ["400+", "3 out of 5", "6 led, 10 supported", "+6.7% since 2019",
         "36% women, 64% men"]


def figures_plan() -> dict[str, Any]:
    """The small plan, over 2018-2020, with figures stated as the annual report states
    them: organisation-wide, per action line, and gender highlights."""
    plan = small_plan(code=CODE, title="Figures plan", start_date="2018-01-01",
                      end_date="2020-12-31")
    done = plan["action_lines"][0]["measures"][0]["deliverables"][0]  # A1a, completed
    done["quantity"] = {"target": 6, "unit": "pilot projects", "indicator": "PILOTS"}
    waiting = plan["action_lines"][1]["measures"][0]["deliverables"][0]  # B1a
    waiting["quantity"] = {"target": 5, "actual": 2, "unit": "regional agendas"}

    def value(value: float, **form: Any) -> dict[str, Any]:
        return {"period": "2020", "value": value, "source": SOURCE, **form}

    plan["indicators"] = [
        {"code": "EXPERTS", "title": "experts with whom we collaborated", "unit": "count",
         "direction": "increase", "split": "gender",
         "values": [value(400, qualifier="at_least", shares={"women": 45, "men": 55},
                          quote="400+ experts with whom we collaborated")]},
        {"code": "FUNDS", "title": "Where the funds come from", "unit": "currency",
         "currency": "EUR", "direction": "increase",
         "values": [value(936463, qualifier="about", components=[
             {"name": "membership fees", "share": 52},
             {"name": "partnerships with members", "share": 46},
             {"name": "partnerships with others", "share": 2}])]},
        {"code": "SPEAKERS", "title": "speakers", "unit": "count", "direction": "increase",
         "split": "gender", "action_line": "A",
         "values": [value(160, shares={"women": 36, "men": 64})]},
        {"code": "CALL", "title": "members leading or supporting the call", "unit": "count",
         "direction": "increase", "measure": "A1",
         "values": [value(16, components=[{"name": "led", "value": 6},
                                          {"name": "supported", "value": 10}])]},
        {"code": "PRACTICES", "title": "urban practices available online", "unit": "count",
         "direction": "increase", "action_line": "B",
         "values": [value(368, change={"percent": 6.7, "since": "2019"})]},
        {"code": "PILOTS", "title": "pilot projects", "unit": "count",
         "direction": "increase", "measure": "A2", "values": [value(4)]},
        {"code": "MEMBERS", "title": "members", "unit": "count", "direction": "increase",
         "derived": {"count_members": {}}, "reported": [value(16)]},
        {"code": "ROLL", "title": "members on the roll", "unit": "count",
         "direction": "increase", "derived": {"count_members": {}},
         "reported": [value(15, qualifier="almost")]},
        {"code": "GENDER_STRATEGY", "title": "members in the gender mainstreaming strategy",
         "unit": "count", "direction": "increase", "tags": ["gender"],
         "values": [value(25)]},
        {"code": "SECRETARIES", "title": "regional secretaries are women", "unit": "count",
         "direction": "increase", "action_line": "B", "tags": ["gender"],
         "values": [value(3, out_of=5)]},
        {"code": "NO_FIGURE", "title": "a target without a value", "unit": "count",
         "direction": "increase", "targets": [{"period": "2020", "value": 9}]},
    ]
    return plan


def roll(members: int, period: str = "2020") -> RecordsFile:
    """A roll of ``members`` members for ``period``: what count_members counts."""
    return RecordsFile.model_validate({
        "members": [{"code": f"M{n}", "name": f"Member {n}"} for n in range(members)],
        "engagement": [{"member": f"M{n}", "period": period} for n in range(members)]})


@pytest.fixture
def figures(session: Session) -> None:
    load(session, figures_plan())
    import_records(session, records=roll(15), actor="test")
    session.commit()


@pytest.fixture
def report(session: Session, figures: None) -> Report:
    return build_report(session, mandate=get_mandate(session, code=CODE))


def _md_section(text: str, heading: str) -> str:
    """A Markdown section: from its heading to the next heading of its level or above."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading):]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, flags=re.MULTILINE)
    return rest[:stop.start()] if stop else rest


def _md_rows(section: str) -> dict[str, list[str]]:
    """The section's table rows by their Indicator cell."""
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 6 and not set(cells[0]) <= set("-:"):
            rows[cells[1]] = cells
    rows.pop("Indicator", None)
    return rows


# The groups, as the report's section 2 has them -----------------------------------------

def test_figures_are_grouped_as_the_report_groups_them(report: Report) -> None:
    groups = [(group.gender, group.title, [row.code for row in group.rows])
              for group in report.main_results]
    assert groups == [
        (False, ORGANISATION_TITLE, ["EXPERTS", "FUNDS", "MEMBERS", "ROLL"]),
        (False, "A Line A", ["SPEAKERS", "CALL", "PILOTS"]),
        (False, "B Line B", ["PRACTICES"]),
        (True, ORGANISATION_TITLE, ["GENDER_STRATEGY"]),
        (True, "B Line B", ["SECRETARIES"]),
    ]  # a gender figure among the highlights only; no figure, no row (NO_FIGURE)


def test_each_row_in_the_reports_form(report: Report) -> None:
    rows = {row.code: row for group in report.main_results for row in group.rows}
    assert rows["EXPERTS"].value_text == "400+"
    assert rows["EXPERTS"].split == "45% women, 55% men"
    assert rows["FUNDS"].value_text == "approximately 936,463 €"
    assert rows["CALL"].components == "6 led, 10 supported"
    assert rows["PRACTICES"].change == "+6.7% since 2019"
    assert rows["SECRETARIES"].value_text == "3 out of 5"
    assert rows["SECRETARIES"].figure is not None
    assert rows["SECRETARIES"].figure.share_of_total == 0.6
    members = rows["MEMBERS"]  # derived: 15 members on the roll, the report printed 16
    assert (members.value, members.reported_text, members.differs) == (15, "16", True)
    assert members.value_text == "15 (report: 16)"
    assert (rows["ROLL"].value_text, rows["ROLL"].differs) == ("almost 15", False)
    assert rows["EXPERTS"].source == SOURCE


# Each format ----------------------------------------------------------------------------

def test_markdown_main_results(report: Report) -> None:
    text = render(report, ReportFormat.md).decode()
    assert text.index("## Main results") < text.index("## Implementation of the Action Plan")
    section = _md_section(text, "## Main results")
    for form in FORMS:
        assert form in section, form
    organisation = _md_rows(_md_section(section, f"### {ORGANISATION_TITLE}"))
    assert organisation["experts with whom we collaborated"] == [
        "400+", "experts with whom we collaborated", "45% women, 55% men", "", "", SOURCE]
    assert organisation["members"][0] == "15 (report: 16)"
    line_a = _md_rows(_md_section(section, "### A Line A"))
    assert line_a["members leading or supporting the call"][:4] == [
        "16", "members leading or supporting the call", "", "6 led, 10 supported"]
    assert line_a["speakers"][2] == "36% women, 64% men"
    assert _md_rows(_md_section(section, "### B Line B"))[
        "urban practices available online"][4] == "+6.7% since 2019"
    gender = _md_section(section, f"### {GENDER_TITLE}")
    assert set(_md_rows(_md_section(gender, f"#### {ORGANISATION_TITLE}"))) == {
        "members in the gender mainstreaming strategy"}
    assert _md_rows(_md_section(gender, "#### B Line B"))[
        "regional secretaries are women"][0] == "3 out of 5"


class _Cells(HTMLParser):
    """Each results row's cells (by data-code) and the figure cell's title."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.titles: dict[str, str | None] = {}
        self.row: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-code"):
            self.row = found["data-code"]
            self.rows[self.row or ""] = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
            if "figure" in (found.get("class") or "").split():
                self.titles[self.row] = found.get("title")

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.rows[self.row].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr":
            self.row = None


def test_html_main_results(report: Report) -> None:
    html = render(report, ReportFormat.html).decode()
    assert '<h2 id="main_results">Main results</h2>' in html
    assert f"<h3>{GENDER_TITLE}</h3>" in html and "<h4>B Line B</h4>" in html
    parser = _Cells()
    parser.feed(html)
    rows = parser.rows
    assert rows["EXPERTS"] == ["400+", "experts with whom we collaborated",
                               "45% women, 55% men", "", "", SOURCE]
    assert parser.titles["EXPERTS"] == "400+ experts with whom we collaborated"
    assert rows["SECRETARIES"][0] == "3 out of 5"
    assert rows["CALL"][3] == "6 led, 10 supported"
    assert rows["PRACTICES"][4] == "+6.7% since 2019"
    assert rows["SPEAKERS"][2] == "36% women, 64% men"
    assert rows["FUNDS"][0] == "approximately 936,463 €"
    assert rows["MEMBERS"][0] == "15 (report: 16)"


def test_xlsx_main_results_sheet(report: Report) -> None:
    workbook = load_workbook(io.BytesIO(render(report, ReportFormat.xlsx)))
    assert workbook.sheetnames[0] == "Main results"
    sheet = workbook["Main results"]
    header = [cell.value for cell in sheet[1]]
    rows = {row[2]: dict(zip(header, row, strict=True))
            for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"EXPERTS", "FUNDS", "MEMBERS", "ROLL", "SPEAKERS", "CALL", "PILOTS",
                         "PRACTICES", "GENDER_STRATEGY", "SECRETARIES"}
    experts = rows["EXPERTS"]
    assert (experts["Section"], experts["Group"], experts["Figure"], experts["Value"],
            experts["Qualifier"], experts["Split"], experts["Women's share"]) == (
        "Main results", ORGANISATION_TITLE, "400+", 400, "at_least", "45% women, 55% men",
        0.45)
    assert experts["Quote"] == "400+ experts with whom we collaborated"
    secretaries = rows["SECRETARIES"]
    assert (secretaries["Section"], secretaries["Figure"], secretaries["Out of"],
            secretaries["Share of total"]) == (GENDER_TITLE, "3 out of 5", 5, 0.6)
    assert rows["CALL"]["Components"] == "6 led, 10 supported"
    practices = rows["PRACTICES"]
    assert (practices["Change"], practices["Change (%)"], practices["Since"]) == (
        "+6.7% since 2019", 6.7, "2019")
    assert rows["SPEAKERS"]["Split"] == "36% women, 64% men"
    members = rows["MEMBERS"]
    assert (members["Figure"], members["Value"], members["Report's figure"],
            members["Report's value"]) == ("15 (report: 16)", 15, "16", 16)
    ratio = header.index("Share of total") + 1
    assert sheet.cell(row=2, column=ratio).number_format == "0%"


def test_csv_main_results_part(report: Report) -> None:
    rows = {row["indicator"]: row for row in csv.DictReader(io.StringIO(
        render(report, ReportFormat.csv, Part.main_results).decode()))}
    assert rows["EXPERTS"]["figure"] == "400+" and rows["EXPERTS"]["value"] == "400.0"
    assert rows["SECRETARIES"]["share_of_total"] == "0.6"
    assert rows["PRACTICES"]["change_percent"] == "6.7"


def test_a_plan_without_figures_says_so(session: Session) -> None:
    load(session, small_plan())
    report = build_report(session, mandate=get_mandate(session, code="T-2024"))
    assert report.main_results == []
    assert "## Main results\n\nNo figure recorded yet." in render(
        report, ReportFormat.md).decode()
    assert "No figure recorded yet." in render(report, ReportFormat.html).decode()


# The deliverables' quantities (section 3) -----------------------------------------------

def test_quantities_in_the_implementation_table(report: Report) -> None:
    md = render(report, ReportFormat.md, Part.implementation).decode()
    # The small plan names an owner (B1a's): the Owner column follows the Quantity one.
    assert "| Action line | Measure | Deliverable | Quantity | Owner | Symbol | Status |" in md
    assert "| A1a Done | 6 pilot projects: 4 (short of target) |  | V | completed |" in md
    assert "| B1a Not yet | 5 regional agendas: 2 | Ana | 0 | not started |" in md
    assert "| A1b Half |  |  | • | in progress |" in md
    html = render(report, ReportFormat.html).decode()
    assert '<td class="quantity">6 pilot projects: 4 (short of target)</td>' in html
    sheet = load_workbook(io.BytesIO(render(report, ReportFormat.xlsx)))["Implementation"]
    header = [cell.value for cell in sheet[1]]
    rows = {row[4]: dict(zip(header, row, strict=True))
            for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert {key: rows["A1a"][key] for key in (
        "Quantity", "Quantity target", "Quantity actual", "Quantity unit",
        "Short of target")} == {
        "Quantity": "6 pilot projects: 4 (short of target)", "Quantity target": 6,
        "Quantity actual": 4, "Quantity unit": "pilot projects", "Short of target": True}
    assert rows["B1a"]["Short of target"] is False
    assert rows["A1b"]["Quantity"] is None


def test_no_quantity_column_without_quantities(session: Session) -> None:
    load(session, small_plan())
    md = render(build_report(session, mandate=get_mandate(session, code="T-2024")),
                ReportFormat.md).decode()
    assert "| Action line | Measure | Deliverable | Owner | Symbol | Status |" in md
    assert "Quantity" not in md


# Over HTTP ------------------------------------------------------------------------------

def _text(fmt: str, body: bytes) -> str:
    if fmt != "xlsx":
        return body.decode()
    workbook = load_workbook(io.BytesIO(body))
    return "\n".join(str(cell) for sheet in workbook for row in sheet.iter_rows(
        values_only=True) for cell in row if cell is not None)


@pytest.mark.usefixtures("figures")
@pytest.mark.parametrize("fmt", ["md", "html", "xlsx"])
def test_every_format_over_http_prints_the_forms(client: TestClient, fmt: str) -> None:
    answer = client.get(f"{M}/report", params={"format": fmt})
    assert answer.status_code == 200
    text = _text(fmt, answer.content)
    for form in [*FORMS, "6 pilot projects: 4 (short of target)", "15 (report: 16)"]:
        assert form in text, (fmt, form)
    alone = client.get(f"{M}/report", params={"format": fmt, "part": "main_results"})
    assert alone.status_code == 200
    assert "6 led, 10 supported" in _text(fmt, alone.content)
    assert "short of target" not in _text(fmt, alone.content)
