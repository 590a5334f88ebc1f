"""The records' figures, each beside its floor: a derived share over the periods, the
engagement endpoint over HTTP, and an XLSX sheet imported (docs/performance.md)."""

import io
import json
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.orm import Session

from app.bench.http import KeptAlive, load, serving
from app.bench.measure import Settings, interleaved, timed
from app.bench.records_data import (
    ACTOR,
    NEW_PERIOD,
    PERIODS,
    SHARE_KIND,
    RecordIds,
    SyntheticRecords,
)
from app.bench.report import Figure
from app.bench.synthetic import sqlite_time
from app.db import unit_of_work
from app.schemas.derived import DerivedSpec, MembersOf
from app.services.records.derived import PERCENT, derived_values
from app.services.records.importer import import_sheet

# --- the derived share -----------------------------------------------------------------------

HELD_FLOOR = text(
    "SELECT period, count(*) AS n FROM engagement_record "
    "WHERE kind_id = :kind AND period IN :periods AND superseded_at IS NULL "
    "AND (amount IS NOT NULL OR label IS NOT NULL) GROUP BY period"
).bindparams(bindparam("periods", expanding=True))
"""The members holding a value of the kind in force, per period."""
ROLL_FLOOR = text(
    "SELECT period, count(*) AS n FROM roll_entry "
    "WHERE period IN :periods AND superseded_at IS NULL GROUP BY period"
).bindparams(bindparam("periods", expanding=True))
"""The members on each period's roll."""

Share = list[tuple[str, float, float | None, float]]
"""(period, numerator, denominator, value) per period."""


def share_floor(connection: Connection, *, kind_id: int, periods: Sequence[str]) -> Share:
    """The share of members by two hand-written GROUP BYs: the derived share's floor."""
    held = dict(connection.execute(HELD_FLOOR, {"kind": kind_id,
                                                "periods": list(periods)}).tuples().all())
    roll = dict(connection.execute(ROLL_FLOOR, {"periods": list(periods)}).tuples().all())
    return [(period, float(held.get(period, 0)), float(n),
             held.get(period, 0) * PERCENT / n if n else 0.0)
            for period, n in sorted(roll.items())]


def derived_figure(engine: Engine, database: str, records: SyntheticRecords, ids: RecordIds,
                   settings: Settings) -> Figure:
    """``derived_values`` of ``share_of_members`` of a flag kind over the five periods vs
    the two GROUP BYs; both must equal the counts the synthetic records were made with."""
    spec = DerivedSpec(share_of_members=MembersOf(engagement=SHARE_KIND))
    members = float(len(records.members))
    expected = [(period, float(n), members, n * PERCENT / members)
                for period, n in sorted(records.held(0).items())]
    with Session(engine) as session:
        connection = session.connection()

        def ours() -> Share:
            return [(v.period, v.numerator, v.denominator, v.value)
                    for v in derived_values(session, spec, periods=PERIODS)]

        def floor() -> Share:
            return share_floor(connection, kind_id=ids.kind_id(0), periods=PERIODS)

        mine, base, answer, theirs = interleaved(ours, floor, settings.repeats)
        session.rollback()
    correct = answer == theirs == expected
    return _timed_figure(database, f"derived share of members, {len(PERIODS)} periods",
                         mine, base, "<= 2x", 2.0, correct,
                         note="floor: GROUP BY period of the kind's rows in force with a "
                              "value, and of the roll" + ("" if correct else
                              f"; WRONG: {answer} vs {theirs} vs expected {expected}"))


def _timed_figure(database: str, name: str, mine: list[float], base: list[float],
                  budget: str, limit: float | None, correct: bool, note: str = "") -> Figure:
    ours, theirs = statistics.median(mine) * 1000, statistics.median(base) * 1000
    return Figure(database, name, "ms", ours, theirs, budget,
                  None if limit is None else ours <= limit * theirs, correct, note=note,
                  samples={"planpulse_ms": [x * 1000 for x in mine],
                           "floor_ms": [x * 1000 for x in base]})


# --- the engagement endpoint -----------------------------------------------------------------

PAGE = 50
KINDS_FLOOR = text("SELECT id, code, value FROM engagement_kind ORDER BY position, id")
PAGE_FLOOR = text(
    "SELECT m.id, m.code, m.name, m.new_in FROM member AS m "
    "JOIN roll_entry AS r ON r.member_id = m.id "
    "WHERE r.period = :period AND r.superseded_at IS NULL "
    "ORDER BY lower(m.name), m.id LIMIT :limit OFFSET :offset")
COUNT_FLOOR = text(
    "SELECT count(*) FROM roll_entry WHERE period = :period AND superseded_at IS NULL")
CELLS_FLOOR = text(
    "SELECT member_id, kind_id, amount, label FROM engagement_record "
    "WHERE period = :period AND superseded_at IS NULL AND member_id IN :members"
).bindparams(bindparam("members", expanding=True))
TOTALS_FLOOR = text(
    "SELECT e.kind_id, count(*) AS members, sum(e.amount) AS total "
    "FROM engagement_record AS e JOIN roll_entry AS r ON r.member_id = e.member_id "
    "AND r.period = e.period AND r.superseded_at IS NULL "
    "WHERE e.period = :period AND e.superseded_at IS NULL "
    "AND (e.amount IS NOT NULL OR e.label IS NOT NULL) GROUP BY e.kind_id")
