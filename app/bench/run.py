"""``planpulse bench``: build the synthetic plan on each database, measure every figure
beside its floor, print the table and write it as JSON."""

import shutil
import tempfile
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import migrate
from app.bench import measure, records, report
from app.bench.records_data import (
    PERIODS,
    RecordsScale,
    SyntheticRecords,
    load_records,
    make_records,
)
from app.bench.synthetic import Ids, Scale, SyntheticPlan, analyze, load_plan, make_plan
from app.db import build_engine, unit_of_work
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_CODE = "BENCH"
GROUPS = ("rollups", "import", "reads", "writes", "records")
"""The groups of figures ``--only`` may pick: the rollups (and the progress tree), the two
imports, the HTTP reads (and the server's memory), the status changes over HTTP, the
records (derived share, engagement endpoint, XLSX sheet import)."""


@dataclass
class Result:
    figures: list[report.Figure]
    meta: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(f.passed is not False and f.correct is not False for f in self.figures)


@contextmanager
def database(backend: str, workdir: Path, admin_url: str) -> Iterator[str]:
    """An empty database of ``backend`` for the run, removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"planpulse_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, plan: SyntheticPlan) -> tuple[Ids, float]:
    """Migrate, load the synthetic plan and the bundled one; return ids and seconds."""
    began = time.perf_counter()
    migrate.upgrade(url)
    engine = build_engine(url)
    try:
        ids = load_plan(engine, plan, now=datetime.now(UTC))
        with unit_of_work(engine) as session:
            import_plan(session, plan=bundled_plan())
        analyze(engine)
    finally:
        engine.dispose()
    return ids, time.perf_counter() - began


def run(*, factor: float, backends: list[str], admin_url: str, workdir: Path,
        echo: Any = print, only: Collection[str] = GROUPS) -> Result:
    scale = Scale.of(factor)
    settings = measure.Settings.for_scale(factor)
    began = time.perf_counter()
    plan = make_plan(scale, code=BENCH_CODE)
    sized = measure.sized_plan(measure.import_size(factor))
    synthetic: SyntheticRecords | None = None
    if "records" in only:
        synthetic = make_records(RecordsScale.of(factor))
        echo(f"records: {len(synthetic.members):,} members x {len(synthetic.kinds)} kinds x "
             f"{len(PERIODS)} periods = {synthetic.engagement_rows:,} engagement rows "
             f"in force, {len(synthetic.before):,} superseded, "
             f"{synthetic.scale.activities:,} activities")
    echo(f"plan: {scale.action_lines} action lines x {scale.measures_per_line} measures x "
         f"{scale.deliverables_per_measure} deliverables = {scale.deliverables:,} deliverables, "
         f"{len(plan.history):,} status changes; a plan file of {len(sized.items):,} to "
         f"import ({time.perf_counter() - began:.1f} s)")
    figures: list[report.Figure] = []
    phases: dict[str, float] = {}
    for backend in backends:
        with database(backend, workdir, admin_url) as url:
            ids, spent = prepare(url, plan)
            phases[f"{backend}: load"] = spent
            echo(f"{backend}: loaded in {spent:.1f} s; measuring")
            engine = build_engine(url)
            try:
                if "rollups" in only:
                    step = time.perf_counter()
                    figures += measure.rollup_figures(engine, backend, plan, ids, settings)
                    phases[f"{backend}: rollups"] = time.perf_counter() - step
                if "import" in only:
                    step = time.perf_counter()
                    figures.append(measure.import_figure(engine, backend, plan, settings))
                    figures.append(measure.raw_import_figure(engine, backend, sized, settings))
                    phases[f"{backend}: import"] = time.perf_counter() - step
                if "reads" in only:
                    step = time.perf_counter()
                    figures += measure.http_figures(url, backend, plan, ids, BENCH_CODE,
                                                    settings)
                    figures.append(measure.cold_progress_figure(
                        engine, url, backend, plan, ids, BENCH_CODE, settings))
                    phases[f"{backend}: http reads"] = time.perf_counter() - step
                if backend == "postgresql" and "writes" in only:
                    step = time.perf_counter()
                    figures.append(measure.write_figure(url, engine, ids, plan, settings))
                    phases[f"{backend}: http writes"] = time.perf_counter() - step
                if synthetic is not None:
                    # Loaded last: the bundled plan's derived indicators would read them.
                    step = time.perf_counter()
                    record_ids = load_records(engine, synthetic)
                    phases[f"{backend}: load records"] = time.perf_counter() - step
                    echo(f"{backend}: records loaded in {time.perf_counter() - step:.1f} s")
                    step = time.perf_counter()
                    figures += records.records_figures(url, engine, backend, synthetic,
                                                       record_ids, settings)
                    phases[f"{backend}: records"] = time.perf_counter() - step
            finally:
                engine.dispose()
        echo(f"{backend}: done")
    meta = {"scale": {"factor": factor, "action_lines": scale.action_lines,
                      "measures": scale.measures, "deliverables": scale.deliverables,
                      "status_changes": len(plan.history),
                      "import_deliverables": len(sized.items),
                      **({} if synthetic is None else {
                          "members": len(synthetic.members),
                          "engagement_rows": synthetic.engagement_rows,
                          "superseded_rows": len(synthetic.before),
                          "activities": synthetic.scale.activities})},
            "only": [group for group in GROUPS if group in only],
            "as_of": measure.AS_OF.isoformat(), "settings": settings.__dict__,
            "phases_seconds": {k: round(v, 1) for k, v in phases.items()},
            "total_seconds": round(time.perf_counter() - began, 1)}
    return Result(figures, meta)


def _postgres_reachable(admin_url: str) -> str | None:
    try:
        engine = create_engine(admin_url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # any failure to connect means "not here"
        return str(error).splitlines()[0]
    return None


def bench(
    scale: Annotated[float, typer.Option(
        help="1.0 = 100,000 deliverables and 1,000,000 status changes; 0.01 = 1,000 and "
             "10,000.", min=0.0001)] = 1.0,
    database: Annotated[list[str] | None, typer.Option(
        "--database", "-d", help="sqlite and/or postgresql (default: both).")] = None,
    postgres_url: Annotated[str, typer.Option(
        envvar="PLANPULSE_BENCH_POSTGRES_URL",
        help="A server where the benchmark may create and drop a database of its own.")
    ] = POSTGRES_ADMIN_URL,
    output: Annotated[Path, typer.Option(help="Where to write the figures as JSON.")
                      ] = Path("bench-results.json"),
    only: Annotated[list[str] | None, typer.Option(
        help=f"Measure only these figures: {', '.join(GROUPS)} (default: all).")] = None,
) -> None:
    """Measure planpulse against the floor on SQLite and PostgreSQL: print the table, write
    it as JSON, and exit 1 if a budget fails (docs/performance.md)."""
    backends = database or ["sqlite", "postgresql"]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        raise typer.BadParameter(f"unknown database {sorted(unknown)}", param_hint="--database")
    groups = only or list(GROUPS)
    if unknown := set(groups) - set(GROUPS):
        raise typer.BadParameter(f"unknown figures {sorted(unknown)}", param_hint="--only")
    if "postgresql" in backends and (reason := _postgres_reachable(postgres_url)):
        typer.echo(f"no PostgreSQL at {make_url(postgres_url).render_as_string()}: {reason}",
                   err=True)
        raise typer.Exit(2)
    workdir = Path(tempfile.mkdtemp(prefix="planpulse-bench-"))
    try:
        result = run(factor=scale, backends=backends, admin_url=postgres_url, workdir=workdir,
                     echo=lambda message: typer.echo(message, err=True), only=groups)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    data = report.document(result.figures, meta=result.meta)
    report.write_json(output, data)
    machine = data["machine"]
    typer.echo(f"planpulse bench, scale {scale} ({result.meta['scale']['deliverables']:,} "
               f"deliverables, {result.meta['scale']['status_changes']:,} status changes), "
               f"{data['generated_at']}, {machine['cpus']} CPUs, {machine['memory_gb']} GB, "
               f"load {machine['load_average_1_5_15']}, {result.meta['total_seconds']} s\n")
    typer.echo(report.table(result.figures))
    typer.echo(f"\n{'every budget passes' if result.passed else 'SOME BUDGETS FAIL'}; "
               f"written to {output}")
    if not result.passed:
        raise typer.Exit(1)

