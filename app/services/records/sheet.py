"""The engagement sheet (CSV or XLSX) in the shape of the report's table 4.1: read it into
changes, checked against its own totals rows, and write it back the same way.

Every problem is reported at once, by row and column as a spreadsheet shows them
(``row 7, column E``), and nothing is written while any remains.
"""

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import FieldError, InvalidInput
from app.models import EngagementKind, EngagementRecord, EngagementValue, Member, RollEntry
from app.services.records import values
from app.services.records.engagement import EngagementChange

MEMBER_HEADER = "member"
TOTAL_MEMBERS = "total members"
TOTAL = "total"
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Column:
    kind_id: int
    code: str
    title: str
    value: EngagementValue
    summed: bool


@dataclass
class SheetRead:
    """A sheet read and checked: the changes it asks for, and the members it names that
    were not known (added by the import)."""

    changes: list[EngagementChange] = field(default_factory=list)
    new_members: list[tuple[str, str, bool]] = field(default_factory=list)
    """(code, name, marked new in the period) of members not yet known."""
    rows: int = 0


def slug(name: str) -> str:
    """A member's code from its name: ``Barcelona (city)`` → ``barcelona-city``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "member"


def _normal(text: str) -> str:
    return " ".join(text.replace("*", " ").split()).casefold()


def read_tables(content: bytes, *, filename: str = "") -> list[tuple[str, list[list[object]]]]:
    """(sheet name, rows of cells) of a CSV or XLSX file (XLSX: each worksheet)."""
    if content.startswith(XLSX_MAGIC) or filename.endswith(".xlsx"):
        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a damaged file
            raise InvalidInput([FieldError("", f"not a readable XLSX file: {error}")]) from None
        tables = [(sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)])
                  for sheet in book.worksheets]
        book.close()
        return tables
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput([FieldError("", "a CSV sheet must be UTF-8")]) from None
    try:  # staff's spreadsheets write , ; or tabs, by locale
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = "excel"
    try:
        return [("", [list(row) for row in csv.reader(io.StringIO(text), dialect)])]
    except csv.Error as error:
        raise InvalidInput([FieldError("", f"not a readable CSV sheet: {error}")]) from None


def columns_by_name(session: Session) -> dict[str, Column]:
    """Each kind under its normalised title and its code."""
    found: dict[str, Column] = {}
    for kind in session.execute(select(EngagementKind).order_by(EngagementKind.position)
                                ).scalars():
        column = Column(kind.id or 0, kind.code, kind.title, EngagementValue(kind.value),
                        kind.summed)
        found[_normal(kind.title)] = column
        found.setdefault(_normal(kind.code), column)
    return found


def read_sheet(session: Session, content: bytes, *, period: str, filename: str = ""
               ) -> SheetRead:
    """The changes a sheet asks for period ``period``; InvalidInput naming the row and
    column of every problem."""
    kinds = columns_by_name(session)
    members = {}
    for member in session.execute(select(Member.id, Member.code, Member.name)):
        members[_normal(member.code)] = (member.id, member.code)
        members.setdefault(_normal(member.name), (member.id, member.code))
    read, errors = SheetRead(), []
    new_codes: dict[str, int] = {}
    for name, rows in read_tables(content, filename=filename):
        where = f"sheet {name!r}, " if name else ""
        errors += _read_rows(rows, where, kinds, members, new_codes, read)
    if errors:
        raise InvalidInput(errors, detail=f"{len(errors)} problem(s) in the sheet")
    for change in read.changes:
        change.period = period
    return read


def _read_rows(rows: list[list[object]], where: str, kinds: dict[str, Column],
               members: dict[str, tuple[int, str]], new_codes: dict[str, int],
               read: SheetRead) -> list[FieldError]:
    errors: list[FieldError] = []
    header: list[Column | None] | None = None
    header_text: list[str] = []
    totals: list[tuple[int, str, list[object]]] = []
    body: list[tuple[int, list[object]]] = []
    for number, cells in enumerate(rows, start=1):
        texts = [values.cell_text(cell) for cell in cells]
        first = _normal(texts[0]) if texts else ""
        if not any(texts):
            continue
        if first == MEMBER_HEADER:
            if header is not None and texts == header_text:
                continue  # the header printed again on the next page
            header_text = texts
            header, problems = _header(texts, kinds, where, number)
            errors += problems
        elif header is None:
            errors.append(FieldError(f"{where}row {number}", "a row before the header row "
                                     "(its first cell MEMBER, then one column per kind)"))
            break
        elif first.startswith(TOTAL):
            totals.append((number, first, cells))
        else:
            body.append((number, cells))
    if header is None:
        return errors or [FieldError(where.rstrip(", ") or "sheet",
                                     "no header row: its first cell is MEMBER")]
    counted: dict[int, list[int]] = {i: [0, 0] for i, c in enumerate(header) if c}
    unreadable: set[int] = set()
    """Columns with a cell in error: their totals can't be checked (they would disagree)."""
    for number, cells in body:
        name = values.cell_text(cells[0])
        new = bool(values.NEW_MARK.search(name))
        name = values.NEW_MARK.sub("", name)
        if not name:
            errors.append(FieldError(f"{where}row {number}, column A", "a row without the "
                                     "member's name"))
            continue
        member = members.get(_normal(name))
        if member is None:
            code = slug(name)
            if code not in new_codes:
                new_codes[code] = -(len(new_codes) + 1)
                read.new_members.append((code, name, new))
            member = (new_codes[code], code)
            members[_normal(name)] = member
        wanted = {}
        for index, column in enumerate(header):
            if column is None:
                continue
            cell = cells[index] if index < len(cells) else None
            try:
                stored = values.from_cell(column.value, cell)
            except ValueError as error:
                errors.append(FieldError(
                    f"{where}row {number}, column {get_column_letter(index + 1)}",
                    f"{column.title}: {error}"))
                unreadable.add(index)
                continue
            wanted[column.kind_id] = stored
            if stored.present:
                counted[index][0] += 1
                counted[index][1] += stored.amount or 0
        read.changes.append(EngagementChange(member[0], "", wanted))
        read.rows += 1
    errors += _check_totals(totals, header, counted, where, unreadable)
    return errors


