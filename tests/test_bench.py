"""The benchmark still works, and the figures it compares agree: every rollup equals the
floor's numbers (and, as of a past time, the history replayed in Python), the import
equals the raw insert, nothing written over HTTP is lost. Timings are the benchmark's
business (docs/performance.md), never a test's.

Also here: the history's interval tree and its copied columns, which the as_of figures
rest on.
"""

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from app.bench import report
from app.bench.measure import import_size, sized_plan
from app.bench.records_data import SHARE_KIND, RecordsScale, make_records
from app.bench.run import run
from app.models import ActionLine, Deliverable, Measure, StatusChange
from app.services.lookup import get_mandate
from app.services.plan.bundled import bundled_plan
from app.services.plan.deliverables import DeliverableFilter
from app.services.plan.importer import import_plan
from app.services.rollups.progress import ProgressQuery, line_totals, measure_totals
from app.services.rollups.rules import Totals, sum_totals
from app.services.status.history import day_key, fork_of, fork_path
from tests.conftest import POSTGRES_ADMIN_URL

TINY = 0.002
"""180 deliverables and 2,000 status changes: a few seconds per database."""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_tiny_run_measures_every_figure_and_they_agree_with_the_floor(
    backend: str, tmp_path: Path, postgres_reason: str | None
) -> None:
    if backend == "postgresql" and postgres_reason is not None:
        pytest.skip(postgres_reason)
    result = run(factor=TINY, backends=[backend], admin_url=POSTGRES_ADMIN_URL,
                 workdir=tmp_path, echo=lambda _message: None)

    names = [figure.name for figure in result.figures]
    assert any(name.startswith("rollup: mandate") for name in names)
    assert any(name.startswith("as_of rollup") for name in names)
    assert any(name.startswith("import of the 180-deliverable") for name in names)
    assert any(name.startswith("import of a 200-deliverable") for name in names)
    assert any("304" in name for name in names)
    assert any("memory" in name for name in names)
    assert any(name.startswith("progress tree over HTTP") for name in names)
    if backend == "postgresql":
        assert any(name.startswith("status changes") for name in names)
    assert any(name.startswith("derived share of members") for name in names)
    assert any(name.startswith("GET /engagement") for name in names)
    assert any(name.startswith("XLSX sheet of 20 members") for name in names)
    wrong = [f"{f.database}: {f.name} ({f.note})" for f in result.figures
             if f.correct is False]
    assert wrong == []
    assert all(f.planpulse > 0 and f.floor > 0 for f in result.figures)
    text = report.table(result.figures)
    assert text.count("\n") == len(result.figures) + 1
    document = report.document(result.figures, meta=result.meta)
    assert document["scale"]["deliverables"] == 180
    assert document["scale"]["import_deliverables"] == 200
    assert document["scale"]["engagement_rows"] == 20 * 20 * 5
    assert len(document["figures"]) == len(result.figures)


def test_only_import_measures_the_two_imports_and_nothing_else(tmp_path: Path) -> None:
    result = run(factor=TINY, backends=["sqlite"], admin_url=POSTGRES_ADMIN_URL,
                 workdir=tmp_path, echo=lambda _message: None, only=["import"])

    assert [figure.name.split("-deliverable")[0] for figure in result.figures] == [
        "import of the 180", "import of a 200"]
    assert all(figure.correct for figure in result.figures)
    assert result.meta["only"] == ["import"]


def test_only_records_measures_the_three_records_figures_and_they_agree(tmp_path: Path) -> None:
    """The share equals the GROUP BY floor's and the counts the records were made with;
    the endpoint's page and totals equal the floor's SQL; the sheet's import writes
    exactly the rows the raw insert writes."""
    result = run(factor=TINY, backends=["sqlite"], admin_url=POSTGRES_ADMIN_URL,
                 workdir=tmp_path, echo=lambda _message: None, only=["records"])

    assert [figure.name.split(",")[0].split(" of ")[0] for figure in result.figures] == [
        "derived share", "GET /engagement", "XLSX sheet"]
    assert all(figure.correct for figure in result.figures)
    assert result.meta["only"] == ["records"]


def test_the_synthetic_records_hold_cleared_and_superseded_rows() -> None:
    """So that a share which counted cleared or superseded rows would not equal the floor."""
    records = make_records(RecordsScale.of(0.01))
    assert len(records.members) == 100
    assert records.engagement_rows == 100 * 20 * 5
    cleared = sum(v is None for by_kind in records.amounts for column in by_kind
                  for v in column)
    assert 0 < cleared < records.engagement_rows
    assert 0 < len(records.before) < records.engagement_rows
    assert {kind.value for kind in records.kinds} == {"flag", "count"}
    assert records.kinds[0].code == SHARE_KIND and records.kinds[0].value == "flag"


@pytest.mark.parametrize(("factor", "deliverables"),
                         [(TINY, 200), (0.01, 1000), (0.2, 20_000), (1.0, 20_000), (4.0, 20_000)])
def test_the_raw_floor_import_is_20000_deliverables_from_scale_0_2(
    factor: float, deliverables: int
) -> None:
    assert import_size(factor) == deliverables
    assert len(sized_plan(deliverables).items) == deliverables


