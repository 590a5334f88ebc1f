"""The engagement sheet (CSV and XLSX, the shape of the Annual Report's table 4.1) through
`planpulse records import/export`, on SQLite and PostgreSQL: the bundled 2020 sheet with its
totals rows first, a re-import that changes nothing, every problem named by row and column
with nothing written, new members added and named, `;`-separated CSV, and `-` or blank as
nothing."""

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from app import cli
from app.models import Member
from app.services.records.bundled import bundled_records
from app.services.records.exporter import records_data
from tests.helpers import snapshot

PERIOD = "2020"
ACTIVATED = "Activated member"
BILATERAL = "Attendance at bilateral meetings"
PILOTS = "Pilot Projects (leader (L) / partner (P))"

pytestmark = pytest.mark.usefixtures("metropolis_records")


def _import(runner: CliRunner, path: Path) -> Result:
    return runner.invoke(cli.app, ["records", "import", str(path), "--period", PERIOD])


def _export(runner: CliRunner, fmt: str, path: Path) -> Path:
    result = runner.invoke(cli.app, ["records", "export", "--period", PERIOD, "--format", fmt,
                                     "--output", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _write(path: Path, rows: Sequence[Sequence[Any]], *, delimiter: str = ",") -> Path:
    """``rows`` as a CSV (with ``delimiter``) or, for a .xlsx path, a one-sheet workbook."""
    if path.suffix == ".xlsx":
        book = Workbook()
        for row in rows:
            book.active.append(list(row))
        book.save(path)
    else:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _values(session: Session, member: str) -> dict[str, Any] | None:
    """The member's engagement in 2020 as the records file gives it back (None: not on the
    roll)."""
    session.commit()  # a fresh read, and no transaction left open under the CLI's
    found = [entry["values"] for entry in records_data(session, period=PERIOD)["engagement"]
             if entry["member"] == member]
    session.commit()
    return found[0] if found else None


def _rows(session: Session, engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    session.commit()
    return snapshot(engine)


def test_exported_sheet_has_the_totals_rows_first(cli_runner: CliRunner, tmp_path: Path
                                                  ) -> None:
    path = _export(cli_runner, "csv", tmp_path / "engagement.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header, total_members, total = rows[0], rows[1], rows[2]
    assert header[0] == "MEMBER"
    assert (total_members[0], total[0]) == ("Total members", "Total")
    column = header.index(ACTIVATED)
    assert total_members[column] == "108"
    assert total[column] == "-"  # a flag has no sum
    bilateral = header.index(BILATERAL)
    members = rows[3:]
    assert len(members) == 141
    assert int(total[bilateral]) == sum(int(row[bilateral] or 0) for row in members)
    assert sum(row[column] == "Yes" for row in members) == 108
    new = [f"{m.name} (N)" for m in bundled_records().members if m.new_in == PERIOD]
    assert "Bandar Lampung (N)" in new
    assert [row[0] for row in members if row[0].endswith("(N)")] == new


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reimporting_the_exported_sheet_changes_nothing(
        fmt: str, cli_runner: CliRunner, session: Session, engine: Engine, tmp_path: Path
) -> None:
    path = _export(cli_runner, fmt, tmp_path / f"engagement.{fmt}")
    if fmt == "xlsx":  # every sheet of the period: table 4.1, 4.2 and the annex lists
        assert load_workbook(path).sheetnames == ["engagement", "website", "annex"]
    before = _rows(session, engine)
    result = _import(cli_runner, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("records: unchanged"), result.stdout
    assert "0 recorded" in result.stdout
    assert _rows(session, engine) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_bad_sheet_names_each_row_and_column_and_writes_nothing(
        suffix: str, cli_runner: CliRunner, session: Session, engine: Engine, tmp_path: Path
) -> None:
    path = _write(tmp_path / f"bad{suffix}", [
        ["MEMBER", ACTIVATED, BILATERAL, "Juggling"],
        ["Total members", 3, "", ""],
        ["Abidjan", "Yes", "three", ""],
        ["Accra", "Yes", 2, ""],
        ["Newtown", "", "", ""],
    ])
    before = _rows(session, engine)
    result = _import(cli_runner, path)
    assert result.exit_code == 2, result.output
    assert "nothing was written" in result.stderr
    problems = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert len(problems) == 3, result.stderr
    where = {"row 1, column D": "Juggling", "row 3, column C": "'three'",
             "row 2, column B": "the total says 3, members with a value is 2"}
    for place, what in where.items():
        line = next((p for p in problems if place in p), None)
        assert line is not None and what in line, (place, result.stderr)
    assert _rows(session, engine) == before  # not even the new member


def test_a_new_member_is_added_and_named_and_n_marks_it_new_in_the_period(
        cli_runner: CliRunner, session: Session, tmp_path: Path) -> None:
    path = _write(tmp_path / "new.csv", [
        ["MEMBER", ACTIVATED, BILATERAL],
        ["Total members", 3, 2],
        ["Total", "-", 4],
        ["Abidjan", "Yes", 1],
        ["Newtown (N)", "Yes", 3],
        ["Oldtown", "Yes", ""],
    ])
    result = _import(cli_runner, path)
    assert result.exit_code == 0, result.output
    assert "new members: Newtown, Oldtown" in result.stdout
    assert "members: 2 created" in result.stdout
    session.commit()
    added = {m.code: m.new_in for m in session.execute(
        select(Member).where(Member.name.in_(["Newtown", "Oldtown"]))).scalars()}
    assert added == {"newtown": PERIOD, "oldtown": None}
    assert _values(session, "newtown") == {"activated": True, "bilateral_meetings": 3}
    assert _values(session, "oldtown") == {"activated": True}
    again = _import(cli_runner, path)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("records: unchanged")
    assert "new members" not in again.stdout


def test_a_semicolon_separated_csv_is_read(cli_runner: CliRunner, session: Session,
                                           tmp_path: Path) -> None:
    path = _write(tmp_path / "semicolons.csv", [
        ["MEMBER", ACTIVATED, BILATERAL, PILOTS],
        ["Total members", 1, 1, 1],
        ["Total", "-", 12, "-"],
        ["Abidjan", "Yes", 12, "L; P"],
    ], delimiter=";")
    assert ";" in path.read_text(encoding="utf-8").splitlines()[0]
    result = _import(cli_runner, path)
    assert result.exit_code == 0, result.output
    values = _values(session, "abidjan")
    assert values is not None
    assert (values["activated"], values["bilateral_meetings"], values["pilot_projects"]) == (
        True, 12, "L; P")


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_dash_or_a_blank_cell_is_nothing(suffix: str, cli_runner: CliRunner,
                                           session: Session, tmp_path: Path) -> None:
    before = _values(session, "abidjan")
    assert before is not None
    assert (before["activated"], before["bilateral_meetings"]) == (True, 1)
    path = _write(tmp_path / f"dashes{suffix}", [
        ["MEMBER", ACTIVATED, BILATERAL],
        ["Total members", 0, "-"],
        ["Abidjan", "-", None],
        ["Newtown", "", "-"],
    ])
    result = _import(cli_runner, path)
    assert result.exit_code == 0, result.output
    after = _values(session, "abidjan")
    assert after is not None
    assert "activated" not in after and "bilateral_meetings" not in after
    # Columns the sheet does not have are left as they are.
    assert {k: v for k, v in before.items()
            if k not in ("activated", "bilateral_meetings")} == after
    assert _values(session, "newtown") == {}  # on the roll, nothing recorded