"""The endpoint's floor: the kinds, one page of the roll by name, its count, the page's
values, and the totals of the whole roll, each one hand-written statement."""


def table_floor(connection: Connection, *, period: str, limit: int, offset: int
                ) -> dict[str, Any]:
    """What ``GET /engagement`` answers, by the floor's SQL, in the answer's terms."""
    kinds = {row.id: (row.code, row.value) for row in connection.execute(KINDS_FLOOR)}
    page = connection.execute(PAGE_FLOOR, {"period": period, "limit": limit,
                                           "offset": offset}).all()
    count = connection.execute(COUNT_FLOOR, {"period": period}).scalar_one()
    cells: dict[int, dict[str, Any]] = {row.id: {} for row in page}
    if cells:
        for row in connection.execute(CELLS_FLOOR, {"period": period,
                                                    "members": list(cells)}):
            code, value = kinds[row.kind_id]
            if row.amount is not None:
                cells[row.member_id][code] = True if value == "flag" else row.amount
            elif row.label is not None:
                cells[row.member_id][code] = row.label
    found = {row.kind_id: (row.members, row.total)
             for row in connection.execute(TOTALS_FLOOR, {"period": period})}
    totals = {}
    for kind_id, (code, value) in kinds.items():
        members, total = found.get(kind_id, (0, None))
        totals[code] = {"members": members,
                        "sum": (total or 0) if value == "count" else None}
    return {"count": count, "rows": [[row.code, cells[row.id]] for row in page],
            "totals": totals}


def endpoint_figure(database_url: str, engine: Engine, database: str,
                    records: SyntheticRecords, settings: Settings) -> Figure:
    """``GET /api/v1/engagement?period=P&limit=50`` of a page in the middle of the roll,
    one kept-alive client, vs the floor's statements run from this process; the
    throughput with 4 clients is reported beside it."""
    period = PERIODS[-1]
    offset = len(records.members) // 2 // PAGE * PAGE
    path = f"/api/v1/engagement?period={period}&limit={PAGE}&offset={offset}"
    with serving(database_url) as server, engine.connect() as connection:
        client = KeptAlive(server.port)

        def ours() -> tuple[int, dict[str, Any]]:
            status, _headers, body = client.send("GET", path, {})
            return status, json.loads(body)

        def floor() -> dict[str, Any]:
            answer = table_floor(connection, period=period, limit=PAGE, offset=offset)
            connection.rollback()
            return answer

        mine, base, (status, body), theirs = interleaved(ours, floor, 5 * settings.repeats)
        client.close()
        rate = load(server.port, path, seconds=settings.http_seconds,
                    connections=settings.connections)
    correct = (status == 200 and body["count"] == theirs["count"] == len(records.members)
               and [[row["member"], row["values"]] for row in body["rows"]] == theirs["rows"]
               and len(theirs["rows"]) == min(PAGE, len(records.members) - offset)
               and body["totals"] == theirs["totals"] and set(rate.statuses) == {200})
    figure = _timed_figure(
        database, f"GET /engagement, a page of {PAGE} of {len(records.members):,} members",
        mine, base, "<= 2x", 2.0, correct,
        note=f"latency of one client over HTTP; {rate.rate:,.0f} req/s with "
             f"{settings.connections} clients; floor: the kinds, the page, its count, its "
             "values and the roll's totals, hand-written SQL from the bench's process")
    figure.samples["throughput_req_s"] = [rate.rate]
    return figure


# --- the XLSX import -------------------------------------------------------------------------


