"""Synthetic records at any scale, loaded in bulk: members, their engagement per period with
some history, the roll, and activities.

``RecordsScale.of(1.0)`` is 10,000 members x 20 kinds (12 flags, 8 counts) x 5 periods:
1,000,000 engagement rows in force, from 10% to 70% of each kind's cleared (no value: rows
that a share must not count), and about 100,000 superseded rows before them (so that the
in-force filter has something to leave out); every member on the roll of every period;
and 100,000 activities, 2% of them removed. Deterministic (one seed). Loading is not
measured: explicit ids, ``COPY`` on PostgreSQL and ``executemany`` on SQLite, indexes
built afterwards.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from app.bench.synthetic import analyze, sqlite_time
from app.models import (
    Activity,
    ActivityKind,
    EngagementKind,
    EngagementRecord,
    Member,
    RollEntry,
)

PERIODS = ("2020", "2021", "2022", "2023", "2024")
NEW_PERIOD = "2025"
"""The period the sheet imports into: nothing is recorded for it beforehand."""
KINDS = 20
FLAG_EVERY = (0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 17, 19)
"""The kinds (by index) that are flags: 12 of the 20; the other 8 are counts."""
SHARE_KIND = "bench_k01"
"""The flag kind the derived share counts."""
ACTOR = "bench"
RECORDED = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
"""When the rows in force were recorded; the superseded ones a year before."""
EARLIER = RECORDED - timedelta(days=365)
ACTIVITY_KINDS = (("event", "Event"), ("statement", "Policy statement"),
                  ("publication", "Publication"), ("campaign", "Campaign"))
SUPERSEDED_SHARE = 0.1
REMOVED_SHARE = 0.02

ENGAGEMENT_COLUMNS = ("id", "member_id", "kind_id", "period", "amount", "label",
                      "recorded_by", "recorded_at", "superseded_at", "note")
ROLL_COLUMNS = ("id", "member_id", "period", "recorded_by", "recorded_at", "superseded_at",
                "superseded_by", "note")
ACTIVITY_COLUMNS = ("id", "code", "kind_id", "title", "period", "start_date", "location",
                    "mode", "participants_total", "participants_women", "participants_men",
                    "version", "recorded_by", "recorded_at", "removed_at")


@dataclass(frozen=True)
class RecordsScale:
    factor: float
    members: int
    activities: int

    @classmethod
    def of(cls, factor: float) -> "RecordsScale":
        return cls(factor, max(20, round(10_000 * factor)), max(50, round(100_000 * factor)))


@dataclass(frozen=True)
class Kind:
    code: str
    title: str
    value: str
    chance: float
    """How likely a member holds a value of it in a period."""


@dataclass
class SyntheticRecords:
    """The records as columns: ``amounts[p][k][m]`` is member m's value of kind k in
    period p (None: cleared), ``before`` the superseded value where there is one."""

    scale: RecordsScale
    kinds: list[Kind]
    members: list[tuple[str, str]]
    amounts: list[list[list[int | None]]]
    before: dict[tuple[int, int, int], int | None]
    sheet: list[list[int | None]]
    """The sheet's values for :data:`NEW_PERIOD`: ``sheet[m][k]``."""

    @property
    def engagement_rows(self) -> int:
        return len(PERIODS) * len(self.kinds) * len(self.members)

    def held(self, kind: int) -> dict[str, int]:
        """Period → members holding a value of ``kind``: what a share counts."""
        return {period: sum(v is not None for v in self.amounts[p][kind])
                for p, period in enumerate(PERIODS)}


def make_records(scale: RecordsScale, *, seed: int = 2026) -> SyntheticRecords:
    rng = random.Random(seed)
    kinds = [Kind(f"bench_k{k + 1:02d}", f"Bench kind {k + 1:02d}",
                  "flag" if k in FLAG_EVERY else "count", 0.3 + 0.6 * rng.random())
             for k in range(KINDS)]
    members = [(f"bench-m{m:05d}", f"Bench member {m:05d}") for m in range(scale.members)]

    def value(kind: Kind) -> int | None:
        if rng.random() >= kind.chance:
            return None
        return 1 if kind.value == "flag" else rng.randrange(1, 40)

    # Every (member, kind, period) has a row in force; None is a cleared one.
    amounts = [[[value(kind) for _m in members] for kind in kinds] for _p in PERIODS]
    before: dict[tuple[int, int, int], int | None] = {}
    for p in range(len(PERIODS)):
        for k, kind in enumerate(kinds):
            for m in range(len(members)):
                if rng.random() < SUPERSEDED_SHARE:
                    now = amounts[p][k][m]
                    before[(p, k, m)] = (None if now is not None and rng.random() < 0.5
                                         else 1 if kind.value == "flag"
                                         else rng.randrange(40, 80))
    sheet = [[value(kind) for kind in kinds] for _m in members]
    return SyntheticRecords(scale, kinds, members, amounts, before, sheet)


