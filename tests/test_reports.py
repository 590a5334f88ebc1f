"""Reports: the annual report's tables as Markdown, CSV, xlsx and HTML; endpoint and CLI."""

import csv
import io
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli
from app.models import Role, Status
from app.reports.build import (
    ImplementationRow,
    IndicatorRow,
    Report,
    SummaryRow,
    build_report,
)
from app.reports.formats import Part, ReportFormat, file_name
from app.reports.render import data_table, render
from app.services.lookup import get_mandate
from tests.helpers import auth, load, new_token, small_plan

M = "/api/v1/mandates/2018-2020"
NOT_ACHIEVED = "\u00d7"
# One row of the implementation table: | line | measure | L1M1D1 title | symbol | word |
MD_ROW = re.compile(r"^\| [^|]* \| .* \| (L\dM\d+D\d+) .* \| (.) \| ([a-z ]+) \|$")
# The annual report's section 3, as bundled: 50 V, 2 in progress, 7 not started, 6 not achieved.
REPORT_COUNTS = {"V": 50, "•": 2, "0": 7, NOT_ACHIEVED: 6}
# The implementation's quantity columns, after the report's own.
QUANTITY_KEYS = ["quantity", "quantity_target", "quantity_actual", "quantity_unit",
                 "short_of_target"]
# And then who answers for each deliverable.
OWNER_KEYS = ["measure_owner", "owner"]
REPORT_SAMPLES = {"L1M1D1": "V", "L1M1D2": NOT_ACHIEVED, "L1M3D2": "•", "L2M2D1": "0",
                  "L2M5D1": "•", "L2M10D1": NOT_ACHIEVED, "L2M10D2": NOT_ACHIEVED,
                  "L2M10D3": NOT_ACHIEVED, "L3M3D2": "0", "L3M8D1": "V"}


@pytest.fixture
def report(session: Session, metropolis: None) -> Report:
    return build_report(session, mandate=get_mandate(session, code="2018-2020"))


def _md_rows(text: str) -> list[tuple[str, str, str]]:
    return [match.groups() for line in text.splitlines() if (match := MD_ROW.match(line))]


# Built from the bundled plan, on both databases ------------------------------------------

def test_markdown_reproduces_the_annual_reports_table(report: Report) -> None:
    text = render(report, ReportFormat.md).decode()
    rows = _md_rows(text)
    assert len(rows) == 65
    assert Counter(symbol for _, symbol, _ in rows) == REPORT_COUNTS
    by_code = {code: symbol for code, symbol, _ in rows}
    assert {code: by_code[code] for code in REPORT_SAMPLES} == REPORT_SAMPLES
    words = {"V": "completed", "•": "in progress", "0": "not started",
             NOT_ACHIEVED: "not achieved"}
    assert all(word == words[symbol] for _, symbol, word in rows)
    # Plan order, as in the report; a line and a measure are named on their first row.
    assert [code for code, _, _ in rows][:3] == ["L1M1D1", "L1M1D2", "L1M1D3"]
    assert "| L1 | L1M1 That global political events" in text
    assert "|  |  | L1M1D2 Publications" in text
    assert "## Implementation of the Action Plan" in text
    assert "| Total | 65 | 50 | 2 | 7 | 6 | 0 | 77% | 78% |" in text
    assert ("| SPEAKERS_WOMEN_SHARE: Share of women among speakers at Metropolis events (L1M3) "
            "| 2020 | 36% | 50% | 72% | at risk | — |") in text


