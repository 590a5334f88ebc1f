"""The floor: what the database does with hand-written SQL and raw writes, no service code.

Each planpulse figure is compared with one of these on the same database and machine, and
its numbers must equal the floor's.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, text

from app.bench.synthetic import ACTOR, Ids, SyntheticPlan, restart_sequences, structure_rows
from app.models import metadata
from app.models.plan import OPEN_FORK
from app.services.rollups.rules import RATIO_DECIMALS

SCORE = ("CASE d.status WHEN 'completed' THEN 1.0 "
         "WHEN 'in_progress' THEN coalesce(d.percent_complete / 100.0, :credit) ELSE 0.0 END")
MANDATE_FLOOR = text(
    "SELECT d.status, count(*) AS n, sum(d.weight) AS w, sum(d.weight * " + SCORE + ") AS ws "
    "FROM deliverable AS d WHERE d.mandate_id = :mandate GROUP BY d.status")
"""The mandate's rollup: counts per status, Σ weight and Σ weight·score, in one GROUP BY."""
LINES_FLOOR = text(
    "SELECT m.action_line_id AS line, d.status, count(*) AS n, sum(d.weight) AS w, "
    "sum(d.weight * " + SCORE + ") AS ws "
    "FROM deliverable AS d JOIN measure AS m ON m.id = d.measure_id "
    "WHERE d.mandate_id = :mandate GROUP BY m.action_line_id, d.status")
"""The same grouped by action line."""


@dataclass
class Sums:
    """Counts per status and the weighted sums: what both sides are compared on."""

    by_status: dict[str, int]
    counted: int
    weight_sum: float
    weighted_score: float

    @property
    def completion_rate(self) -> float | None:
        if not self.counted:
            return None
        return round(self.by_status.get("completed", 0) / self.counted, RATIO_DECIMALS)

    @property
    def progress(self) -> float | None:
        if self.weight_sum <= 0:
            return None
        return round(self.weighted_score / self.weight_sum, RATIO_DECIMALS)

    def same_as(self, other: "Sums") -> bool:
        def close(a: float, b: float) -> bool:
            return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))

        counts = {k: v for k, v in self.by_status.items() if v}
        others = {k: v for k, v in other.by_status.items() if v}
        return (counts == others and self.counted == other.counted
                and close(self.weight_sum, other.weight_sum)
                and close(self.weighted_score, other.weighted_score)
                and self.completion_rate == other.completion_rate
                and self.progress == other.progress)


def _fold(rows: list[Any], excluded: set[str]) -> Sums:
    sums = Sums({}, 0, 0.0, 0.0)
    for row in rows:
        sums.by_status[row.status] = sums.by_status.get(row.status, 0) + int(row.n)
        if row.status not in excluded:
            sums.counted += int(row.n)
            sums.weight_sum += float(row.w)
            sums.weighted_score += float(row.ws)
    return sums


def mandate_floor(connection: Connection, *, mandate_id: int, credit: float,
                  excluded: set[str]) -> Sums:
    rows = connection.execute(MANDATE_FLOOR, {"mandate": mandate_id, "credit": credit}).all()
    return _fold(rows, excluded)


def lines_floor(connection: Connection, *, mandate_id: int, credit: float,
                excluded: set[str]) -> dict[int, Sums]:
    rows = connection.execute(LINES_FLOOR, {"mandate": mandate_id, "credit": credit}).all()
    by_line: dict[int, list[Any]] = {}
    for row in rows:
        by_line.setdefault(row.line, []).append(row)
    return {line: _fold(group, excluded) for line, group in by_line.items()}


