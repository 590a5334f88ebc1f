"""Importing a records file, on SQLite and PostgreSQL: the bundled file, a second import that
changes nothing, every problem of a bad file listed with its path and nothing written, the
export → import round trip, and an engagement entry that drops a kind (cleared, with the old
value kept in the history)."""

from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.models import (
    Activity,
    ActivityKind,
    EngagementKind,
    EngagementRecord,
    Member,
    RollEntry,
)
from app.schemas.records_file import validate_records
from app.services.records.bundled import bundled_records
from app.services.records.exporter import records_data
from app.services.records.importer import RecordsReport, import_records
from tests.helpers import snapshot

FILE = bundled_records()


def _import(session: Session, data: dict[str, Any] | None = None) -> RecordsReport:
    records = FILE if data is None else validate_records(data)
    report = import_records(session, records=records, actor="test")
    session.commit()
    return report


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _rows(session: Session, engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, read once the session's transaction is over (SQLite has one writer)."""
    session.commit()
    return snapshot(engine)


def _held(session: Session, member: str, kind_code: str) -> list[tuple[Any, ...]]:
    """The member's rows of one kind in 2020, oldest first: (amount, label, superseded)."""
    return [(row.amount, row.label, row.superseded_at is not None) for row in session.execute(
        select(EngagementRecord).join(Member, Member.id == EngagementRecord.member_id)
        .join(EngagementKind, EngagementKind.id == EngagementRecord.kind_id)
        .where(Member.code == member, EngagementKind.code == kind_code,
               EngagementRecord.period == "2020")
        .order_by(EngagementRecord.id)).scalars()]


@pytest.mark.usefixtures("metropolis")
def test_bundled_records_import_141_members_and_104_events(session: Session) -> None:
    report = _import(session)
    assert report.changed
    assert report.members.created == _count(session, Member) == 141
    assert report.engagement.added_to_roll == _count(
        session, RollEntry, RollEntry.period == "2020") == 141
    events = _count(session, Activity, Activity.kind_id == select(ActivityKind.id).where(
        ActivityKind.code == "event").scalar_subquery())
    assert events == 104
    assert report.activities.created == _count(session, Activity) == len(FILE.activities)


@pytest.mark.usefixtures("metropolis")
def test_importing_the_bundled_records_twice_changes_nothing(
        session: Session, engine: Engine) -> None:
    _import(session)
    rows = _count(session, EngagementRecord)
    before = _rows(session, engine)
    second = _import(session)
    assert not second.changed
    assert second.engagement.values_changed == second.engagement.added_to_roll == 0
    assert (second.members.created, second.members.updated, second.members.unchanged) == (
        0, 0, 141)
    assert (second.activities.created, second.activities.updated) == (0, 0)
    assert _count(session, EngagementRecord) == rows
    assert _rows(session, engine) == before
    third = _import(session)
    assert third.as_dict() == second.as_dict()


@pytest.mark.usefixtures("metropolis_records")
def test_a_bad_records_file_lists_every_problem_by_path_and_writes_nothing(
        session: Session, engine: Engine) -> None:
    data = {
        "members": [{"code": "newtown", "name": "Newtown"}],
        "engagement": [
            {"member": "atlantis", "period": "2020", "values": {"activated": True}},
            {"member": "newtown", "period": "2020",
             "values": {"stargazing": 1, "bilateral_meetings": "three"}},
        ],
        "activities": [{"code": "EV-X", "kind": "juggling", "title": "Juggling",
                        "start_date": "2020-05-01"}],
    }
    before = _rows(session, engine)
    with pytest.raises(InvalidInput) as raised:
        _import(session, data)
    session.rollback()
    paths = [error.path for error in raised.value.errors]
    assert paths == ["engagement[0].member", "engagement[1].values.stargazing",
                     "engagement[1].values.bilateral_meetings", "activities[0].kind"]
    messages = dict(zip(paths, (error.message for error in raised.value.errors), strict=True))
    assert "atlantis" in messages["engagement[0].member"]
    assert "stargazing" in messages["engagement[1].values.stargazing"]
    assert "'three'" in messages["engagement[1].values.bilateral_meetings"]
    assert "juggling" in messages["activities[0].kind"]
    assert _rows(session, engine) == before  # not even Newtown, which was fine


@pytest.mark.usefixtures("metropolis_records")
def test_export_then_import_changes_nothing(session: Session, engine: Engine) -> None:
    exported = records_data(session)
    assert len(exported["members"]) == 141
    before = _rows(session, engine)
    report = _import(session, exported)
    assert not report.changed, report.as_dict()
    assert report.engagement.values_changed == 0
    assert _rows(session, engine) == before
    assert records_data(session) == exported


@pytest.mark.usefixtures("metropolis_records")
def test_an_entry_that_drops_a_kind_clears_it_and_keeps_the_old_value_in_history(
        session: Session) -> None:
    entry = next(e for e in FILE.engagement if e.member == "barcelona-city")
    assert entry.values["bilateral_meetings"] == 7
    assert _held(session, "barcelona-city", "bilateral_meetings") == [(7, None, False)]
    kept = {code: value for code, value in entry.values.items()
            if code != "bilateral_meetings"}
    report = _import(session, {"engagement": [
        {"member": "barcelona-city", "period": "2020", "values": kept}]})
    assert report.engagement.values_changed == 1
    # Every other kind, held or empty, is as it was.
    assert report.engagement.values_unchanged == len(FILE.engagement_kinds) - 1
    # The old value stays, superseded; a row without a value says it was cleared.
    assert _held(session, "barcelona-city", "bilateral_meetings") == [
        (7, None, True), (None, None, False)]
    exported = next(e for e in records_data(session)["engagement"]
                    if e["member"] == "barcelona-city")
    assert "bilateral_meetings" not in exported["values"]
    assert exported["values"]["activated"] is True
    # Others' values are untouched.
    assert _held(session, "barcelona-metropolitan-area", "bilateral_meetings") == [
        (5, None, False)]
