"""SQLite and PostgreSQL give the same JSON, byte for byte once parsed, for every progress
view of two plans after a script of changes (backdated, same-instant, late corrections),
and the figures they agree on are the right ones.

The one test here builds both databases itself instead of running once per backend."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import migrate
from app.db import build_engine
from app.models import Status
from app.schemas.plan_file import parse_plan_text
from app.services.plan.bundled import bundled_plan
from app.services.plan.importer import import_plan
from app.services.rollups.rules import Policy
from app.services.status.decision import StatusUpdate
from tests.conftest import drop_database, make_client, new_database_url
from tests.helpers import OTHER_ORG_PLAN, set_status
from tests.rollups.helpers import (
    API,
    METROPOLIS,
    OTHER_ORG,
    expected,
    get_json,
    plan_specs,
    shape,
    totals,
    url,
    without,
)

IMPORTED_AT = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
SCRIPT: list[tuple[str, str, str, float | None, datetime | None, datetime]] = [
    # (mandate, deliverable, status, percent, effective_at, recorded_at)
    (METROPOLIS, "L3M3D2", "in_progress", 30, datetime(2020, 3, 1, tzinfo=UTC),
     datetime(2025, 2, 1, tzinfo=UTC)),
    (METROPOLIS, "L3M3D2", "completed", None, datetime(2021, 1, 10, tzinfo=UTC),
     datetime(2025, 2, 2, tzinfo=UTC)),
    (METROPOLIS, "L1M3D2", "completed", None, datetime(2020, 12, 31, tzinfo=UTC),
     datetime(2025, 2, 3, tzinfo=UTC)),                     # same effective_at as the import
    (METROPOLIS, "L2M5D1", "cancelled", None, datetime(2020, 9, 1, tzinfo=UTC),
     datetime(2025, 2, 4, tzinfo=UTC)),
    (OTHER_ORG, "SO1.1.4", "completed", None, datetime(2024, 7, 1, tzinfo=UTC),
     datetime(2025, 2, 5, tzinfo=UTC)),
    (OTHER_ORG, "SO1.1.5", "in_progress", None, None, datetime(2025, 2, 6, tzinfo=UTC)),
    (OTHER_ORG, "SO1.1.5", "not_achieved", None, datetime(2025, 2, 6, tzinfo=UTC),
     datetime(2025, 3, 1, tzinfo=UTC)),                     # same effective_at, later
    (OTHER_ORG, "SO1.1.1", "in_progress", 62.5, datetime(2024, 12, 1, tzinfo=UTC),
     datetime(2025, 3, 2, tzinfo=UTC)),                     # a late correction
]
# Where the script leaves each plan now, worked out from the rule that the entry in effect
# is the latest by (effective_at, recorded_at): the bundled plan's statuses are effective
# 2020-12-31 (its as_of), the other plan's at its import, IMPORTED_AT.
CHANGED_NOW = {
    METROPOLIS: {
        "L3M3D2": ("completed", None),  # 2021-01-10 is after the file's 2020-12-31
        "L1M3D2": ("completed", None),  # the same instant as the file's, recorded later
        # L2M5D1's cancellation is dated 2020-09-01, before the file's in_progress: it
        # rewrites the past only, and L2M5D1 stays in_progress.
    },
    OTHER_ORG: {
        # SO1.1.4 (2024-07-01) and SO1.1.1 (2024-12-01) are dated before the import: past.
        "SO1.1.5": ("not_achieved", None),  # same instant as its in_progress, recorded later
    },
}


def _build_backend(backend: str, tmp_path: Path, postgres_reason: str | None
                   ) -> tuple[str, Engine]:
    database_url = new_database_url(backend, tmp_path, postgres_reason)
    migrate.upgrade(database_url)
    engine = build_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        import_plan(session, plan=bundled_plan(), now=IMPORTED_AT)
        import_plan(session, plan=parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")),
                    now=IMPORTED_AT)
        session.commit()
        for mandate_code, code, status, percent, effective_at, recorded_at in SCRIPT:
            result = set_status(
                session, code, StatusUpdate(status=Status(status), percent_complete=percent,
                                            effective_at=effective_at),
                mandate=mandate_code, actor="script", now=recorded_at)
            assert result.changed
            session.commit()
    return database_url, engine


def _agreement_paths() -> list[str]:
    paths = [f"{API}/progress?mandates={METROPOLIS},{OTHER_ORG}"]
    lines = {METROPOLIS: ["L1", "L2", "L3"], OTHER_ORG: ["SO1", "SO2", "SO3", "SO4", "SO5"]}
    measures = {METROPOLIS: ["L1M3", "L2M5", "L3M3"], OTHER_ORG: ["SO1.1", "SO2.1"]}
    for mandate in (METROPOLIS, OTHER_ORG):
        base = url(mandate)
        paths += [base + query for query in (
            "", "?explain=true", "?tag=gender", "?tag=digital", "?tag=youth&explain=true",
            "?status=in_progress&status=not_achieved", "?q=report",
            "?as_of=2020-06-30", "?as_of=2020-12-31", "?as_of=2021-01-10",
            "?as_of=2024-07-01T00:00:00Z", "?as_of=2024-12-15&tag=digital",
            "?as_of=2025-02-06", "?as_of=2024-12-15&known_at=2025-03-01",
            "?known_at=2025-02-03", "?known_at=2025-01-01",
        )]
        paths += [url(mandate, f"action-lines/{code}/progress") for code in lines[mandate]]
        paths += [url(mandate, f"action-lines/{code}/progress?explain=true&as_of=2021-01-01")
                  for code in lines[mandate]]
        paths += [url(mandate, f"measures/{code}/progress?explain=true")
                  for code in measures[mandate]]
        paths += [url(mandate, "progress/series") + query for query in (
            "?from=2018-01-01&to=2025-12-31&interval=month",
            "?from=2018-01-01&to=2025-12-31&interval=quarter",
            "?from=2018-01-01&to=2025-12-31&interval=year&tag=gender",
            "?from=2020-01-01&to=2025-06-30&interval=quarter&known_at=2025-02-03",
        )]
    return paths


def _reference_now(mandate: str, plan: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``plan`` with the script's changes now in effect, in Python."""
    structure, specs, states = plan_specs(plan)
    return expected(structure, specs, {**states, **CHANGED_NOW[mandate]}, Policy())


