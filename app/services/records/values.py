"""What an engagement value is, in the database and in a sheet's cell: the one place for
the rules (a flag is stored as amount 1, a count as its amount, a label as its text)."""

import re
from dataclasses import dataclass

from app.models.enums import EngagementValue

NOTHING = ("", "-")
"""Cells that hold nothing."""
YES = "yes"
NEW_MARK = re.compile(r"\s*\(N\)\s*$")
"""The report's mark of a member new in the period: ``Bandar Lampung (N)``."""
INTEGER = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Stored:
    """A value as stored: ``amount`` or ``label``; neither is nothing (cleared)."""

    amount: int | None = None
    label: str | None = None

    @property
    def present(self) -> bool:
        return self.amount is not None or self.label is not None


CLEARED = Stored()


def from_file(kind: EngagementValue, value: object) -> Stored:
    """A records file's value (true, an integer, a text) as stored; ValueError if it does
    not fit the kind."""
    if kind is EngagementValue.flag:
        if value is True:
            return Stored(amount=1)
        if value is False:
            return CLEARED
        raise ValueError(f"a flag is true or false, not {value!r}")
    if kind is EngagementValue.count:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return Stored(amount=value)
        raise ValueError(f"a count is a whole number, not {value!r}")
    if isinstance(value, bool):
        raise ValueError(f"a label is a text, not {value!r}")
    return Stored(label=str(value))


def to_file(kind: EngagementValue, stored: Stored) -> bool | int | str | None:
    if not stored.present:
        return None
    if kind is EngagementValue.flag:
        return True
    if kind is EngagementValue.count:
        return stored.amount
    return stored.label


def from_cell(kind: EngagementValue, cell: object) -> Stored:
    """A sheet's cell as stored: blank or ``-`` is nothing, ``Yes`` a flag, an integer a
    count, other text a label; ValueError naming what is wrong for the column's kind."""
    text = cell_text(cell)
    if text in NOTHING:
        return CLEARED
    if kind is EngagementValue.flag:
        if text.casefold() == YES:
            return Stored(amount=1)
        raise ValueError(f"{text!r} in a yes/no column: write Yes, or leave it blank")
    if kind is EngagementValue.count:
        if INTEGER.match(text):
            return Stored(amount=int(text))
        raise ValueError(f"{text!r} in a count column: write a whole number, or leave it "
                         "blank")
    return Stored(label=text)


def to_cell(kind: EngagementValue, stored: Stored) -> str | int:
    if not stored.present:
        return ""
    if kind is EngagementValue.flag:
        return "Yes"
    if kind is EngagementValue.count:
        return stored.amount or 0
    return stored.label or ""


def cell_text(cell: object) -> str:
    """A cell as text: XLSX gives numbers (2019.0 for 2019) and booleans."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "Yes" if cell else ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()
