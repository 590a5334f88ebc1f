"""A synthetic plan at any scale, with its status history, loaded in bulk.

The plan is deterministic (one seed): ``Scale.of(1.0)`` is 50 action lines x 200 measures
x 10 deliverables = 100,000 deliverables with weights, tags and percentages, and
1,000,000 status changes spread over three years. Every deliverable has at least one
history entry (its creation, as an import records it); each entry's ``valid_to`` is the
``effective_at`` of the next one, and a deliverable's current status is its last entry:
exactly the model that :mod:`app.services.status.history` maintains.

Loading is not what the benchmark measures, so it takes the fastest road: explicit ids,
``executemany`` on SQLite and ``COPY`` on PostgreSQL.
"""

import math
import random
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, String, cast, func, literal, select, text

from app.models import ActionLine, Deliverable, Mandate, Measure, StatusChange
from app.models.enums import Status
from app.models.plan import OPEN_FORK
from app.models.types import UTCDateTime
from app.services.status.history import DAY_KEY_MAX, DAY_KEY_MIN, fork_of_days

START = datetime(2022, 1, 1, tzinfo=UTC)
END = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The three years the history is spread over (the mandate's dates)."""
TAGS = ("gender", "youth", "climate", "digital", "finance", "health")
WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 0.5, 5.0, 0.0)
OWNERS = ("Ana", "Bo", "Chen", "Dara", "Eli")
STATUSES = tuple(Status)
CREATED_WITHIN = timedelta(days=180)
"""Deliverables are created (first entry) during the mandate's first half-year."""
ACTOR = "bench"
NO_PERCENT = math.nan

# Where a status goes next, and how likely; a change always changes something.
TRANSITIONS: dict[Status, tuple[tuple[Status, ...], tuple[float, ...]]] = {
    Status.not_started: ((Status.in_progress, Status.cancelled, Status.not_achieved),
                         (0.8, 0.1, 0.1)),
    Status.in_progress: ((Status.in_progress, Status.completed, Status.not_achieved,
                          Status.not_started, Status.cancelled), (0.45, 0.35, 0.1, 0.05, 0.05)),
    Status.completed: ((Status.in_progress, Status.not_achieved, Status.cancelled),
                       (0.6, 0.2, 0.2)),
    Status.not_achieved: ((Status.in_progress, Status.not_started, Status.cancelled),
                          (0.6, 0.2, 0.2)),
    Status.cancelled: ((Status.not_started, Status.in_progress), (0.5, 0.5)),
}


@dataclass(frozen=True)
class Scale:
    """How big the synthetic plan is; ``factor`` 1.0 is the default 100k / 1M."""

    factor: float
    action_lines: int
    measures_per_line: int
    deliverables_per_measure: int
    changes: int

    @classmethod
    def of(cls, factor: float) -> "Scale":
        side = math.sqrt(factor)
        lines = max(2, round(50 * side))
        per_line = max(1, round(200 * side))
        deliverables = lines * per_line * 10
        return cls(factor, lines, per_line, 10, max(deliverables, round(1_000_000 * factor)))

    @property
    def measures(self) -> int:
        return self.action_lines * self.measures_per_line

    @property
    def deliverables(self) -> int:
        return self.measures * self.deliverables_per_measure


@dataclass
class Item:
    """One deliverable, with its current state (its last history entry)."""

    code: str
    measure: int
    """Index into :attr:`SyntheticPlan.measures`."""
    title: str
    weight: float
    owner: str | None
    due_date: date | None
    tags: tuple[str, ...]
    status: Status = Status.not_started
    percent: float | None = None
    version: int = 1
    updated_at: datetime = START


@dataclass
class History:
    """The status changes, column by column (a million rows of Python objects is big)."""

    item: array = field(default_factory=lambda: array("i"))  # type: ignore[type-arg]
    effective: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    recorded: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    status: array = field(default_factory=lambda: array("b"))  # type: ignore[type-arg]
    percent: array = field(default_factory=lambda: array("d"))  # type: ignore[type-arg]

    def __len__(self) -> int:
        return len(self.item)


