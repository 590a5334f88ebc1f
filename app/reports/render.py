"""Rendering a :class:`~app.reports.build.Report` as Markdown, CSV, xlsx or HTML.

Pure: rows in, bytes out, no database. Every format shows the same parts:
``main_results`` (the annual report's section 2: every figure in its own form, grouped as
the report groups them), ``implementation`` (its section 3 table, one row per
deliverable), ``summary`` (the progress figures of each action line and the total) and
``indicators``. Markdown, HTML and
xlsx hold all parts (xlsx one sheet each); CSV holds one table, so it renders one part.
"""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from app.models import Status
from app.reports.build import (
    GENDER_TITLE,
    ImplementationRow,
    Report,
    ResultGroup,
    ResultRow,
    SummaryRow,
)
from app.reports.formats import PART_TITLES, SHEET_TITLES, Part, ReportFormat, parts_for
from app.reports.vocabulary import (
    NOTHING,
    STATUS_SYMBOLS,
    attainment_word,
    figure,
    percent,
    symbol,
    word,
)

LEGEND = ", ".join(f"{mark} {word(status)}" for status, mark in STATUS_SYMBOLS.items())


# Tables of typed values, shared by CSV and xlsx --------------------------------------------

class Kind(StrEnum):
    text = "text"
    integer = "integer"
    number = "number"
    ratio = "ratio"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = Kind.text
    width: int = 14


@dataclass(frozen=True)
class Table:
    part: Part
    columns: list[Column]
    rows: list[list[Any]]


def _summary_values(row: SummaryRow) -> list[Any]:
    return [row.code, row.title, row.deliverables,
            *(row.by_status[status] for status in Status),
            row.completion_rate, row.progress]


def _quantity_values(row: ImplementationRow) -> list[Any]:
    quantity = row.quantity
    if quantity is None:
        return [None] * 5
    return [quantity.text(row.status), quantity.target, quantity.actual, quantity.unit,
            quantity.short(row.status)]


def _section(group: ResultGroup) -> str:
    return GENDER_TITLE if group.gender else PART_TITLES[Part.main_results]


def _result_values(group: ResultGroup, row: ResultRow) -> list[Any]:
    form = row.figure
    change = form.change if form else None
    return [
        _section(group), group.title, row.code, row.title, row.period, row.value_text,
        row.value, form.qualifier if form else None, form.out_of if form else None,
        form.share_of_total if form else None, row.split,
        form.women_share if form else None, row.components, row.change,
        change.percent if change else None, change.since if change else None,
        row.reported_text, row.reported.value if row.reported else None,
        form.quote if form else None, row.source]


RESULT_COLUMNS = [
    Column("section", "Section", width=24),
    Column("group", "Group", width=40),
    Column("indicator", "Indicator", width=30),
    Column("title", "Title", width=60),
    Column("period", "Period", width=10),
    Column("figure", "Figure", width=24),
    Column("value", "Value", Kind.number),
    Column("qualifier", "Qualifier", width=12),
    Column("out_of", "Out of", Kind.number, width=10),
    Column("share_of_total", "Share of total", Kind.ratio, width=14),
    Column("split", "Split", width=24),
    Column("women_share", "Women's share", Kind.ratio, width=16),
    Column("components", "Components", width=40),
    Column("change", "Change", width=20),
    Column("change_percent", "Change (%)", Kind.number, width=12),
    Column("change_since", "Since", width=10),
    Column("reported", "Report's figure", width=18),
    Column("reported_value", "Report's value", Kind.number, width=14),
    Column("quote", "Quote", width=60),
    Column("source", "Source", width=40),
]


def data_table(report: Report, part: Part) -> Table:
    """One part as typed values: ratios stay ratios (0.7846), numbers stay numbers."""
    if part == Part.main_results:
        return Table(part, RESULT_COLUMNS, [_result_values(group, row)
                                            for group in report.main_results
                                            for row in group.rows])
    if part == Part.implementation:
        return Table(part, [
            Column("action_line", "Action line", width=12),
            Column("action_line_title", "Action line title", width=40),
            Column("measure", "Measure", width=10),
            Column("measure_title", "Measure title", width=60),
            Column("deliverable", "Deliverable", width=12),
            Column("deliverable_title", "Deliverable title", width=60),
            Column("symbol", "Symbol", width=8),
            Column("status", "Status"),
            Column("quantity", "Quantity", width=40),
            Column("quantity_target", "Quantity target", Kind.number, width=16),
            Column("quantity_actual", "Quantity actual", Kind.number, width=16),
            Column("quantity_unit", "Quantity unit", width=24),
            Column("short_of_target", "Short of target", width=16),
            Column("measure_owner", "Measure owner", width=24),
            Column("owner", "Owner", width=24),
        ], [[row.action_line, row.action_line_title, row.measure, row.measure_title,
             row.deliverable, row.deliverable_title, symbol(row.status), word(row.status),
             *_quantity_values(row), row.measure_owner, row.owner]
            for row in report.implementation])
    if part == Part.summary:
        rows = [_summary_values(row) for row in report.summary]
        if report.total is not None:
            rows.append(_summary_values(report.total))
        return Table(part, [
            Column("action_line", "Action line", width=12),
            Column("title", "Title", width=60),
            Column("deliverables", "Deliverables", Kind.integer),
            *(Column(status.value, f"{symbol(status)} {word(status)}", Kind.integer)
              for status in Status),
            Column("completion_rate", "Completion rate", Kind.ratio, width=16),
            Column("progress", "Progress", Kind.ratio),
        ], rows)
    return Table(part, [
        Column("indicator", "Indicator", width=30),
        Column("title", "Title", width=60),
        Column("action_line", "Action line", width=12),
        Column("measure", "Measure", width=10),
        Column("unit", "Unit", width=10),
        Column("period", "Period", width=10),
        Column("value", "Value", Kind.number),
        Column("target", "Target", Kind.number),
        Column("attainment", "Attainment", Kind.ratio),
        Column("attainment_status", "Attainment status", width=18),
        Column("women_share", "Women's share", Kind.ratio, width=16),
    ], [[row.code, row.title, row.action_line, row.measure, row.unit, row.period, row.value,
         row.target, row.attainment, attainment_word(row.attainment_status),
         row.women_share] for row in report.indicators])


