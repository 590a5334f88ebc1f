"""A progress request costs a fixed number of SQL statements, whatever the plan's size
(STYLE.md: "a request costs a fixed number of queries"): no statement per action line,
measure, deliverable or indicator."""

import copy
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.services.plan.bundled import bundled_plan
from tests.conftest import make_client
from tests.helpers import load, statements
from tests.rollups.helpers import METROPOLIS, OTHER_ORG, url

VERSION = ["mandate"]
"""The data version, through the pool on SQLite (a fresh app knows none yet); PostgreSQL
reads it on the version watcher's own connection (app/version_watch.py), not counted."""
QUERIES = [
    "mandate",            # the mandate, in the rollup's read transaction
    "indicator", "indicator_target", "indicator_value",   # the indicators' headlines
    "roll_entry",         # every derived indicator's records, in one UNION ALL
    "action_line", "measure",                             # ... and what they link to
    "deliverable",        # the rollup, grouped by measure
    "action_line", "measure",                             # the tree
    "deliverable",        # the rollup, grouped by tag
]
"""What a cold GET .../progress reads, in order: the table each query reads first."""
SERIAL = ["SET LOCAL max_parallel_workers_per_gather = 0",
          "RESET max_parallel_workers_per_gather"]
"""On PostgreSQL, around the derived indicators' UNION ALL: planned without parallel
workers (app/db.py, serial_plans)."""
TRANSACTIONS = {"sqlite": ["BEGIN DEFERRED"] * 2, "postgresql": []}
"""SQLite's BEGIN is a statement of ours (app/db.py), one per read transaction: the
version's and the rollup's. psycopg begins a transaction without one."""
BIG = "BIG-2018"


def ten_times_the_bundled_plan() -> dict[str, Any]:
    """The bundled plan with every measure's deliverables and every indicator ten times
    over (650 deliverables, 960 indicators, 240 of them derived), as mandate BIG-2018; a
    copy's stated quantity reads its own copy of the indicator."""
    plan = bundled_plan().model_dump(mode="json", exclude_none=True)
    plan["mandate"]["code"] = BIG
    for line in plan["action_lines"]:
        for measure in line["measures"]:
            measure["deliverables"] = [_copied(d, copy_) for copy_ in range(10)
                                       for d in measure["deliverables"]]
    plan["indicators"] = [{**copy.deepcopy(i), "code": f"{i['code']}_{copy_}"}
                          for copy_ in range(10) for i in plan["indicators"]]
    return plan


def _copied(deliverable: dict[str, Any], copy_: int) -> dict[str, Any]:
    copied = {**copy.deepcopy(deliverable), "code": f"{deliverable['code']}-{copy_}"}
    if copied.get("quantity", {}).get("indicator"):
        copied["quantity"]["indicator"] += f"_{copy_}"
    return copied


def cold_progress(engine: Engine, mandate: str) -> tuple[list[str], Any]:
    """The statements of one GET .../progress by a fresh app (nothing cached, no data
    version known), and its answer. Only what runs during the request is counted: the
    app's startup, and what the version watcher's own connections run, is not the
    request's."""
    with make_client(engine) as client:
        with statements(engine) as sent:
            response = client.get(url(mandate))
        assert response.status_code == 200, response.text
        return list(sent), response.json()


def _table(statement: str) -> str:
    words = statement.split()
    return words[words.index("FROM") + 1].split(".")[0] if "FROM" in words else statement


@pytest.mark.usefixtures("metropolis", "other_org")
def test_a_cold_progress_request_costs_a_fixed_number_of_statements(
    engine: Engine, session: Session, backend: str
) -> None:
    """The bundled plan (65 deliverables, 96 indicators, 24 derived), the other
    organisation's (100 deliverables, 3 typed indicators) and ten times the bundled plan
    (650, 960): 14 statements on SQLite, 13 through the pool on PostgreSQL, the same ones
    for all three but the derived indicators' one (and on PostgreSQL the two around it),
    which a plan without them skips."""
    load(session, ten_times_the_bundled_plan())
    sent: dict[str, list[str]] = {}
    for mandate in (METROPOLIS, OTHER_ORG, BIG):
        sent[mandate], body = cold_progress(engine, mandate)
        if mandate == BIG:
            assert body["totals"]["deliverables"] == 650
            assert len(body["indicators"]) == 960
    bundled = sent[METROPOLIS]
    transactions = [s for s in bundled if s.startswith("BEGIN")]
    assert transactions == TRANSACTIONS[backend]
    expected = (VERSION if backend == "sqlite" else []) + QUERIES
    if backend == "postgresql":
        derived = expected.index("roll_entry")
        expected[derived:derived + 1] = [SERIAL[0], "roll_entry", SERIAL[1]]
    assert [_table(s) for s in bundled if not s.startswith("BEGIN")] == expected, bundled
    assert len(bundled) == {"sqlite": 14, "postgresql": 13}[backend]
    # Whatever the plan's size, the same statements (their parameters aside: an IN list
    # of the indicators' ids grows with them, in one statement).
    assert [_table(s) for s in sent[BIG]] == [_table(s) for s in bundled]
    assert [_table(s) for s in sent[OTHER_ORG]] == [
        _table(s) for s in bundled if _table(s) not in ("roll_entry", *SERIAL)]
