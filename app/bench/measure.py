"""Each figure: planpulse's service code or HTTP API, timed beside its floor.

Times are medians of interleaved runs (planpulse, floor, planpulse, floor, ...), so that a
change in the machine's load during the run weighs on both sides alike.
"""

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import psycopg
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.bench import floors
from app.bench.floors import Sums
from app.bench.http import KeptAlive, concurrently, load, request, serving
from app.bench.report import Figure
from app.bench.synthetic import (
    END,
    START,
    STATUSES,
    Ids,
    Scale,
    SyntheticPlan,
    analyze,
    make_plan,
    next_ids,
    plan_file_data,
    restart_sequences,
    structure_rows,
)
from app.db import unit_of_work
from app.models import ActionLine, Deliverable, Mandate, Measure, Role, StatusChange, metadata
from app.models.plan import OPEN_FORK
from app.schemas.api import MandateProgress
from app.schemas.plan_file import parse_plan_text
from app.services.access import tokens
from app.services.plan.deliverables import DeliverableFilter
from app.services.plan.importer import IMPORT_ACTOR, IMPORT_NOTE, import_plan
from app.services.rollups import progress
from app.services.rollups.rules import Policy, Totals, totals_of

AS_OF = START + (END - START) / 2
"""The time the as_of figures travel to: the middle of the history, where about as many
changes lie before as after it (the hardest case for a search on either end)."""


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure (smaller at small scales)."""

    repeats: int
    import_repeats: int
    raw_import_repeats: int
    http_seconds: float
    http_rounds: int
    write_seconds: float
    writers: int = 32
    connections: int = 4

    @classmethod
    def for_scale(cls, factor: float) -> "Settings":
        if factor >= 0.5:
            # Many short alternating rounds: a burst of other work on the machine then
            # spoils one round of one side, which the median leaves out.
            return cls(repeats=7, import_repeats=2, raw_import_repeats=3, http_seconds=1.0,
                       http_rounds=7, write_seconds=8.0)
        if factor >= 0.05:
            return cls(repeats=5, import_repeats=1, raw_import_repeats=5, http_seconds=1.0,
                       http_rounds=2, write_seconds=3.0)
        return cls(repeats=3, import_repeats=1, raw_import_repeats=1, http_seconds=0.3,
                   http_rounds=1, write_seconds=1.0, writers=8, connections=2)


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def interleaved(planpulse: Callable[[], Any], floor: Callable[[], Any], repeats: int
                ) -> tuple[list[float], list[float], Any, Any]:
    """Warm both up once, then alternate; times in seconds, and the last results."""
    ours, theirs = planpulse(), floor()
    mine, base = [], []
    for _ in range(repeats):
        spent, ours = timed(planpulse)
        mine.append(spent)
        spent, theirs = timed(floor)
        base.append(spent)
    return mine, base, ours, theirs


def sums_of(totals: Totals) -> Sums:
    return Sums({status.value: n for status, n in totals.by_status.items()}, totals.counted,
                totals.weight_sum, totals.weighted_score)


def policy_excluded(policy: Policy) -> set[str]:
    return {status.value for status in policy.excluded}


# --- the rollups -----------------------------------------------------------------------------


def reference(plan: SyntheticPlan, ids: Ids, as_of: datetime) -> tuple[Sums, dict[int, Sums]]:
    """The rollup at ``as_of`` rebuilt in plain Python from the generated history: what
    the service's answer must equal, whatever SQL it runs."""
    moment = int(as_of.timestamp())
    history = plan.history
    state: dict[int, tuple[Any, float | None]] = {}
    for n in range(len(history)):
        if history.effective[n] <= moment:
            percent = history.percent[n]
            state[history.item[n]] = (STATUSES[history.status[n]],
                                      None if percent != percent else percent)
    per_line: dict[int, list[tuple[Any, float | None, float]]] = {}
    everything = []
    for index, item in enumerate(plan.items):
        status, percent = state.get(index, ("not_started", None))
        triple = (status, percent, item.weight)
        everything.append(triple)
        per_line.setdefault(ids.line + plan.measures[item.measure][0], []).append(triple)
    return (sums_of(totals_of(everything)),
            {line: sums_of(totals_of(triples)) for line, triples in per_line.items()})


