"""The benchmark's table: each figure beside its floor, the ratio, the budget, pass or fail."""

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HIGHER_IS_BETTER = {"req/s", "changes/s"}


@dataclass
class Figure:
    """One measurement of planpulse and its floor, on one database."""

    database: str
    name: str
    unit: str
    planpulse: float
    floor: float
    budget: str
    """As printed: "<= 1.5x", ">= 60%", ">= 300/s", "< 300 MB", or "-" for information."""
    passed: bool | None
    """None for a figure reported for information, without a budget."""
    correct: bool | None = None
    """The figure's numbers equal the floor's (None where nothing is compared)."""
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.floor:
            return None
        return self.planpulse / self.floor

    def ratio_text(self) -> str:
        ratio = self.ratio
        if ratio is None:
            return "-"
        if self.unit in HIGHER_IS_BETTER:
            return f"{ratio:.0%}"
        return f"{ratio:.2f}x"

    def verdict(self) -> str:
        if self.correct is False:
            return "WRONG"
        if self.passed is None:
            return "info"
        return "pass" if self.passed else "FAIL"


def _number(value: float, unit: str) -> str:
    if unit in {"ms"}:
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.0f} {unit}"


COLUMNS = ("database", "figure", "planpulse", "floor", "ratio", "budget", "result")


def table(figures: list[Figure]) -> str:
    """The figures as a Markdown table (readable as plain text too)."""
    rows = [COLUMNS]
    for figure in figures:
        rows.append((figure.database, figure.name, _number(figure.planpulse, figure.unit),
                     _number(figure.floor, figure.unit), figure.ratio_text(), figure.budget,
                     figure.verdict()))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * width for width in widths) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    memory_kb = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory_kb = int(meminfo.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"cpus": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "load_average_1_5_15": [round(x, 2) for x in load]}


def document(figures: list[Figure], *, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **meta,
        "all_budgets_pass": all(f.passed is not False and f.correct is not False
                                for f in figures),
        "figures": [{**asdict(f), "ratio": f.ratio, "result": f.verdict()} for f in figures],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