def test_the_interval_tree_finds_exactly_the_entries_in_effect() -> None:
    """For random intervals and times: an entry is found by its fork's range scan iff
    effective_at <= T < valid_to (open intervals: valid_to None)."""
    rng = random.Random(7)
    start = datetime(1969, 6, 1, tzinfo=UTC)
    for _ in range(4000):
        begins = start + timedelta(seconds=rng.randrange(60 * 365 * 86400))
        ends = (None if rng.random() < 0.2
                else begins + timedelta(seconds=rng.choice([0, 1, 3600, 86400 * 3,
                                                            rng.randrange(10**9)])))
        moment = start + timedelta(seconds=rng.randrange(70 * 365 * 86400))
        fork = fork_of(begins, ends)
        key = day_key(moment)
        left, right = fork_path(key)
        found = ((fork == key and begins <= moment and (ends is None or ends > moment))
                 or (fork in left and ends is not None and ends > moment)
                 or (fork in right and begins <= moment))
        assert found == (begins <= moment and (ends is None or moment < ends)), (
            begins, ends, moment)


def _copies(session: Session, deliverable_id: int) -> list[Any]:
    return session.execute(
        select(StatusChange.mandate_id, StatusChange.measure_id, StatusChange.weight,
               StatusChange.action_line_id, func.count())
        .where(StatusChange.deliverable_id == deliverable_id)
        .group_by(StatusChange.mandate_id, StatusChange.measure_id, StatusChange.weight,
                  StatusChange.action_line_id)
    ).all()


def test_history_copies_follow_the_deliverable(session: Session, engine: Engine) -> None:
    """Entries carry their deliverable's mandate, measure, weight and action line: filled
    in when an entry is written without them, and rewritten by any change of measure or
    weight, or of the measure's action line, by whatever writes it (the database's
    triggers)."""
    import_plan(session, plan=bundled_plan())
    session.commit()
    deliverable = session.execute(
        select(Deliverable).where(Deliverable.code == "L1M3D2")).scalar_one()
    other_measure = session.get_one(Measure, session.execute(
        select(Deliverable.measure_id).where(Deliverable.code == "L2M5D1")).scalar_one())
    session.execute(update(Deliverable).where(Deliverable.id == deliverable.id)
                    .values(weight=4.5, measure_id=other_measure.id))
    session.execute(StatusChange.__table__.insert().values(  # type: ignore[attr-defined]
        deliverable_id=deliverable.id, to_status="completed", changed_by="test",
        effective_at=datetime(2021, 1, 1, tzinfo=UTC),
        recorded_at=datetime(2021, 1, 1, tzinfo=UTC), valid_to=None))
    session.commit()
    assert _copies(session, deliverable.id or 0) == [
        (deliverable.mandate_id, other_measure.id, 4.5, other_measure.action_line_id, 2)]

    first_line = session.execute(select(ActionLine.id).where(
        ActionLine.mandate_id == deliverable.mandate_id, ActionLine.code == "L1")).scalar_one()
    session.execute(update(Measure).where(Measure.id == other_measure.id)
                    .values(action_line_id=first_line))
    session.commit()
    assert _copies(session, deliverable.id or 0) == [
        (deliverable.mandate_id, other_measure.id, 4.5, first_line, 2)]


def test_a_measure_moved_to_another_line_moves_its_past_too(session: Session) -> None:
    """Structure is today's at every time: once a plan file moves a measure to another
    action line, the per-line rollups as of any earlier time count it in its new line,
    as the sum of each line's measures does."""
    plan = bundled_plan()
    import_plan(session, plan=plan)
    session.commit()
    moved = plan.model_copy(deep=True)
    measure = moved.action_lines[0].measures.pop(0)
    moved.action_lines[1].measures.append(measure)
    import_plan(session, plan=moved)
    session.commit()
    mandate = get_mandate(session, code=plan.mandate.code)
    lines = {line.id: line.code for line in session.execute(
        select(ActionLine.id, ActionLine.code).where(ActionLine.mandate_id == mandate.id))}
    line_of_measure = dict(session.execute(
        select(Measure.id, Measure.action_line_id).where(Measure.mandate_id == mandate.id)
    ).all())
    for as_of in (datetime(2019, 6, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)):
        query = ProgressQuery(where=DeliverableFilter(mandate_id=mandate.id or 0), as_of=as_of)
        per_line = line_totals(session, mandate=mandate, query=query)
        summed: dict[int, list[Totals]] = {}
        for measure_id, totals in measure_totals(session, mandate=mandate,
                                                 query=query).items():
            summed.setdefault(line_of_measure[measure_id], []).append(totals)
        assert {lines[k]: v.by_status for k, v in per_line.items()} == {
            lines[k]: sum_totals(v).by_status for k, v in summed.items()}
        assert (per_line[line_of_measure[session.execute(select(Measure.id).where(
            Measure.mandate_id == mandate.id, Measure.code == measure.code)).scalar_one()]]
            .deliverables > 0)