def test_csv_parses_one_part_at_a_time(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, ReportFormat.csv).decode())))
    assert len(rows) == 65
    assert list(rows[0]) == ["action_line", "action_line_title", "measure", "measure_title",
                             "deliverable", "deliverable_title", "symbol", "status",
                             *QUANTITY_KEYS, *OWNER_KEYS]
    assert rows[0]["deliverable"] == "L1M1D1" and rows[0]["symbol"] == "V"
    summary = list(csv.DictReader(io.StringIO(
        render(report, ReportFormat.csv, Part.summary).decode())))
    assert [row["action_line"] for row in summary] == ["L1", "L2", "L3", "Total"]
    assert summary[-1]["progress"] == "0.7846" and summary[-1]["completed"] == "50"
    indicators = {row["indicator"]: row for row in csv.DictReader(io.StringIO(
        render(report, ReportFormat.csv, Part.indicators).decode()))}
    speakers = indicators["SPEAKERS_WOMEN_SHARE"]
    assert (speakers["value"], speakers["target"], speakers["attainment"]) == (
        "36.0", "50.0", "0.72")
    assert indicators["EXPERTS"]["women_share"] == "0.45"


def test_xlsx_opens_with_one_sheet_per_part(report: Report) -> None:
    workbook = load_workbook(io.BytesIO(render(report, ReportFormat.xlsx)))
    assert workbook.sheetnames == ["Main results", "Implementation", "Progress summary",
                                   "Indicators"]
    implementation = workbook["Implementation"]
    assert implementation.max_row == 66
    assert [c.value for c in implementation[1]][6:8] == ["Symbol", "Status"]
    assert [c.value for c in implementation[2]][4:8] == [
        "L1M1D1", "Calendar of international events", "V", "completed"]
    summary = workbook["Progress summary"]
    total = [c for c in summary[5]]
    assert total[0].value == "Total" and total[-1].value == 0.7846
    assert total[-1].number_format == "0%"
    assert workbook["Indicators"].max_row == len(report.indicators) + 1
    assert implementation.freeze_panes == "A2"


def test_html_is_a_standalone_document(report: Report) -> None:
    html = render(report, ReportFormat.html).decode()
    assert html.startswith("<!doctype html>")
    assert len(re.findall(r"<td>L\dM\d+D\d+ ", html)) == 65
    assert html.count('<td class="symbol">V</td>') == 50
    assert html.count(f'<td class="symbol">{NOT_ACHIEVED}</td>') == 6
    assert '<th scope="rowgroup" rowspan="17">L1</th>' in html
    assert not re.search(r"(src|href)=\"https?:", html)
    assert "<script" not in html


def test_report_as_of_a_date(session: Session, metropolis: None) -> None:
    mandate = get_mandate(session, code="2018-2020")
    before = build_report(session, mandate=mandate,
                          as_of=datetime(2019, 12, 31, 23, 59, tzinfo=UTC))
    assert {row.status for row in before.implementation} == {Status.not_started}
    assert before.total is not None and before.total.progress == 0.0
    assert before.as_of == datetime(2019, 12, 31, 23, 59, tzinfo=UTC)


def test_the_bundled_report_has_no_owner_column(report: Report) -> None:
    # Metropolis' plan names no owner: its table stays the annual report's own.
    assert "Owner" not in render(report, ReportFormat.md).decode()
    assert '<th scope="col">Owner</th>' not in render(report, ReportFormat.html).decode()


