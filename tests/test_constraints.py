"""The database itself refuses bad rows, whatever code writes them (CHECK, UNIQUE, FOREIGN KEY).

Each case inserts, with SQLAlchemy Core, a row that is refused, then the same row with the
one bad value corrected, which is accepted: so the refusal is due to that value alone.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, Table, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import (
    ActionLine,
    Deliverable,
    DeliverableTag,
    Indicator,
    IndicatorTarget,
    IndicatorValue,
    Mandate,
    Measure,
    StatusChange,
)
from tests.helpers import load, small_plan

NOW = datetime(2024, 1, 1, tzinfo=UTC)
Ids = dict[str, int]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _insert(engine: Engine, model: Any, **values: Any) -> int:
    with engine.begin() as connection:
        primary_key = connection.execute(insert(_table(model)).values(**values)
                                         ).inserted_primary_key
    assert primary_key is not None
    row_id: int = primary_key[0]
    return row_id


def _mandate(code: str, **values: Any) -> dict[str, Any]:
    return {"code": code, "title": f"Mandate {code}", "start_date": date(2024, 1, 1),
            "end_date": date(2026, 12, 31), "created_at": NOW, "updated_at": NOW, **values}


def _line(ids: Ids, code: str, mandate: str = "m1") -> dict[str, Any]:
    return {"mandate_id": ids[mandate], "code": code, "title": "A line", "position": 0}


def _measure(ids: Ids, code: str, mandate: str = "m1", line: str = "line1") -> dict[str, Any]:
    return {"mandate_id": ids[mandate], "action_line_id": ids[line], "code": code,
            "title": "A measure", "position": 0}


def _deliverable(ids: Ids, code: str, mandate: str = "m1", measure: str = "measure1",
                 **values: Any) -> dict[str, Any]:
    return {"mandate_id": ids[mandate], "measure_id": ids[measure], "code": code,
            "title": "A deliverable", "status": "not_started", "weight": 1.0, "position": 0,
            "version": 1, "updated_at": NOW, **values}


def _status_change(ids: Ids, **values: Any) -> dict[str, Any]:
    return {"deliverable_id": ids["deliverable1"], "from_status": None,
            "to_status": "completed", "changed_by": "test", "effective_at": NOW,
            "recorded_at": NOW, **values}


def _indicator(ids: Ids, **values: Any) -> dict[str, Any]:
    return {"mandate_id": ids["m1"], "code": "I1", "title": "An indicator", "unit": "count",
            "direction": "increase", "position": 0, **values}


@pytest.fixture
def ids(engine: Engine) -> Ids:
    """Two mandates; the first with one action line, measure and deliverable (code D1),
    the second with an action line and a measure of its own."""
    made: Ids = {}
    made["m1"] = _insert(engine, Mandate, **_mandate("M1"))
    made["m2"] = _insert(engine, Mandate, **_mandate("M2"))
    made["line1"] = _insert(engine, ActionLine, **_line(made, "L1"))
    made["line2"] = _insert(engine, ActionLine, **_line(made, "L1", "m2"))
    made["measure1"] = _insert(engine, Measure, **_measure(made, "M1"))
    made["measure2"] = _insert(engine, Measure, **_measure(made, "M1", "m2", "line2"))
    made["deliverable1"] = _insert(engine, Deliverable, **_deliverable(made, "D1"))
    return made


Case = Callable[[Ids], tuple[Any, dict[str, Any], dict[str, Any]]]

# Each case: (model, the refused row, the correction that makes it acceptable).
CASES: list[Any] = [
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D2", status="done"),
                            {"status": "completed"}), id="status-outside-vocabulary"),
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D2", status="in_progress",
                                                      percent_complete=101),
                            {"percent_complete": 100}), id="percent-complete-101"),
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D2", status="in_progress",
                                                      percent_complete=-1),
                            {"percent_complete": 0}), id="percent-complete-negative"),
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D2", status="completed",
                                                      percent_complete=50),
                            {"status": "in_progress"}), id="percent-complete-when-completed"),
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D2", weight=-0.5), {"weight": 0}),
                 id="negative-weight"),
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D1"), {"code": "D2"}),
                 id="duplicate-deliverable-code-in-mandate"),
    pytest.param(lambda i: (Measure, _measure(i, "M1"), {"code": "M2"}),
                 id="duplicate-measure-code-in-mandate"),
    pytest.param(lambda i: (ActionLine, _line(i, "L1"), {"code": "L2"}),
                 id="duplicate-action-line-code-in-mandate"),
    pytest.param(lambda i: (Measure, _measure(i, "M9", mandate="m2", line="line1"),
                            {"action_line_id": i["line2"]}),
                 id="measure-in-another-mandate-than-its-line"),
    pytest.param(lambda i: (Deliverable, _deliverable(i, "D2", measure="measure2"),
                            {"measure_id": i["measure1"]}),
                 id="deliverable-in-another-mandate-than-its-measure"),
    pytest.param(lambda i: (Deliverable, {**_deliverable(i, "D2"), "measure_id": 999_999},
                            {"measure_id": i["measure1"]}), id="deliverable-of-missing-measure"),
    pytest.param(lambda i: (StatusChange, _status_change(i, to_status="done"),
                            {"to_status": "completed"}), id="history-to-status-outside-vocabulary"),
    pytest.param(lambda i: (StatusChange, _status_change(i, deliverable_id=999_999),
                            {"deliverable_id": i["deliverable1"]}),
                 id="history-of-missing-deliverable"),
    pytest.param(lambda i: (Mandate, _mandate("M3", end_date=date(2023, 12, 31)),
                            {"end_date": date(2024, 1, 1)}), id="mandate-ends-before-it-starts"),
    pytest.param(lambda i: (Mandate, _mandate("M1"), {"code": "M3"}),
                 id="duplicate-mandate-code"),
    pytest.param(lambda i: (Indicator, _indicator(i, unit="euros"), {"unit": "percent"}),
                 id="indicator-unit-outside-vocabulary"),
]


@pytest.mark.parametrize("case", CASES)
def test_database_refuses_bad_row(engine: Engine, ids: Ids, case: Case) -> None:
    model, row, correction = case(ids)

    with pytest.raises(IntegrityError):
        _insert(engine, model, **row)

    _insert(engine, model, **{**row, **correction})


def test_same_deliverable_code_in_two_mandates_is_allowed(engine: Engine, ids: Ids) -> None:
    _insert(engine, Deliverable, **_deliverable(ids, "D1", mandate="m2", measure="measure2"))

    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).where(_table(Deliverable).c.code == "D1"))
    assert count == 2


CHILD_TABLES = (ActionLine, Measure, Deliverable, DeliverableTag, StatusChange, Indicator,
                IndicatorTarget, IndicatorValue)


def _row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {_table(model).name: session.scalar(select(func.count()).select_from(model)) or 0
            for model in CHILD_TABLES}


@pytest.fixture
def two_mandates(session: Session) -> Iterator[Session]:
    for code in ("DOOMED", "KEPT"):
        plan = small_plan(code=code)
        plan["indicators"] = [
            {"code": "I1", "title": "Linked to a line", "unit": "count",
             "direction": "increase", "action_line": "A", "targets": [{"period": "2025",
                                                                      "value": 3}],
             "values": [{"period": "2024", "value": 1}]},
            {"code": "I2", "title": "Linked to a measure", "unit": "percent",
             "direction": "increase", "measure": "B1"},
        ]
        load(session, plan)
    yield session


def test_deleting_a_mandate_deletes_its_plan_and_history(two_mandates: Session) -> None:
    session = two_mandates
    before = _row_counts(session)
    assert all(count > 0 for count in before.values())

    session.execute(delete(Mandate).where(Mandate.code == "DOOMED"))
    session.commit()

    # Everything belonged half to each mandate: exactly the kept half remains.
    assert _row_counts(session) == {name: count // 2 for name, count in before.items()}
    assert set(session.execute(select(Mandate.code)).scalars()) == {"KEPT"}