def _header(texts: list[str], kinds: dict[str, Column], where: str, number: int
            ) -> tuple[list[Column | None], list[FieldError]]:
    header: list[Column | None] = [None]
    errors = []
    for index, text in enumerate(texts[1:], start=2):
        if not text:
            header.append(None)
            continue
        column = kinds.get(_normal(text))
        if column is None:
            errors.append(FieldError(f"{where}row {number}, column {get_column_letter(index)}",
                                     f"unknown engagement kind {text!r}: declare it in a "
                                     "records file first (docs/records.md)"))
        header.append(column)
    return header, errors


def _check_totals(totals: list[tuple[int, str, list[object]]],
                  header: Sequence[Column | None], counted: dict[int, list[int]], where: str,
                  unreadable: set[int]) -> list[FieldError]:
    """``Total members`` counts the members with a value, ``Total`` sums the counts; a
    blank or ``-`` cell is not checked."""
    errors = []
    for number, label, cells in totals:
        by_members = label.startswith(TOTAL_MEMBERS)
        for index, column in enumerate(header):
            if column is None or index >= len(cells) or index in unreadable:
                continue
            text = values.cell_text(cells[index])
            if text in values.NOTHING:
                continue
            place = f"{where}row {number}, column {get_column_letter(index + 1)}"
            if not values.INTEGER.match(text):
                errors.append(FieldError(place, f"{column.title}: a total is a whole number, "
                                                f"not {text!r}"))
                continue
            if not by_members and column.value is not EngagementValue.count:
                errors.append(FieldError(place, f"{column.title}: a sum is only for a count "
                                                "column; write -"))
                continue
            actual = counted[index][0 if by_members else 1]
            if int(text) != actual:
                what = "members with a value" if by_members else "the sum of the rows"
                errors.append(FieldError(place, f"{column.title}: the total says {text}, "
                                                f"{what} is {actual}"))
    return errors


@dataclass(frozen=True)
class SheetTable:
    """A sheet to write: its header, its totals rows and a row per member."""

    name: str
    header: list[str]
    rows: list[list[object]]


def sheet_tables(session: Session, *, period: str, sheet: str | None = None
                 ) -> list[SheetTable]:
    """The engagement of ``period`` as the report prints it, one table per sheet (all, or
    the one named): ``Total members`` and ``Total`` first, then the members by name."""
    kinds = list(session.execute(select(EngagementKind).order_by(
        EngagementKind.position, EngagementKind.id)).scalars())
    sheets = list(dict.fromkeys(kind.sheet for kind in kinds))
    if sheet is not None:
        sheets = [name for name in sheets if name == sheet]
    roll = list(session.execute(
        select(Member.id, Member.name, Member.new_in).join(RollEntry, RollEntry.member_id
                                                            == Member.id)
        .where(RollEntry.period == period, RollEntry.superseded_at.is_(None))
        .order_by(func.lower(Member.name), Member.id)))
    cells: dict[tuple[int, int], values.Stored] = {
        (row.member_id, row.kind_id): values.Stored(row.amount, row.label)
        for row in session.execute(
            select(EngagementRecord.member_id, EngagementRecord.kind_id,
                   EngagementRecord.amount, EngagementRecord.label)
            .where(EngagementRecord.period == period,
                   EngagementRecord.superseded_at.is_(None)))}
    tables = []
    for name in sheets:
        columns = [kind for kind in kinds if kind.sheet == name]
        counts = [0] * len(columns)
        sums = [0] * len(columns)
        rows: list[list[object]] = []
        for member in roll:
            row: list[object] = [member.name + (" (N)" if member.new_in == period else "")]
            for i, kind in enumerate(columns):
                stored = cells.get((member.id, kind.id or 0), values.CLEARED)
                row.append(values.to_cell(EngagementValue(kind.value), stored))
                if stored.present:
                    counts[i] += 1
                    sums[i] += stored.amount or 0
            rows.append(row)
        total_members: list[object] = ["Total members", *counts]
        total: list[object] = ["Total", *(
            s if kind.value == EngagementValue.count and kind.summed else "-"
            for kind, s in zip(columns, sums, strict=True))]
        tables.append(SheetTable(name, ["MEMBER", *(kind.title for kind in columns)],
                                 [total_members, total, *rows]))
    return tables


def write_csv(table: SheetTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header)
    writer.writerows(table.rows)
    return out.getvalue()


def write_xlsx(tables: Iterable[SheetTable]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(title=(table.name or "engagement")[:31])
        sheet.append(table.header)
        for row in table.rows:
            sheet.append(row)
        sheet.freeze_panes = "B2"
    if not book.worksheets:
        book.create_sheet(title="engagement").append(["MEMBER"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