def test_each_deliverable_is_shown_with_who_answers_for_it(session: Session) -> None:
    plan = small_plan()
    plan["action_lines"][0]["measures"][0]["owner"] = "Energy Office"
    plan["action_lines"][0]["measures"][0]["deliverables"][1]["owner"] = "Rui"
    plan["action_lines"][1]["measures"][0]["owner"] = "Ana"
    load(session, plan)
    report = build_report(session, mandate=get_mandate(session, code="T-2024"))
    # A deliverable's own owner first, else its measure's; A2 and A2a name nobody.
    expected = {"A1a": "Energy Office", "A1b": "Rui", "A2a": "", "B1a": "Ana", "B1b": "Ana"}
    md = render(report, ReportFormat.md).decode()
    assert "| Action line | Measure | Deliverable | Owner | Symbol | Status |" in md
    md_rows = [[cell.strip() for cell in line.strip("|").split("|")]
               for line in md.splitlines()
               if re.match(r"^\| [^|]* \| [^|]* \| [AB]\d[a-z] ", line)]
    assert {row[2].split()[0]: row[3] for row in md_rows} == expected
    html = render(report, ReportFormat.html).decode()
    assert re.findall(r'<td class="owner">([^<]*)</td>', html) == list(expected.values())
    rows = list(csv.DictReader(io.StringIO(render(report, ReportFormat.csv).decode())))
    assert {row["deliverable"]: (row["measure_owner"], row["owner"]) for row in rows} == {
        "A1a": ("Energy Office", ""), "A1b": ("Energy Office", "Rui"), "A2a": ("", ""),
        "B1a": ("Ana", "Ana"), "B1b": ("Ana", "")}
    sheet = load_workbook(io.BytesIO(render(report, ReportFormat.xlsx)))["Implementation"]
    assert [cell.value for cell in sheet[1]][-2:] == ["Measure owner", "Owner"]
    assert [cell.value for cell in sheet[3]][-2:] == ["Energy Office", "Rui"]


# Rendering alone, no database --------------------------------------------------------------

def _tiny() -> Report:
    statuses = dict.fromkeys(Status, 0)
    return Report(
        mandate="X/1", title="Plan | <b>", start_date=date(2024, 1, 1),
        end_date=date(2024, 12, 31), as_of=datetime(2024, 6, 30, tzinfo=UTC),
        implementation=[ImplementationRow("A", "Line A", "A1", "Do a | b\nnow", "A1a",
                                          "Dropped <thing>", Status.cancelled)],
        summary=[SummaryRow("A", "Line A", 1, {**statuses, Status.cancelled: 1}, None, None)],
        total=SummaryRow("Total", "Plan", 1, {**statuses, Status.cancelled: 1}, None, None),
        indicators=[IndicatorRow("K", "Funds", None, None, "currency", "EUR", "2024", 1234.5,
                                 None, None, "no_target", None)],
    )


def test_cells_are_escaped_in_every_format() -> None:
    report = _tiny()
    md = render(report, ReportFormat.md).decode()
    assert "| A | A1 Do a \\| b now | A1a Dropped <thing> | \u2013 | cancelled |" in md
    assert "| Total | 1 | 0 | 0 | 0 | 0 | 1 | — | — |" in md
    assert "| K: Funds | 2024 | 1,234.5 EUR | — | — | no target | — |" in md
    html = render(report, ReportFormat.html).decode()
    assert "Dropped &lt;thing&gt;" in html and "Plan | &lt;b&gt;" in html
    rows = list(csv.reader(io.StringIO(render(report, ReportFormat.csv).decode())))
    assert rows[1][3] == "Do a | b\nnow"
    indicator = next(iter(csv.DictReader(io.StringIO(
        render(report, ReportFormat.csv, Part.indicators).decode()))))
    assert indicator["target"] == "" and indicator["value"] == "1234.5"


def test_a_part_alone() -> None:
    md = render(_tiny(), ReportFormat.md, Part.summary).decode()
    assert "## Progress per action line" in md
    assert "Implementation" not in md and "## Indicators" not in md
    workbook = load_workbook(io.BytesIO(render(_tiny(), ReportFormat.xlsx, Part.indicators)))
    assert workbook.sheetnames == ["Indicators"]
    assert [column.key for column in data_table(_tiny(), Part.indicators).columns][-1] == (
        "women_share")


def test_file_names() -> None:
    assert file_name("2018-2020", ReportFormat.xlsx) == "planpulse-2018-2020-report.xlsx"
    assert file_name("X/1 é", ReportFormat.csv, Part.summary) == (
        "planpulse-X_1__-report-summary.csv")