@dataclass(frozen=True)
class RecordIds:
    kind: int
    member: int
    engagement: int
    roll: int
    activity_kind: int
    activity: int

    def kind_id(self, k: int) -> int:
        return self.kind + k

    def member_id(self, m: int) -> int:
        return self.member + m


TABLES = ("engagement_kind", "member", "engagement_record", "roll_entry", "activity_kind",
          "activity")


def next_record_ids(connection: Connection) -> RecordIds:
    models = (EngagementKind, Member, EngagementRecord, RollEntry, ActivityKind, Activity)
    return RecordIds(*[connection.execute(select(func.coalesce(func.max(m.id), 0)))
                       .scalar_one() + 1 for m in models])


def restart_record_sequences(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    for table in TABLES:
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))


def _engagement(records: SyntheticRecords, ids: RecordIds, to_time: Any
                ) -> Iterator[tuple[Any, ...]]:
    n = ids.engagement
    recorded, earlier = to_time(RECORDED), to_time(EARLIER)
    for p, period in enumerate(PERIODS):
        for k in range(len(records.kinds)):
            column = records.amounts[p][k]
            for m, amount in enumerate(column):
                if (p, k, m) in records.before:
                    yield (n, ids.member_id(m), ids.kind_id(k), period,
                           records.before[(p, k, m)], None, ACTOR, earlier, recorded, None)
                    n += 1
                yield (n, ids.member_id(m), ids.kind_id(k), period, amount, None, ACTOR,
                       recorded, None, None)
                n += 1


def _roll(records: SyntheticRecords, ids: RecordIds, to_time: Any
          ) -> Iterator[tuple[Any, ...]]:
    n = ids.roll
    recorded = to_time(RECORDED)
    for period in PERIODS:
        for m in range(len(records.members)):
            yield (n, ids.member_id(m), period, ACTOR, recorded, None, None, None)
            n += 1


def _activities(records: SyntheticRecords, ids: RecordIds, to_time: Any, to_date: Any
                ) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    recorded, removed = to_time(RECORDED), to_time(RECORDED + timedelta(days=1))
    for a in range(records.scale.activities):
        year = int(PERIODS[a % len(PERIODS)])
        start = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        total = rng.randrange(10, 300)
        women = rng.randrange(total + 1)
        yield (ids.activity + a, f"bench-a{a:06d}", ids.activity_kind + a % len(ACTIVITY_KINDS),
               f"Bench activity {a}", str(year), to_date(start), "Online",
               ("online", "in_person", "hybrid")[a % 3], total, women, total - women, 1, ACTOR,
               recorded, removed if rng.random() < REMOVED_SHARE else None)


def load_records(engine: Engine, records: SyntheticRecords) -> RecordIds:
    """Write the records; return where their ids start."""
    sqlite = engine.dialect.name == "sqlite"

    def to_time(moment: datetime) -> Any:
        return sqlite_time(int(moment.timestamp())) if sqlite else moment

    def to_date(day: date) -> Any:
        return day.isoformat() if sqlite else day

    with engine.begin() as connection:
        ids = next_record_ids(connection)
        kinds = [(ids.kind_id(k), kind.code, kind.title, kind.value, True, "engagement", k)
                 for k, kind in enumerate(records.kinds)]
        members = [(ids.member_id(m), code, name, None, None, False, 1, to_time(RECORDED))
                   for m, (code, name) in enumerate(records.members)]
        activity_kinds = [(ids.activity_kind + i, code, title)
                          for i, (code, title) in enumerate(ACTIVITY_KINDS)]
        tables: list[tuple[str, tuple[str, ...], Any]] = [
            ("engagement_kind", ("id", "code", "title", "value", "summed", "sheet",
                                 "position"), kinds),
            ("member", ("id", "code", "name", "full_name", "new_in", "honorary", "version",
                        "created_at"), members),
            ("activity_kind", ("id", "code", "title"), activity_kinds),
            ("engagement_record", ENGAGEMENT_COLUMNS, _engagement(records, ids, to_time)),
            ("roll_entry", ROLL_COLUMNS, _roll(records, ids, to_time)),
            ("activity", ACTIVITY_COLUMNS, _activities(records, ids, to_time, to_date)),
        ]
        # Indexes built once after the load cost less than a million index inserts.
        indexes = [index for model in (EngagementRecord, RollEntry, Activity)
                   for index in model.__table__.indexes]  # type: ignore[attr-defined]
        for index in indexes:
            index.drop(connection)
        cursor = connection.connection.cursor()
        for table, columns, rows in tables:
            if sqlite:
                marks = ", ".join("?" * len(columns))
                statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                batch: list[tuple[Any, ...]] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == 50_000:
                        cursor.executemany(statement, batch)
                        batch.clear()
                if batch:
                    cursor.executemany(statement, batch)
            else:
                with cursor.copy(  # type: ignore[attr-defined]
                        f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        cursor.close()
        for index in indexes:
            index.create(connection)
        restart_record_sequences(connection)
    analyze(engine)
    return ids