@dataclass
class SyntheticPlan:
    scale: Scale
    code: str
    lines: list[tuple[str, str]]
    measures: list[tuple[int, str, str]]
    """(action line index, code, title)."""
    items: list[Item]
    history: History

    def status_counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts


def make_plan(scale: Scale, *, code: str = "BENCH", seed: int = 2026) -> SyntheticPlan:
    rng = random.Random(seed)
    lines = [(f"L{a + 1:02d}", f"Action line {a + 1}") for a in range(scale.action_lines)]
    measures = [(a, f"L{a + 1:02d}M{m + 1:03d}", f"Measure {m + 1} of line {a + 1}")
                for a in range(scale.action_lines) for m in range(scale.measures_per_line)]
    items: list[Item] = []
    for index, (_line, measure_code, _title) in enumerate(measures):
        for d in range(scale.deliverables_per_measure):
            tags: tuple[str, ...] = ()
            draw = rng.random()
            if draw < 0.3:
                tags = (rng.choice(TAGS),)
            elif draw < 0.4:
                tags = tuple(sorted(rng.sample(TAGS, 2)))
            items.append(Item(
                code=f"{measure_code}D{d + 1:02d}", measure=index,
                title=f"Deliverable {d + 1} of {measure_code}", weight=rng.choice(WEIGHTS),
                owner=rng.choice(OWNERS) if rng.random() < 0.5 else None,
                due_date=(START.date() + timedelta(days=rng.randrange(1095))
                          if rng.random() < 0.3 else None),
                tags=tags))
    return SyntheticPlan(scale, code, lines, measures, items, _history(rng, scale, items))


def _history(rng: random.Random, scale: Scale, items: list[Item]) -> History:
    counts = [1] * len(items)
    for _ in range(scale.changes - len(items)):
        counts[rng.randrange(len(items))] += 1
    start, end = int(START.timestamp()), int(END.timestamp())
    created_within = int(CREATED_WITHIN.total_seconds())
    history = History()
    for index, (item, count) in enumerate(zip(items, counts, strict=True)):
        first = start + rng.randrange(created_within)
        times = [first, *sorted(rng.sample(range(first + 1, end), count - 1))]
        status: Status | None = None
        percent: float | None = None
        for moment in times:
            if status is None:
                status = Status.not_started if rng.random() < 0.6 else Status.in_progress
            else:
                targets, odds = TRANSITIONS[status]
                status = rng.choices(targets, odds)[0]
            if status == Status.in_progress and rng.random() < 0.7:
                new = float(rng.randrange(1, 100))
                percent = new if new != percent else new % 99 + 1
            elif status == Status.in_progress and percent is None:
                percent = float(rng.randrange(1, 100))  # nothing else would change
            else:
                percent = None
            recorded = moment + rng.randrange(3 * 86400)
            history.item.append(index)
            history.effective.append(moment)
            history.recorded.append(recorded)
            history.status.append(STATUSES.index(status))
            history.percent.append(NO_PERCENT if percent is None else percent)
        assert status is not None
        item.status, item.percent = status, percent
        item.version = count
        item.updated_at = datetime.fromtimestamp(recorded, UTC)
    return history


# --- the plan as a plan file ----------------------------------------------------------------


