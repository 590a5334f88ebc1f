"""Small plan builders and shortcuts shared by the tests."""

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from app.models import Role
from app.schemas.plan_file import validate_plan
from app.services.access import tokens
from app.services.access.scopes import EVERYWHERE, granted
from app.services.plan.deliverables import etag, find_row
from app.services.plan.importer import ImportReport, import_plan
from app.services.status.decision import StatusUpdate
from app.services.status.pipeline import InTransaction, WriteResult, change_status

DATA = Path(__file__).parent / "data"
OTHER_ORG_PLAN = DATA / "other-org-plan.yaml"


def small_plan(**mandate: Any) -> dict[str, Any]:
    """Two action lines, three measures, five deliverables: one of each status."""
    return copy.deepcopy({
        "mandate": {"code": "T-2024", "title": "Test plan", "start_date": "2024-01-01",
                    "end_date": "2026-12-31", **mandate},
        "action_lines": [
            {"code": "A", "title": "Line A", "measures": [
                {"code": "A1", "title": "Measure A1", "deliverables": [
                    {"code": "A1a", "title": "Done", "status": "completed", "weight": 2},
                    {"code": "A1b", "title": "Half", "status": "in_progress",
                     "percent_complete": 40, "tags": ["gender"]},
                ]},
                {"code": "A2", "title": "Measure A2", "deliverables": [
                    {"code": "A2a", "title": "Dropped", "status": "cancelled"},
                ]},
            ]},
            {"code": "B", "title": "Line B", "measures": [
                {"code": "B1", "title": "Measure B1", "deliverables": [
                    {"code": "B1a", "title": "Not yet", "owner": "Ana",
                     "due_date": "2025-06-30"},
                    {"code": "B1b", "title": "Missed", "status": "not_achieved",
                     "tags": ["gender", "youth"]},
                ]},
            ]},
        ],
    })


def load(session: Session, data: dict[str, Any], *, prune: bool = False) -> ImportReport:
    report = import_plan(session, plan=validate_plan(data), prune=prune)
    session.commit()
    return report


def new_token(engine: Engine, role: Role, name: str | None = None,
              scopes: list[str] | None = None, person: str | None = None) -> str:
    """A token's secret; with ``scopes`` (checked as the command line checks them)."""
    with Session(engine) as session:
        reach = granted(session, scopes or [], by=EVERYWHERE, public_read=True)
        _token, secret = tokens.create_token(session, name=name or f"{role.value}-test",
                                             role=role, reach=reach, person=person)
        session.commit()
    return secret


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove that a refused request changed nothing."""
    from app.models import metadata

    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(text(f"SELECT * FROM {table.name}"))),
                key=repr,
            )
            for table in metadata.sorted_tables
        }


def set_status(session: Session, code: str, change: StatusUpdate, *, actor: str = "ana",
               mandate: str = "2018-2020", if_match: str | None = None,
               now: Any = None) -> WriteResult:
    """A status change through the service, in ``session``'s transaction (not committed),
    sent with the deliverable's current ETag unless ``if_match`` says otherwise."""
    if if_match is None:
        if_match = etag(find_row(session, mandate=mandate, code=code).deliverable)
    return change_status(InTransaction(session), mandate=mandate, code=code, change=change,
                         if_match=if_match, actor=actor, now=now)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL sent through ``engine`` meanwhile, in order (its connections' cursors: what
    the driver runs on its own, such as the version watcher's probe and LISTEN, or a pool
    ping, is not SQL of ours and is not seen)."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
