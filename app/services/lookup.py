"""Find one item by its code, or say clearly that it does not exist."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import ActionLine, Deliverable, Mandate, Measure


def get_mandate(session: Session, *, code: str) -> Mandate:
    mandate = session.execute(select(Mandate).where(Mandate.code == code)).scalar_one_or_none()
    if mandate is None:
        raise NotFound(f"There is no mandate {code!r}.")
    return mandate


def get_deliverable(session: Session, *, mandate: Mandate, code: str) -> Deliverable:
    deliverable = session.execute(
        select(Deliverable).where(Deliverable.mandate_id == mandate.id, Deliverable.code == code)
    ).scalar_one_or_none()
    if deliverable is None:
        raise deliverable_not_found(mandate.code, code)
    return deliverable


def deliverable_not_found(mandate: str, code: str) -> NotFound:
    return NotFound(f"Mandate {mandate!r} has no deliverable {code!r}.")


def get_action_line(session: Session, *, mandate: Mandate, code: str) -> ActionLine:
    line = session.execute(
        select(ActionLine).where(ActionLine.mandate_id == mandate.id, ActionLine.code == code)
    ).scalar_one_or_none()
    if line is None:
        raise NotFound(f"Mandate {mandate.code!r} has no action line {code!r}.")
    return line


def get_measure(session: Session, *, mandate: Mandate, code: str) -> Measure:
    measure = session.execute(
        select(Measure).where(Measure.mandate_id == mandate.id, Measure.code == code)
    ).scalar_one_or_none()
    if measure is None:
        raise NotFound(f"Mandate {mandate.code!r} has no measure {code!r}.")
    return measure