def rollup_figures(engine: Engine, database: str, plan: SyntheticPlan, ids: Ids,
                   settings: Settings) -> list[Figure]:
    with Session(engine) as session:
        mandate = session.get_one(Mandate, ids.mandate)
        policy = progress.policy_of(mandate)
        excluded = policy_excluded(policy)
        now = progress.ProgressQuery(where=DeliverableFilter(mandate_id=ids.mandate))
        then = replace(now, as_of=AS_OF)
        after = replace(now, as_of=END.replace(year=END.year + 1))
        connection = session.connection()

        def floor_mandate() -> Sums:
            return floors.mandate_floor(connection, mandate_id=ids.mandate,
                                        credit=policy.in_progress_credit, excluded=excluded)

        def floor_lines() -> dict[int, Sums]:
            return floors.lines_floor(connection, mandate_id=ids.mandate,
                                      credit=policy.in_progress_credit, excluded=excluded)

        def lines_of(query: progress.ProgressQuery) -> Callable[[], dict[int, Sums]]:
            return lambda: {line: sums_of(t) for line, t in progress.line_totals(
                session, mandate=mandate, query=query).items()}

        def mandate_of(query: progress.ProgressQuery) -> Callable[[], Sums]:
            return lambda: sums_of(progress.mandate_totals(session, mandate=mandate,
                                                           query=query))

        expected_then, expected_lines_then = reference(plan, ids, AS_OF)
        figures = []
        repeats = settings.repeats
        mine, base, ours, theirs = interleaved(mandate_of(now), floor_mandate, repeats)
        figures.append(_figure(database, "rollup: mandate", mine, base,
                               "<= 1.5x", 1.5, ours.same_as(theirs)))
        mine, base, ours, theirs = interleaved(lines_of(now), floor_lines, repeats)
        figures.append(_figure(database, "rollup: every action line", mine, base, "<= 1.5x",
                               1.5, _same_lines(ours, theirs)))
        mine, base, ours, theirs = interleaved(mandate_of(then), floor_mandate, repeats)
        figures.append(_figure(
            database, f"as_of rollup: mandate at {AS_OF:%Y-%m-%d}", mine, base,
            "<= 2x", 2.0, ours.same_as(expected_then)
            and mandate_of(after)().same_as(theirs)))
        mine, base, ours, theirs = interleaved(lines_of(then), floor_lines, repeats)
        figures.append(_figure(
            database, f"as_of rollup: every action line at {AS_OF:%Y-%m-%d}", mine, base,
            "<= 2x", 2.0, _same_lines(ours, expected_lines_then)
            and _same_lines(lines_of(after)(), theirs)))

        def tree() -> MandateProgress:
            return progress.mandate_progress(session, mandate=mandate, query=now)

        mine, base, body, theirs = interleaved(tree, floor_mandate, max(2, repeats // 2))
        figures.append(_figure(
            database, "progress tree (GET .../progress body, no cache)", mine, base, "-",
            None, _tree_agrees(body.totals.model_dump(), theirs)))
        session.rollback()
    return figures


def _tree_agrees(totals: dict[str, Any], floor: Sums) -> bool:
    """Whether a progress body's totals count what the mandate's floor counts."""
    return totals["by_status"] == {status: floor.by_status.get(status, 0)
                                   for status in totals["by_status"]} and (
        totals["progress"] == floor.progress)


def _same_lines(ours: dict[int, Sums], theirs: dict[int, Sums]) -> bool:
    keys = {k for k, v in ours.items() if v.by_status} | set(theirs)
    empty = Sums({}, 0, 0.0, 0.0)
    return all(ours.get(k, empty).same_as(theirs.get(k, empty)) for k in keys)


def _figure(database: str, name: str, mine: list[float], base: list[float], budget: str,
            limit: float | None, correct: bool | None) -> Figure:
    ours, theirs = statistics.median(mine) * 1000, statistics.median(base) * 1000
    passed = None if limit is None else ours <= limit * theirs
    return Figure(database, name, "ms", ours, theirs, budget, passed, correct,
                  samples={"planpulse_ms": [x * 1000 for x in mine],
                           "floor_ms": [x * 1000 for x in base]})


# --- the import ------------------------------------------------------------------------------


def import_figure(engine: Engine, database: str, plan: SyntheticPlan, settings: Settings
                  ) -> Figure:
    """``import_plan`` of the plan file (parsed and validated, as ``planpulse import``
    does) vs an executemany of the same rows, into the same database."""
    text = json.dumps(plan_file_data(plan, code="IMPORTED"))
    expected = {status.value: n for status, n in plan.status_counts().items() if n}
    mine, base, correct = [], [], True

    def planpulse() -> None:
        parsed = parse_plan_text(text, fmt="json")
        with unit_of_work(engine) as session:
            import_plan(session, plan=parsed)

    def floor() -> None:
        with engine.begin() as connection:
            floors.raw_bulk_insert(connection, plan, code="RAW", ids=next_ids(connection),
                                   now=datetime.now(UTC))

    for _ in range(settings.import_repeats):
        spent, _result = timed(planpulse)
        mine.append(spent)
        spent, _result = timed(floor)
        base.append(spent)
        with Session(engine) as session:
            counted = {code: _status_counts(session, code) for code in ("IMPORTED", "RAW")}
            correct = correct and counted["IMPORTED"] == counted["RAW"] == expected
            session.execute(delete(Mandate).where(Mandate.code.in_(["IMPORTED", "RAW"])))
            session.commit()
    analyze(engine)
    ours, theirs = statistics.median(mine), statistics.median(base)
    return Figure(database, f"import of the {len(plan.items):,}-deliverable plan file", "s",
                  ours, theirs, "<= 3x", ours <= 3 * theirs, correct,
                  samples={"planpulse_s": mine, "floor_s": base})


def _status_counts(session: Session, code: str) -> dict[str, int]:
    rows = session.execute(
        select(Deliverable.status, func.count()).join(Mandate)
        .where(Mandate.code == code).group_by(Deliverable.status))
    entries = session.execute(
        select(func.count()).select_from(StatusChange).join(Mandate)
        .where(Mandate.code == code)).scalar_one()
    counts = {status: n for status, n in rows}
    return counts if entries == sum(counts.values()) else {"history mismatch": entries}


IMPORT_SIZE = 20_000
"""The deliverables of the import figure against the raw executemany, whatever the scale
(fewer only below scale 0.2, so that CI's tiny runs stay fast)."""
IMPORT_LINES = 20


def import_size(factor: float) -> int:
    """20,000 from scale 0.2 up; below, the scale's share of 100,000, in whole measures of
    10 deliverables on each of 20 action lines (200 at CI's 0.002)."""
    block = IMPORT_LINES * 10
    return max(block, min(IMPORT_SIZE, round(100_000 * factor)) // block * block)


def sized_plan(deliverables: int) -> SyntheticPlan:
    """A plan of exactly ``deliverables`` (a multiple of 200): 20 action lines, measures
    of 10, statuses after a random walk of four changes each on average."""
    per_line = deliverables // (IMPORT_LINES * 10)
    return make_plan(Scale(deliverables / 100_000, IMPORT_LINES, per_line, 10,
                           4 * deliverables), code="SIZED")


def raw_import_figure(engine: Engine, database: str, plan: SyntheticPlan, settings: Settings
                      ) -> Figure:
    """``planpulse import``'s work (the plan file parsed and validated, ``import_plan``,
    committed) vs the driver's own ``executemany`` of each deliverable's row and its first
    history entry, into the same database, one transaction: the writes the import cannot
    do without. Each side writes into the same database: the other's rows are gone."""
    text = json.dumps(plan_file_data(plan, code="IMPORTED"))
    sqlite = engine.dialect.name == "sqlite"
    expected = {status.value: n for status, n in plan.status_counts().items() if n}
    mine: list[float] = []
    base: list[float] = []
    correct = True

    def planpulse() -> None:
        parsed = parse_plan_text(text, fmt="json")
        with unit_of_work(engine) as session:
            import_plan(session, plan=parsed)

    for repeat in range(settings.raw_import_repeats + 1):  # the first is a warm-up
        ours, _result = timed(planpulse)
        imported = _written(engine, "IMPORTED")
        _drop_mandate(engine, "IMPORTED")
        now = datetime.now(UTC)
        with engine.begin() as connection:  # the floor's structure, not timed
            ids = next_ids(connection)
            rows = structure_rows(plan, ids, code="RAW", now=now)
            for table in ("mandate", "action_line", "measure"):
                connection.execute(insert(metadata.tables[table]), rows[table])
            restart_sequences(connection)
        deliverables, entries = floors.imported_rows(plan, ids, now=now, actor=IMPORT_ACTOR,
                                                     note=IMPORT_NOTE, sqlite=sqlite)
        pooled = engine.raw_connection()
        try:
            theirs, _result = timed(partial(
                floors.raw_executemany, pooled.driver_connection, sqlite=sqlite,
                deliverables=deliverables, entries=entries))
        finally:
            pooled.close()
        with engine.begin() as connection:
            restart_sequences(connection)
        raw = _written(engine, "RAW")
        _drop_mandate(engine, "RAW")
        counts: dict[str, int] = {}
        for row in imported[0]:
            counts[row[1]] = counts.get(row[1], 0) + 1
        correct = correct and imported == raw and counts == expected
        if repeat:
            mine.append(ours)
            base.append(theirs)
    analyze(engine)
    ours, theirs = statistics.median(mine), statistics.median(base)
    return Figure(database, f"import of a {len(plan.items):,}-deliverable plan file (raw floor)",
                  "s", ours, theirs, "<= 10x", ours <= 10 * theirs, correct,
                  note="floor: the driver's executemany of each deliverable's row and its "
                       "first history entry, one transaction",
                  samples={"planpulse_s": mine, "floor_s": base})


def _written(engine: Engine, code: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The mandate's deliverables and history entries, named by codes instead of ids, each
    entry's times compared with its deliverable's: what both sides of the import must
    equal."""
    d, entry, measure, line = Deliverable, StatusChange, Measure, ActionLine
    with Session(engine) as session:
        deliverables = session.execute(
            select(d.code, d.status, d.percent_complete, d.title, d.weight, d.owner,
                   d.due_date, d.position, d.version, measure.code)
            .join(Mandate, Mandate.id == d.mandate_id).join(measure, measure.id == d.measure_id)
            .where(Mandate.code == code).order_by(d.code)).all()
        entries = session.execute(
            select(d.code, entry.from_status, entry.to_status, entry.percent_complete,
                   entry.weight, measure.code, line.code, entry.mandate_id == d.mandate_id,
                   entry.note, entry.evidence_url, entry.changed_by, entry.valid_to,
                   entry.fork, entry.effective_at == d.updated_at,
                   entry.recorded_at == d.updated_at)
            .join(d, d.id == entry.deliverable_id).join(Mandate, Mandate.id == d.mandate_id)
            .join(measure, measure.id == entry.measure_id)
            .join(line, line.id == entry.action_line_id)
            .where(Mandate.code == code).order_by(d.code, entry.id)).all()
    return [tuple(row) for row in deliverables], [tuple(row) for row in entries]


def _drop_mandate(engine: Engine, code: str) -> None:
    with engine.begin() as connection:
        connection.execute(delete(Mandate).where(Mandate.code == code))


# --- over HTTP -------------------------------------------------------------------------------

BUNDLED = "/api/v1/mandates/2018-2020/progress"
TRIVIAL = "/healthz"


def http_figures(database_url: str, database: str, plan: SyntheticPlan, ids: Ids,
                 bench_code: str, settings: Settings) -> list[Figure]:
    """One server process (one worker): its memory while it answers the 100k rollups,
    then the bundled plan's progress, and its 304s, against the trivial endpoint."""
    figures = []
    with serving(database_url) as server:
        idle = server.memory_mb("VmRSS")
        base = f"/api/v1/mandates/{bench_code}"
        paths = [f"{base}/progress", f"{base}/progress?as_of={AS_OF:%Y-%m-%d}",
                 f"{base}/progress?tag=gender", f"{base}/action-lines/L01/progress",
                 f"/api/v1/progress?mandates={bench_code}",
                 f"{base}/progress/series?from={START:%Y-%m-%d}&to={END:%Y-%m-%d}"
                 "&interval=quarter"]
        answers = [request(server.port, "GET", path) for path in paths]
        body = json.loads(answers[0][2])
        correct = all(status == 200 for status, _h, _b in answers) and (
            body["totals"]["deliverables"] == len(plan.items))
        peak = server.memory_mb("VmHWM")
        figures.append(Figure(
            database, "serving process memory, peak during the 100k rollups", "MB", peak,
            idle, "< 300 MB", peak < 300, correct,
            note="floor: the same process idle, before the rollups"))

        status, headers, data = request(server.port, "GET", BUNDLED)
        etag = headers.get("etag", "")
        bundled_ok = status == 200 and json.loads(data)["totals"]["deliverables"] == 65
        rates: dict[str, list[float]] = {"trivial": [], "progress": [], "304": []}
        statuses: dict[str, set[int]] = {key: set() for key in rates}
        for _round in range(settings.http_rounds):
            for key, path, sent in (("trivial", TRIVIAL, None), ("progress", BUNDLED, None),
                                    ("304", BUNDLED, {"If-None-Match": etag})):
                result = load(server.port, path, seconds=settings.http_seconds,
                              connections=settings.connections, headers=sent)
                rates[key].append(result.rate)
                statuses[key] |= set(result.statuses)
        trivial = statistics.median(rates["trivial"])
        for key, name, share in (("progress", "GET .../progress of the bundled plan", 0.6),
                                 ("304", "GET .../progress, If-None-Match: 304", 0.9)):
            ours = statistics.median(rates[key])
            wanted = {200} if key == "progress" else {304}
            figures.append(Figure(
                database, name, "req/s", ours, trivial, f">= {share:.0%}",
                ours >= share * trivial, bundled_ok and statuses[key] == wanted,
                note="floor: GET /healthz of the same server (1 worker)",
                samples={"planpulse": rates[key], "floor": rates["trivial"]}))
    return figures


def cold_progress_figure(engine: Engine, database_url: str, database: str,
                         plan: SyntheticPlan, ids: Ids, bench_code: str, settings: Settings
                         ) -> Figure:
    """The 100k plan's whole ``GET .../progress`` over HTTP from a server whose rollup cache
    is off: what the first poll after a write waits for, built, serialised and sent."""
    path = f"/api/v1/mandates/{bench_code}/progress"
    with Session(engine) as session, serving(
            database_url, extra_env={"PLANPULSE_ROLLUP_CACHE_ENTRIES": "0"}) as server:
        policy = progress.policy_of(session.get_one(Mandate, ids.mandate))
        connection = session.connection()

        def ours() -> tuple[int, bytes]:
            status, _headers, body = request(server.port, "GET", path)
            return status, body

        def floor() -> Sums:
            return floors.mandate_floor(connection, mandate_id=ids.mandate,
                                        credit=policy.in_progress_credit,
                                        excluded=policy_excluded(policy))

        mine, base, (status, body), theirs = interleaved(ours, floor,
                                                         max(2, settings.repeats // 2))
        session.rollback()
    totals = json.loads(body)["totals"] if status == 200 else {}
    correct = status == 200 and totals["deliverables"] == len(plan.items) and (
        _tree_agrees(totals, theirs))
    return _figure(database, "progress tree over HTTP (GET .../progress, cache off)", mine,
                   base, "-", None, correct)


WRITE_WORKERS = 2
"""Server processes for the write figure: one per core of a 2-core machine."""


def write_figure(database_url: str, engine: Engine, ids: Ids, plan: SyntheticPlan,
                 settings: Settings) -> Figure:
    """Status changes with history over HTTP from concurrent clients, each on a deliverable
    of its own with its current ETag, vs raw UPDATE + INSERT transactions; then proof that
    every change acknowledged is in the history."""
    writers = settings.writers
    ours_ids = [ids.deliverable + 7 * i for i in range(writers)]
    floor_ids = [ids.deliverable + 7 * i + 3 for i in range(writers)]
    codes = [plan.items[i - ids.deliverable].code for i in ours_ids]
    with Session(engine) as session:
        _token, secret = tokens.create_token(session, name=f"bench-{time.time_ns()}",
                                             role=Role.editor)
        session.commit()
    before = _history_state(engine, ours_ids)
    mandate = plan.code
    # PostgreSQL does best with few connections at work per core (docs/deployment.md,
    # "Connection pools"): four per core of this machine, shared among the workers.
    pool = max(2, 4 * (os.cpu_count() or 1) // WRITE_WORKERS)
    with serving(database_url, workers=WRITE_WORKERS,
                 extra_env={"PLANPULSE_DB_POOL_SIZE": str(pool)}) as server:
        def change(i: int) -> tuple[int, int]:
            path = f"/api/v1/mandates/{mandate}/deliverables/{codes[i]}"
            _status, headers, _body = request(server.port, "GET", path)
            etag = headers["etag"]
            applied = failed = 0
            connection = KeptAlive(server.port)
            auth = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            k = 0
            stop = time.perf_counter() + settings.write_seconds
            while time.perf_counter() < stop:
                k += 1
                status, answer, _body = connection.send("POST", f"{path}/status", {
                    **auth, "If-Match": etag}, json.dumps(
                        {"status": "in_progress", "percent_complete": k % 97 + 1}).encode())
                if status == 200:
                    new = answer.get("etag") or etag
                    applied += new != etag
                    etag = new
                else:
                    failed += 1
            connection.close()
            return applied, failed

        began = time.perf_counter()
        results = concurrently(writers, change)
        elapsed = time.perf_counter() - began
    applied = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    after = _history_state(engine, ours_ids)
    nothing_lost = (failed == 0 and after[0] - before[0] == applied
                    and after[1] - before[1] == applied)
    ours = applied / elapsed
    theirs = _raw_writes(database_url, floor_ids, ids, plan, settings)
    return Figure(
        "postgresql", f"status changes with history over HTTP, {writers} clients", "changes/s",
        ours, theirs, ">= 300/s, none lost", ours >= 300 and nothing_lost, nothing_lost,
        note=f"{applied} changes acknowledged and recorded, {failed} refused; server with "
             f"{WRITE_WORKERS} workers, {pool} connections each; floor: raw UPDATE + INSERT "
             "per transaction, same clients")


def _history_state(engine: Engine, deliverable_ids: list[int]) -> tuple[int, int]:
    with Session(engine) as session:
        entries = session.execute(select(func.count()).select_from(StatusChange).where(
            StatusChange.deliverable_id.in_(deliverable_ids))).scalar_one()
        versions = session.execute(select(func.sum(Deliverable.version)).where(
            Deliverable.id.in_(deliverable_ids))).scalar_one()
    return int(entries), int(versions or 0)


def _raw_writes(database_url: str, deliverable_ids: list[int], ids: Ids, plan: SyntheticPlan,
                settings: Settings) -> float:
    url = make_url(database_url)
    conninfo = psycopg.conninfo.make_conninfo(
        host=url.host or "", port=url.port or 5432, user=url.username or "",
        password=url.password or "", dbname=url.database or "")

    def write(i: int) -> int:
        deliverable = deliverable_ids[i]
        item = plan.items[deliverable - ids.deliverable]
        done = 0
        with psycopg.connect(conninfo) as connection:
            version = connection.execute("SELECT version FROM deliverable WHERE id = %s",
                                         (deliverable,)).fetchone()[0]  # type: ignore[index]
            connection.commit()
            stop = time.perf_counter() + settings.write_seconds
            k = 0
            while time.perf_counter() < stop:
                k += 1
                now = datetime.now(UTC)
                with connection.transaction():
                    connection.execute(floors.RAW_UPDATE, ("in_progress", float(k % 97 + 1),
                                                           now, deliverable, version))
                    connection.execute(floors.RAW_INSERT, (
                        deliverable, ids.mandate, ids.measure + item.measure, item.weight,
                        ids.line + plan.measures[item.measure][0], "in_progress",
                        "in_progress", float(k % 97 + 1), "bench", now, now, OPEN_FORK))
                version += 1
                done += 1
        return done

    began = time.perf_counter()
    done = sum(concurrently(len(deliverable_ids), write))
    return done / (time.perf_counter() - began)