def plan_file_data(plan: SyntheticPlan, *, code: str) -> dict[str, Any]:
    """The plan's current state as a plan file (the import figure's input)."""
    by_measure: dict[int, list[dict[str, Any]]] = {}
    for item in plan.items:
        spec: dict[str, Any] = {"code": item.code, "title": item.title,
                                "status": item.status.value, "weight": item.weight}
        if item.percent is not None:
            spec["percent_complete"] = item.percent
        if item.owner is not None:
            spec["owner"] = item.owner
        if item.due_date is not None:
            spec["due_date"] = item.due_date.isoformat()
        if item.tags:
            spec["tags"] = list(item.tags)
        by_measure.setdefault(item.measure, []).append(spec)
    lines: list[dict[str, Any]] = [{"code": c, "title": t, "measures": []} for c, t in plan.lines]
    for index, (line, measure_code, title) in enumerate(plan.measures):
        lines[line]["measures"].append({"code": measure_code, "title": title,
                                        "deliverables": by_measure.get(index, [])})
    return {"mandate": {"code": code, "title": f"Synthetic plan {code}",
                        "start_date": START.date().isoformat(),
                        "end_date": END.date().isoformat()},
            "action_lines": lines}


# --- loading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ids:
    """Where the loaded rows start: explicit ids, so that history needs no round trip."""

    mandate: int
    line: int
    measure: int
    deliverable: int
    change: int


TABLES = ("mandate", "action_line", "measure", "deliverable", "status_change")


def next_ids(connection: Connection) -> Ids:
    tables = (Mandate, ActionLine, Measure, Deliverable, StatusChange)
    firsts = [connection.execute(select(func.coalesce(func.max(t.id), 0))).scalar_one() + 1
              for t in tables]
    return Ids(*firsts)


def restart_sequences(connection: Connection) -> None:
    """After explicit ids, PostgreSQL's sequences must move past them."""
    if connection.dialect.name != "postgresql":
        return
    for table in TABLES:
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))


def structure_rows(plan: SyntheticPlan, ids: Ids, *, code: str, now: datetime
                   ) -> dict[str, list[dict[str, Any]]]:
    """The mandate, action lines, measures, deliverables and tags as rows for an insert."""
    mandate = {"id": ids.mandate, "code": code, "title": f"Synthetic plan {code}",
               "start_date": START.date(), "end_date": END.date(), "in_progress_credit": 0.5,
               "not_achieved_counts": True, "data_version": 1, "created_at": now,
               "updated_at": now}
    lines = [{"id": ids.line + a, "mandate_id": ids.mandate, "code": c, "title": t,
              "position": a} for a, (c, t) in enumerate(plan.lines)]
    per_line = plan.scale.measures_per_line
    measures = [{"id": ids.measure + m, "mandate_id": ids.mandate, "action_line_id": ids.line + a,
                 "code": c, "title": t, "position": m % per_line}
                for m, (a, c, t) in enumerate(plan.measures)]
    per_measure = plan.scale.deliverables_per_measure
    deliverables = [
        {"id": ids.deliverable + i, "mandate_id": ids.mandate,
         "measure_id": ids.measure + item.measure, "code": item.code, "title": item.title,
         "status": item.status.value, "percent_complete": item.percent, "weight": item.weight,
         "owner": item.owner, "due_date": item.due_date, "position": i % per_measure,
         "version": item.version, "updated_at": item.updated_at}
        for i, item in enumerate(plan.items)]
    tags = [{"deliverable_id": ids.deliverable + i, "tag": tag}
            for i, item in enumerate(plan.items) for tag in item.tags]
    return {"mandate": [mandate], "action_line": lines, "measure": measures,
            "deliverable": deliverables, "deliverable_tag": tags}


HISTORY_COLUMNS = ("id", "deliverable_id", "mandate_id", "measure_id", "weight", "action_line_id",
                   "from_status", "to_status", "percent_complete", "note", "evidence_url",
                   "changed_by", "effective_at", "recorded_at", "valid_to", "fork")


