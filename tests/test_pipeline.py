"""The status change's decision, without a database: what it writes, and what it refuses."""

from datetime import UTC, datetime, timedelta

import pytest

from app.conditional import MISSING, WILDCARD_REFUSED
from app.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from app.models import Status
from app.models.plan import OPEN_FORK
from app.services.plan.deliverables import DeliverableRow, DeliverableState, EntryInEffect
from app.services.status.decision import Outcome, State, StatusUpdate, decide
from app.services.status.history import fork_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LAST_WEEK = NOW - timedelta(days=7)


def _row(version: int = 3, entry: EntryInEffect | None = None) -> DeliverableRow:
    state = DeliverableState(
        id=12, mandate_id=1, measure_id=4, code="L1M3D2", title="Parity", status="in_progress",
        percent_complete=40.0, weight=2.0, owner=None, due_date=None, position=0,
        version=version, updated_at=LAST_WEEK, quantity=None)
    return DeliverableRow(state, "L1", "L1M3", ["gender"], entry)


IN_EFFECT = EntryInEffect(id=90, to_status="in_progress", percent_complete=40.0,
                          effective_at=LAST_WEEK, recorded_at=LAST_WEEK)


def _never(_moment: datetime) -> State:
    raise AssertionError("a change after every entry needs no read of the past")


def test_the_state_already_in_effect_changes_nothing() -> None:
    decision = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.in_progress, 40),
                      if_match='"12.3"', actor="ana", now=NOW, state_at=_never)
    assert decision.outcome is Outcome.unchanged
    assert decision.entry is None and decision.parameters is None


def test_a_change_now_appends_and_closes_the_entry_in_effect() -> None:
    decision = decide(_row(entry=IN_EFFECT),
                      StatusUpdate(Status.completed, note="Report sent",
                                   evidence_url="https://example.org/r"),
                      if_match='"12.3"', actor="ana", now=NOW, state_at=_never)
    assert decision.outcome is Outcome.append
    assert decision.wanted == ("completed", None)
    entry = decision.entry
    assert entry is not None
    assert (entry["from_status"], entry["to_status"], entry["changed_by"], entry["note"],
            entry["effective_at"], entry["recorded_at"], entry["weight"],
            entry["measure_id"]) == ("in_progress", "completed", "ana", "Report sent", NOW,
                                     NOW, 2.0, 4)
    assert (entry["valid_to"], entry["fork"]) == (None, OPEN_FORK)
    parameters = decision.parameters
    assert parameters is not None
    assert (parameters["target_id"], parameters["expected_version"],
            parameters["new_version"]) == (12, 3, 4)
    assert (parameters["entry_id"], parameters["closed_at"], parameters["closed_fork"]) == (
        90, NOW, fork_of(LAST_WEEK, NOW))
    assert parameters["new_to_status"] == "completed"


def test_a_first_change_has_no_entry_to_close() -> None:
    decision = decide(_row(version=1), StatusUpdate(Status.in_progress),
                      if_match='"12.1"', actor="ana", now=NOW, state_at=_never)
    assert decision.outcome is Outcome.append
    assert decision.entry is not None and decision.entry["from_status"] == "not_started"
    assert decision.parameters is not None and decision.parameters["entry_id"] is None


def test_a_change_dated_before_the_entry_in_effect_is_backdated_against_its_time() -> None:
    asked: list[datetime] = []
    earlier = LAST_WEEK - timedelta(days=30)

    def state_at(moment: datetime) -> State:
        asked.append(moment)
        return "not_started", None

    decision = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.not_achieved,
                                                          effective_at=earlier),
                      if_match='"12.3"', actor="ana", now=NOW, state_at=state_at)
    assert asked == [earlier]
    assert decision.outcome is Outcome.backdate
    assert decision.entry is not None
    assert (decision.entry["from_status"], decision.entry["effective_at"],
            decision.entry["recorded_at"]) == ("not_started", earlier, NOW)
    assert decision.parameters is None


def test_a_backdated_change_to_the_state_then_changes_nothing() -> None:
    decision = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.not_started,
                                                          effective_at=LAST_WEEK - timedelta(1)),
                      if_match='"12.3"', actor="ana", now=NOW,
                      state_at=lambda _moment: ("not_started", None))
    assert decision.outcome is Outcome.unchanged


def test_the_exact_instant_of_the_entry_in_effect_comes_after_it() -> None:
    """Same effective time, recorded later: it follows the entry in effect (append)."""
    decision = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.completed,
                                                          effective_at=LAST_WEEK),
                      if_match='"12.3"', actor="ana", now=NOW, state_at=_never)
    assert decision.outcome is Outcome.append


def test_a_percent_counts_only_with_in_progress() -> None:
    decision = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.in_progress, 75),
                      if_match='"12.3"', actor="ana", now=NOW, state_at=_never)
    assert decision.wanted == ("in_progress", 75)
    done = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.completed, 75),
                  if_match='"12.3"', actor="ana", now=NOW, state_at=_never)
    assert done.wanted == ("completed", None)


def test_a_change_dated_after_now_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        decide(_row(entry=IN_EFFECT), StatusUpdate(Status.completed,
                                                   effective_at=NOW + timedelta(seconds=1)),
               if_match='"12.3"', actor="ana", now=NOW, state_at=_never)
    assert [error.path for error in refused.value.errors] == ["effective_at"]


@pytest.mark.parametrize(("if_match", "refusal", "detail"), [
    (None, PreconditionRequired, MISSING),
    ("", PreconditionRequired, MISSING),
    ("*", PreconditionRequired, WILDCARD_REFUSED),
    ('"12.3", *', PreconditionRequired, WILDCARD_REFUSED),
    ('"12.2"', PreconditionFailed, None),
    ('W/"12.3"', PreconditionFailed, None),  # If-Match compares strongly
    ('"13.3"', PreconditionFailed, None),
])
def test_a_change_not_based_on_the_current_version_is_refused(
        if_match: str | None, refusal: type[Exception], detail: str | None) -> None:
    with pytest.raises(refusal) as refused:
        decide(_row(entry=IN_EFFECT), StatusUpdate(Status.completed), if_match=if_match,
               actor="ana", now=NOW, state_at=_never)
    if detail is not None:
        assert refused.value.detail == detail  # type: ignore[attr-defined]
    else:
        assert refused.value.extra["etag"] == '"12.3"'  # type: ignore[attr-defined]
        assert refused.value.extra["current"]["version"] == 3  # type: ignore[attr-defined]


def test_any_tag_of_a_list_may_name_the_current_version() -> None:
    decision = decide(_row(entry=IN_EFFECT), StatusUpdate(Status.completed),
                      if_match='"12.1", "12.3"', actor="ana", now=NOW, state_at=_never)
    assert decision.outcome is Outcome.append