def test_sqlite_and_postgresql_give_the_same_json(tmp_path: Path,
                                                  postgres_reason: str | None) -> None:
    built: list[tuple[str, Engine]] = []
    try:
        for backend in ("sqlite", "postgresql"):
            built.append(_build_backend(backend, tmp_path, postgres_reason))
        answers: list[dict[str, Any]] = []
        for _database_url, engine in built:
            with make_client(engine) as client:
                found: dict[str, Any] = {}
                for path in _agreement_paths():
                    body = get_json(client, path)
                    if "as_of=" not in path:
                        body = without(body, "as_of")
                    found[path] = body
                answers.append(found)
        sqlite, postgresql = answers
        for path in sqlite:
            assert sqlite[path] == postgresql[path], path
        # And what they agree on is right: the plans' figures with the script applied.
        plans = {METROPOLIS: bundled_plan().model_dump(mode="json"),
                 OTHER_ORG: parse_plan_text(OTHER_ORG_PLAN.read_text(encoding="utf-8")
                                            ).model_dump(mode="json")}
        for mandate, plan in plans.items():
            assert shape(sqlite[url(mandate)]) == _reference_now(mandate, plan), mandate
        # By hand for the bundled plan: two more completed (L3M3D2 from not_started, L1M3D2
        # from in_progress), 52 of 65; progress (52 + 0.5 for L2M5D1) / 65 = 0.80769.
        assert sqlite[url(METROPOLIS)]["totals"] == totals(65, 52, 1, 6, 6, 0, 0.8, 0.8077)
        # Mid-2020 only L3M3D2 had moved (in_progress 30%, from 2020-03-01): 0.3 / 65.
        assert sqlite[url(METROPOLIS) + "?as_of=2020-06-30"]["totals"] == totals(
            65, 0, 1, 64, 0, 0, 0.0, 0.0046)
    finally:
        for database_url, engine in built:
            engine.dispose()
            drop_database(database_url)