def to_csv(report: Report, part: Part) -> bytes:
    """One part as CSV (UTF-8, header row of keys, ratios as 0..1 numbers, empty = none)."""
    table = data_table(report, part)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.key for column in table.columns])
    for row in table.rows:
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue().encode("utf-8")


def to_xlsx(report: Report, parts: Sequence[Part]) -> bytes:
    """A workbook with one sheet per part; ratios formatted as percentages."""
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    workbook.properties.title = f"{report.title}: report"
    workbook.properties.description = f"Statuses as of {report.as_of:%Y-%m-%d %H:%M} UTC"
    workbook.properties.creator = "planpulse"
    for part in parts:
        table = data_table(report, part)
        sheet = workbook.create_sheet(SHEET_TITLES[part])
        sheet.append([column.label for column in table.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
        for index, column in enumerate(table.columns, start=1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = column.width
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                if column.kind == Kind.ratio:
                    cell.number_format = "0%"
                elif column.width >= 40:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.freeze_panes = "A2"
        if table.rows:
            sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# Documents, shared by Markdown and HTML ------------------------------------------------

def _about(report: Report) -> str:
    return (f"Mandate {report.mandate}, {report.start_date:%Y-%m-%d} to "
            f"{report.end_date:%Y-%m-%d}. Statuses as of {report.as_of:%Y-%m-%d %H:%M} UTC; "
            "indicators as they stand now.")


def _summary_cells(row: SummaryRow, *, total: bool = False) -> list[str]:
    name = "Total" if total else f"{row.code} {row.title}"
    return [name, str(row.deliverables), *(str(row.by_status[status]) for status in Status),
            percent(row.completion_rate), percent(row.progress)]


SUMMARY_HEADERS = ["Action line", "Deliverables",
                   *(f"{symbol(status)} {word(status)}" for status in Status),
                   "Completion rate", "Progress"]
INDICATOR_HEADERS = ["Indicator", "Period", "Value", "Target", "Attainment", "Status",
                     "Women's share"]


def _indicator_cells(report: Report) -> list[list[str]]:
    rows = []
    for row in report.indicators:
        link = row.measure or row.action_line
        name = f"{row.code}: {row.title}" + (f" ({link})" if link else "")
        rows.append([name, row.period or NOTHING, figure(row.value, row.unit, row.currency),
                     figure(row.target, row.unit, row.currency), percent(row.attainment),
                     attainment_word(row.attainment_status), percent(row.women_share)])
    return rows


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
              align: Sequence[str] | None = None) -> list[str]:
    align = align or ["---"] * len(headers)
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
             "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


RESULT_HEADERS = ["Figure", "Indicator", "Split", "Components", "Change", "Source"]


def _result_cells(row: ResultRow) -> list[str]:
    return [row.value_text, row.title, row.split or "", row.components or "",
            row.change or "", row.source or ""]


def _result_sections(report: Report) -> list[tuple[str, list[ResultGroup]]]:
    """The groups under their headings: the main results, then the gender highlights."""
    sections: list[tuple[str, list[ResultGroup]]] = []
    for gender in (False, True):
        groups = [group for group in report.main_results if group.gender == gender]
        if groups:
            sections.append((_section(groups[0]), groups))
    return sections


def _markdown_results(report: Report) -> list[str]:
    lines = [f"## {PART_TITLES[Part.main_results]}", ""]
    if not report.main_results:
        return [*lines, "No figure recorded yet.", ""]
    for heading, groups in _result_sections(report):
        level = "###"
        if heading == GENDER_TITLE:
            lines += [f"### {heading}", ""]
            level = "####"
        for group in groups:
            lines += [f"{level} {group.title}", ""]
            lines += _md_table(RESULT_HEADERS, [_result_cells(row) for row in group.rows],
                               ["---:", "---", "---", "---", "---", "---"])
            lines.append("")
    return lines


def _has_quantities(report: Report) -> bool:
    return any(row.quantity is not None for row in report.implementation)


def _quantity_cell(row: ImplementationRow) -> str:
    return row.quantity.text(row.status) if row.quantity is not None else ""


def _has_owners(report: Report) -> bool:
    """Whether the plan names anyone answerable: the Owner column is shown only then."""
    return any(row.answerable for row in report.implementation)


def to_markdown(report: Report, parts: Sequence[Part]) -> bytes:
    lines = [f"# {report.title}", "", _about(report), ""]
    if Part.main_results in parts:
        lines += _markdown_results(report)
    if Part.implementation in parts:
        quantities, owners = _has_quantities(report), _has_owners(report)
        rows = []
        previous: tuple[str, str] = ("", "")
        for row in report.implementation:
            # Like the report's merged cells: a line and a measure are named on their first row.
            line_cell = row.action_line if row.action_line != previous[0] else ""
            measure_cell = (f"{row.measure} {row.measure_title}"
                            if (row.action_line, row.measure) != previous else "")
            previous = (row.action_line, row.measure)
            rows.append([line_cell, measure_cell, f"{row.deliverable} {row.deliverable_title}",
                         *([_quantity_cell(row)] if quantities else []),
                         *([row.answerable or ""] if owners else []),
                         symbol(row.status), word(row.status)])
        lines += [f"## {PART_TITLES[Part.implementation]}", "", f"Symbols: {LEGEND}.", ""]
        extra = [*(["Quantity"] if quantities else []), *(["Owner"] if owners else [])]
        lines += _md_table(["Action line", "Measure", "Deliverable", *extra, "Symbol",
                            "Status"], rows,
                           ["---", "---", "---", *(["---"] * len(extra)), ":---:", "---"])
        lines.append("")
    if Part.summary in parts:
        rows = [_summary_cells(row) for row in report.summary]
        if report.total is not None:
            rows.append(_summary_cells(report.total, total=True))
        lines += [f"## {PART_TITLES[Part.summary]}", ""]
        lines += _md_table(SUMMARY_HEADERS, rows, ["---"] + ["---:"] * (len(SUMMARY_HEADERS) - 1))
        lines.append("")
    if Part.indicators in parts:
        lines += [f"## {PART_TITLES[Part.indicators]}", ""]
        lines += _md_table(INDICATOR_HEADERS, _indicator_cells(report),
                           ["---", "---", "---:", "---:", "---:", "---", "---:"])
        lines.append("")
    return "\n".join(lines).encode("utf-8")


_environment = Environment(loader=PackageLoader("app.reports", "templates"),
                           autoescape=select_autoescape(default=True),
                           trim_blocks=True, lstrip_blocks=True)


def _spans(report: Report) -> list[dict[str, Any]]:
    """The implementation rows with the rowspans of their action line and measure cells."""
    rows: list[dict[str, Any]] = [{"item": item, "line_span": 0, "measure_span": 0}
                                  for item in report.implementation]
    line_head: dict[str, Any] | None = None
    measure_head: dict[str, Any] | None = None
    for row in rows:
        item = row["item"]
        if line_head is None or line_head["item"].action_line != item.action_line:
            line_head = row
        if measure_head is None or measure_head["item"].measure != item.measure:
            measure_head = row
        line_head["line_span"] += 1
        measure_head["measure_span"] += 1
    return rows


def to_html(report: Report, parts: Sequence[Part]) -> bytes:
    """A standalone, printable HTML document (no external asset)."""
    summary = [_summary_cells(row) for row in report.summary]
    if report.total is not None:
        summary.append(_summary_cells(report.total, total=True))
    return _environment.get_template("report.html").render(
        report=report, about=_about(report), parts=[part.value for part in parts],
        titles={part.value: title for part, title in PART_TITLES.items()}, legend=LEGEND,
        implementation=_spans(report), quantities=_has_quantities(report),
        owners=_has_owners(report),
        quantity=_quantity_cell, results=_result_sections(report),
        result_headers=RESULT_HEADERS, gender_title=GENDER_TITLE,
        summary=summary, has_total=report.total is not None,
        summary_headers=SUMMARY_HEADERS, indicators=_indicator_cells(report),
        indicator_headers=INDICATOR_HEADERS, symbol=symbol, word=word,
    ).encode("utf-8")


RENDERERS: dict[ReportFormat, Callable[[Report, list[Part]], bytes]] = {
    ReportFormat.md: to_markdown,
    ReportFormat.csv: lambda report, parts: to_csv(report, parts[0]),
    ReportFormat.xlsx: to_xlsx,
    ReportFormat.html: to_html,
}


def render(report: Report, fmt: ReportFormat, part: Part | None = None) -> bytes:
    """The report in ``fmt``: all parts, or only ``part``."""
    return RENDERERS[fmt](report, parts_for(fmt, part))