# Over HTTP ----------------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
@pytest.mark.parametrize(("fmt", "media", "disposition"), [
    ("md", "text/markdown; charset=utf-8", "inline"),
    ("csv", "text/csv; charset=utf-8", "attachment"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "attachment"),
    ("html", "text/html; charset=utf-8", "inline"),
])
def test_report_endpoint_formats(client: TestClient, fmt: str, media: str,
                                 disposition: str) -> None:
    answer = client.get(f"{M}/report", params={"format": fmt})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == media
    assert answer.headers["content-disposition"] == (
        f'{disposition}; filename="planpulse-2018-2020-report.{fmt}"')
    assert answer.headers["cache-control"] == "no-cache"
    assert client.get(f"{M}/report", params={"format": fmt}, headers={
        "If-None-Match": answer.headers["etag"]}).status_code == 304


@pytest.mark.usefixtures("metropolis")
def test_report_endpoint_defaults_to_markdown_and_follows_changes(
        client: TestClient, engine: Engine) -> None:
    first = client.get(f"{M}/report")
    assert len(_md_rows(first.text)) == 65
    editor = auth(new_token(engine, Role.editor))
    etag = client.get(f"{M}/deliverables/L2M10D1").headers["etag"]
    assert client.post(f"{M}/deliverables/L2M10D1/status", json={"status": "completed"},
                       headers={**editor, "If-Match": etag}).status_code == 200
    now = dict((code, symbol) for code, symbol, _ in _md_rows(client.get(f"{M}/report").text))
    assert now["L2M10D1"] == "V"
    then = client.get(f"{M}/report", params={"as_of": "2020-12-31"})
    assert dict((c, s) for c, s, _ in _md_rows(then.text))["L2M10D1"] == NOT_ACHIEVED
    assert "Statuses as of 2020-12-31 23:59 UTC" in then.text
    assert client.get(f"{M}/report", headers={
        "If-None-Match": first.headers["etag"]}).status_code == 200


@pytest.mark.usefixtures("metropolis")
def test_report_endpoint_parts_and_errors(client: TestClient) -> None:
    summary = client.get(f"{M}/report", params={"format": "csv", "part": "summary"})
    assert summary.headers["content-disposition"].endswith('report-summary.csv"')
    assert summary.text.splitlines()[0].startswith("action_line,title,deliverables")
    for params, field in [({"format": "pdf"}, "format"), ({"part": "all"}, "part"),
                          ({"as_of": "tomorrow"}, "as_of")]:
        answer = client.get(f"{M}/report", params=params)
        assert answer.status_code == 422, params
        assert [e["path"] for e in answer.json()["errors"]] == [field]
    assert client.get("/api/v1/mandates/nope/report").status_code == 404


# The command line ---------------------------------------------------------------------------

@pytest.mark.usefixtures("metropolis")
def test_cli_report(cli_runner: CliRunner, tmp_path: Path) -> None:
    md = cli_runner.invoke(cli.app, ["report", "2018-2020"])
    assert md.exit_code == 0, md.output
    assert len(_md_rows(md.stdout)) == 65

    summary = cli_runner.invoke(cli.app, ["report", "2018-2020", "--format", "csv",
                                          "--part", "summary", "--as-of", "2019-12-31"])
    assert summary.exit_code == 0, summary.output
    assert summary.stdout.splitlines()[-1].endswith(",0.0,0.0")

    target = tmp_path / "report.xlsx"
    xlsx = cli_runner.invoke(cli.app, ["report", "2018-2020", "-f", "xlsx", "-o", str(target)])
    assert xlsx.exit_code == 0, xlsx.output
    assert load_workbook(target).sheetnames == ["Main results", "Implementation",
                                                "Progress summary", "Indicators"]

    unknown = cli_runner.invoke(cli.app, ["report", "nope"])
    assert unknown.exit_code == 1
    assert "There is no mandate 'nope'" in unknown.stderr
    bad_date = cli_runner.invoke(cli.app, ["report", "2018-2020", "--as-of", "soon"])
    assert bad_date.exit_code == 2