def sheet_bytes(records: SyntheticRecords) -> bytes:
    """The sheet of :data:`NEW_PERIOD`: MEMBER and a column per kind title, its totals rows,
    then a row per member (Yes or blank for a flag, a number or blank for a count)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("engagement")
    kinds = records.kinds
    sheet.append(["MEMBER", *(kind.title for kind in kinds)])
    counted = [sum(row[k] is not None for row in records.sheet) for k in range(len(kinds))]
    sums = [sum(row[k] or 0 for row in records.sheet) for k in range(len(kinds))]
    sheet.append(["Total members", *counted])
    sheet.append(["Total", *(s if kind.value == "count" else "-"
                             for kind, s in zip(kinds, sums, strict=True))])
    for (_code, name), row in zip(records.members, records.sheet, strict=True):
        sheet.append([name, *(None if v is None else "Yes" if kind.value == "flag" else v
                              for kind, v in zip(kinds, row, strict=True))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_xlsx(content: bytes) -> list[list[object]]:
    """The sheet's cells by openpyxl in read-only mode, as the import reads them."""
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    rows = [list(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


ROLL_INSERT = ("roll_entry", ("member_id", "period", "recorded_by", "recorded_at"))
ENGAGEMENT_INSERT = ("engagement_record", ("member_id", "kind_id", "period", "amount",
                                           "recorded_by", "recorded_at"))


def raw_sheet_insert(dbapi_connection: Any, *, sqlite: bool, content: bytes,
                     roll: list[tuple[Any, ...]], engagement: list[tuple[Any, ...]]) -> None:
    """The sheet import's floor: the XLSX read by openpyxl (read-only), then the driver's
    ``executemany`` of the roll's rows and the values', in one transaction."""
    read_xlsx(content)
    mark = "?" if sqlite else "%s"
    cursor = dbapi_connection.cursor()
    if sqlite:
        cursor.execute("BEGIN IMMEDIATE")  # the driver is in autocommit (app/db.py)
    for (table, columns), rows in ((ROLL_INSERT, roll), (ENGAGEMENT_INSERT, engagement)):
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                           f"VALUES ({', '.join([mark] * len(columns))})", rows)
    if sqlite:
        cursor.execute("COMMIT")
    else:
        dbapi_connection.commit()
    cursor.close()


def _written(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        values = connection.execute(text(
            "SELECT member_id, kind_id, amount, label, recorded_by, superseded_at, note "
            "FROM engagement_record WHERE period = :p ORDER BY member_id, kind_id"),
            {"p": NEW_PERIOD}).tuples().all()
        roll = connection.execute(text(
            "SELECT member_id, recorded_by, superseded_at FROM roll_entry WHERE period = :p "
            "ORDER BY member_id"), {"p": NEW_PERIOD}).tuples().all()
    return list(values), list(roll)


def _clear_period(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in ("engagement_record", "roll_entry"):
            connection.execute(text(f"DELETE FROM {table} WHERE period = :p"),
                               {"p": NEW_PERIOD})


def sheet_figure(engine: Engine, database: str, records: SyntheticRecords, ids: RecordIds,
                 settings: Settings) -> Figure:
    """``import_sheet`` of an XLSX sheet of every member for a new period, committed, vs
    reading it with openpyxl and the driver's executemany of the same rows; each side
    writes into the same database, the other's rows deleted in between."""
    content = sheet_bytes(records)
    sqlite = engine.dialect.name == "sqlite"
    expected_values = sorted(
        (ids.member_id(m), ids.kind_id(k), v, None, ACTOR, None, None)
        for m, row in enumerate(records.sheet) for k, v in enumerate(row) if v is not None)
    expected_roll = [(ids.member_id(m), ACTOR, None) for m in range(len(records.members))]
    mine: list[float] = []
    base: list[float] = []
    parse: list[float] = []
    correct = True

    def planpulse() -> Any:
        with unit_of_work(engine) as session:
            return import_sheet(session, content=content, period=NEW_PERIOD, actor=ACTOR,
                                filename="bench.xlsx")

    for repeat in range(settings.raw_import_repeats + 1):  # the first is a warm-up
        ours, report = timed(planpulse)
        imported = _written(engine)
        _clear_period(engine)
        now = datetime.now(UTC)
        stamp: Any = sqlite_time(int(now.timestamp())) if sqlite else now
        roll = [(ids.member_id(m), NEW_PERIOD, ACTOR, stamp)
                for m in range(len(records.members))]
        engagement = [(member, kind, NEW_PERIOD, amount, ACTOR, stamp)
                      for member, kind, amount, *_rest in expected_values]
        pooled = engine.raw_connection()
        try:
            theirs, _result = timed(partial(raw_sheet_insert, pooled.driver_connection,
                                            sqlite=sqlite, content=content, roll=roll,
                                            engagement=engagement))
        finally:
            pooled.close()
        raw = _written(engine)
        _clear_period(engine)
        correct = (correct and imported == raw == (expected_values, expected_roll)
                   and report.engagement.values_changed == len(expected_values)
                   and report.engagement.added_to_roll == len(records.members)
                   and not report.members_added)
        spent, _rows = timed(partial(read_xlsx, content))
        if repeat:
            mine.append(ours)
            base.append(theirs)
            parse.append(spent)
    ours, theirs = statistics.median(mine), statistics.median(base)
    reading = statistics.median(parse)
    return Figure(
        database, f"XLSX sheet of {len(records.members):,} members x {len(records.kinds)} "
        "kinds imported", "s", ours, theirs, "<= 5x", ours <= 5 * theirs, correct,
        note=f"floor: openpyxl's read-only read of the sheet ({reading:.2f} s of it), then "
             f"executemany of {len(records.members):,} roll rows and "
             f"{len(expected_values):,} values, one transaction",
        samples={"planpulse_s": mine, "floor_s": base, "openpyxl_read_s": parse})


def records_figures(database_url: str, engine: Engine, database: str,
                    records: SyntheticRecords, ids: RecordIds, settings: Settings
                    ) -> list[Figure]:
    return [derived_figure(engine, database, records, ids, settings),
            endpoint_figure(database_url, engine, database, records, settings),
            sheet_figure(engine, database, records, ids, settings)]