def raw_bulk_insert(connection: Connection, plan: SyntheticPlan, *, code: str, ids: Ids,
                    now: datetime) -> None:
    """The plan's rows as an import writes them (structure, tags, one history entry per
    deliverable), inserted with executemany and nothing else: the import's floor."""
    rows = structure_rows(plan, ids, code=code, now=now)
    line_of_measure = {row["id"]: row["action_line_id"] for row in rows["measure"]}
    for table in ("mandate", "action_line", "measure", "deliverable", "deliverable_tag"):
        if rows[table]:
            connection.execute(insert(metadata.tables[table]), rows[table])
    connection.execute(insert(metadata.tables["status_change"]), [
        {"deliverable_id": row["id"], "mandate_id": ids.mandate, "measure_id": row["measure_id"],
         "weight": row["weight"], "action_line_id": line_of_measure[row["measure_id"]],
         "from_status": None, "to_status": row["status"],
         "percent_complete": row["percent_complete"], "note": None, "evidence_url": None,
         "changed_by": ACTOR, "effective_at": now, "recorded_at": now, "valid_to": None,
         "fork": OPEN_FORK}
        for row in rows["deliverable"]])
    restart_sequences(connection)


RAW_UPDATE = ("UPDATE deliverable SET status = %s, percent_complete = %s, version = version + 1, "
              "updated_at = %s WHERE id = %s AND version = %s")
RAW_INSERT = ("INSERT INTO status_change (deliverable_id, mandate_id, measure_id, weight, "
              "action_line_id, from_status, to_status, percent_complete, changed_by, "
              "effective_at, recorded_at, fork) "
              "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
"""The status-change floor: the deliverable's UPDATE and the history INSERT, one commit."""


IMPORTED_DELIVERABLE = ("id", "mandate_id", "measure_id", "code", "title", "status",
                        "percent_complete", "weight", "owner", "due_date", "position",
                        "version", "updated_at")
IMPORTED_ENTRY = ("deliverable_id", "mandate_id", "measure_id", "weight", "action_line_id",
                  "from_status", "to_status", "percent_complete", "note", "evidence_url",
                  "changed_by", "effective_at", "recorded_at", "valid_to", "fork")


def imported_rows(plan: SyntheticPlan, ids: Ids, *, now: datetime, actor: str, note: str,
                  sqlite: bool) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each deliverable's row and its first history entry as an import of the plan writes
    them, as tuples of :data:`IMPORTED_DELIVERABLE` and :data:`IMPORTED_ENTRY` for the
    driver (on SQLite, times and dates as the text SQLAlchemy stores)."""
    stamp: Any = now
    if sqlite:
        stamp = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    per_measure = plan.scale.deliverables_per_measure
    deliverables, entries = [], []
    for i, item in enumerate(plan.items):
        measure_id = ids.measure + item.measure
        due: Any = item.due_date
        if sqlite and due is not None:
            due = due.isoformat()
        deliverables.append((ids.deliverable + i, ids.mandate, measure_id, item.code,
                             item.title, item.status.value, item.percent, item.weight,
                             item.owner, due, i % per_measure, 1, stamp))
        entries.append((ids.deliverable + i, ids.mandate, measure_id, item.weight,
                        ids.line + plan.measures[item.measure][0], None, item.status.value,
                        item.percent, note, None, actor, stamp, stamp, None, OPEN_FORK))
    return deliverables, entries


def raw_executemany(dbapi_connection: Any, *, sqlite: bool, deliverables: list[tuple[Any, ...]],
                    entries: list[tuple[Any, ...]]) -> None:
    """The import's floor: the DB-API cursor's ``executemany`` of the deliverables' rows,
    then of their first entries, in one transaction; no SQLAlchemy."""
    mark = "?" if sqlite else "%s"
    cursor = dbapi_connection.cursor()
    if sqlite:
        cursor.execute("BEGIN IMMEDIATE")  # the driver is in autocommit (app/db.py)
    for table, columns, rows in (("deliverable", IMPORTED_DELIVERABLE, deliverables),
                                 ("status_change", IMPORTED_ENTRY, entries)):
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) "
                           f"VALUES ({', '.join([mark] * len(columns))})", rows)
    if sqlite:
        cursor.execute("COMMIT")
    else:
        dbapi_connection.commit()
    cursor.close()
