"""The report's formats and parts: names only, cheap to import (the command line's options)."""

from enum import StrEnum


class ReportFormat(StrEnum):
    md = "md"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"


class Part(StrEnum):
    """A report's parts, in the annual report's order: its section 2, then section 3."""

    main_results = "main_results"
    implementation = "implementation"
    summary = "summary"
    indicators = "indicators"


PART_TITLES = {
    Part.main_results: "Main results",
    Part.implementation: "Implementation of the Action Plan",
    Part.summary: "Progress per action line",
    Part.indicators: "Indicators",
}
SHEET_TITLES = {
    Part.main_results: "Main results",
    Part.implementation: "Implementation",
    Part.summary: "Progress summary",
    Part.indicators: "Indicators",
}
MEDIA_TYPES = {
    ReportFormat.md: "text/markdown; charset=utf-8",
    ReportFormat.csv: "text/csv; charset=utf-8",
    ReportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.html: "text/html; charset=utf-8",
}


def parts_for(fmt: ReportFormat, part: Part | None) -> list[Part]:
    """The parts a request renders: the one named, else all (CSV: the implementation)."""
    if part is not None:
        return [part]
    return [Part.implementation] if fmt == ReportFormat.csv else list(Part)


def file_name(mandate: str, fmt: ReportFormat, part: Part | None = None) -> str:
    """A download's name: planpulse-2018-2020-report.xlsx."""
    suffix = f"-{part.value}" if part is not None else ""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in mandate)
    return f"planpulse-{safe}-report{suffix}.{fmt.value}"