def history_rows(plan: SyntheticPlan, ids: Ids, *, to_time: Any) -> Iterator[tuple[Any, ...]]:
    """Each status change as a tuple of :data:`HISTORY_COLUMNS`, with its interval closed by
    the next entry of the same deliverable and its fork, as app.services.status.history keeps
    them (``to_time`` turns epoch seconds into the driver's value)."""
    history = plan.history
    total = len(history)
    items = plan.items
    line_of_measure = [ids.line + line for line, _code, _title in plan.measures]
    for n in range(total):
        index = history.item[n]
        item = items[index]
        first = n == 0 or history.item[n - 1] != index
        last = n == total - 1 or history.item[n + 1] != index
        percent = history.percent[n]
        start = history.effective[n]
        end = None if last else history.effective[n + 1]
        yield (ids.change + n, ids.deliverable + index, ids.mandate,
               ids.measure + item.measure, item.weight, line_of_measure[item.measure],
               None if first else STATUSES[history.status[n - 1]].value,
               STATUSES[history.status[n]].value,
               None if math.isnan(percent) else percent, None, None, ACTOR,
               to_time(start), to_time(history.recorded[n]),
               None if end is None else to_time(end), _fork(start, end))


def _fork(start: int, end: int | None) -> int:
    if end is None:
        return OPEN_FORK
    return fork_of_days(_day(start), _day(end))


def _day(seconds: int) -> int:
    return min(max(seconds // 86400, DAY_KEY_MIN), DAY_KEY_MAX)


def load_plan(engine: Engine, plan: SyntheticPlan, *, now: datetime) -> Ids:
    """Write the plan and its whole history; return where its ids start."""
    with engine.begin() as connection:
        ids = next_ids(connection)
        rows = structure_rows(plan, ids, code=plan.code, now=now)
        for table in ("mandate", "action_line", "measure", "deliverable", "deliverable_tag"):
            if rows[table]:
                connection.execute(_table(table).insert(), rows[table])
        # Indexes built once after the load cost less than a million index inserts.
        indexes = list(StatusChange.__table__.indexes)  # type: ignore[attr-defined]
        for index in indexes:
            index.drop(connection)
        if connection.dialect.name == "postgresql":
            _copy_history(connection, plan, ids)
        else:
            _insert_history_sqlite(connection, plan, ids)
        for index in indexes:
            index.create(connection)
        restart_sequences(connection)
    analyze(engine)
    return ids


def analyze(engine: Engine) -> None:
    """Fresh planner statistics, as autovacuum (PostgreSQL) or PRAGMA optimize (SQLite)
    would keep them; PostgreSQL's VACUUM also sets the visibility map for index-only scans."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def _table(name: str) -> Any:
    from app.models import metadata

    return metadata.tables[name]


def _copy_history(connection: Connection, plan: SyntheticPlan, ids: Ids) -> None:
    def to_time(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    cursor = connection.connection.cursor()
    columns = ", ".join(HISTORY_COLUMNS)
    with cursor.copy(f"COPY status_change ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in history_rows(plan, ids, to_time=to_time):
            copy.write_row(row)
    cursor.close()


def sqlite_time(seconds: int) -> str:
    """SQLAlchemy's SQLite storage format for a UTC datetime (naive, microseconds)."""
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime(seconds))


def _insert_history_sqlite(connection: Connection, plan: SyntheticPlan, ids: Ids) -> None:
    # The stored text must be what SQLAlchemy writes, or range tests would compare wrongly.
    probe = datetime.fromtimestamp(1_700_000_123, UTC).replace(microsecond=0)
    stored = connection.execute(select(cast(literal(probe, UTCDateTime()), String))).scalar_one()
    assert stored == sqlite_time(1_700_000_123), stored
    cursor = connection.connection.cursor()
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MB: index pages stay in memory
    marks = ", ".join("?" * len(HISTORY_COLUMNS))
    statement = f"INSERT INTO status_change ({', '.join(HISTORY_COLUMNS)}) VALUES ({marks})"
    batch: list[tuple[Any, ...]] = []
    for row in history_rows(plan, ids, to_time=sqlite_time):
        batch.append(row)
        if len(batch) == 50_000:
            cursor.executemany(statement, batch)
            batch.clear()
    if batch:
        cursor.executemany(statement, batch)
    cursor.close()


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
